import Foundation
import XCTest

@testable import KeeperConfig

/// "Every accepted keyword has an effect and a test that shows it, or it is an error": every
/// keyword the parser accepts must name the test that proves its effect, or be on the explicit
/// warning list (`KeywordCatalog.ignored`: mail, SNMP, D-Bus, process tuning, logging, which cannot
/// change which servers carry traffic).
///
/// The accepted keywords are read from the parser's own source (the `case "..."` labels of every
/// `switch` on a statement's name, and `.name == "..."` tests), so a keyword added to a builder
/// without an entry here fails this test.
final class KeywordCatalogTests: XCTestCase {
  /// How far a test follows a keyword: to what the kernel or a real server sees, to what the
  /// daemon hands to the IPVS, checker or VRRP parts, or only into the configuration model.
  enum Reach: String {
    case behaviour, mapping, model
  }

  /// The tests that together follow a keyword, from the configuration as far as `reach`.
  struct Proof {
    var tests: [String]
    var reach: Reach
    init(_ tests: String..., reach: Reach) {
      self.tests = tests
      self.reach = reach
    }
  }

  static let proofs: [String: Proof] = baseProofs.merging(scriptAndTrackingProofs) { first, _ in first }
    .merging(compatibilityProofs) { first, _ in first }
    .merging(bfdProofs) { first, _ in first }
    .merging(scaleOutProofs) { first, _ in first }

  /// keepalived 2.2 blocks added for issue #13: track_process and FILE_CHECK.
  static let compatibilityProofs: [String: Proof] = [
    "vrrp_track_process": Proof(
      "CompatibilityConfigTests.testTrackProcessKeywordsAndDefaults",
      "CompatibilityDaemonTests.testTrackProcessReachesTheUnit",
      "ProcessTrackingTests.testInstanceFollowsRealProcesses", reach: .behaviour),
    "track_process": Proof(
      "CompatibilityDaemonTests.testTrackProcessReachesTheUnit",
      "ProcessTrackingTests.testInstanceFollowsRealProcesses", reach: .behaviour),
    "process": Proof(
      "CompatibilityConfigTests.testTrackProcessKeywordsAndDefaults",
      "ProcessTrackingTests.testInstanceFollowsRealProcesses", reach: .behaviour),
    "param_match": Proof(
      "CompatibilityDaemonTests.testTrackProcessReachesTheUnit",
      "CompatibilityDaemonTests.testProcessMatchingAgreesWithKeepalived",
      "ProcessTrackingTests.testPatternsMatchAsKeepalivedDoes", reach: .behaviour),
    "full_command": Proof(
      "CompatibilityConfigTests.testTrackProcessKeywordsAndDefaults",
      "CompatibilityDaemonTests.testProcessMatchingAgreesWithKeepalived",
      "ProcessTrackingTests.testPatternsMatchAsKeepalivedDoes", reach: .behaviour),
    "quorum_max": Proof(
      "CompatibilityDaemonTests.testTrackProcessReachesTheUnit",
      "CompatibilityDaemonTests.testProcessMatchingAgreesWithKeepalived",
      "ProcessTrackingTests.testCensusCountsForksExecsAndExitsAgainstTheQuorum", reach: .behaviour),
    "delay": Proof(
      "CompatibilityDaemonTests.testTrackProcessReachesTheUnit",
      "ProcessTrackingTests.testDelaysHoldAQuorumChangeUntilTheyEndOrItChangesBack", reach: .behaviour),
    "terminate_delay": Proof(
      "CompatibilityConfigTests.testTrackProcessKeywordsAndDefaults",
      "ProcessTrackingTests.testDelaysHoldAQuorumChangeUntilTheyEndOrItChangesBack", reach: .behaviour),
    "fork_delay": Proof(
      "CompatibilityConfigTests.testTrackProcessKeywordsAndDefaults",
      "ProcessTrackingTests.testDelaysHoldAQuorumChangeUntilTheyEndOrItChangesBack", reach: .behaviour),
    "FILE_CHECK": Proof(
      "CompatibilityConfigTests.testFileCheckTakesItsTrackFile", "FileCheckTests.testVerdictsFollowCheckFile",
      "CompatibilityDaemonTests.testFileCheckFollowsTheFileIntoTheKernel", reach: .behaviour),
  ]

  /// `bfd_instance`, `track_bfd` and `BFD_CHECK`: the model (BFDKeywordTests), what the daemon
  /// hands the BFD engine, VRRP and the checkers (BFDMappingTests), and the behaviour against
  /// keepalived's own BFD in namespaces (BFDInteropTests).
  /// Issue #14: announcement through a routing daemon, and the IPVS sysctls a scale-out needs.
  /// (The sysctls' effect on a real IPVS kernel is also checked outside XCTest: IPVSKernelTests
  /// "sloppy_tcp, sloppy_sctp, conn_reuse_mode written and read back" and vm/e2e, where both
  /// directors run with `lvs_sloppy_tcp` and `lvs_conn_reuse_mode 0` and the values are read back.)
  static let scaleOutProofs: [String: Proof] = {
    let model = "AnnounceKeywordTests.testEveryKeywordSetsItsValue"
    let errors = "AnnounceKeywordTests.testBadValuesAreErrorsWithTheirPlace"
    let spec = "AnnounceDecisionTests.testSpecGroupsTheAnnouncingVirtualServersByVIP"
    let bird = "AnnounceBIRDTests.testVIPFollowsQuorumAndLeavesWithTheDaemon"
    let sysctls = "IPVSSysctlMappingTests.testGlobalDefsChooseTheSysctlsToWrite"
    return [
      "announce": Proof(
        model, "AnnounceKeywordTests.testAnnounceNeedsASingleAddress",
        "AnnounceKeywordTests.testAnAddressIsEitherAnnouncedOrUnderVRRP", spec, bird, reach: .behaviour),
      "announce_quorum": Proof(model, errors, "AnnounceDecisionTests.testQuorumDecisions", reach: .mapping),
      "announce_interface": Proof(model, errors, spec, bird, reach: .behaviour),
      "announce_table": Proof(
        model, errors, spec, "AnnounceDecisionTests.testRouteIsAHostRouteInTheAnnounceTable", bird,
        reach: .behaviour),
      "announce_withdraw_delay": Proof(model, errors, spec, bird, reach: .behaviour),
      "lvs_sloppy_tcp": Proof(model, errors, sysctls, reach: .mapping),
      "lvs_sloppy_sctp": Proof(model, sysctls, reach: .mapping),
      "lvs_conn_reuse_mode": Proof(model, errors, sysctls, reach: .mapping),
    ]
  }()

