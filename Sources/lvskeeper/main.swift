import ArgumentParser

// Entry point: keepalived-style arguments (`-t -f FILE`, `-f FILE`, `-i ID`) are rewritten into
// subcommands before swift-argument-parser sees them. `run` is the one async subcommand; it is
// called by a name of its own, because `run()` there resolves to the synchronous default that
// ArgumentParser provides (which prints help).
// Before any other thread exists: one malloc arena for the whole process (see HeapTrim).
HeapTrim.useOneArena()
let arguments = KeepalivedArguments.rewrite(Array(CommandLine.arguments.dropFirst()))
do {
  var command = try LVSKeeperCommand.parseAsRoot(arguments)
  if let daemon = command as? RunCommand {
    try await daemon.runDaemon()
  } else {
    try command.run()
  }
} catch {
  LVSKeeperCommand.exit(withError: error)
}
