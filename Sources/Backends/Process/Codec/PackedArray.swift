// The fast path for arrays of plain values: one memcpy each way instead of a Codable call per
// element. The encoder and decoder look for this conformance on every nested value.

/// An array that can be written and read as raw memory.
protocol PackedArrayCodable {
    /// Writes `self` as one packed value.
    func encodePacked(into state: EncoderState) throws
    /// Reads a packed (or, as a fallback, element-wise) value at `offset`.
    static func decodePacked(from state: DecoderState, at offset: Int, limit: Int) throws -> Self
}

extension Array: PackedArrayCodable where Element: PlainValue {
    func encodePacked(into state: EncoderState) throws {
        try withUnsafeBytes { raw in
            try state.writePacked(raw, kind: Element.plainKind, count: count, owner: self)
        }
    }

    static func decodePacked(from state: DecoderState, at offset: Int, limit: Int) throws -> [Element] {
        let tag = try state.tag(at: offset, limit: limit)
        switch tag {
        case .packed, .sharedPacked:
            let header = try state.packedHeader(at: offset, limit: limit)
            guard header.kind == Element.plainKind else {
                throw WireError(message: "expected an array of \(Element.self) at byte \(offset), found packed \(header.kind)")
            }
            return try state.withPackedBytes(header) { raw in
                guard Element.isValidRepresentation(raw) else {
                    throw WireError(message: "invalid \(Element.self) values in the packed array at byte \(offset)")
                }
                return [Element](unsafeUninitializedCapacity: header.count) { buffer, initialized in
                    if header.count > 0 {
                        UnsafeMutableRawPointer(buffer.baseAddress!).copyMemory(
                            from: raw.baseAddress!, byteCount: raw.count)
                    }
                    initialized = header.count
                }
            }
        default:
            // Written element by element (a custom encode(to:)): decode the same way.
            return try [Element](from: SlotDecoder(state: state, offset: offset, limit: limit, depth: state.codingPath.count))
        }
    }
}