  static let bfdProofs: [String: Proof] = {
    let model = "BFDKeywordTests.testDefaultsAreKeepalivedsAndEveryKeywordReachesTheModel"
    let mapping = "BFDMappingTests.testBFDSpecsTrackedWeightsAndChecksReachTheParts"
    let interop = "BFDInteropTests.testTrackBFDFollowsKeepalivedsSessionBothWays"
    let session = "BFDSessionTests.testPassiveSessionAnswersAndComesUp"
    return [
      "bfd_instance": Proof(model, mapping, interop, reach: .behaviour),
      "neighbor_ip": Proof(model, mapping, interop, reach: .behaviour),
      "neighbour_ip": Proof(model, reach: .model),
      "source_ip": Proof(model, mapping, interop, reach: .behaviour),
      "min_rx": Proof(model, mapping, interop, reach: .behaviour),
      "min_tx": Proof(model, mapping, interop, reach: .behaviour),
      "idle_tx": Proof(
        model, mapping, "BFDSessionTests.testWhileNotUpPacketsGoAtTheIdleRateAndAdvertiseIdleTx",
        reach: .behaviour),
      "multiplier": Proof(model, mapping, interop, reach: .behaviour),
      "passive": Proof(model, mapping, session, reach: .behaviour),
      "ttl": Proof(model, mapping, reach: .mapping),
      "hoplimit": Proof(model, mapping, reach: .mapping),
      "max_hops": Proof(model, mapping, reach: .mapping),
      "vrrp": Proof(model, "BFDKeywordTests.testTrackBFDMustNameABFDInstanceThatNotifiesVRRP", reach: .model),
      "checker": Proof(
        model, "BFDKeywordTests.testTrackBFDMustNameABFDInstanceThatNotifiesVRRP", reach: .model),
      "track_bfd": Proof(
        "BFDKeywordTests.testTrackBFDInInstancesAndSyncGroups", mapping,
        "BFDTrackingTests.testTrackBFDWeightsAndFaults",
        interop, reach: .behaviour),
      "BFD_CHECK": Proof(mapping, interop, reach: .behaviour),
      "name": Proof(mapping, interop, reach: .behaviour),
    ]
  }()

