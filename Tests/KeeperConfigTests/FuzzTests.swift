import XCTest

@testable import KeeperConfig

/// Mutates valid configurations thousands of times: the loader must never crash, and must always
/// return either a model or diagnostics whose positions lie inside the text.
final class FuzzTests: XCTestCase {
  /// A small deterministic generator (SplitMix64) so failures reproduce.
  struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
      state &+= 0x9E37_79B9_7F4A_7C15
      var z = state
      z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
      z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
      return z ^ (z >> 31)
    }
  }

  static let fragments = [
    "{", "}", "\"", "'", "!", "#", "$X=1", "${X}", "$X", "@a", "@^b", "~SEQ(I,1,3)", "~LST(I,a,b)", "\\",
    "virtual_server", "real_server", "vrrp_instance", "TCP_CHECK", "HTTP_GET", "url", "10.0.0.1", "::1",
    "80", "-1", "999999999999999999999", "0.5", "include /nonexistent/*", "\n", " ", "\t", "priority",
    "weight", "group", "fwmark", "virtual_ipaddress", "\u{0}", "é", "\r",
  ]

  func mutate(_ text: String, using random: inout SplitMix) -> String {
    var bytes = Array(text.utf8)
    var tokens = text.split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init)
    switch random.next() % 6 {
    case 0:  // delete a byte range
      guard !bytes.isEmpty else { return text }
      let start = Int(random.next() % UInt64(bytes.count))
      let length = min(bytes.count - start, Int(random.next() % 8) + 1)
      bytes.removeSubrange(start..<(start + length))
      return String(decoding: bytes, as: UTF8.self)
    case 1:  // insert a fragment
      let at = Int(random.next() % UInt64(bytes.count + 1))
      let fragment = Self.fragments[Int(random.next() % UInt64(Self.fragments.count))]
      bytes.insert(contentsOf: Array(fragment.utf8), at: at)
      return String(decoding: bytes, as: UTF8.self)
    case 2:  // duplicate a token
      guard !tokens.isEmpty else { return text }
      let index = Int(random.next() % UInt64(tokens.count))
      tokens.insert(tokens[index], at: index)
      return tokens.joined(separator: random.next() % 2 == 0 ? " " : "\n")
    case 3:  // random bytes
      for _ in 0..<(Int(random.next() % 4) + 1) where !bytes.isEmpty {
        bytes[Int(random.next() % UInt64(bytes.count))] = UInt8(truncatingIfNeeded: random.next())
      }
      return String(decoding: bytes, as: UTF8.self)
    case 4:  // delete a token
      guard !tokens.isEmpty else { return text }
      tokens.remove(at: Int(random.next() % UInt64(tokens.count)))
      return tokens.joined(separator: "\n")
    default:  // swap two lines
      var lines = text.split(separator: "\n", omittingEmptySubsequences: false)
      guard lines.count > 1 else { return text }
      let a = Int(random.next() % UInt64(lines.count))
      let b = Int(random.next() % UInt64(lines.count))
      lines.swapAt(a, b)
      return lines.joined(separator: "\n")
    }
  }

  func testMutatedConfigsNeverCrashAndPositionsAreValid() {
    var random = SplitMix(state: 0x1F_2E_3D_4C)
    let seeds = [representativeConfig, "global_defs {\n router_id x\n}\n"]
    let loader = testLoader()
    var models = 0
    var failures = 0
    for iteration in 0..<3000 {
      var text = seeds[iteration % seeds.count]
      for _ in 0..<(Int(random.next() % 4) + 1) { text = mutate(text, using: &random) }
      let lineCount = text.split(separator: "\n", omittingEmptySubsequences: false).count
      let lineLengths = text.split(separator: "\n", omittingEmptySubsequences: false).map { $0.utf8.count }
      do {
        let loaded = try loader.load(text: text, fileName: "fuzz.conf")
        models += 1
        for warning in loaded.warnings {
          check(warning, lineCount: lineCount, lineLengths: lineLengths, text: text)
        }
      } catch {
        failures += 1
        XCTAssertFalse(error.errors.isEmpty)
        for diagnostic in error.diagnostics {
          check(diagnostic, lineCount: lineCount, lineLengths: lineLengths, text: text)
        }
      }
    }
    XCTAssertGreaterThan(models, 0, "some mutations should stay valid")
    XCTAssertGreaterThan(failures, 0, "some mutations should be rejected")
  }

  private func check(_ diagnostic: Diagnostic, lineCount: Int, lineLengths: [Int], text: String) {
    guard diagnostic.file == "fuzz.conf" else { return }  // e.g. an include of another file
    XCTAssertTrue((1...max(1, lineCount)).contains(diagnostic.line), "\(diagnostic) in:\n\(text)")
    let length = diagnostic.line <= lineLengths.count ? lineLengths[diagnostic.line - 1] : 0
    XCTAssertTrue((1...(length + 1)).contains(diagnostic.column), "\(diagnostic) in:\n\(text)")
    XCTAssertFalse(diagnostic.message.isEmpty)
  }

  func testDeepNestingIsAnErrorNotAStackOverflow() {
    let text = String(repeating: "a {\n", count: 5000) + String(repeating: "}\n", count: 5000)
    let errors = loadErrors(text)
    XCTAssertTrue(errors.contains { $0.message.contains("nested deeper than") })
  }
}
