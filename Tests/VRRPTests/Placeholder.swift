import XCTest

final class VRRPPlaceholderTests: XCTestCase {
  func testNothingYet() {}
}