  static let baseProofs: [String: Proof] = [
    // top level and blocks
    "global_defs": Proof("ModelDefaultsTests.testGlobalDefsAndInstanceOverrides", reach: .model),
    "virtual_server": Proof("ServiceMappingTests.testNATMasterVirtualServices", reach: .mapping),
    "virtual_server_group": Proof(
      "ServiceMappingTests.testDRMasterGroupExpandsToOneServicePerMember", reach: .mapping),
    "real_server": Proof("ServiceMappingTests.testNATMasterVirtualServices", reach: .mapping),
    "vrrp_instance": Proof(
      "VRRPMappingTests.testNATPairIsOneSyncGroupUnitHoldingBothInstances", reach: .mapping),
    "vrrp_sync_group": Proof(
      "VRRPMappingTests.testNATPairIsOneSyncGroupUnitHoldingBothInstances", reach: .mapping),
    "group": Proof("VRRPMappingTests.testNATPairIsOneSyncGroupUnitHoldingBothInstances", reach: .mapping),
    "vrrp_script": Proof("VRRPMappingTests.testTrackedWeightsAndRefusedSettings", reach: .mapping),
    "include": Proof("GrammarTests.testIncludeWithGlobBracesAndRelativeDirectory", reach: .model),
    "includer": Proof("IncludeFileTests.testIncludeVariantsThatMatchNothing", reach: .model),
    "includem": Proof("IncludeFileTests.testIncludeVariantsThatMatchNothing", reach: .model),
    "includew": Proof("IncludeFileTests.testIncludeVariantsThatMatchNothing", reach: .model),
    "includeb": Proof("IncludeFileTests.testIncludeVariantsThatMatchNothing", reach: .model),
    "includea": Proof("IncludeFileTests.testIncludeVariantsThatMatchNothing", reach: .model),
    // global_defs
    "router_id": Proof("ModelDefaultsTests.testGlobalDefsAndInstanceOverrides", reach: .model),
    "vrrp_version": Proof("VRRPMappingTests.testDRPairIsOneUnicastVersion3Instance", reach: .mapping),
    "vrrp_garp_master_delay": Proof(
      "KeywordEffectTests.testVRRPKeywordsReachTheInstanceSpec", reach: .mapping),
    "vrrp_garp_master_repeat": Proof(
      "KeywordEffectTests.testVRRPKeywordsReachTheInstanceSpec", reach: .mapping),
    "vrrp_garp_master_refresh": Proof(
      "KeywordEffectTests.testVRRPKeywordsReachTheInstanceSpec", reach: .mapping),
    "vrrp_garp_master_refresh_repeat": Proof(
      "KeywordEffectTests.testVRRPKeywordsReachTheInstanceSpec", reach: .mapping),
    "vrrp_mcast_group4": Proof("ModelDefaultsTests.testGlobalDefsAndInstanceOverrides", reach: .model),
    "vrrp_mcast_group6": Proof("KeywordEffectTests.testVRRPKeywordsReachTheInstanceSpec", reach: .mapping),
    "lvs_sync_daemon": Proof("ModelDefaultsTests.testGlobalDefsAndInstanceOverrides", reach: .model),
    "lvs_timeouts": Proof("ServiceMappingTests.testNATMasterVirtualServices", reach: .mapping),
    "lvs_flush": Proof("ModelDefaultsTests.testGlobalDefsAndInstanceOverrides", reach: .model),
    "lvs_flush_on_stop": Proof("DaemonDryRunTests.testDryRunDaemonChecksReloadsAndStops", reach: .behaviour),
    "lvs_flush_onstop": Proof("KeywordEffectTests.testVRRPKeywordsReachTheInstanceSpec", reach: .model),
    "lvs_reconcile_interval": Proof("ModelDefaultsTests.testGlobalDefsAndInstanceOverrides", reach: .model),
    "vrrp_rt_priority": Proof(
      "LoopSchedulingTests.testKernelRunsTheLoopThreadRoundRobinAndNotifyScriptsNormally", reach: .behaviour),
    "vrrp_priority": Proof(
      "LoopSchedulingTests.testKernelRunsTheLoopThreadRoundRobinAndNotifyScriptsNormally", reach: .behaviour),
    "vrrp_rlimit_rttime": Proof(
      "LoopSchedulingTests.testKernelRunsTheLoopThreadRoundRobinAndNotifyScriptsNormally", reach: .behaviour),
    "vrrp_rlimit_rtime": Proof("KeywordEffectTests.testVRRPKeywordsReachTheInstanceSpec", reach: .mapping),
    "vrrp_cpu_affinity": Proof("LoopSchedulingTests.testValidationNamesTheKeyword", reach: .model),
    // vrrp_instance
    "state": Proof("VRRPMappingTests.testNATPairIsOneSyncGroupUnitHoldingBothInstances", reach: .mapping),
    "interface": Proof("VRRPMappingTests.testNATPairIsOneSyncGroupUnitHoldingBothInstances", reach: .mapping),
    "virtual_router_id": Proof(
      "VRRPMappingTests.testNATPairIsOneSyncGroupUnitHoldingBothInstances", reach: .mapping),
    "priority": Proof("VRRPMappingTests.testNATPairIsOneSyncGroupUnitHoldingBothInstances", reach: .mapping),
    "advert_int": Proof("VRRPMappingTests.testDRPairIsOneUnicastVersion3Instance", reach: .mapping),
    "version": Proof("ModelDefaultsTests.testIPv6InstanceIsVersion3", reach: .model),
    "nopreempt": Proof("VRRPMappingTests.testDRPairIsOneUnicastVersion3Instance", reach: .mapping),
    "preempt": Proof("VRRPMappingTests.testNATPairIsOneSyncGroupUnitHoldingBothInstances", reach: .mapping),
    "preempt_delay": Proof("KeywordEffectTests.testVRRPKeywordsReachTheInstanceSpec", reach: .mapping),
    "virtual_ipaddress": Proof(
      "VRRPMappingTests.testNATPairIsOneSyncGroupUnitHoldingBothInstances", reach: .mapping),
    "virtual_ipaddress_excluded": Proof(
      "KeywordEffectTests.testVRRPKeywordsReachTheInstanceSpec", reach: .mapping),
    "unicast_src_ip": Proof("VRRPMappingTests.testDRPairIsOneUnicastVersion3Instance", reach: .mapping),
    "mcast_src_ip": Proof("KeywordEffectTests.testVRRPKeywordsReachTheInstanceSpec", reach: .mapping),
    "unicast_peer": Proof("VRRPMappingTests.testDRPairIsOneUnicastVersion3Instance", reach: .mapping),
    "authentication": Proof("VRRPMappingTests.testTrackedWeightsAndRefusedSettings", reach: .mapping),
    "auth_type": Proof("VRRPMappingTests.testTrackedWeightsAndRefusedSettings", reach: .mapping),
    "auth_pass": Proof("VRRPMappingTests.testTrackedWeightsAndRefusedSettings", reach: .mapping),
    "track_interface": Proof("VRRPMappingTests.testTrackedWeightsAndRefusedSettings", reach: .mapping),
    "track_script": Proof("VRRPMappingTests.testTrackedWeightsAndRefusedSettings", reach: .mapping),
    "garp_master_delay": Proof("KeywordEffectTests.testVRRPKeywordsReachTheInstanceSpec", reach: .mapping),
    "garp_master_repeat": Proof("KeywordEffectTests.testVRRPKeywordsReachTheInstanceSpec", reach: .mapping),
    "garp_master_refresh": Proof("KeywordEffectTests.testVRRPKeywordsReachTheInstanceSpec", reach: .mapping),
    "garp_master_refresh_repeat": Proof(
      "KeywordEffectTests.testVRRPKeywordsReachTheInstanceSpec", reach: .mapping),
    // virtual_server and real_server
    "lvs_sched": Proof("ServiceMappingTests.testNATMasterVirtualServices", reach: .mapping),
    "lb_algo": Proof("ServiceMappingTests.testDRMasterGroupExpandsToOneServicePerMember", reach: .mapping),
    "lvs_method": Proof("ServiceMappingTests.testNATMasterVirtualServices", reach: .mapping),
    "lb_kind": Proof("KeywordEffectTests.testServiceKeywordsReachTheIPVSSpecAndTheCheckers", reach: .mapping),
    "protocol": Proof("ServiceMappingTests.testNATMasterVirtualServices", reach: .mapping),
    "persistence_timeout": Proof(
      "KeywordEffectTests.testServiceKeywordsReachTheIPVSSpecAndTheCheckers", reach: .mapping),
    "persistence_granularity": Proof(
      "KeywordEffectTests.testServiceKeywordsReachTheIPVSSpecAndTheCheckers", reach: .mapping),
    "ops": Proof("KeywordEffectTests.testServiceKeywordsReachTheIPVSSpecAndTheCheckers", reach: .mapping),
    "flag-1": Proof("KeywordEffectTests.testServiceKeywordsReachTheIPVSSpecAndTheCheckers", reach: .mapping),
    "flag-2": Proof("KeywordEffectTests.testServiceKeywordsReachTheIPVSSpecAndTheCheckers", reach: .mapping),
    "flag-3": Proof("KeywordEffectTests.testServiceKeywordsReachTheIPVSSpecAndTheCheckers", reach: .mapping),
    "sh-fallback": Proof(
      "KeywordEffectTests.testServiceKeywordsReachTheIPVSSpecAndTheCheckers", reach: .mapping),
    "sh-port": Proof("KeywordEffectTests.testServiceKeywordsReachTheIPVSSpecAndTheCheckers", reach: .mapping),
    "mh-fallback": Proof(
      "KeywordEffectTests.testServiceKeywordsReachTheIPVSSpecAndTheCheckers", reach: .mapping),
    "mh-port": Proof("KeywordEffectTests.testServiceKeywordsReachTheIPVSSpecAndTheCheckers", reach: .mapping),
    "ip_family": Proof(
      "KeywordEffectTests.testServiceKeywordsReachTheIPVSSpecAndTheCheckers", reach: .mapping),
    "quorum": Proof("ServiceMappingTests.testNATMasterVirtualServices", reach: .mapping),
    "hysteresis": Proof("ServiceMappingTests.testNATMasterVirtualServices", reach: .mapping),
    "sorry_server": Proof("ServiceMappingTests.testNATMasterVirtualServices", reach: .mapping),
    "sorry_server_inhibit": Proof(
      "KeywordEffectTests.testServiceKeywordsReachTheIPVSSpecAndTheCheckers", reach: .mapping),
    "sorry_server_lvs_method": Proof(
      "KeywordEffectTests.testServiceKeywordsReachTheIPVSSpecAndTheCheckers", reach: .mapping),
    "inhibit_on_failure": Proof("ServiceMappingTests.testNATMasterVirtualServices", reach: .mapping),
    "drain_timeout": Proof("ServiceMappingTests.testNATMasterVirtualServices", reach: .mapping),
    "weight": Proof("ServiceMappingTests.testNATMasterVirtualServices", reach: .mapping),
    "uthreshold": Proof(
      "KeywordEffectTests.testServiceKeywordsReachTheIPVSSpecAndTheCheckers", reach: .mapping),
    "lthreshold": Proof(
      "KeywordEffectTests.testServiceKeywordsReachTheIPVSSpecAndTheCheckers", reach: .mapping),
    // checker timing (cascading)
    "delay_loop": Proof(
      "ServiceMappingTests.testNATMasterCheckersInheritTheVirtualServersTiming", reach: .mapping),
    "connect_timeout": Proof(
      "ServiceMappingTests.testNATMasterCheckersInheritTheVirtualServersTiming", reach: .mapping),
    "retry": Proof(
      "ServiceMappingTests.testNATMasterCheckersInheritTheVirtualServersTiming", reach: .mapping),
    "nb_get_retry": Proof(
      "KeywordEffectTests.testServiceKeywordsReachTheIPVSSpecAndTheCheckers", reach: .mapping),
    "delay_before_retry": Proof(
      "ServiceMappingTests.testNATMasterCheckersInheritTheVirtualServersTiming", reach: .mapping),
    "warmup": Proof(
      "ServiceMappingTests.testNATMasterCheckersInheritTheVirtualServersTiming", reach: .mapping),
    "alpha": Proof(
      "ServiceMappingTests.testNATMasterCheckersInheritTheVirtualServersTiming", reach: .mapping),
    "virtualhost": Proof(
      "ModelDefaultsTests.testCascadeVirtualToRealToChecker", "NginxTests.testSNIIsSentOnlyWhenEnabled",
      reach: .behaviour),
    // checkers
    "TCP_CHECK": Proof("ServiceMappingTests.testCheckerSocketOptionsAndSNIReachTheProbe", reach: .mapping),
    "HTTP_GET": Proof(
      "KeywordEffectTests.testServiceKeywordsReachTheIPVSSpecAndTheCheckers", reach: .mapping),
    "SSL_GET": Proof("ServiceMappingTests.testCheckerSocketOptionsAndSNIReachTheProbe", reach: .mapping),
    "MYSQL_CHECK": Proof("MySQLKeyMappingTests.testKeyReachesTheChecker", reach: .mapping),
    "SMTP_CHECK": Proof(
      "SMTPCheckConfigTests.testTwoXFormAndDefaults", "SMTPCheckMappingTests.testSMTPCheckersReachTheMonitor",
      "SMTPCheckTests.testSMTPCheckAgainstExim", reach: .behaviour),
    "helo_name": Proof(
      "SMTPCheckConfigTests.testTwoXFormAndDefaults", "SMTPCheckMappingTests.testSMTPCheckersReachTheMonitor",
      "SMTPCheckTests.testSMTPCheckAgainstExim", reach: .behaviour),
    "host": Proof(
      "SMTPCheckConfigTests.testHostBlocksAreCheckersOfTheirOwn",
      "SMTPCheckConfigTests.testHostsPlusTheRealServerWhenTheCheckerSetsAConnectionKeyword",
      "SampleConfigTests.testSampleModelsKeepTheirMeaning",
      "SMTPCheckMappingTests.testSMTPCheckersReachTheMonitor",
      reach: .mapping),
    "MISC_CHECK": Proof(
      "KeywordEffectTests.testServiceKeywordsReachTheIPVSSpecAndTheCheckers", reach: .mapping),
    "PING_CHECK": Proof(
      "DatagramCheckerKeywordTests.testPingCheckDefaultsAndConnectionKeywords",
      "DatagramCheckMappingTests.testDatagramCheckersReachTheMonitor",
      "DatagramCheckEngineTests.testPingSocketsAndRawSocketsAgainstANamespaceHost", reach: .behaviour),
    "UDP_CHECK": Proof(
      "DatagramCheckMappingTests.testDatagramCheckersReachTheMonitor",
      "DatagramCheckEngineTests.testUDPCheckAgainstAResponderAClosedPortAndASilentPort", reach: .behaviour),
    "payload": Proof(
      "DatagramCheckerKeywordTests.testUDPCheckPayloadRequireReplyAndLengths",
      "DatagramCheckMappingTests.testDatagramCheckersReachTheMonitor",
      "DatagramCheckEngineTests.testUDPCheckAgainstAResponderAClosedPortAndASilentPort", reach: .behaviour),
    "require_reply": Proof(
      "DatagramCheckerKeywordTests.testUDPCheckPayloadRequireReplyAndLengths",
      "DatagramCheckMappingTests.testDatagramCheckersReachTheMonitor",
      "DatagramCheckEngineTests.testUDPCheckAgainstAResponderAClosedPortAndASilentPort", reach: .behaviour),
    "min_reply_length": Proof(
      "DatagramCheckerKeywordTests.testUDPCheckPayloadRequireReplyAndLengths",
      "DatagramCheckMappingTests.testDatagramCheckersReachTheMonitor",
      "DatagramCheckEngineTests.testUDPCheckAgainstAResponderAClosedPortAndASilentPort", reach: .behaviour),
    "max_reply_length": Proof(
      "DatagramCheckerKeywordTests.testUDPCheckErrors",
      "DatagramCheckMappingTests.testDatagramCheckersReachTheMonitor",
      "DatagramCheckEngineTests.testUDPCheckAgainstAResponderAClosedPortAndASilentPort", reach: .behaviour),
    "DNS_CHECK": Proof(
      "DatagramCheckerKeywordTests.testDNSCheckTypeNameAndKeepalivedsRetryDefaults",
      "DatagramCheckMappingTests.testDatagramCheckersReachTheMonitor",
      "DatagramCheckEngineTests.testDNSCheckAgainstDnsmasq", reach: .behaviour),
    "type": Proof(
      "DatagramCheckerKeywordTests.testDNSCheckTypeNameAndKeepalivedsRetryDefaults",
      "DatagramCheckMappingTests.testDatagramCheckersReachTheMonitor",
      "DatagramCheckEngineTests.testDNSCheckAgainstDnsmasq", reach: .behaviour),
    "name": Proof(
      "DatagramCheckerKeywordTests.testDNSCheckErrors",
      "DatagramCheckMappingTests.testDatagramCheckersReachTheMonitor",
      "DatagramCheckEngineTests.testDNSCheckAgainstDnsmasq", reach: .behaviour),
    "connect_ip": Proof(
      "KeywordEffectTests.testServiceKeywordsReachTheIPVSSpecAndTheCheckers", reach: .mapping),
    "connect_port": Proof(
      "ServiceMappingTests.testDRMasterGroupExpandsToOneServicePerMember", reach: .mapping),
    "bindto": Proof(
      "KeywordEffectTests.testServiceKeywordsReachTheIPVSSpecAndTheCheckers",
      "ConnectOptionsTests.testBindToSetsSourceAddress", reach: .behaviour),
    "bind_port": Proof(
      "KeywordEffectTests.testServiceKeywordsReachTheIPVSSpecAndTheCheckers",
      "TCPCheckEngineTests.testBindPortAndOrderlyClose", reach: .behaviour),
    "bind_if": Proof(
      "ServiceMappingTests.testCheckerSocketOptionsAndSNIReachTheProbe",
      "ProbeSocketOptionsTests.testTCPEngineSocketsCarryDeviceAndMark",
      "ProbeSocketOptionsTests.testConversationProbeSocketsCarryDeviceAndMark", reach: .behaviour),
    "fwmark": Proof(
      "ServiceMappingTests.testCheckerSocketOptionsAndSNIReachTheProbe",
      "ProbeSocketOptionsTests.testTCPEngineSocketsCarryDeviceAndMark",
      "ProbeSocketOptionsTests.testConversationProbeSocketsCarryDeviceAndMark", reach: .behaviour),
    "url": Proof(
      "ServiceMappingTests.testNATMasterCheckersInheritTheVirtualServersTiming",
      "NginxTests.testHTTPAndHTTPSAgainstNginx", reach: .behaviour),
    "path": Proof(
      "ServiceMappingTests.testNATMasterCheckersInheritTheVirtualServersTiming",
      "NginxTests.testEveryURLIsCheckedInOnePass", reach: .behaviour),
    "digest": Proof(
      "SampleConfigTests.testSampleModelsKeepTheirMeaning", "NginxTests.testHTTPAndHTTPSAgainstNginx",
      reach: .behaviour),
    "status_code": Proof(
      "ServiceMappingTests.testNATMasterCheckersInheritTheVirtualServersTiming",
      "NginxTests.testHTTPAndHTTPSAgainstNginx", reach: .behaviour),
    "http_protocol": Proof(
      "KeywordEffectTests.testServiceKeywordsReachTheIPVSSpecAndTheCheckers", reach: .mapping),
    "fast_recovery": Proof(
      "CheckerKeywordTests.testFastRecoveryIsLvskeepersOnlyModeAndOffIsAnError",
      "NginxTests.testEveryURLIsCheckedInOnePass", reach: .behaviour),
    "enable_sni": Proof(
      "CheckerKeywordTests.testSNIOnlyWhenEnabledAndSNINameEnablesIt",
      "NginxTests.testSNIIsSentOnlyWhenEnabled", reach: .behaviour),
    "sni_name": Proof(
      "ServiceMappingTests.testCheckerSocketOptionsAndSNIReachTheProbe",
      "NginxTests.testSNIIsSentOnlyWhenEnabled", reach: .behaviour),
    "user": Proof(
      "ServiceMappingTests.testNATMasterVirtualServices", "MariaDBTests.testMySQLCheckAgainstMariaDB",
      reach: .behaviour),
    "password": Proof(
      "ServiceMappingTests.testNATMasterVirtualServices", "MariaDBTests.testMySQLCheckAgainstMariaDB",
      reach: .behaviour),
    "database": Proof(
      "ServiceMappingTests.testNATMasterVirtualServices", "MariaDBTests.testMySQLCheckAgainstMariaDB",
      reach: .behaviour),
    "server_public_key": Proof("MySQLKeyMappingTests.testKeyReachesTheChecker", reach: .mapping),
  ]

