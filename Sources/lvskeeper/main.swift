import ArgumentParser

// Entry point: keepalived-style arguments (`-t -f FILE`, `-f FILE`, `-i ID`) are rewritten into
// subcommands before swift-argument-parser sees them; async subcommands run on the async path.

/// Runs an async subcommand through its async `run()` (the existential would pick the sync one).
func runAsync<Command: AsyncParsableCommand>(_ command: inout Command) async throws {
  try await command.run()
}

let arguments = KeepalivedArguments.rewrite(Array(CommandLine.arguments.dropFirst()))
do {
  var command = try LVSKeeperCommand.parseAsRoot(arguments)
  if var asyncCommand = command as? any AsyncParsableCommand {
    try await runAsync(&asyncCommand)
  } else {
    try command.run()
  }
} catch {
  LVSKeeperCommand.exit(withError: error)
}
