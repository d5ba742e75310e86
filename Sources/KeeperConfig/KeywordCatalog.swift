/// keepalived keywords that lvskeeper knows about but does not act on.
///
/// Invariant: a keyword is in at most one of `ignored` and `unsupported`. Ignored keywords only
/// affect notification, tuning or observability, so skipping them (with a warning) cannot change
/// which servers carry traffic; unsupported ones would, so they are errors.
enum KeywordCatalog {
  static let ignored: Set<String> = [
    // e-mail, SNMP, D-Bus
    "notification_email", "notification_email_from", "smtp_server", "smtp_helo_name",
    "smtp_connect_timeout", "smtp_alert", "smtp_alert_vrrp", "smtp_alert_checker", "no_email_faults",
    "enable_snmp_vrrp", "enable_snmp_checker", "enable_snmp_rfc", "enable_snmp_rfcv2", "enable_snmp_rfcv3",
    "enable_snmp_keepalived", "snmp_socket", "enable_traps", "enable_dbus", "dbus_service_name",
    "snmp_name", "enable_dbus_instance",
    // logging and process tuning
    "checker_log_all_failures", "log_all_failures", "checker_priority", "bfd_priority",
    "checker_rt_priority", "bfd_rt_priority", "checker_rlimit_rttime",
    "checker_cpu_affinity", "bfd_cpu_affinity", "bfd_rlimit_rttime", "vrrp_no_swap", "checker_no_swap",
    "bfd_no_swap",
    "max_auto_priority", "min_auto_priority_delay", "process_names", "process_name",
    "vrrp_process_name", "checker_process_name", "bfd_process_name", "tmp_config_directory",
    "config_save_dir", "linkbeat_use_polling", "use_pid_dir", "child_wait_time", "instance", "debug",
    "notify_fifo", "notify_fifo_script", "vrrp_notify_fifo", "vrrp_notify_fifo_script", "lvs_notify_fifo",
    "lvs_notify_fifo_script", "vrrp_notify_priority_changes", "notify_priority_changes",
    "vrrp_netlink_cmd_rcv_bufs", "vrrp_netlink_cmd_rcv_bufs_force", "vrrp_netlink_monitor_rcv_bufs",
    "vrrp_netlink_monitor_rcv_bufs_force", "lvs_netlink_cmd_rcv_bufs", "lvs_netlink_cmd_rcv_bufs_force",
    "lvs_netlink_monitor_rcv_bufs", "lvs_netlink_monitor_rcv_bufs_force", "process_monitor_rcv_bufs",
    "process_monitor_rcv_bufs_force", "vrrp_rx_bufs_policy", "vrrp_rx_bufs_multiplier",
    "vrrp_startup_delay", "vrrp_log_unknown_vrids", "random_seed", "reload_check_config",
    "reload_time_file", "reload_repeat", "reload_file", "data_use_instance", "umask",
    "script_user_check"  // VRRP tuning keepalived offers that lvskeeper's VRRP does not need
    , "vrrp_check_unicast_src", "vrrp_skip_check_adv_addr", "vrrp_strict", "vrrp_iptables",
    "vrrp_nftables", "vrrp_ipsets", "nftables_priority", "nftables_counters", "nftables_ifindex",
    "vrrp_garp_lower_prio_delay", "vrrp_garp_lower_prio_repeat", "vrrp_lower_prio_no_advert",
    "vrrp_higher_prio_send_advert", "vrrp_min_garp", "vrrp_garp_extra_if", "vrrp_down_timer_adverts",
    "dynamic_interfaces", "default_interface", "vrrp_garp_master_refresh_repeat_interval",
    "garp_lower_prio_delay", "garp_lower_prio_repeat", "lower_prio_no_advert", "higher_prio_send_advert",
    "skip_check_adv_addr", "check_unicast_src", "strict_mode", "unicast_ttl", "promote_secondaries",
    "kernel_rx_buf_size", "down_timer_adverts", "track_src_ip", "old_unicast_checksum",
    "unicast_fault_no_peer", "notify_deleted", "fast_recovery_no_delay", "global_tracking",
    "sync_group_tracking_weight",
  ]

  static let unsupported: Set<String> = [
    "ha_suspend",
    "lvs_sync_daemon_interface", "net_namespace", "net_namespace_ipvs", "namespace_with_ipsets",
    "linkbeat_interfaces", "track_group", "garp_group",
    "SSL",
    "use_ipvlan",
    "native_ipv6", "persistence_engine", "regex", "regex_no_match", "regex_options",
    "regex_stack", "regex_min_offset", "regex_max_offset", "nftables_ipvs", "ipvs_nftables",
    "vrrp_ipvlan", "vrrp_mcast_group", "lvs_id", "lvs_sync_daemon_inst", "vrrp_gratuitous_arp_repeat",
    "vrrp_garp_rate", "vrrp_track_file_owner",
  ]

  /// Unsupported keywords whose error says what lvskeeper lacks to honour them.
  static let unsupportedReasons: [String: String] = [
    "lvs_sync_daemon_interface":
      "the sync daemon is started only by 'lvs_sync_daemon IF INSTANCE' in global_defs; move the interface there",
    "ha_suspend":
      "keepalived's ha_suspend suspends the service's checkers while its virtual address is not on this host; lvskeeper's health checker is not told which addresses are local",
  ]

  static let unsupportedCheckers: Set<String> = [
    "ICMP_CHECK"
  ]

  static let supportedCheckers =
    "TCP_CHECK, HTTP_GET, SSL_GET, MISC_CHECK, MYSQL_CHECK, SMTP_CHECK, PING_CHECK, UDP_CHECK, DNS_CHECK, FILE_CHECK, BFD_CHECK"
}
