import ArgumentParser

// Entry point: keepalived-style arguments (`-t -f FILE`, `-f FILE`, `-i ID`) are rewritten into
// subcommands before swift-argument-parser sees them; async subcommands run on the async path.
let arguments = KeepalivedArguments.rewrite(Array(CommandLine.arguments.dropFirst()))
do {
  var command = try LVSKeeperCommand.parseAsRoot(arguments)
  if var asyncCommand = command as? AsyncParsableCommand {
    try await asyncCommand.run()
  } else {
    try command.run()
  }
} catch {
  LVSKeeperCommand.exit(withError: error)
}
