#if canImport(Glibc)
  import Glibc
#endif

/// Hands the heap's free pages back to the kernel after a start, a reload, and once per
/// reconcile interval.
///
/// A reload parses on a thread of its own, and glibc gives such threads their own malloc arenas;
/// the old and new models coexist for a moment, and after the old one is freed glibc keeps the
/// pages in those arenas. At 36k real servers that is over 100 MB per reload, and since each
/// reload's thread may land on a different arena, RSS climbs reload after reload. `malloc_trim`
/// releases the free pages of every arena. It is looked up at run time because Swift's Glibc
/// module does not export `<malloc.h>`; where it is absent (another libc) this does nothing.
///
/// `useOneArena` goes further for the daemon: one arena for every thread. lvskeeper's threads
/// (the check engine, the event loops, the reconciler, a reload's parser) allocate little once
/// running, so they gain nothing from arenas of their own, while each arena keeps its own holes:
/// with glibc's default (up to 8 per core) the marginal RSS per real server on the host was
/// 2.2 KB, with one arena 1.4 KB (`bench/memory-reload.sh` part 1).
enum HeapTrim {
  private typealias Trim = @convention(c) (Int) -> Int32
  private typealias Option = @convention(c) (Int32, Int32) -> Int32
  /// `M_ARENA_MAX` of `<malloc.h>`.
  private static let arenaMax: Int32 = -8
  private static let trim: Trim? = {
    #if canImport(Glibc)
      guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "malloc_trim") else { return nil }
      return unsafeBitCast(symbol, to: Trim.self)
    #else
      return nil
    #endif
  }()

  static func releaseFreePages() { _ = trim?(0) }

  /// Makes every thread share the main arena. Must run before the process starts a second thread
  /// (a thread keeps the arena it first allocated from): the first statement of `main`. An
  /// operator's own `GLIBC_TUNABLES=glibc.malloc.arena_max=N` wins over it.
  static func useOneArena() {
    #if canImport(Glibc)
      if let tunables = getenv("GLIBC_TUNABLES"), String(cString: tunables).contains("arena_max") { return }
      guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "mallopt") else { return }
      _ = unsafeBitCast(symbol, to: Option.self)(arenaMax, 1)
    #endif
  }
}
