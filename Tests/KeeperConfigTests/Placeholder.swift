import XCTest

final class KeeperConfigPlaceholderTests: XCTestCase {
  func testNothingYet() {}
}
