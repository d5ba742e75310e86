import XCTest

final class HealthCheckPlaceholderTests: XCTestCase {
  func testNothingYet() {}
}
