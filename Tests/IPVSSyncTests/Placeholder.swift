import XCTest

final class IPVSSyncPlaceholderTests: XCTestCase {
  func testNothingYet() {}
}
