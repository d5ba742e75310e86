import IPVSSync
import KeeperCore

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#endif

/// A failed expectation inside a kernel test.
struct TestFailure: Error, CustomStringConvertible {
  var description: String
}

func expect(_ condition: Bool, _ message: @autoclosure () -> String) throws {
  if !condition { throw TestFailure(description: message()) }
}

func expectEqual<T: Equatable>(_ actual: T, _ expected: T, _ what: String) throws {
  if actual != expected { throw TestFailure(description: "\(what): got \(actual), expected \(expected)") }
}

/// Runs a shell command, returning its exit status and combined output.
@discardableResult
func shell(_ command: String) -> (status: Int32, output: String) {
  guard let pipe = popen("\(command) 2>&1", "r") else { return (-1, "popen failed") }
  var output: [UInt8] = []
  var buffer = [UInt8](repeating: 0, count: 4096)
  while true {
    let n = fread(&buffer, 1, buffer.count, pipe)
    if n <= 0 { break }
    output += buffer[0..<n]
  }
  let status = pclose(pipe)
  return ((status >> 8) & 0xff, String(decoding: output, as: UTF8.self))
}

/// Runs a command that must succeed.
@discardableResult
func run(_ command: String) throws -> String {
  let (status, output) = shell(command)
  if status != 0 { throw TestFailure(description: "`\(command)` exited \(status): \(output)") }
  return output
}

/// The no-XCTest runner used inside the VM: prints `PASS name` / `FAIL name: reason` and a summary.
struct KernelTestRunner {
  var tests: [(String, () throws -> Void)] = []
  var filter: String?

  mutating func add(_ name: String, _ body: @escaping () throws -> Void) { tests.append((name, body)) }

  func run(beforeEach: () -> Void) -> Bool {
    var passed = 0
    var failed = 0
    for (name, body) in tests where filter.map({ name.contains($0) }) ?? true {
      beforeEach()
      do {
        try body()
        print("PASS \(name)")
        passed += 1
      } catch {
        print("FAIL \(name): \(error)")
        failed += 1
      }
      fflush(nil)
    }
    print("\(passed) passed, \(failed) failed")
    return failed == 0
  }
}

func ip(_ text: String) -> IPAddress {
  guard let address = IPAddress(text) else { preconditionFailure("bad address literal \(text)") }
  return address
}

func tcp(_ address: String, _ port: UInt16) -> ServiceKey {
  .inet(address: ip(address), port: port, protocol: .tcp)
}

func dest(_ address: String, _ port: UInt16) -> DestinationKey {
  DestinationKey(address: ip(address), port: port)
}

/// Monotonic seconds, for the benchmark.
func seconds() -> Double {
  var ts = timespec()
  clock_gettime(CLOCK_MONOTONIC, &ts)
  return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}
