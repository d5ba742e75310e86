import Foundation
import IPVSSync

/// An operator's runtime state for one real server (`lvskeeper server VS RS ...`), with who set
/// it and when.
///
/// Invariant: `weight` is set exactly when `state == .weight`, and is within 0...65535.
struct ServerAdminState: Codable, Sendable, Equatable {
  enum State: String, Codable, Sendable, CaseIterable {
    case drain, maint, weight
  }
  var state: State
  var weight: Int?
  var by: ControlPeer?
  var at: Date

  /// What the reconciler lays over the checkers' verdict.
  var override: AdminOverride {
    switch state {
    case .drain: .drain
    case .maint: .maintenance
    case .weight: .weight(UInt32(clamping: weight ?? 0))
    }
  }

  /// `drain`, `maint`, `weight 5`.
  var summary: String { state == .weight ? "weight \(weight ?? 0)" : state.rawValue }

  /// The largest weight `lvskeeper server ... weight N` takes (keepalived's `weight` range).
  static let maximumWeight = 65535
}

/// One line of the state file: a real server's key as `status` prints it, and its state.
struct ServerStateRecord: Codable, Sendable, Equatable {
  var service: String
  var server: String
  var admin: ServerAdminState
}

/// The state file under `--state-dir`: every real server an operator took out of the checkers'
/// hands, kept across reload and restart.
///
/// Invariant: the file on disk is always complete. It is written to a temporary file in the same
/// directory, fsynced, renamed over the old one, and the directory fsynced, so a crash leaves
/// either the old or the new file, never a torn one.
struct ServerStateFile: Sendable {
  var directory: String
  static let fileName = "server-state.json"
  var path: String { directory + "/" + Self.fileName }

  private struct Contents: Codable {
    var version: Int
    var servers: [ServerStateRecord]
  }

  /// Why the state file could not be read or written.
  struct Failure: Error, CustomStringConvertible {
    var description: String
  }

  /// The records on disk; an absent file is none. A file that cannot be decoded throws (the
  /// daemon warns and starts without it).
  func load() throws(Failure) -> [ServerStateRecord] {
    guard FileManager.default.fileExists(atPath: path) else { return [] }
    do {
      let data = try Data(contentsOf: URL(fileURLWithPath: path))
      let contents = try ControlCoding.decoder().decode(Contents.self, from: data)
      guard contents.version == 1 else { throw Failure(description: "unknown version \(contents.version)") }
      return contents.servers
    } catch let failure as Failure {
      throw Failure(description: "\(path): \(failure.description)")
    } catch {
      throw Failure(description: "\(path): not a valid state file (\(error))")
    }
  }

  /// Replaces the file with `records`, atomically (see the type's invariant).
  func save(_ records: [ServerStateRecord]) throws(Failure) {
    let data: Data
    do {
      data = try ControlCoding.encoder(pretty: true).encode(Contents(version: 1, servers: records))
    } catch {
      throw Failure(description: "cannot encode the server state: \(error)")
    }
    do {
      try FileManager.default.createDirectory(
        atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o750])
    } catch {
      throw Failure(description: "cannot create \(directory): \(error)")
    }
    let temporary = path + ".tmp.\(getpid())"
    let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o640)
    guard fd >= 0 else { throw Failure(description: "cannot write \(temporary): \(Self.lastError())") }
    let written = data.withUnsafeBytes { bytes -> Bool in
      var offset = 0
      while offset < bytes.count {
        let count = write(fd, bytes.baseAddress.map { $0 + offset }, bytes.count - offset)
        if count < 0 && errno == EINTR { continue }
        guard count > 0 else { return false }
        offset += count
      }
      return true
    }
    let synced = written && fsync(fd) == 0
    let error = Self.lastError()
    close(fd)
    guard synced, rename(temporary, path) == 0 else {
      let reason = synced ? Self.lastError() : error
      unlink(temporary)
      throw Failure(description: "cannot write \(path): \(reason)")
    }
    // The rename itself is durable only once the directory is.
    let directoryFD = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    if directoryFD >= 0 {
      fsync(directoryFD)
      close(directoryFD)
    }
  }

  private static func lastError() -> String { String(cString: strerror(errno)) }
}
