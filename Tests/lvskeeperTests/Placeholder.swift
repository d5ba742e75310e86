import XCTest

final class lvskeeperPlaceholderTests: XCTestCase {
  func testNothingYet() {}
}
