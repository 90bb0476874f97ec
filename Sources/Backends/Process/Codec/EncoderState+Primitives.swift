// Writers for tagged primitive values. Each appends one complete value (tag and payload).

extension EncoderState {
    func writeNil() { bytes.append(WireTag.null.rawValue) }

    func writeBool(_ value: Bool) {
        bytes.append(value ? WireTag.trueValue.rawValue : WireTag.falseValue.rawValue)
    }

    /// Zig-zag maps small negative numbers to small unsigned ones, so -1 takes one byte.
    func writeSigned(_ value: Int64) {
        bytes.append(WireTag.signed.rawValue)
        writeVarint(UInt64(bitPattern: (value << 1) ^ (value >> 63)))
    }

    func writeUnsigned(_ value: UInt64) {
        bytes.append(WireTag.unsigned.rawValue)
        writeVarint(value)
    }

    func writeFloat(_ value: Float) {
        bytes.append(WireTag.float32.rawValue)
        writeFixed(value.bitPattern)
    }

    func writeDouble(_ value: Double) {
        bytes.append(WireTag.float64.rawValue)
        writeFixed(value.bitPattern)
    }

    func writeString(_ value: String) {
        bytes.append(WireTag.string.rawValue)
        writeRawString(value)
    }

    func writeInt128(_ value: Int128) {
        bytes.append(WireTag.int128.rawValue)
        writeFixed(UInt64(truncatingIfNeeded: value))
        writeFixed(UInt64(truncatingIfNeeded: value >> 64))
    }

    func writeUInt128(_ value: UInt128) {
        bytes.append(WireTag.uint128.rawValue)
        writeFixed(UInt64(truncatingIfNeeded: value))
        writeFixed(UInt64(truncatingIfNeeded: value >> 64))
    }

    /// A keyed entry's key: length, then UTF-8, untagged.
    func writeKey(_ key: some CodingKey) {
        writeRawString(key.stringValue)
    }

    /// An array of plain values, inline or (above the sink's threshold) as a segment reference.
    func writePacked(_ raw: UnsafeRawBufferPointer, kind: PlainKind, count: Int, owner: Any) throws {
        if let largeArrays, let reference = try largeArrays.reference(for: raw, owner: owner) {
            bytes.append(WireTag.sharedPacked.rawValue)
            bytes.append(kind.rawValue)
            writeVarint(UInt64(count))
            writeSegmentReference(reference)
            return
        }
        bytes.append(WireTag.packed.rawValue)
        bytes.append(kind.rawValue)
        writeVarint(UInt64(count))
        bytes.append(contentsOf: raw)
    }

    func writeSegmentReference(_ reference: SegmentReference) {
        writeVarint(UInt64(UInt32(bitPattern: reference.ownerPID)))
        writeVarint(UInt64(UInt32(bitPattern: reference.fd)))
        writeVarint(reference.offset)
        writeVarint(reference.byteCount)
        writeVarint(reference.device)
        writeVarint(reference.inode)
        writeVarint(reference.serial)
    }

    // MARK: Raw pieces

    func writeRawString(_ value: String) {
        var value = value
        value.withUTF8 { utf8 in
            writeVarint(UInt64(utf8.count))
            bytes.append(contentsOf: utf8)
        }
    }

    /// LEB128: seven bits per byte, high bit set on all but the last.
    func writeVarint(_ value: UInt64) {
        var value = value
        while value >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: value) | 0x80)
            value >>= 7
        }
        bytes.append(UInt8(value))
    }

    func writeFixed<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }
}
