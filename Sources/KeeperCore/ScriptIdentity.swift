#if canImport(Glibc)
  import Glibc
#endif

/// Why a script's user or group cannot be used.
public enum ScriptIdentityError: Error, Equatable, Sendable, CustomStringConvertible {
  case unknownUser(String)
  case unknownGroup(String)

  public var description: String {
    switch self {
    case .unknownUser(let name): return "script user '\(name)' does not exist"
    case .unknownGroup(let name): return "script group '\(name)' does not exist"
    }
  }
}

/// The resolved credentials a script runs with: uid, primary gid and supplementary groups.
///
/// Invariant: `groups` holds the user's supplementary groups from the group database
/// (getgrouplist), with the primary `gid` among them, so a script sees what a login would.
public struct ScriptIdentity: Hashable, Sendable, CustomStringConvertible {
  public var userName: String
  public var uid: UInt32
  public var gid: UInt32
  public var groups: [UInt32]
  public var home: String

  public init(userName: String, uid: UInt32, gid: UInt32, groups: [UInt32], home: String) {
    self.userName = userName
    self.uid = uid
    self.gid = gid
    self.groups = groups
    self.home = home
  }

  /// Runs as root (uid or gid 0): what `enable_script_security` guards.
  public var isPrivileged: Bool { uid == 0 || gid == 0 }

  public var description: String { "\(userName) (uid \(uid), gid \(gid))" }

  /// The daemon's own credentials.
  public static func daemon() -> ScriptIdentity {
    let uid = getuid()
    let gid = getgid()
    let entry = Self.user(uid: uid)
    var groups = [gid_t](repeating: 0, count: Int(max(0, getgroups(0, nil))))
    if !groups.isEmpty { groups = Array(groups.prefix(Int(max(0, getgroups(Int32(groups.count), &groups))))) }
    return ScriptIdentity(
      userName: entry?.name ?? String(uid), uid: uid, gid: gid, groups: groups, home: entry?.home ?? "/")
  }

  /// Looks `user` (and its group, when named) up in the account databases.
  public static func resolve(_ user: ScriptUser) throws(ScriptIdentityError) -> ScriptIdentity {
    guard let entry = Self.user(named: user.user) else { throw .unknownUser(user.user) }
    var gid = entry.gid
    if let groupName = user.group {
      guard let group = groupID(name: groupName) else { throw .unknownGroup(groupName) }
      gid = group
    }
    var count: Int32 = 32
    var groups = [gid_t](repeating: 0, count: Int(count))
    if getgrouplist(user.user, entry.gid, &groups, &count) < 0 {
      groups = [gid_t](repeating: 0, count: Int(count))
      _ = getgrouplist(user.user, entry.gid, &groups, &count)
    }
    groups = Array(groups.prefix(Int(max(0, count))))
    if !groups.contains(gid) { groups.insert(gid, at: 0) }
    return ScriptIdentity(userName: user.user, uid: entry.uid, gid: gid, groups: groups, home: entry.home)
  }

  /// The identity a script runs with: `user` when given, else the daemon's own.
  public static func resolve(_ user: ScriptUser?) throws(ScriptIdentityError) -> ScriptIdentity {
    guard let user else { return daemon() }
    return try resolve(user)
  }

  struct PasswdEntry {
    var name: String
    var uid: uid_t
    var gid: gid_t
    var home: String

    init(_ entry: passwd) {
      name = String(cString: entry.pw_name)
      uid = entry.pw_uid
      gid = entry.pw_gid
      home = String(cString: entry.pw_dir)
    }
  }

  static func user(named name: String) -> PasswdEntry? {
    lookup(passwd(), PasswdEntry.init) { pwd, buffer, size, result in
      getpwnam_r(name, pwd, buffer, size, result)
    }
  }

  static func user(uid: uid_t) -> PasswdEntry? {
    lookup(passwd(), PasswdEntry.init) { pwd, buffer, size, result in
      getpwuid_r(uid, pwd, buffer, size, result)
    }
  }

  static func groupID(name: String) -> gid_t? {
    lookup(group(), \.gr_gid) { entry, buffer, size, result in getgrnam_r(name, entry, buffer, size, result) }
  }

  /// One reentrant account look-up (getpwnam_r and friends), retried with a larger buffer on
  /// ERANGE; `convert` reads the entry (its strings point into the buffer) before the buffer goes.
  private static func lookup<Entry, Value>(
    _ empty: Entry, _ convert: (Entry) -> Value,
    _ call: (
      UnsafeMutablePointer<Entry>, UnsafeMutablePointer<CChar>, Int,
      UnsafeMutablePointer<UnsafeMutablePointer<Entry>?>
    ) -> Int32
  ) -> Value? {
    var size = 4096
    while size <= 1 << 22 {
      var entry = empty
      var result: UnsafeMutablePointer<Entry>? = nil
      let buffer = UnsafeMutablePointer<CChar>.allocate(capacity: size)
      defer { buffer.deallocate() }
      let status = call(&entry, buffer, size, &result)
      if status == ERANGE {
        size *= 4
        continue
      }
      guard status == 0, let found = result?.pointee else { return nil }
      return convert(found)
    }
    return nil
  }
}

extension ScriptUser {
  /// Who a script runs as, keepalived's order: the script's own `USER [GROUP]`, else
  /// `script_user`, else `keepalived_script` when that account exists, else nil (the daemon's
  /// own user, root under systemd).
  public static func effective(own: ScriptUser?, global: ScriptUser?) -> ScriptUser? {
    if let own { return own }
    if let global { return global }
    if ScriptIdentity.user(named: keepalivedDefault) != nil { return ScriptUser(user: keepalivedDefault) }
    return nil
  }
}
