import KeeperConfig
import KeeperCore

/// Configured scripts to runnable ones: the user each runs as is resolved once per (re)load
/// (`RunnableScript(_:scriptUser:)`), so a user that vanished fails the reload, not a run.
enum ScriptMapping {
  static func runnable(_ command: ScriptCommand?, _ global: GlobalDefs, _ location: SourceLocation) throws
    -> RunnableScript?
  {
    guard let command else { return nil }
    do {
      return try RunnableScript(command, scriptUser: global.scriptUser)
    } catch {
      throw MappingError(location: location, message: "\(command.command): \(error)")
    }
  }
}
