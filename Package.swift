// swift-tools-version:6.0
import PackageDescription

let nio: [Target.Dependency] = [
  .product(name: "NIOCore", package: "swift-nio"),
  .product(name: "NIOPosix", package: "swift-nio"),
]
let logging: Target.Dependency = .product(name: "Logging", package: "swift-log")

let package = Package(
  name: "lvskeeper",
  products: [
    .executable(name: "lvskeeper", targets: ["lvskeeper"]),
    .executable(name: "IPVSKernelTests", targets: ["IPVSKernelTests"]),
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
    .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
    .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
    .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
    .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
  ],
  targets: [
    // libnl-3 / libnl-genl-3 / libnl-route-3 and <linux/ip_vs.h>.
    .systemLibrary(
      name: "CNetlink",
      pkgConfig: "libnl-genl-3.0",
      providers: [.apt(["libnl-3-dev", "libnl-genl-3-dev", "libnl-route-3-dev"])]
    ),
    // <sys/epoll.h> and <sys/eventfd.h>, which Glibc's Swift module leaves out (TCP_CHECK prober).
    .systemLibrary(name: "CLinuxEvents"),
    // libssl/libcrypto for SSL_GET on the check engine (one SSL_CTX per process, SSL per leg).
    .systemLibrary(name: "COpenSSL", pkgConfig: "openssl", providers: [.apt(["libssl-dev"])]),
    // fork/exec of one script run, async-signal-safe in the child (KeeperCore's ScriptRunner).
    .target(name: "CScriptSpawn"),
    // The types that cross modules, once: the IP address, the netlink message builder, script commands,
    // users and the one script runner.
    .target(name: "KeeperCore", dependencies: ["CScriptSpawn", "CLinuxEvents"]),
    .target(name: "KeeperConfig", dependencies: ["KeeperCore"]),
    .target(name: "CThreadControl"),
    // recvmsg with TTL / hop limit and destination control messages, and source-port binding, for BFD.
    .target(name: "CBFDSocket"),
    // RFC 5880/5881 BFD sessions (keepalived's bfd_instance) on their own thread.
    .target(name: "BFD", dependencies: ["CBFDSocket", "KeeperCore", logging]),
    .target(
      name: "VRRP",
      dependencies: [
        "CNetlink", "CThreadControl", "KeeperCore", logging,
        .product(name: "Crypto", package: "swift-crypto"),
      ]
    ),
    .target(
      name: "HealthCheck",
      dependencies: nio + [
        "CLinuxEvents", "COpenSSL", "KeeperCore",
        .product(name: "Crypto", package: "swift-crypto"),
        // RSA-OAEP for MYSQL_CHECK's caching_sha2_password full authentication.
        .product(name: "_CryptoExtras", package: "swift-crypto"),
        logging,
      ]
    ),
    .target(name: "IPVSSync", dependencies: ["CNetlink", "KeeperCore", logging]),
    .executableTarget(
      name: "lvskeeper",
      dependencies: [
        "KeeperCore", "KeeperConfig", "VRRP", "HealthCheck", "IPVSSync", "BFD", "CLinuxEvents", logging,
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
        .product(name: "NIOHTTP1", package: "swift-nio"),
        .product(name: "Metrics", package: "swift-metrics"),
        .product(name: "Prometheus", package: "swift-prometheus"),
        .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        .product(name: "UnixSignals", package: "swift-service-lifecycle"),
      ] + nio
    ),
    // The kernel test suite: built with --static-swift-stdlib and run inside the qemu VM (vm/).
    .executableTarget(name: "IPVSKernelTests", dependencies: ["IPVSSync", "KeeperCore"]),
    // Runs VRRP instances standalone from a JSON spec; driven by the namespace tests.
    .executableTarget(name: "VRRPHarness", dependencies: ["VRRP", logging]),
    // Times the configuration loader for bench/config-parse.sh (release build).
    .executableTarget(name: "ConfigParseBench", dependencies: ["KeeperConfig"]),
    // Drives many checkers at once for the checker benchmark (bench/).
    .executableTarget(name: "HealthBench", dependencies: ["HealthCheck", logging] + nio),
    .testTarget(name: "KeeperConfigTests", dependencies: ["KeeperConfig", "KeeperCore"]),
    .testTarget(name: "KeeperCoreTests", dependencies: ["KeeperCore"]),
    .testTarget(name: "VRRPTests", dependencies: ["VRRP", "KeeperCore"], exclude: ["Fixtures"]),
    .testTarget(name: "HealthCheckTests", dependencies: ["HealthCheck"] + nio),
    .testTarget(name: "BFDTests", dependencies: ["BFD", "KeeperCore"]),
    .testTarget(name: "IPVSSyncTests", dependencies: ["IPVSSync", "KeeperCore"]),
    .testTarget(name: "lvskeeperTests", dependencies: ["lvskeeper", "KeeperConfig", "KeeperCore"]),
  ]
)