  /// Keywords of the script runner, the VRRP tracking and the accept mode, proven by tests in
  /// the KeeperCore, VRRP and lvskeeper suites (the daemon runs the scripts and reads the files).
  static let scriptAndTrackingProofs: [String: Proof] = [
    "script_user": Proof(
      "ScriptRunnerTests.testScriptUserDefaultsAndOverrides",
      "DaemonScriptsTests.testScriptsRunAsConfiguredKeepTheirRhythmAndDieWithTheDaemon", reach: .behaviour),
    "enable_script_security": Proof(
      "ScriptSecurityConfigTests.testUnsafeRootScriptIsAnErrorWithSecurityAndAWarningWithout",
      "DaemonScriptsTests.testEnableScriptSecurityRefusesAReloadAndKeepsTheRunningConfig", reach: .behaviour),
    "notify": Proof(
      "DaemonScriptsTests.testScriptsRunAsConfiguredKeepTheirRhythmAndDieWithTheDaemon", reach: .behaviour),
    "notify_master": Proof(
      "DaemonScriptsTests.testScriptsRunAsConfiguredKeepTheirRhythmAndDieWithTheDaemon", reach: .behaviour),
    "notify_stop": Proof(
      "DaemonScriptsTests.testScriptsRunAsConfiguredKeepTheirRhythmAndDieWithTheDaemon", reach: .behaviour),
    "notify_backup": Proof("VRRPMappingTests.testDRPairIsOneUnicastVersion3Instance", reach: .mapping),
    "notify_fault": Proof("VRRPMappingTests.testDRPairIsOneUnicastVersion3Instance", reach: .mapping),
    "notify_up": Proof("NginxTests.testMonitorFollowsNginxStopAndStart", reach: .behaviour),
    "notify_down": Proof("NginxTests.testMonitorFollowsNginxStopAndStart", reach: .behaviour),
    "quorum_up": Proof(
      "DaemonScriptsTests.testQuorumAndOmegaScriptsRunAsScriptUser", reach: .behaviour),
    "vrrp_garp_interval": Proof(
      "VRRPServiceNetworkTests.testAnnouncementsArePacedByTheGarpInterval",
      "VRRPMappingTests.testTrackFilesGroupTrackingReverseAndInitFailReachTheSpec", reach: .behaviour),
    "vrrp_gna_interval": Proof(
      "VRRPServiceNetworkTests.testAnnouncementsArePacedByTheGarpInterval",
      "KeywordEffectTests.testVRRPKeywordsReachTheInstanceSpec", reach: .mapping),
    "dont_track_primary": Proof(
      "VRRPServiceNetworkTests.testDontTrackPrimaryIgnoresTheInstanceInterface",
      "VRRPMappingTests.testTrackFilesGroupTrackingReverseAndInitFailReachTheSpec", reach: .behaviour),
    "startup_script": Proof("DaemonScriptsTests.testStartupAndShutdownScripts", reach: .behaviour),
    "startup_script_timeout": Proof("DaemonScriptsTests.testStartupAndShutdownScripts", reach: .behaviour),
    "shutdown_script": Proof("DaemonScriptsTests.testStartupAndShutdownScripts", reach: .behaviour),
    "shutdown_script_timeout": Proof("DaemonScriptsTests.testStartupAndShutdownScripts", reach: .model),
    "omega": Proof("DaemonScriptsTests.testQuorumAndOmegaScriptsRunAsScriptUser", reach: .behaviour),
    "quorum_down": Proof(
      "DaemonScriptsTests.testQuorumAndOmegaScriptsRunAsScriptUser", reach: .behaviour),
    "misc_path": Proof("MiscCheckTests.testExitCodesAndDynamicWeight", reach: .behaviour),
    "misc_timeout": Proof("MiscCheckTests.testTimeoutKillsWholeProcessGroup", reach: .behaviour),
    "misc_dynamic": Proof("MiscCheckTests.testExitCodesAndDynamicWeight", reach: .behaviour),
    // vrrp_script fields
    "script": Proof(
      "DaemonScriptsTests.testScriptsRunAsConfiguredKeepTheirRhythmAndDieWithTheDaemon", reach: .behaviour),
    "interval": Proof(
      "DaemonScriptsTests.testScriptsRunAsConfiguredKeepTheirRhythmAndDieWithTheDaemon", reach: .behaviour),
    "timeout": Proof(
      "DaemonScriptsTests.testScriptsRunAsConfiguredKeepTheirRhythmAndDieWithTheDaemon",
      "ScriptRunnerTests.testTimeoutKillsTheWholeGroupAndBackgroundChildrenDoNotHoldTheNextRun",
      reach: .behaviour),
    "rise": Proof(
      "TrackingTests.testRiseFall", "VRRPMappingTests.testNATPairIsOneSyncGroupUnitHoldingBothInstances",
      reach: .mapping),
    "fall": Proof(
      "TrackingTests.testRiseFall", "VRRPMappingTests.testNATPairIsOneSyncGroupUnitHoldingBothInstances",
      reach: .mapping),
    "init_fail": Proof(
      "VRRPServiceNetworkTests.testScriptWithoutAResultCountsForNothingUnlessInitFail",
      "VRRPMappingTests.testTrackFilesGroupTrackingReverseAndInitFailReachTheSpec", reach: .behaviour),
    // track files
    "track_file": Proof(
      "CompatibilityDaemonTests.testFileCheckFollowsTheFileIntoTheKernel",
      "VRRPMappingTests.testTrackFilesGroupTrackingReverseAndInitFailReachTheSpec",
      "VRRPServiceNetworkTests.testTrackFileInitValueWeightZeroAndReverse", reach: .behaviour),
    "vrrp_track_file": Proof(
      "VRRPMappingTests.testTrackFilesGroupTrackingReverseAndInitFailReachTheSpec",
      "VRRPServiceNetworkTests.testTrackFileInitValueWeightZeroAndReverse", reach: .behaviour),
    "file": Proof(
      "VRRPMappingTests.testTrackFilesGroupTrackingReverseAndInitFailReachTheSpec",
      "VRRPServiceNetworkTests.testTrackFileInitValueWeightZeroAndReverse", reach: .behaviour),
    "init_file": Proof(
      "VRRPMappingTests.testTrackFilesGroupTrackingReverseAndInitFailReachTheSpec",
      "VRRPServiceNetworkTests.testTrackFileInitValueWeightZeroAndReverse", reach: .behaviour),
    // static and virtual routes, rules and addresses
    "static_ipaddress": Proof(
      "RoutingKeywordTests.testStaticAddressesKeepTheirOptionsAndNeedADevice",
      "VRRPRoutingTests.testRoutesAndRulesFollowMasterStaticOnesStayUntilStopAndMatchKeepalived",
      reach: .behaviour),
    "static_routes": Proof(
      "RoutingKeywordTests.testRouteOptionsReachTheModel",
      "VRRPRoutingTests.testRoutesAndRulesFollowMasterStaticOnesStayUntilStopAndMatchKeepalived",
      reach: .behaviour),
    "static_rules": Proof(
      "RoutingKeywordTests.testRuleOptionsReachTheModel",
      "VRRPRoutingTests.testRoutesAndRulesFollowMasterStaticOnesStayUntilStopAndMatchKeepalived",
      reach: .behaviour),
    "virtual_routes": Proof(
      "RoutingKeywordTests.testTheRoutesSampleReadsAsKeepalivedReadsIt",
      "VRRPRoutingTests.testRoutesAndRulesFollowMasterStaticOnesStayUntilStopAndMatchKeepalived",
      reach: .behaviour),
    "virtual_rules": Proof(
      "RoutingKeywordTests.testTheRulesSampleSkipsItsInvalidRuleAndNumbersTheOthersAsKeepalived",
      "VRRPRoutingTests.testRoutesAndRulesFollowMasterStaticOnesStayUntilStopAndMatchKeepalived",
      reach: .behaviour),
    "use_vmac": Proof(
      "VRRPKeywordTests.testUseVMACNamesTheMacvlanAndRejectsWhatIsNotSupported",
      "VRRPVirtualMACTests.testOurMasterAdvertisesFromTheVirtualMACAndKeepalivedBacksUp",
      "VRRPVirtualMACTests.testKeepalivedMasterAdvertisesFromTheVirtualMACThenWeTakeOverWithXmitBase",
      "VRRPVirtualMACTests.testIPv6VirtualMACBothWaysWithKeepalived", reach: .behaviour),
    "vmac_xmit_base": Proof(
      "VRRPKeywordTests.testUseVMACNamesTheMacvlanAndRejectsWhatIsNotSupported",
      "VRRPVirtualMACTests.testKeepalivedMasterAdvertisesFromTheVirtualMACThenWeTakeOverWithXmitBase",
      reach: .behaviour),
    "accept": Proof("VRRPKeywordTests.testAcceptIsTheOnlyModeAndNoAcceptIsAnError", reach: .model),
    "no_accept": Proof("VRRPKeywordTests.testAcceptIsTheOnlyModeAndNoAcceptIsAnError", reach: .model),
  ]

