#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#endif

/// A failure talking to kernel IPVS, naming what was being done and the kernel's reason.
public enum IPVSKernelError: Error, Sendable, Hashable, CustomStringConvertible {
  /// The generic netlink family "IPVS" is not registered (ip_vs module not loaded).
  case familyUnavailable(String)
  /// The socket could not be created or used.
  case socket(operation: String, errno: Int32)
  /// No reply within the deadline.
  case timedOut(operation: String, seconds: Double)
  /// The kernel rejected a request with an errno.
  case rejected(operation: String, errno: Int32, reason: KernelErrorReason)
  /// A reply could not be decoded.
  case malformedReply(operation: String, detail: String)

  public var errno: Int32? {
    switch self {
    case .socket(_, let e), .rejected(_, let e, _): e
    default: nil
    }
  }

  public var description: String {
    switch self {
    case .familyUnavailable(let detail): "IPVS generic netlink family unavailable: \(detail)"
    case .socket(let op, let e): "\(op): socket error \(IPVSKernelError.errnoName(e)) (\(strerrorText(e)))"
    case .timedOut(let op, let seconds): "\(op): no reply from the kernel within \(seconds) s"
    case .rejected(let op, let e, let reason):
      "\(op): kernel said \(IPVSKernelError.errnoName(e)) (\(reason.description))"
    case .malformedReply(let op, let detail): "\(op): malformed kernel reply: \(detail)"
    }
  }

  static func errnoName(_ e: Int32) -> String {
    switch e {
    case ENOENT: "ENOENT"
    case EEXIST: "EEXIST"
    case EPERM: "EPERM"
    case ESRCH: "ESRCH"
    case EINVAL: "EINVAL"
    case EBUSY: "EBUSY"
    case ENOMEM: "ENOMEM"
    case EAFNOSUPPORT: "EAFNOSUPPORT"
    case EOPNOTSUPP: "EOPNOTSUPP"
    default: "errno \(e)"
    }
  }
}

/// What a kernel errno means for the IPVS command that got it (from net/netfilter/ipvs/ip_vs_ctl.c).
public enum KernelErrorReason: Sendable, Hashable, CustomStringConvertible {
  case noSuchService
  case noSuchDestination
  case unknownSchedulerOrEngine
  case alreadyExists
  case notPermitted
  case invalidArgument
  case other(String)

  static func classify(errno e: Int32, on operation: IPVSOperation?) -> KernelErrorReason {
    switch e {
    case ESRCH: return .noSuchService
    case EEXIST: return .alreadyExists
    case EPERM: return .notPermitted
    case EINVAL: return .invalidArgument
    case ENOENT:
      switch operation {
      case .addService, .editService: return .unknownSchedulerOrEngine
      case .editDestination, .deleteDestination: return .noSuchDestination
      case .addDestination, .deleteService, nil: return .other(strerrorText(e))
      }
    default: return .other(strerrorText(e))
    }
  }

  public var description: String {
    switch self {
    case .noSuchService: "no such service"
    case .noSuchDestination: "no such destination"
    case .unknownSchedulerOrEngine: "unknown scheduler or persistence engine module"
    case .alreadyExists: "already exists"
    case .notPermitted: "operation not permitted (needs CAP_NET_ADMIN)"
    case .invalidArgument: "invalid argument"
    case .other(let text): text
    }
  }
}

func strerrorText(_ e: Int32) -> String {
  guard let text = strerror(e) else { return "errno \(e)" }
  return String(cString: text)
}
