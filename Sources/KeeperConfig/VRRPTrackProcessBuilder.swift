/// Reads `vrrp_track_process NAME { ... }` with keepalived 2.2's keywords and defaults.
extension VRRPTrackingReader {
  /// The kernel's comm field holds at most 15 bytes (TASK_COMM_LEN less the NUL).
  static let commLength = 15

  func trackProcess(_ node: ConfigNode) -> VRRPTrackProcess? {
    guard let children = reader.block(node) else { return nil }
    guard reader.expect(node, arguments: 1...1, usage: "vrrp_track_process NAME { process NAME ... }") else {
      return nil
    }
    let name = node.arguments[0].text
    var result = VRRPTrackProcess(name: name, process: "", location: node.location)
    var processNode: ConfigNode?
    var quorumNode: ConfigNode?
    var quorumMaxNode: ConfigNode?
    for child in children {
      switch child.name {
      case "process":
        guard reader.plain(child),
          reader.expect(child, arguments: 1...Int.max, usage: "process NAME|PATH [ARGUMENTS...]")
        else { continue }
        processNode = child
        result.process = child.arguments[0].text
        result.parameters = child.arguments.dropFirst().map(\.text)
      case "param_match":
        guard reader.plain(child),
          reader.expect(child, arguments: 0...1, usage: "param_match [exact|partial|initial]")
        else { continue }
        let value = child.arguments.first?.text ?? "exact"
        guard let match = VRRPTrackProcess.ParamMatch(rawValue: value), match != .none else {
          log.error(
            "param_match must be exact, partial or initial, not '\(value)'", at: child.arguments[0].location)
          continue
        }
        result.paramMatch = match
      case "full_command": result.fullCommand = reader.flag(child) ?? result.fullCommand
      case "quorum":
        quorumNode = child
        result.quorum = reader.integerValue(child, 1...65535) ?? result.quorum
      case "quorum_max":
        quorumMaxNode = child
        result.quorumMax = reader.integerValue(child, 0...65535) ?? result.quorumMax
      case "delay":
        if let seconds = reader.secondsValue(child, 0.000001...3600) {
          result.forkDelay = seconds
          result.terminateDelay = seconds
        }
      case "terminate_delay":
        result.terminateDelay = reader.secondsValue(child, 0.000001...3600) ?? result.terminateDelay
      case "fork_delay": result.forkDelay = reader.secondsValue(child, 0.000001...3600) ?? result.forkDelay
      case "weight":
        if let (value, reverse) = weightValue(child, range: -254...254) {
          result.weight = value
          result.weightReverse = reverse
        }
      default: reader.reject(child, in: "vrrp_track_process")
      }
    }
    guard let processNode else {
      log.error("vrrp_track_process '\(name)' has no 'process'", at: node.location)
      return nil
    }
    // As keepalived: arguments after the name, or any param_match, compare the whole command line
    // (argv[0] and the arguments); arguments without param_match must match exactly.
    if !result.parameters.isEmpty && result.paramMatch == .none { result.paramMatch = .exact }
    if result.paramMatch != .none { result.fullCommand = true }
    if let max = result.quorumMax {
      if max == 0 {
        // keepalived: quorum_max 0 (without a quorum) means "up while none runs".
        if result.quorum > 1 {
          log.error(
            "quorum_max 0 cannot be combined with quorum \(result.quorum)",
            at: quorumMaxNode?.location ?? quorumNode?.location ?? node.location)
          return nil
        }
        result.quorum = 0
      } else if max < result.quorum {
        log.error(
          "quorum_max \(max) is less than quorum \(result.quorum)",
          at: quorumMaxNode?.location ?? node.location)
        return nil
      }
    }
    if !result.fullCommand && result.process.utf8.count > Self.commLength {
      log.warning(
        "process '\(result.process)' is longer than the kernel's \(Self.commLength)-byte process name and can never match it; add 'full_command' to match the command line",
        at: processNode.arguments[0].location)
    }
    return result
  }
}
