import Foundation
import KeeperConfig

/// Writes diagnostics the way compilers do: one `FILE:LINE:COL: severity: message` line each, on stderr.
enum DiagnosticOutput {
  static func write(_ diagnostics: [Diagnostic]) {
    guard !diagnostics.isEmpty else { return }
    let text = diagnostics.map(\.description).joined(separator: "\n") + "\n"
    FileHandle.standardError.write(Data(text.utf8))
  }

  static func standardError(_ line: String) {
    FileHandle.standardError.write(Data((line + "\n").utf8))
  }

  /// Loads the configuration named by `options`, printing every diagnostic; nil when it has errors.
  static func load(_ options: ConfigOptions) -> LoadedConfig? {
    let loader = ConfigLoader(configID: options.configID)
    do {
      let loaded = try loader.load(path: options.config)
      write(loaded.warnings)
      return loaded
    } catch {
      write(error.diagnostics)
      let count = error.errors.count
      standardError("\(options.config): \(count) error\(count == 1 ? "" : "s"); configuration is invalid")
      return nil
    }
  }

  /// Checks the configuration named by `options` without keeping its model (`ConfigLoader.check`),
  /// printing every diagnostic; nil when it has errors.
  static func check(_ options: ConfigOptions) -> CheckedConfig? {
    let loader = ConfigLoader(configID: options.configID)
    do {
      let checked = try loader.check(path: options.config)
      write(checked.warnings)
      return checked
    } catch {
      write(error.diagnostics)
      let count = error.errors.count
      standardError("\(options.config): \(count) error\(count == 1 ? "" : "s"); configuration is invalid")
      return nil
    }
  }
}
