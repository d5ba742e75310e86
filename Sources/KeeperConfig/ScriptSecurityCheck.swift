import KeeperCore

/// Every script in the configuration, checked the way keepalived checks them at load: its user
/// and group must exist, and a script that would run as root must not be changeable by anyone
/// else (`ScriptSecurity`). With `enable_script_security` an unsafe script is an error, so a load
/// or a reload refuses it; without it the same finding is a warning. A program that cannot be
/// found is a warning (keepalived disables such a script and logs it).
struct ScriptSecurityCheck {
  let log: DiagnosticLog

  /// One script with the keyword and block it came from.
  struct Site {
    var command: ScriptCommand
    var keyword: String
    var location: SourceLocation
  }

  /// `servers` summarizes every virtual server read (their models may not be held).
  func check(_ configuration: KeeperConfiguration, servers: [VirtualServerSummary]) {
    let defs = configuration.globalDefs
    var warnedDefaultRoot = false
    for site in Self.sites(in: configuration, servers: servers) {
      let user = ScriptUser.effective(own: site.command.user, global: defs.scriptUser)
      let identity: ScriptIdentity
      do {
        identity = try ScriptIdentity.resolve(user)
      } catch {
        log.error("\(site.keyword): \(error)", at: site.location)
        continue
      }
      if user == nil && identity.isPrivileged && !warnedDefaultRoot {
        warnedDefaultRoot = true
        log.warning(
          "scripts run as root: neither 'script_user' nor the user '\(ScriptUser.keepalivedDefault)' exists",
          at: site.location)
      }
      for finding in ScriptSecurity.check(site.command, as: identity, searchPath: ScriptRunner.searchPath) {
        switch finding {
        case .notFound:
          log.warning("\(site.keyword): \(finding)", at: site.location)
        case .unsafe:
          if defs.enableScriptSecurity {
            log.error("\(site.keyword): \(finding) (enable_script_security)", at: site.location)
          } else {
            log.warning(
              "\(site.keyword): \(finding); 'enable_script_security' would refuse it", at: site.location)
          }
        }
      }
    }
  }

  /// Every configured script, in file order per kind; those of virtual servers come from `servers`.
  static func sites(in configuration: KeeperConfiguration, servers: [VirtualServerSummary]) -> [Site] {
    var sites: [Site] = []
    func add(_ command: ScriptCommand?, _ keyword: String, _ location: SourceLocation) {
      if let command { sites.append(Site(command: command, keyword: keyword, location: location)) }
    }
    func addNotify(_ notify: VRRPNotify, _ owner: String, _ location: SourceLocation) {
      add(notify.notify, "notify of \(owner)", location)
      add(notify.master, "notify_master of \(owner)", location)
      add(notify.backup, "notify_backup of \(owner)", location)
      add(notify.fault, "notify_fault of \(owner)", location)
      add(notify.stop, "notify_stop of \(owner)", location)
    }
    if let startup = configuration.globalDefs.startupScript {
      add(startup.command, "startup_script", startup.location)
    }
    if let shutdown = configuration.globalDefs.shutdownScript {
      add(shutdown.command, "shutdown_script", shutdown.location)
    }
    for script in configuration.vrrpScripts {
      add(script.script, "vrrp_script \(script.name)", script.location)
    }
    for instance in configuration.vrrpInstances {
      addNotify(instance.notify, "vrrp_instance \(instance.name)", instance.location)
    }
    for group in configuration.syncGroups {
      addNotify(group.notify, "vrrp_sync_group \(group.name)", group.location)
    }
    for server in servers { sites += server.scripts }
    return sites
  }
}
