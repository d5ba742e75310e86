// Runs VRRP instances standalone from a JSON `VRRPGroupSpec`, for namespace tests and benchmarks.
//
//   VRRPHarness spec.json [--status status.json]
//
// Prints one line per state change: `STATE <instance> <from> <to> <priority> <unix-time>`, and on
// SIGTERM/SIGINT resigns (priority-0 advert, VIPs removed) and exits 0. With --status the service
// status is written as JSON every 100 ms.
import Foundation
import Logging
import VRRP

/// Writes one line to stdout at once (no stdio buffering, so tests see events as they happen).
func emit(_ line: String) {
  FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

var arguments = Array(CommandLine.arguments.dropFirst())
var statusPath: String?
if let flag = arguments.firstIndex(of: "--status"), flag + 1 < arguments.count {
  statusPath = arguments[flag + 1]
  arguments.removeSubrange(flag...(flag + 1))
}
guard let specPath = arguments.first else {
  FileHandle.standardError.write(Data("usage: VRRPHarness spec.json [--status status.json]\n".utf8))
  exit(2)
}

LoggingSystem.bootstrap { label in
  var handler = StreamLogHandler.standardError(label: label)
  handler.logLevel = ProcessInfo.processInfo.environment["VRRP_DEBUG"] == nil ? .info : .debug
  return handler
}

let service: VRRPService
do {
  let data = try Data(contentsOf: URL(fileURLWithPath: specPath))
  let spec = try JSONDecoder().decode(VRRPGroupSpec.self, from: data)
  service = try VRRPService(spec: spec) { event in
    let time = String(format: "%.3f", Date().timeIntervalSince1970)
    emit("STATE \(event.instance) \(event.from) \(event.to) \(event.priority) \(time)")
  }
  try service.start()
} catch {
  FileHandle.standardError.write(Data("VRRPHarness: \(error)\n".utf8))
  exit(1)
}

var signals = sigset_t()
sigemptyset(&signals)
sigaddset(&signals, SIGTERM)
sigaddset(&signals, SIGINT)
pthread_sigmask(SIG_BLOCK, &signals, nil)

let encoder = JSONEncoder()
encoder.outputFormatting = [.sortedKeys]
while true {
  var timeout = timespec(tv_sec: 0, tv_nsec: 100_000_000)
  if sigtimedwait(&signals, nil, &timeout) > 0 { break }
  if let statusPath, let data = try? encoder.encode(service.status()) {
    try? data.write(to: URL(fileURLWithPath: statusPath + ".tmp"))
    rename(statusPath + ".tmp", statusPath)
  }
}
service.stop()
if let statusPath, let data = try? encoder.encode(service.status()) {
  try? data.write(to: URL(fileURLWithPath: statusPath))
}
emit("STOPPED")
exit(0)
