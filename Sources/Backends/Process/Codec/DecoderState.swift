// Bounds-checked reading of the binary format. Every read names the limit it must stay within
// (the end of the enclosing container), so a corrupted length can never send a read past the
// container, the frame or the buffer: malformed input becomes a `WireError`, never a crash.

/// The state shared by a decoder and its containers during one `decode` call.
final class DecoderState {
    /// Keeps `base` valid for as long as any container exists.
    let storage: ByteStorage
    /// Start of the bytes.
    let base: UnsafeRawPointer
    /// Keys from the root to the value being decoded.
    var codingPath: [any CodingKey] = []
    /// How many nested values are being decoded right now (bounded by `WireLimits.maxDepth`).
    var nesting = 0
    /// The last type found not to be an array (see `EncoderState.lastUnpackedType`).
    var lastUnpackedType: ObjectIdentifier?
    /// Passed through to every `Decoder.userInfo`.
    let userInfo: [CodingUserInfoKey: Any]
    /// Maps arrays that arrived as shared memory references.
    let segments: (any SegmentResolver)?

    init(storage: ByteStorage, userInfo: [CodingUserInfoKey: Any], segments: (any SegmentResolver)?) {
        self.storage = storage
        self.base = storage.base
        self.userInfo = userInfo
        self.segments = segments
    }

    // MARK: Raw reads

    /// Fails unless `count` bytes are available at `offset` before `limit`.
    @inline(__always)
    func require(_ count: Int, at offset: Int, limit: Int) throws {
        guard offset >= 0, count >= 0, offset <= limit, count <= limit - offset else {
            throw WireError(
                message: "truncated data: \(count) bytes needed at byte \(offset), \(max(0, limit - offset)) available")
        }
    }

    func byte(at offset: Int, limit: Int) throws -> UInt8 {
        try require(1, at: offset, limit: limit)
        return base.load(fromByteOffset: offset, as: UInt8.self)
    }

    func tag(at offset: Int, limit: Int) throws -> WireTag {
        let raw = try byte(at: offset, limit: limit)
        guard let tag = WireTag(rawValue: raw) else {
            throw WireError(message: "unknown value tag \(raw) at byte \(offset)")
        }
        return tag
    }

    func fixed<T: FixedWidthInteger>(_ type: T.Type, at offset: Int, limit: Int) throws -> T {
        try require(MemoryLayout<T>.size, at: offset, limit: limit)
        return T(littleEndian: base.loadUnaligned(fromByteOffset: offset, as: T.self))
    }

