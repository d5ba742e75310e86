import ArgumentParser

/// The `lvskeeper` command: a keepalived-compatible LVS director. Subcommands live in their own files.
struct LVSKeeperCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "lvskeeper",
    abstract: "A keepalived-compatible director for Linux Virtual Server (VRRP, health checks, IPVS).",
    discussion: """
      keepalived habits work too: 'lvskeeper -t -f FILE' checks a configuration, \
      'lvskeeper -f FILE' runs with it, '-i ID' sets the config id.
      """,
    version: LVSKeeperVersion.string,
    subcommands: [
      CheckConfigCommand.self, DumpConfigCommand.self, RunCommand.self, StatusCommand.self,
      ReloadCommand.self,
      StopCommand.self, ServerCommand.self,
    ]
  )
}

/// Options shared by every subcommand that reads the configuration.
struct ConfigOptions: ParsableArguments {
  static let defaultPath = "/etc/lvskeeper/lvskeeper.conf"

  @Option(name: [.customLong("config"), .customShort("f")], help: "The keepalived.conf-format file to read.")
  var config: String = ConfigOptions.defaultPath

  @Option(
    name: [.customLong("config-id"), .customShort("i")],
    help: "Matched against '@ID' line prefixes (default: the short host name).")
  var configID: String?
}
