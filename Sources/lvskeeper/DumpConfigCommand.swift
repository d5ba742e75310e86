import ArgumentParser
import Foundation
import KeeperConfig

/// `lvskeeper dump-config`: the normalized model, defaults filled in, as JSON with sorted keys.
struct DumpConfigCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "dump-config",
    abstract: "Print the normalized configuration (defaults filled in) as JSON."
  )

  @OptionGroup var options: ConfigOptions

  func run() throws {
    guard let loaded = DiagnosticOutput.load(options) else { throw ExitCode(1) }
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    let data = try encoder.encode(loaded.configuration)
    FileHandle.standardOutput.write(data)
    FileHandle.standardOutput.write(Data("\n".utf8))
  }
}