    /// Reads LEB128 at `offset` and advances it. At most 10 bytes; overflow is an error.
    func varint(at offset: inout Int, limit: Int) throws -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        let start = offset
        while true {
            let byte = try self.byte(at: offset, limit: limit)
            offset += 1
            let bits = UInt64(byte & 0x7f)
            guard shift < 64, shift < 63 || bits <= 1 else {
                throw WireError(message: "integer too large at byte \(start)")
            }
            result |= bits << shift
            if byte & 0x80 == 0 { return result }
            shift += 7
        }
    }

    /// A varint used as a length or count: must fit in `Int`.
    func length(at offset: inout Int, limit: Int) throws -> Int {
        let start = offset
        let value = try varint(at: &offset, limit: limit)
        guard value <= UInt64(Int.max) else { throw WireError(message: "length too large at byte \(start)") }
        return Int(value)
    }

    // MARK: Structure

    /// The first byte after the value at `offset`; validates headers, not nested content.
    func valueEnd(at offset: Int, limit: Int) throws -> Int {
        switch try tag(at: offset, limit: limit) {
        case .null, .falseValue, .trueValue:
            return offset + 1
        case .signed, .unsigned:
            var cursor = offset + 1
            _ = try varint(at: &cursor, limit: limit)
            return cursor
        case .float32:
            try require(4, at: offset + 1, limit: limit)
            return offset + 5
        case .float64:
            try require(8, at: offset + 1, limit: limit)
            return offset + 9
        case .int128, .uint128:
            try require(16, at: offset + 1, limit: limit)
            return offset + 17
        case .string:
            var cursor = offset + 1
            let count = try length(at: &cursor, limit: limit)
            try require(count, at: cursor, limit: limit)
            return cursor + count
        case .keyed, .unkeyed:
            return try container(at: offset, limit: limit).end
        case .packed, .sharedPacked:
            return try packedHeader(at: offset, limit: limit).end
        case .plainStructs:
            return try plainStructsHeader(at: offset, limit: limit).end
        }
    }

    /// An array of raw number-only structs: element size, count, the witness element, the bytes.
    struct PlainStructsHeader {
        let stride: Int
        let count: Int
        /// The first element in Codable form.
        let witness: Int
        /// The raw bytes of all `count` elements.
        let payload: Int
        let end: Int
    }

    func plainStructsHeader(at offset: Int, limit: Int) throws -> PlainStructsHeader {
        var cursor = offset + 1
        let stride = try length(at: &cursor, limit: limit)
        let count = try length(at: &cursor, limit: limit)
        guard count >= 1, stride >= 1 else {
            throw WireError(message: "raw struct array at byte \(offset) has \(count) elements of \(stride) bytes")
        }
        let witness = cursor
        // A number-only struct never encodes itself as another raw array; refusing that here also
        // keeps hostile input from nesting this header (and this recursion) without bound.
        guard try tag(at: witness, limit: limit) != .plainStructs else {
            throw WireError(message: "nested raw struct array at byte \(witness)")
        }
        let payload = try valueEnd(at: witness, limit: limit)
        let (byteCount, overflow) = count.multipliedReportingOverflow(by: stride)
        guard !overflow else { throw WireError(message: "array length overflows at byte \(offset)") }
        try require(byteCount, at: payload, limit: limit)
        return PlainStructsHeader(
            stride: stride, count: count, witness: witness, payload: payload, end: payload + byteCount)
    }

    /// A container's body bounds and entry count, validated against `limit`.
    struct ContainerHeader {
        let tag: WireTag
        let bodyStart: Int
        let end: Int
        let count: Int
    }

    func container(at offset: Int, limit: Int) throws -> ContainerHeader {
        let tag = try tag(at: offset, limit: limit)
        guard tag == .keyed || tag == .unkeyed else {
            throw WireError(message: "expected a container at byte \(offset), found \(tag)")
        }
        let bodyLength = Int(try fixed(UInt32.self, at: offset + 1, limit: limit))
        let count = Int(try fixed(UInt32.self, at: offset + 5, limit: limit))
        let bodyStart = offset + WireLimits.containerHeaderSize
        try require(bodyLength, at: bodyStart, limit: limit)
        // Every element takes at least one byte and every keyed entry at least two, so a count
        // beyond that is corrupt; checking it here keeps `reserveCapacity(count)` honest.
        guard count <= bodyLength / (tag == .keyed ? 2 : 1) else {
            throw WireError(message: "container at byte \(offset) claims \(count) entries in \(bodyLength) bytes")
        }
        return ContainerHeader(tag: tag, bodyStart: bodyStart, end: bodyStart + bodyLength, count: count)
    }

    /// A packed array's kind, count and payload position.
    struct PackedHeader {
        let kind: PlainKind
        let count: Int
        /// Inline bytes start here (`.packed`).
        let payload: Int
        /// Or the bytes are in shared memory (`.sharedPacked`).
        let reference: SegmentReference?
        let end: Int
    }

    func packedHeader(at offset: Int, limit: Int) throws -> PackedHeader {
        let tag = try tag(at: offset, limit: limit)
        let rawKind = try byte(at: offset + 1, limit: limit)
        guard let kind = PlainKind(rawValue: rawKind) else {
            throw WireError(message: "unknown array element kind \(rawKind) at byte \(offset + 1)")
        }
        var cursor = offset + 2
        let count = try length(at: &cursor, limit: limit)
        let (byteCount, overflow) = count.multipliedReportingOverflow(by: kind.stride)
        guard !overflow else { throw WireError(message: "array length overflows at byte \(offset)") }
        if tag == .sharedPacked {
            let reference = try segmentReference(at: &cursor, limit: limit)
            guard reference.byteCount == UInt64(byteCount) else {
                throw WireError(
                    message: "shared array at byte \(offset) has \(reference.byteCount) bytes for \(count) elements")
            }
            return PackedHeader(kind: kind, count: count, payload: cursor, reference: reference, end: cursor)
        }
        guard tag == .packed else { throw WireError(message: "expected an array at byte \(offset), found \(tag)") }
        try require(byteCount, at: cursor, limit: limit)
        return PackedHeader(kind: kind, count: count, payload: cursor, reference: nil, end: cursor + byteCount)
    }

    func segmentReference(at cursor: inout Int, limit: Int) throws -> SegmentReference {
        let start = cursor
        func field32() throws -> Int32 {
            let value = try varint(at: &cursor, limit: limit)
            guard value <= UInt64(UInt32.max) else {
                throw WireError(message: "bad shared array reference at byte \(start)")
            }
            return Int32(bitPattern: UInt32(value))
        }
        let owner = try field32()
        let fd = try field32()
        return SegmentReference(
            ownerPID: owner, fd: fd,
            offset: try varint(at: &cursor, limit: limit), byteCount: try varint(at: &cursor, limit: limit),
            device: try varint(at: &cursor, limit: limit), inode: try varint(at: &cursor, limit: limit),
            serial: try varint(at: &cursor, limit: limit))
    }

    /// Calls `body` with a packed array's bytes, inline or mapped from shared memory.
    func withPackedBytes<R>(_ header: PackedHeader, _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
        guard let reference = header.reference else {
            return try body(
                UnsafeRawBufferPointer(start: base + header.payload, count: header.count * header.kind.stride))
        }
        guard let segments else {
            throw WireError(message: "an array arrived in shared memory but this decoder cannot map shared memory")
        }
        return try segments.withBytes(of: reference, body)
    }
}
