// Fast paths for arrays, the bulk of what jobs carry and return:
//
// * arrays of plain scalars ([Double], [Int], [UInt8], …) as one raw copy (`.packed`), or, above
//   the call's `maxNbytes`, as a reference to shared memory (`.sharedPacked`);
// * arrays of number-only structs (see `PlainLayout`) as one raw copy preceded by one element in
//   Codable form (`.plainStructs`). The receiver decodes that witness and checks the type itself
//   before trusting the bytes, so a corrupt frame cannot smuggle in a type that is not plain.
//
// Everything else goes through Codable element by element.

/// An array that may have a faster encoding than element-wise Codable.
protocol ArrayFastPath {
    /// Writes `self` in a fast form and returns true, or returns false to use Codable.
    func encodeFast(into state: EncoderState, keys: [any CodingKey]) throws -> Bool
    /// Reads a fast form at `offset`, or returns nil when the value there is not one.
    static func decodeFast(from state: DecoderState, at offset: Int, limit: Int) throws -> Self?
}

extension Array: ArrayFastPath where Element: Codable {
    func encodeFast(into state: EncoderState, keys: [any CodingKey]) throws -> Bool {
        if let plainType = Element.self as? any PlainValue.Type {
            try withUnsafeBytes { raw in
                try state.writePacked(raw, kind: plainType.plainKind, count: count, owner: self)
            }
            return true
        }
        // A struct's raw bytes include its padding, which is not part of its value: canonical
        // encodings (cache keys) take the element-wise path.
        guard !state.canonical, let first, PlainLayout.isPlain(first) else { return false }
        state.bytes.append(WireTag.plainStructs.rawValue)
        state.writeVarint(UInt64(MemoryLayout<Element>.stride))
        state.writeVarint(UInt64(count))
        try state.encodeNested(first, keys: keys, key: IndexKey(0))
        withUnsafeBytes { state.bytes.append(contentsOf: $0) }
        return true
    }

    static func decodeFast(from state: DecoderState, at offset: Int, limit: Int) throws -> [Element]? {
        switch try state.tag(at: offset, limit: limit) {
        case .packed, .sharedPacked:
            guard let plainType = Element.self as? any PlainValue.Type else {
                throw WireError(
                    message: "an array of plain numbers at byte \(offset) cannot be decoded as [\(Element.self)]")
            }
            let header = try state.packedHeader(at: offset, limit: limit)
            guard header.kind == plainType.plainKind else {
                throw WireError(
                    message: "expected an array of \(Element.self) at byte \(offset), found packed \(header.kind)")
            }
            // The same shared array in several jobs of a call: copied out of shared memory once.
            if let reference = header.reference,
                let earlier = state.segments?.decodedArray(for: reference) as? [Element],
                earlier.count == header.count
            {
                return earlier
            }
            if let reference = header.reference {
                let array = try readShared(reference, count: header.count, state: state) { raw in
                    guard plainType.isValidRepresentation(raw) else {
                        throw WireError(
                            message: "invalid \(Element.self) values in the shared array at byte \(offset)")
                    }
                }
                state.segments?.remember(array, decodedFrom: reference)
                return array
            }
            return try state.withPackedBytes(header) { raw in
                guard plainType.isValidRepresentation(raw) else {
                    throw WireError(message: "invalid \(Element.self) values in the packed array at byte \(offset)")
                }
                return copyElements(from: raw, count: header.count)
            }
        case .plainStructs:
            let header = try state.plainStructsHeader(at: offset, limit: limit)
            guard header.stride == MemoryLayout<Element>.stride, _isPOD(Element.self) else {
                throw WireError(
                    message: "raw \(header.stride)-byte values at byte \(offset) cannot be decoded as [\(Element.self)]"
                )
            }
            let witness = try state.decodeNested(
                Element.self, at: header.witness, limit: header.payload, keys: [], key: IndexKey(0))
            guard PlainLayout.isPlain(witness) else {
                throw WireError(message: "\(Element.self) is not a number-only type; its raw bytes are refused")
            }
            let raw = UnsafeRawBufferPointer(start: state.base + header.payload, count: header.count * header.stride)
            return copyElements(from: raw, count: header.count)
        default:
            return nil
        }
    }

    /// A new array of `count` plain elements read from shared memory straight into its storage
    /// (one copy), which `validate` checks before any element is counted as initialized: the
    /// check reads this process's private copy, which no other process can change afterwards.
    private static func readShared(
        _ reference: SegmentReference, count: Int, state: DecoderState,
        validate: (UnsafeRawBufferPointer) throws -> Void
    ) throws -> [Element] {
        guard let segments = state.segments else {
            throw WireError(message: "an array arrived in shared memory but this decoder cannot map shared memory")
        }
        // Never with a count of 0: see `copyElements(from:count:)`.
        guard count > 0 else { return [] }
        return try [Element](unsafeUninitializedCapacity: count) { buffer, initialized in
            let raw = UnsafeMutableRawBufferPointer(buffer)
            LargeBuffer.preferHugePages(raw)
            try segments.copyBytes(of: reference, into: raw)
            try validate(UnsafeRawBufferPointer(raw))
            initialized = count
        }
    }

    /// A new array holding the `count` elements whose bytes are `raw`; only called for types
    /// whose bytes are their value (plain scalars or `PlainLayout` structs).
    private static func copyElements(from raw: UnsafeRawBufferPointer, count: Int) -> [Element] {
        // `[Element](unsafeUninitializedCapacity: 0)` stores its count into the standard library's
        // one shared empty-array storage, a data race when two threads decode at once.
        guard count > 0 else { return [] }
        return [Element](unsafeUninitializedCapacity: count) { buffer, initialized in
            UnsafeMutableRawPointer(buffer.baseAddress!).copyMemory(from: raw.baseAddress!, byteCount: raw.count)
            initialized = count
        }
    }
}
