// The entry point of the binary Codable encoder.

/// Encodes `Encodable` values in ParallelKit's compact binary format (see WireFormat.swift).
///
/// Faster and smaller than `JSONEncoder`: no keys, no text, numbers in their binary form, and
/// arrays of plain values copied as raw memory.
/// - Complexity: O(size of the output).
/// - Concurrency: a value type; each `encode` call uses its own state, so one encoder may be used
///   from several threads at once.
package struct BinaryEncoder {
    /// Passed to every `Encoder.userInfo`.
    var userInfo: [CodingUserInfoKey: Any] = [:]
    /// Where large arrays of plain values go; nil keeps everything inline.
    var largeArrays: (any LargeArraySink)?
    /// Canonical mode (see CanonicalEncoding.swift): equal values give equal bytes in every
    /// process, as cache keys need. Off for frames, where it would only cost time.
    var canonical = false

    /// An encoder for frames: fast, inline arrays unless `largeArrays` is set.
    package init() {}

    /// Returns the encoding of `value`.
    package func encode<T: Encodable>(_ value: T) throws -> [UInt8] {
        var bytes: [UInt8] = []
        try encode(value, appendingTo: &bytes)
        return bytes
    }

    /// Appends the encoding of `value` to `bytes` (a frame under construction). On error, `bytes`
    /// keeps its original prefix but its tail is unspecified.
    func encode<T: Encodable>(_ value: T, appendingTo bytes: inout [UInt8]) throws {
        let state = EncoderState(bytes: [], userInfo: userInfo, largeArrays: largeArrays, canonical: canonical)
        swap(&state.bytes, &bytes)
        defer { swap(&state.bytes, &bytes) }
        if canonical {
            // One path for the root and nested values, so the root may be a dictionary too.
            try state.encodeNested(value, keys: [], key: nil)
            state.closeAll()
            return
        }
        if let array = value as? any ArrayFastPath, try array.encodeFast(into: state, keys: []) {
            return
        }
        let slot = try state.openSlot()
        try value.encode(to: SlotEncoder(state: state, slot: slot, depth: 0))
        state.closeAll()
        if let error = state.deferredError { throw error }
    }
}
