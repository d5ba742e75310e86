import Foundation

/// keepalived.conf(5) "Sequence blocks" and "List blocks": a line starting with `~SEQ(...)`,
/// `~SEQx(...)` or `~LST(...)` is processed once per value, with the variable defined.
extension Preprocessor {
  /// `~SEQ(var, start, step, end)`, `~SEQx(...)` and `~LST(var, v1, v2...)` repeat the rest of the line.
  func expandRepetition(_ line: SourceLine, at tilde: Int, depth: Int) -> Bool {
    let text = String(decoding: line.bytes[tilde...], as: UTF8.self)
    let kind: String
    if text.hasPrefix("~SEQx(") {
      kind = "SEQx"
    } else if text.hasPrefix("~SEQ(") {
      kind = "SEQ"
    } else if text.hasPrefix("~LST(") {
      kind = "LST"
    } else {
      return false
    }
    let location = line.location(at: tilde)
    let open = tilde + kind.utf8.count + 1
    var depthCount = 0
    var close: Int? = nil
    for index in (open + 1)..<line.bytes.count {
      if line.bytes[index] == 0x28 { depthCount += 1 }
      if line.bytes[index] == 0x29 {
        if depthCount == 0 {
          close = index
          break
        }
        depthCount -= 1
      }
    }
    guard let close else {
      log.error("~\(kind)( is missing its closing ')'", at: location)
      return true
    }
    guard depth < limits.maxExpansionDepth else {
      exceeded(.expansionDepth(limits.maxExpansionDepth), at: location)
      return true
    }
    let spec = String(decoding: line.bytes[(open + 1)..<close], as: UTF8.self)
    var rest = line
    for index in tilde...close { rest.bytes[index] = Byte.space }
    guard let assignments = repetitionAssignments(kind: kind, spec: spec, location: location) else {
      return true
    }
    repetitionCount += assignments.count
    guard repetitionCount <= limits.maxRepetitions else {
      exceeded(.repetitions(limits.maxRepetitions), at: location)
      return true
    }
    for assignment in assignments where !stopped {
      for (name, value) in assignment { parameters[name] = Array(value.utf8) }
      processLine(rest, depth: depth + 1, rawLevel: false)
    }
    return true
  }

  private func repetitionAssignments(kind: String, spec: String, location: SourceLocation) -> [[(
    String, String
  )]]? {
    if kind == "LST" { return listAssignments(spec: spec, location: location) }
    let parts = spec.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
    func number(_ text: String) -> Int? {
      text.lowercased().hasPrefix("0x") ? Int(text.dropFirst(2), radix: 16) : Int(text)
    }
    guard parts.count >= 2, parts.count <= 4, let variable = parts.first, !variable.isEmpty,
      parts.dropFirst().allSatisfy({ number($0) != nil })
    else {
      log.error("~\(kind)(\(spec)): expected (var, [start, [step,]] end) with integer values", at: location)
      return nil
    }
    let values = parts.dropFirst().compactMap(number)
    guard values.allSatisfy({ abs($0) <= 1_000_000_000 }) else {
      log.error("~\(kind)(\(spec)): values must lie within -1000000000..1000000000", at: location)
      return nil
    }
    let end = values[values.count - 1]
    let start = values.count >= 2 ? values[0] : (end >= 0 ? 1 : -1)
    let step = values.count == 3 ? values[1] : (end >= start ? 1 : -1)
    guard step != 0, (end - start) / step < 1_000_000 else {
      log.error(
        "~\(kind)(\(spec)): step must be non-zero and the sequence under 1000000 values", at: location)
      return nil
    }
    // The length is known before the values are made: a sequence over the remaining budget is
    // refused without building it.
    let count = (step > 0 ? end >= start : end <= start) ? (end - start) / step + 1 : 0
    guard repetitionCount + count <= limits.maxRepetitions else {
      exceeded(.repetitions(limits.maxRepetitions), at: location)
      return nil
    }
    var result: [[(String, String)]] = []
    result.reserveCapacity(count)
    var value = start
    while step > 0 ? value <= end : value >= end {
      result.append([(variable, kind == "SEQx" ? String(value, radix: 16) : String(value))])
      value += step
    }
    return result
  }

  private func listAssignments(spec: String, location: SourceLocation) -> [[(String, String)]]? {
    // Split on commas outside braces: the first element names the variable(s), the rest are values.
    var elements: [String] = []
    var current = ""
    var braces = 0
    for character in spec {
      if character == "{" { braces += 1 }
      if character == "}" { braces -= 1 }
      if character == "," && braces == 0 {
        elements.append(current.trimmingCharacters(in: .whitespaces))
        current = ""
      } else {
        current.append(character)
      }
    }
    elements.append(current.trimmingCharacters(in: .whitespaces))
    func group(_ text: String) -> [String] {
      let inner = text.hasPrefix("{") && text.hasSuffix("}") ? String(text.dropFirst().dropLast()) : text
      return inner.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
    }
    guard elements.count >= 2, let names = elements.first.map(group), !names.isEmpty else {
      log.error("~LST(\(spec)): expected (var, value, ...)", at: location)
      return nil
    }
    var result: [[(String, String)]] = []
    for element in elements.dropFirst() {
      let values = group(element)
      guard values.count == names.count else {
        log.error("~LST(\(spec)): '\(element)' does not give one value per variable", at: location)
        return nil
      }
      result.append(Array(zip(names, values)))
    }
    return result
  }
}
