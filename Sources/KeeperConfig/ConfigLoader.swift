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

/// Takes each virtual server of a streaming load (`ConfigLoader.load(path:sink:)`) as soon as the
/// loader has assembled it, so that what the caller builds from one server can reuse the memory
/// of the one before, and the models of a large configuration are never all held at once.
///
/// Invariant (kept by the loader): servers are offered in file order; once the sink answers
/// `.kept`, or a server cannot be offered (its FILE_CHECK is only complete at the end), no later
/// server is offered, so the servers taken are a prefix of the file's and those kept in the model
/// after the `.takenAndKept` ones are the rest, in order.
public protocol VirtualServerSink: AnyObject {
  /// `globalDefs` and `groups` are the `global_defs` and `virtual_server_group`s read so far; a
  /// `global_defs` block after a taken server makes the loader `discardTaken()` and load again.
  func take(_ server: VirtualServer, globalDefs: GlobalDefs, groups: [VirtualServerGroup])
    -> VirtualServerSinkDecision
  /// Forgets every server taken: the loader reads the file again without the sink.
  func discardTaken()
}

/// What a `VirtualServerSink` did with a server.
public enum VirtualServerSinkDecision: Sendable {
  /// Taken; the model does not keep it.
  case taken
  /// Taken, and the model keeps it too (`configuration.virtualServers`).
  case takenAndKept
  /// Not taken: the model keeps it and every server after it.
  case kept
}

/// The outcome of a configuration check that did not keep the model (`ConfigLoader.check`).
///
/// Invariant: `warnings` holds only `.warning` diagnostics; the counts are of blocks that were
/// built without errors (the configuration as a whole had none).
public struct CheckedConfig: Sendable {
  public let vrrpInstances: Int
  public let virtualServers: Int
  public let realServers: Int
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
    let (configuration, _, warnings) = try run(keepsVirtualServers: true) {
      $0.processFile(path: path, includedFrom: nil)
    }
    return LoadedConfig(configuration: configuration, warnings: warnings)
  }

  /// Loads the file at `path` as `load(path:)` does, with the same diagnostics, handing virtual
  /// servers to `sink` as they are assembled (see `VirtualServerSink` for which): the model holds
  /// only those the sink kept. When the load has errors the sink's servers are to be dropped with
  /// it. A `global_defs` block after a server the sink took means the sink built from defaults
  /// that were not final: it is told to `discardTaken()` and the file is read again without it.
  public func load(path: String, sink: any VirtualServerSink) throws(ConfigErrors) -> LoadedConfig {
    let (configuration, assembler, warnings) = try run(keepsVirtualServers: true, sink: sink) {
      $0.processFile(path: path, includedFrom: nil)
    }
    guard assembler.globalDefsAfterTaken else {
      return LoadedConfig(configuration: configuration, warnings: warnings)
    }
    sink.discardTaken()
    return try load(path: path)
  }

  /// Loads configuration text as if it were the file `fileName` (includes resolve relative to its directory).
  public func load(text: String, fileName: String = "keepalived.conf") throws(ConfigErrors) -> LoadedConfig {
    let (configuration, _, warnings) = try run(keepsVirtualServers: true) {
      $0.processText(Array(text.utf8), file: fileName)
    }
    return LoadedConfig(configuration: configuration, warnings: warnings)
  }

  /// Checks the file at `path` as `load(path:)` does, with the same diagnostics, without keeping
  /// the virtual servers' models: each is built, checked, summarized for the checks that span
  /// blocks and dropped (what `check-config` needs; its peak memory does not grow with them).
  public func check(path: String) throws(ConfigErrors) -> CheckedConfig {
    try checked { $0.processFile(path: path, includedFrom: nil) }
  }

  /// `check(path:)` for configuration text, as if it were the file `fileName`.
  public func check(text: String, fileName: String = "keepalived.conf") throws(ConfigErrors) -> CheckedConfig
  {
    try checked { $0.processText(Array(text.utf8), file: fileName) }
  }

  private func checked(_ read: (Preprocessor) -> Void) throws(ConfigErrors) -> CheckedConfig {
    let (configuration, assembler, warnings) = try run(keepsVirtualServers: false, read)
    return CheckedConfig(
      vrrpInstances: configuration.vrrpInstances.count, virtualServers: assembler.virtualServerCount,
      realServers: assembler.realServerCount, warnings: warnings)
  }

  /// Streams the configuration through every stage: each line the preprocessor emits is parsed at
  /// once, and each top-level block is assembled as soon as it is complete, so neither the lines
  /// nor the tree of the whole file are ever held. The diagnostics are those of running the stages
  /// one after the other (`DiagnosticLog.Stage`).
  private func run(
    keepsVirtualServers: Bool, sink: (any VirtualServerSink)? = nil, _ read: (Preprocessor) -> Void
  ) throws(ConfigErrors) -> (KeeperConfiguration, ConfigAssembler, [Diagnostic]) {
    let log = DiagnosticLog()
    let preprocessor = Preprocessor(configID: configID, log: log)
    let available = interfaces ?? Self.hostInterfaces()
    var assembler = ConfigAssembler(
      log: log, hostName: hostName, interfaces: available, keepsVirtualServers: keepsVirtualServers)
    assembler.sink = sink
    let stream = Stream(parser: SyntaxParser(log: log), assembler: assembler)
    preprocessor.sink = { line in stream.feed(line) }
    read(preprocessor)
    preprocessor.sink = nil
    // After a cap stopped reading, the lines are a truncated text: what parsing and assembling
    // them reported would only be errors about blocks cut short, so only the reading's count.
    if preprocessor.stopped { throw ConfigErrors(diagnostics: log.sorted(through: .preprocess)) }
    stream.parser.finish()
    stream.assembleReady()
    let configuration = stream.assembler.finish()
    if log.errorCount > 0 {
      throw ConfigErrors(diagnostics: log.sorted)
    }
    return (configuration, stream.assembler, log.sorted)
  }

  /// The parser and assembler a load streams lines through (a class: the preprocessor's sink
  /// closure and the loader share it).
  private final class Stream {
    var parser: SyntaxParser
    var assembler: ConfigAssembler

    init(parser: SyntaxParser, assembler: ConfigAssembler) {
      self.parser = parser
      self.assembler = assembler
    }

    func feed(_ line: SourceLine) {
      parser.feed(line)
      assembleReady()
    }

    func assembleReady() {
      // Moved out one by one, in order: the assembler holds the only copy of each statement.
      var statements = parser.takeStatements()
      statements.reverse()
      while let node = statements.popLast() { assembler.add(node) }
    }
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
