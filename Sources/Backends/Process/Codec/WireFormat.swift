// The byte layout of ParallelKit's binary Codable format. Both ends are the same executable on
// the same machine, so the format favours speed and strict validation over evolution: no schema,
// no versioning inside values (the frame protocol carries a version), little-endian throughout.

#if _endian(big)
#error("ParallelProcess's wire format assumes a little-endian host")
#endif

/// The first byte of every encoded value: says how long the value is and how to read it.
enum WireTag: UInt8 {
    /// `nil`; no payload.
    case null = 0
    /// `false`; no payload.
    case falseValue = 1
    /// `true`; no payload.
    case trueValue = 2
    /// A signed integer: zig-zag LEB128.
    case signed = 3
    /// An unsigned integer: LEB128.
    case unsigned = 4
    /// A `Float`: 4 bytes of IEEE bits.
    case float32 = 5
    /// A `Double`: 8 bytes of IEEE bits.
    case float64 = 6
    /// A `String`: LEB128 byte count, then UTF-8.
    case string = 7
    /// A keyed container: u32 body length, u32 entry count, then entries (LEB128 key length, UTF-8
    /// key, value).
    case keyed = 8
    /// An unkeyed container: u32 body length, u32 element count, then values.
    case unkeyed = 9
    /// An array of plain values: element kind byte, LEB128 count, then the raw elements.
    case packed = 10
    /// An array of plain values left in a shared memory segment: element kind byte, LEB128 count,
    /// then a segment reference (see `SegmentReference`).
    case sharedPacked = 11
    /// An `Int128`: 16 bytes, little-endian two's complement.
    case int128 = 12
    /// A `UInt128`: 16 bytes, little-endian.
    case uint128 = 13
    /// An array of number-only structs (see `PlainLayout`): LEB128 stride, LEB128 count (at least
    /// 1), the first element as an ordinary value (the witness the receiver checks the type on),
    /// then `count × stride` raw bytes.
    case plainStructs = 14
}

/// Limits that keep a malformed or hostile frame from exhausting the stack or memory.
enum WireLimits {
    /// Nesting deeper than this is rejected, on both sides, with an error rather than a stack
    /// overflow (JSONSerialization uses the same figure).
    static let maxDepth = 512
    /// Fixed size of a container header: tag, u32 body length, u32 count.
    static let containerHeaderSize = 9
}
