#if canImport(Glibc)
  import Glibc
#endif

/// keepalived's script security rule (`enable_script_security`): a script that runs with root
/// privileges (uid or gid 0, or a set-uid/set-gid root file) is unsafe when the file, or any
/// directory on its path, could be changed by someone other than root. Each path component must
/// be owned by root, and must not be group-writable (unless its group is root) or world-writable;
/// a world-writable directory is accepted only with the sticky bit (as /tmp has), since there
/// nobody can replace another user's entry.
///
/// With `enable_script_security` an unsafe script is a configuration error; without it, a warning.
public enum ScriptSecurity {
  /// What is wrong with a script, or nil when it may run.
  public enum Finding: Equatable, Sendable, CustomStringConvertible {
    /// The program is not there or not executable for the user (keepalived disables the script).
    case notFound(String)
    /// `path` (a component of the script's path) can be changed by a non-root user.
    case unsafe(script: String, path: String, why: String)

    public var description: String {
      switch self {
      case .notFound(let program): return "script '\(program)' cannot be found or executed"
      case .unsafe(let script, let path, let why):
        return "script '\(script)' runs as root but \(path) \(why)"
      }
    }
  }

  /// The files a command executes: argv[0] (resolved through `searchPath` when it has no slash),
  /// and for a shell line also the first word of the line when it names a file.
  public static func programs(of command: ScriptCommand, searchPath: String) -> [String] {
    var names = [command.argv[0]]
    if command.usesShell, let first = (try? ScriptLine(parsing: command.command))?.words.first,
      !first.isEmpty, !ScriptLine.shellSyntax.contains(where: first.contains)
    {
      names.append(first)
    }
    return names.map { resolve($0, searchPath: searchPath) ?? $0 }
  }

  /// Checks `command` for running as `identity`. Returns every finding (empty: safe).
  public static func check(_ command: ScriptCommand, as identity: ScriptIdentity, searchPath: String)
    -> [Finding]
  {
    var findings: [Finding] = []
    for (index, program) in programs(of: command, searchPath: searchPath).enumerated() {
      var info = stat()
      guard program.hasPrefix("/"), stat(program, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else {
        // A shell line's first word may be a builtin or a function; only argv[0] must exist.
        if index == 0 { findings.append(.notFound(program)) }
        continue
      }
      let setRoot =
        (info.st_uid == 0 && info.st_mode & S_ISUID != 0 && info.st_mode & S_IXUSR != 0)
        || (info.st_gid == 0 && info.st_mode & S_ISGID != 0 && info.st_mode & S_IXGRP != 0)
      guard identity.isPrivileged || setRoot else { continue }
      // Checked on real paths, so a symlinked directory (/bin on merged-/usr systems) counts as
      // what it points to; a symlink to the script is checked where it lies and where it leads.
      var paths: [String] = []
      if let real = realPath(program) { paths.append(real) }
      let slash = program.lastIndex(of: "/") ?? program.startIndex
      let parent = slash == program.startIndex ? "/" : String(program[..<slash])
      if let realParent = realPath(parent) {
        let name = String(program[program.index(after: slash)...])
        let link = (realParent == "/" ? "" : realParent) + "/" + name
        if !paths.contains(link) { paths.append(link) }
      }
      for path in paths {
        if let finding = unsafeComponent(of: path, script: command.command) {
          findings.append(finding)
          break
        }
      }
    }
    return findings
  }

  /// The first component of `path`, from `/` down, that a non-root user could change.
  static func unsafeComponent(of path: String, script: String) -> Finding? {
    var components: [String] = ["/"]
    var prefix = ""
    for part in path.split(separator: "/") {
      prefix += "/" + part
      components.append(prefix)
    }
    for (index, component) in components.enumerated() {
      var info = stat()
      guard lstat(component, &info) == 0 else {
        return .unsafe(
          script: script, path: component, why: "cannot be examined (\(String(cString: strerror(errno))))")
      }
      let kind = info.st_mode & S_IFMT
      let isLast = index == components.count - 1
      if !isLast && kind != S_IFDIR {
        return .unsafe(script: script, path: component, why: "is not a directory")
      }
      if isLast && kind != S_IFREG && kind != S_IFLNK {
        return .unsafe(script: script, path: component, why: "is not a regular file")
      }
      if info.st_uid != 0 {
        return .unsafe(script: script, path: component, why: "is owned by uid \(info.st_uid), not root")
      }
      let stickyDirectory = kind == S_IFDIR && info.st_mode & S_ISVTX != 0
      guard kind == S_IFREG || (kind == S_IFDIR && !stickyDirectory) else { continue }
      if info.st_gid != 0 && info.st_mode & S_IWGRP != 0 {
        return .unsafe(script: script, path: component, why: "is writable by group \(info.st_gid)")
      }
      if info.st_mode & S_IWOTH != 0 {
        return .unsafe(script: script, path: component, why: "is writable by everyone")
      }
    }
    return nil
  }

  /// Looks a bare program name up in `searchPath`, as execvp would.
  public static func resolve(_ program: String, searchPath: String) -> String? {
    if program.contains("/") { return program }
    for directory in searchPath.split(separator: ":") {
      let candidate = "\(directory)/\(program)"
      if access(candidate, X_OK) == 0 { return candidate }
    }
    return nil
  }

  static func realPath(_ path: String) -> String? {
    guard let resolved = realpath(path, nil) else { return nil }
    defer { free(resolved) }
    return String(cString: resolved)
  }
}
