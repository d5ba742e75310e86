import Foundation
import XCTest

/// Network namespaces joined by a bridge, for tests against real peers: `<prefix>-br` holds the bridge,
/// each named node gets `veth0` with 10.77.0.<n>/24 and fd00:77::<n>/64. Every process started through
/// the lab runs inside a namespace and is killed, and every namespace deleted, by `tearDown()`.
final class NamespaceLab {
  let prefix: String
  let nodes: [String]
  let directory: URL
  private var processes: [Process] = []

  init(prefix: String, nodes: [String]) throws {
    self.prefix = prefix
    self.nodes = nodes
    directory = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("\(prefix)-\(getpid())")
    try? FileManager.default.removeItem(at: directory)
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    guard geteuid() == 0 else { throw LabError.setup("namespace tests need root") }
    for tool in ["/usr/sbin/ip", "/usr/bin/ping"] where !FileManager.default.isExecutableFile(atPath: tool) {
      throw LabError.setup("\(tool) missing (Debian packages iproute2, iputils-ping)")
    }
    cleanNamespaces()
    try sh("ip netns add \(prefix)-br")
    try sh("ip -n \(prefix)-br link add br0 type bridge && ip -n \(prefix)-br link set br0 up")
    for (index, node) in nodes.enumerated() {
      let ns = namespace(node)
      try sh("ip netns add \(ns)")
      try sh("ip link add veth0 netns \(ns) type veth peer name p\(index) netns \(prefix)-br")
      try sh("ip -n \(prefix)-br link set p\(index) master br0 up")
      try sh("ip -n \(ns) link set lo up")
      // No duplicate-address detection: link-local addresses are usable at once.
      try sh("ip netns exec \(ns) sysctl -qw net.ipv6.conf.veth0.accept_dad=0")
      try sh("ip -n \(ns) addr add \(address(node))/24 dev veth0")
      try sh("ip -n \(ns) addr add fd00:77::\(index + 1)/64 dev veth0 nodad")
      try sh("ip -n \(ns) link set veth0 up")
    }
  }

  func namespace(_ node: String) -> String { "\(prefix)-\(node)" }
  func address(_ node: String) -> String { "10.77.0.\((nodes.firstIndex(of: node) ?? 0) + 1)" }
  func bridgePort(_ node: String) -> String { "p\(nodes.firstIndex(of: node) ?? 0)" }

  func tearDown() {
    for process in processes where process.isRunning { kill(process.processIdentifier, SIGKILL) }
    for process in processes { process.waitUntilExit() }
    cleanNamespaces()
  }

  private func cleanNamespaces() {
    for ns in nodes.map(namespace) + ["\(prefix)-br"] {
      _ = try? sh("ip netns pids \(ns) 2>/dev/null | xargs -r kill -9; ip netns del \(ns) 2>/dev/null; true")
    }
  }

  /// Runs a shell command on the host and returns its stdout; throws on a non-zero exit.
  @discardableResult
  func sh(_ command: String) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/sh")
    process.arguments = ["-c", command]
    let out = Pipe()
    process.standardOutput = out
    process.standardError = out
    try process.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    let text = String(decoding: data, as: UTF8.self)
    guard process.terminationStatus == 0 else { throw LabError.command(command, text) }
    return text
  }

  /// Starts `argv` inside the node's namespace with stdout and stderr to `<name>.log` in the lab directory.
  @discardableResult
  func spawn(_ node: String, _ argv: [String], log name: String) throws -> Process {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
    process.arguments = ["netns", "exec", namespace(node)] + argv
    let logURL = directory.appendingPathComponent("\(name).log")
    _ = FileManager.default.createFile(atPath: logURL.path, contents: nil)
    let handle = try FileHandle(forWritingTo: logURL)
    handle.seekToEndOfFile()
    process.standardOutput = handle
    process.standardError = handle
    try process.run()
    processes.append(process)
    return process
  }

  func log(_ name: String) -> String {
    (try? String(contentsOf: directory.appendingPathComponent("\(name).log"), encoding: .utf8)) ?? ""
  }

  func write(_ name: String, _ text: String) throws -> String {
    let url = directory.appendingPathComponent(name)
    try text.write(to: url, atomically: true, encoding: .utf8)
    return url.path
  }

  /// Whether the node's veth0 carries `address` now.
  func holds(_ node: String, _ address: String) -> Bool {
    let out = (try? sh("ip -n \(namespace(node)) -o addr show dev veth0")) ?? ""
    return out.contains(" \(address)/")
  }

  func ping(from node: String, _ address: String) -> Bool {
    let tool = address.contains(":") ? "ping -6" : "ping"
    return (try? sh("ip netns exec \(namespace(node)) \(tool) -c 1 -W 1 \(address)")) != nil
  }

  /// Polls `condition` every 20 ms until it holds or `timeout` seconds pass.
  func wait(_ timeout: Double, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
      if condition() { return true }
      usleep(20_000)
    }
    return condition()
  }

  /// The VRRPHarness executable next to the test bundle in the build products directory.
  static func harnessPath() throws -> String {
    // On Linux the bundle URL is the products directory itself; on Darwin it is the .xctest inside it.
    var directory = Bundle(for: NamespaceLab.self).bundleURL
    for _ in 0..<3 {
      let candidate = directory.appendingPathComponent("VRRPHarness").path
      if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
      directory = directory.deletingLastPathComponent()
    }
    throw LabError.setup(
      "VRRPHarness not found near \(Bundle(for: NamespaceLab.self).bundlePath); build it first: `swift build --product VRRPHarness`"
    )
  }

  static func require(_ path: String, package: String) throws {
    guard FileManager.default.isExecutableFile(atPath: path) else {
      throw LabError.setup("\(path) missing: install the Debian package \(package)")
    }
  }
}

enum LabError: Error, CustomStringConvertible {
  case setup(String)
  case command(String, String)

  var description: String {
    switch self {
    case .setup(let text): return text
    case .command(let command, let output): return "`\(command)` failed: \(output)"
    }
  }
}

/// Master intervals reconstructed from harness `STATE` lines, to measure dual-master overlap.
struct MasterTimeline {
  /// (start, end) unix times; an open interval ends at `until`.
  static func intervals(_ log: String, until: Double) -> [(Double, Double)] {
    var result: [(Double, Double)] = []
    var start: Double?
    for line in log.split(separator: "\n") where line.hasPrefix("STATE ") {
      let f = line.split(separator: " ")
      guard f.count >= 6, let time = Double(f[5]) else { continue }
      if f[3] == "MASTER" {
        start = time
      } else if f[2] == "MASTER", let s = start {
        result.append((s, time))
        start = nil
      }
    }
    if let s = start { result.append((s, until)) }
    return result
  }

  /// The longest time both logs claimed Master at once.
  static func longestOverlap(_ a: [(Double, Double)], _ b: [(Double, Double)]) -> Double {
    var longest = 0.0
    for x in a {
      for y in b { longest = max(longest, min(x.1, y.1) - max(x.0, y.0)) }
    }
    return longest
  }
}
