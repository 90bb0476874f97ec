// The entry point of the binary Codable decoder.

/// Decodes values written by `BinaryEncoder`.
///
/// Input is validated as it is read: truncated, corrupted or mistyped bytes throw a
/// `DecodingError` naming the byte offset and coding path; nothing is read outside the input and
/// nesting is bounded, so hostile input cannot crash or hang the decoder.
/// - Complexity: O(size of the input) when keys are read in the order they were written, which
///   synthesized `Codable` does; out-of-order reads of a container cost one pass over it.
/// - Concurrency: a value type; each `decode` call uses its own state.
package struct BinaryDecoder {
    /// Passed to every `Decoder.userInfo`.
    var userInfo: [CodingUserInfoKey: Any] = [:]
    /// Maps arrays that arrived in shared memory; nil rejects them.
    var segments: (any SegmentResolver)?

    /// A decoder that rejects arrays left in shared memory.
    package init() {}

    /// Decodes a `T` that occupies all of `bytes`.
    package func decode<T: Decodable>(_ type: T.Type, from bytes: [UInt8]) throws -> T {
        try decode(type, from: ByteStorage(copying: bytes), range: 0..<bytes.count)
    }

    /// Decodes a `T` that occupies exactly `range` of `storage`.
    func decode<T: Decodable>(_ type: T.Type, from storage: ByteStorage, range: Range<Int>) throws -> T {
        precondition(range.lowerBound >= 0 && range.upperBound <= storage.count, "range outside the storage")
        let state = DecoderState(storage: storage, userInfo: userInfo, segments: segments)
        let end = try state.mapErrors([]) { try state.valueEnd(at: range.lowerBound, limit: range.upperBound) }
        guard end == range.upperBound else {
            throw WireError(message: "\(range.upperBound - end) unexpected bytes after the value").decodingError(at: [])
        }
        return try state.decodeNested(T.self, at: range.lowerBound, limit: end, keys: [], key: nil)
    }
}
