// Readers for tagged primitive values. Integers are range-checked into the requested type;
// floats widen or narrow like JSONDecoder's numbers; strings must be valid UTF-8.

extension DecoderState {
    func isNil(at offset: Int, limit: Int) throws -> Bool {
        try tag(at: offset, limit: limit) == .null
    }

    func readBool(at offset: Int, limit: Int) throws -> Bool {
        switch try tag(at: offset, limit: limit) {
        case .trueValue: return true
        case .falseValue: return false
        case let other: throw mismatch(Bool.self, found: other, at: offset)
        }
    }

    func readInteger<T: FixedWidthInteger>(_ type: T.Type, at offset: Int, limit: Int) throws -> T {
        var cursor = offset + 1
        let result: T?
        switch try tag(at: offset, limit: limit) {
        case .signed:
            let zigzag = try varint(at: &cursor, limit: limit)
            let value = Int64(bitPattern: (zigzag >> 1) ^ (0 &- (zigzag & 1)))
            result = T(exactly: value)
        case .unsigned:
            result = T(exactly: try varint(at: &cursor, limit: limit))
        case .int128:
            result = T(exactly: try readInt128(at: offset, limit: limit))
        case .uint128:
            result = T(exactly: try readUInt128(at: offset, limit: limit))
        case let other:
            throw mismatch(T.self, found: other, at: offset)
        }
        guard let result else { throw WireError(message: "number at byte \(offset) does not fit in \(T.self)") }
        return result
    }

    func readInt128(at offset: Int, limit: Int) throws -> Int128 {
        switch try tag(at: offset, limit: limit) {
        case .int128:
            let low = try fixed(UInt64.self, at: offset + 1, limit: limit)
            let high = try fixed(UInt64.self, at: offset + 9, limit: limit)
            return Int128(bitPattern: UInt128(high) << 64 | UInt128(low))
        case .signed:
            return Int128(try readInteger(Int64.self, at: offset, limit: limit))
        case .unsigned:
            var cursor = offset + 1
            return Int128(try varint(at: &cursor, limit: limit))
        case let other:
            throw mismatch(Int128.self, found: other, at: offset)
        }
    }

    func readUInt128(at offset: Int, limit: Int) throws -> UInt128 {
        switch try tag(at: offset, limit: limit) {
        case .uint128:
            let low = try fixed(UInt64.self, at: offset + 1, limit: limit)
            let high = try fixed(UInt64.self, at: offset + 9, limit: limit)
            return UInt128(high) << 64 | UInt128(low)
        case .unsigned:
            var cursor = offset + 1
            return UInt128(try varint(at: &cursor, limit: limit))
        case .signed, .int128:
            guard let value = UInt128(exactly: try readInt128(at: offset, limit: limit)) else {
                throw WireError(message: "negative number at byte \(offset) cannot be a UInt128")
            }
            return value
        case let other:
            throw mismatch(UInt128.self, found: other, at: offset)
        }
    }

    func readDouble(at offset: Int, limit: Int) throws -> Double {
        switch try tag(at: offset, limit: limit) {
        case .float64: return Double(bitPattern: try fixed(UInt64.self, at: offset + 1, limit: limit))
        case .float32: return Double(Float(bitPattern: try fixed(UInt32.self, at: offset + 1, limit: limit)))
        case let other: throw mismatch(Double.self, found: other, at: offset)
        }
    }

    func readFloat(at offset: Int, limit: Int) throws -> Float {
        switch try tag(at: offset, limit: limit) {
        case .float32: return Float(bitPattern: try fixed(UInt32.self, at: offset + 1, limit: limit))
        case .float64: return Float(Double(bitPattern: try fixed(UInt64.self, at: offset + 1, limit: limit)))
        case let other: throw mismatch(Float.self, found: other, at: offset)
        }
    }

    func readString(at offset: Int, limit: Int) throws -> String {
        let tag = try tag(at: offset, limit: limit)
        guard tag == .string else { throw mismatch(String.self, found: tag, at: offset) }
        var cursor = offset + 1
        return try rawString(at: &cursor, limit: limit)
    }

    /// An untagged length-prefixed UTF-8 string (a keyed entry's key, or a string's payload).
    func rawString(at cursor: inout Int, limit: Int) throws -> String {
        let start = cursor
        let count = try length(at: &cursor, limit: limit)
        try require(count, at: cursor, limit: limit)
        let bytes = UnsafeRawBufferPointer(start: base + cursor, count: count)
        cursor += count
        guard let string = String(validating: bytes.assumingMemoryBound(to: UInt8.self), as: UTF8.self) else {
            throw WireError(message: "invalid UTF-8 in the string at byte \(start)")
        }
        return string
    }

    func mismatch(_ type: Any.Type, found tag: WireTag, at offset: Int) -> WireError {
        WireError(message: "expected \(type) at byte \(offset), found \(tag)")
    }
}
