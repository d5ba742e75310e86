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
  /// With a `sink`, virtual servers go there as they are read (`ConfigLoader.load(path:sink:)`).
  static func load(_ options: ConfigOptions, sink: (any VirtualServerSink)? = nil) -> LoadedConfig? {
    report(options, warnings: \.warnings) { loader throws(ConfigErrors) in
      if let sink { return try loader.load(path: options.config, sink: sink) }
      return try loader.load(path: options.config)
    }
  }

  /// Checks the configuration named by `options` without keeping its model (`ConfigLoader.check`),
  /// printing every diagnostic; nil when it has errors.
  static func check(_ options: ConfigOptions) -> CheckedConfig? {
    report(options, warnings: \.warnings) { loader throws(ConfigErrors) in
      try loader.check(path: options.config)
    }
  }

  /// Runs `read` with the loader `options` name and prints its warnings, or its diagnostics and
  /// an error count; nil when it has errors.
  private static func report<Result>(
    _ options: ConfigOptions, warnings: (Result) -> [Diagnostic],
    _ read: (ConfigLoader) throws(ConfigErrors) -> Result
  ) -> Result? {
    do {
      let result = try read(ConfigLoader(configID: options.configID))
      write(warnings(result))
      return result
    } catch {
      write(error.diagnostics)
      let count = error.errors.count
      standardError("\(options.config): \(count) error\(count == 1 ? "" : "s"); configuration is invalid")
      return nil
    }
  }
}