  // MARK: reading the parser's keywords from its source

  /// The keywords the builders' `switch` statements on a statement's name accept, read from
  /// Sources/KeeperConfig. Only `case` labels at the switch's own level count (a nested
  /// `switch value { case "MASTER": ... }` names values, not keywords).
  static func parserKeywords() throws -> Set<String> {
    let directory = repositoryRoot + "/Sources/KeeperConfig"
    let files = try FileManager.default.contentsOfDirectory(atPath: directory).filter {
      $0.hasSuffix(".swift")
    }
    let switchOnName = try Regex(#"switch\s*\(?\s*(child|node|entry)\.name\b"#)
    let nameComparison = try Regex(#"\.name == "([^"]+)""#, as: (Substring, Substring).self)
    let literal = try Regex(#""([^"]+)""#, as: (Substring, Substring).self)
    var keywords: Set<String> = []
    for file in files {
      let text = try String(contentsOfFile: directory + "/" + file, encoding: .utf8)
      var depth = 0
      var switchDepths: [Int] = []
      for rawLine in text.split(separator: "\n", omittingEmptySubsequences: false) {
        let line = String(rawLine.split(separator: "//", maxSplits: 1, omittingEmptySubsequences: false)[0])
        if line.contains(switchOnName) { switchDepths.append(depth + 1) }
        let trimmed = line.trimmingCharacters(in: .whitespaces)
        if let body = switchDepths.last, depth == body, trimmed.hasPrefix("case ") {
          for match in caseLabel(trimmed).matches(of: literal) { keywords.insert(String(match.1)) }
        }
        for match in line.matches(of: nameComparison) { keywords.insert(String(match.1)) }
        // Braces inside string literals are balanced in this code; count them all.
        for character in line {
          if character == "{" { depth += 1 }
          if character == "}" {
            depth -= 1
            if let body = switchDepths.last, depth < body { switchDepths.removeLast() }
          }
        }
      }
    }
    return keywords.union(CheckerBuilder.supported).union(Preprocessor.includeKeywordNames)
  }

  /// A `case` line up to the colon that ends its label (outside quotes).
  private static func caseLabel(_ line: String) -> String {
    var label = ""
    var quoted = false
    for character in line.dropFirst(5) {
      if character == "\"" { quoted.toggle() }
      if character == ":" && !quoted { break }
      label.append(character)
    }
    return label
  }

  /// "Class.testMethod" for every test method in Tests/.
  static func testNames() throws -> Set<String> {
    let root = repositoryRoot + "/Tests"
    let classPattern = try Regex(#"^(?:final\s+)?class\s+(\w+)"#, as: (Substring, Substring).self)
    let testPattern = try Regex(#"^\s*func\s+(test\w+)\s*\("#, as: (Substring, Substring).self)
    var names: Set<String> = []
    for directory in try FileManager.default.contentsOfDirectory(atPath: root) {
      let path = root + "/" + directory
      guard let files = try? FileManager.default.contentsOfDirectory(atPath: path) else { continue }
      for file in files where file.hasSuffix(".swift") {
        var currentClass = ""
        for line in try String(contentsOfFile: path + "/" + file, encoding: .utf8).split(separator: "\n") {
          if let match = line.firstMatch(of: classPattern) { currentClass = String(match.1) }
          if let match = line.firstMatch(of: testPattern) { names.insert(currentClass + "." + match.1) }
        }
      }
    }
    return names
  }

  // MARK: tests

  func testTheSourceReaderFindsKeywordsAndNotValues() throws {
    let keywords = try Self.parserKeywords()
    for keyword in [
      "lb_algo", "connect_timeout", "virtual_router_id", "real_server", "fwmark", "TCP_CHECK", "includea",
    ] {
      XCTAssertTrue(keywords.contains(keyword), keyword)
    }
    // Values of nested switches and predefined parameters are not keywords.
    for value in ["MASTER", "inet", "on", "_PWD", "tcp", "brd"] {
      XCTAssertFalse(keywords.contains(value), value)
    }
    // Keywords made errors are no longer accepted.
    for removed in [
      "ha_suspend", "lvs_sync_daemon_interface",
    ] {
      XCTAssertFalse(keywords.contains(removed), removed)
    }
  }

  func testEveryAcceptedKeywordHasAProof() throws {
    let keywords = try Self.parserKeywords()
    let tests = try Self.testNames()
    for keyword in keywords.sorted() {
      if let proof = Self.proofs[keyword] {
        for test in proof.tests {
          XCTAssertTrue(tests.contains(test), "\(keyword): the test \(test) does not exist")
        }
      } else {
        XCTFail(
          "\(keyword) is accepted but has no test proving its effect (add one to `proofs`) and is not an error"
        )
      }
      XCTAssertFalse(
        KeywordCatalog.ignored.contains(keyword) || KeywordCatalog.unsupported.contains(keyword),
        "\(keyword) is both parsed and listed in KeywordCatalog")
    }
    for keyword in Self.proofs.keys where !keywords.contains(keyword) {
      XCTFail("\(keyword) is in this catalog but the parser does not accept it")
    }
  }

  /// The warning list: each ignored keyword is accepted with a warning in any block and nothing
  /// else; each unsupported one is an error.
  func testIgnoredKeywordsWarnAndUnsupportedOnesAreErrors() throws {
    for keyword in KeywordCatalog.ignored.sorted() {
      let loaded = try testLoader().load(text: "global_defs {\n  \(keyword) x\n}\n", fileName: "t.conf")
      XCTAssertEqual(
        loaded.warnings.map(\.description),
        ["t.conf:2:3: warning: keyword '\(keyword)' in global_defs is ignored by lvskeeper"], keyword)
    }
    for keyword in KeywordCatalog.unsupported.sorted() {
      let errors = loadErrors("global_defs {\n  \(keyword) x\n}\n")
      XCTAssertEqual(errors.count, 1, keyword)
      XCTAssertTrue(
        errors.first?.description.hasPrefix(
          "test.conf:2:3: error: unsupported keyword '\(keyword)' in global_defs")
          ?? false, "\(errors)")
    }
    XCTAssertTrue(KeywordCatalog.ignored.isDisjoint(with: KeywordCatalog.unsupported))
    XCTAssertTrue(Set(KeywordCatalog.unsupportedReasons.keys).isSubset(of: KeywordCatalog.unsupported))
  }
}
