import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#endif

/// A configuration that loaded without errors, with the warnings found on the way.
///
/// Invariant: `warnings` holds only `.warning` diagnostics.
public struct LoadedConfig: Sendable {
  public let configuration: KeeperConfiguration
  public let warnings: [Diagnostic]
}

/// Loads keepalived.conf (plus lvskeeper extensions) into a validated `KeeperConfiguration`.
///
/// Invariant: `load` either returns a model that passed every check, or throws `ConfigErrors`
/// holding at least one error and every diagnostic found; it never stops at the first error
/// where later checks are still meaningful.
public struct ConfigLoader: Sendable {
  /// Compared against `@ID` / `@^ID` line prefixes; defaults to the short host name.
  public var configID: String
  /// Interfaces that exist on this host, for "missing interface" warnings; nil reads /sys/class/net.
  public var interfaces: Set<String>?
  /// The router_id default.
  public var hostName: String

  public init(configID: String? = nil, interfaces: Set<String>? = nil) {
    let host = Self.shortHostName()
    self.configID = configID ?? host
    self.interfaces = interfaces
    self.hostName = host
  }

  /// Loads the file at `path`, following its includes.
  public func load(path: String) throws(ConfigErrors) -> LoadedConfig {
    let log = DiagnosticLog()
    let preprocessor = Preprocessor(configID: configID, log: log)
    preprocessor.processFile(path: path, includedFrom: nil)
    return try finish(preprocessor, log: log)
  }

  /// Loads configuration text as if it were the file `fileName` (includes resolve relative to its directory).
  public func load(text: String, fileName: String = "keepalived.conf") throws(ConfigErrors) -> LoadedConfig {
    let log = DiagnosticLog()
    let preprocessor = Preprocessor(configID: configID, log: log)
    preprocessor.processText(Array(text.utf8), file: fileName)
    return try finish(preprocessor, log: log)
  }

  private func finish(_ preprocessor: Preprocessor, log: DiagnosticLog) throws(ConfigErrors) -> LoadedConfig {
    // After a cap stopped reading, the lines are a truncated text: parsing them would only add
    // errors about blocks cut short.
    if preprocessor.stopped { throw ConfigErrors(diagnostics: log.sorted) }
    // The lines move into the parser, which releases them as it reads; the tree goes once the
    // model is built, so at most two of lines, tree and model are alive at a time.
    var parser = SyntaxParser(lines: preprocessor.takeLines(), log: log)
    let nodes = parser.parse()
    let available = interfaces ?? Self.hostInterfaces()
    let assembler = ConfigAssembler(log: log, hostName: hostName, interfaces: available)
    let configuration = assembler.assemble(consume nodes)
    if log.errorCount > 0 {
      throw ConfigErrors(diagnostics: log.sorted)
    }
    return LoadedConfig(configuration: configuration, warnings: log.sorted)
  }

  /// The first label of the node name, as keepalived uses for its default config id and router_id.
  public static func shortHostName() -> String {
    var buffer = [CChar](repeating: 0, count: 256)
    guard gethostname(&buffer, buffer.count - 1) == 0 else { return "localhost" }
    let name = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    return name.split(separator: ".").first.map(String.init) ?? name
  }

  /// Interface names present in /sys/class/net; nil when that cannot be read (no warnings then).
  public static func hostInterfaces() -> Set<String>? {
    guard let names = try? FileManager.default.contentsOfDirectory(atPath: "/sys/class/net") else {
      return nil
    }
    return Set(names)
  }
}
