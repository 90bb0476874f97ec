import ParallelCore

// Canonical mode: the encoding `Memory` hashes into a cache key. Frames only need bytes the other
// end can decode; a key needs the same bytes for equal values in every process and on every run.
// Three things in the ordinary encoding do not give that, and canonical mode replaces them:
//
// * `Dictionary` and `Set` encode in iteration order, which depends on a per-process random hash
//   seed. Canonical mode encodes each entry on its own, sorts the entries by their bytes
//   (dictionary entries by key bytes, then value bytes) and writes them in that order.
// * Arrays of number-only structs are copied as raw memory, which includes padding bytes the
//   struct's value does not define. Canonical mode encodes such arrays element by element.
// * A `SharedArray` encodes a reference to its memory (a process id and a descriptor). Canonical
//   mode writes its elements instead (as `mmapMode: .disabled` does).
//
// Everything else already is canonical: integers as LEB128 of their value, floating point as its
// IEEE bit pattern (so -0.0 and 0.0 differ, and NaNs differ by payload), strings as their UTF-8
// bytes (so two strings that Swift compares equal under Unicode canonical equivalence but that
// hold different scalars differ), containers in the order their `encode(to:)` writes them.

/// A collection whose `Encodable` output depends on iteration order rather than on its value.
protocol UnorderedCollection {
    /// The entries' canonical encodings, sorted: for a dictionary key, value, key, value, …; for
    /// a set its elements.
    func canonicalEntries(_ encoder: BinaryEncoder) throws -> [[UInt8]]
}

extension Dictionary: UnorderedCollection where Key: Encodable, Value: Encodable {
    func canonicalEntries(_ encoder: BinaryEncoder) throws -> [[UInt8]] {
        var pairs: [(key: [UInt8], value: [UInt8])] = []
        pairs.reserveCapacity(count)
        for (key, value) in self {
            pairs.append((try encoder.encode(key), try encoder.encode(value)))
        }
        // Distinct keys give distinct bytes for every synthesized Codable key type; the value
        // bytes break ties for a custom key type whose encoding loses information.
        pairs.sort {
            $0.key.lexicographicallyPrecedes($1.key)
                || ($0.key == $1.key && $0.value.lexicographicallyPrecedes($1.value))
        }
        return pairs.flatMap { [$0.key, $0.value] }
    }
}

extension Set: UnorderedCollection where Element: Encodable {
    func canonicalEntries(_ encoder: BinaryEncoder) throws -> [[UInt8]] {
        try map { try encoder.encode($0) }.sorted { $0.lexicographicallyPrecedes($1) }
    }
}

/// What an unordered collection is written as in canonical mode. The kind keeps a dictionary, a
/// set and an array of byte arrays in the same position from ever sharing bytes.
private struct CanonicalUnorderedForm: Encodable {
    var unordered: String
    var entries: [[UInt8]]
}

extension BinaryEncoder {
    /// An encoder in canonical mode: equal values (by their `Encodable` output) encode to equal
    /// bytes in every process and on every run of any build of the same source.
    /// - Concurrency: a value; use it from any thread.
    package static func canonical() -> BinaryEncoder {
        var encoder = BinaryEncoder()
        encoder.canonical = true
        encoder.userInfo[.parallelKitMmapMode] = MmapMode.disabled
        return encoder
    }
}

extension BinaryEncoder {
    /// An encoder for bytes that outlive this process (stored results): everything inline, a
    /// `SharedArray` by its elements. Not canonical: decoding is all such bytes need.
    package static func selfContained() -> BinaryEncoder {
        var encoder = BinaryEncoder()
        encoder.userInfo[.parallelKitMmapMode] = MmapMode.disabled
        return encoder
    }
}

extension EncoderState {
    /// Writes `collection` as its sorted entries, at the current position.
    func encodeCanonicalForm(of collection: any UnorderedCollection) throws {
        var encoder = BinaryEncoder.canonical()
        encoder.userInfo = userInfo
        let kind = collection is any SetMarker ? "set" : "dictionary"
        let form = CanonicalUnorderedForm(unordered: kind, entries: try collection.canonicalEntries(encoder))
        let slot = try openSlot()
        try form.encode(to: SlotEncoder(state: self, slot: slot, depth: codingPath.count))
        closeThrough(slot)
        if let deferredError { throw deferredError }
    }
}

/// Tells a set from a dictionary among unordered collections.
private protocol SetMarker {}
extension Set: SetMarker {}
