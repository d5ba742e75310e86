extension RandomAccessCollection {
  /// In a collection sorted by `key`, the first index whose element's key is not below `target`
  /// (`endIndex` when every key is): a binary search, O(log n).
  @inlinable public func firstIndex<Key: Comparable>(notBelow target: Key, by key: (Element) -> Key) -> Index
  {
    var (low, high) = (startIndex, endIndex)
    while low < high {
      let middle = index(low, offsetBy: distance(from: low, to: high) / 2)
      if key(self[middle]) < target { low = index(after: middle) } else { high = middle }
    }
    return low
  }
}
