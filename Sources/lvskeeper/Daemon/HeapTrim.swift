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
enum HeapTrim {
  private typealias Trim = @convention(c) (Int) -> Int32
  private static let trim: Trim? = {
    #if canImport(Glibc)
      guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "malloc_trim") else { return nil }
      return unsafeBitCast(symbol, to: Trim.self)
    #else
      return nil
    #endif
  }()

  static func releaseFreePages() { _ = trim?(0) }
}
