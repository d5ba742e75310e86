import XCTest

@testable import lvskeeper

#if canImport(Glibc)
  import Glibc
#endif

/// The daemon lifts its soft open-file limit to the hard one, and never lowers either.
final class DescriptorLimitTests: XCTestCase {
  func testSoftLimitRisesToHardLimit() throws {
    var saved = rlimit()
    XCTAssertEqual(getrlimit(Int32(RLIMIT_NOFILE.rawValue), &saved), 0)
    defer { _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &saved) }
    try XCTSkipIf(saved.rlim_max <= 512, "hard limit too low to lower the soft one below it")
    var low = saved
    low.rlim_cur = 512
    XCTAssertEqual(setrlimit(Int32(RLIMIT_NOFILE.rawValue), &low), 0)

    let result = try XCTUnwrap(DescriptorLimit.raiseToHardLimit())
    XCTAssertEqual(result.before, 512)
    XCTAssertEqual(result.after, UInt64(saved.rlim_max))
    var now = rlimit()
    XCTAssertEqual(getrlimit(Int32(RLIMIT_NOFILE.rawValue), &now), 0)
    XCTAssertEqual(now.rlim_cur, saved.rlim_max)
    XCTAssertEqual(now.rlim_max, saved.rlim_max, "the hard limit is left alone")

    let again = try XCTUnwrap(DescriptorLimit.raiseToHardLimit())
    XCTAssertEqual(again.before, again.after, "already at the hard limit: nothing to do")
  }
}
