// Unkeyed containers are read front to back. A packed array can also be read element by element
// (a custom init(from:) that loops over an unkeyed container sees the same values).

/// An unkeyed container, or a packed array viewed as one, being read.
struct UnkeyedDecoding: UnkeyedDecodingContainer {
    let state: DecoderState
    let depth: Int
    let extraPath: [any CodingKey]
    private let elementCount: Int
    private let end: Int
    private let packed: DecoderState.PackedHeader?
    private var cursor: Int
    private(set) var currentIndex = 0

    init(state: DecoderState, header: DecoderState.ContainerHeader, depth: Int, extraPath: [any CodingKey]) {
        self.state = state
        self.depth = depth
        self.extraPath = extraPath
        elementCount = header.count
        end = header.end
        cursor = header.bodyStart
        packed = nil
    }

    init(state: DecoderState, packed: DecoderState.PackedHeader, depth: Int, extraPath: [any CodingKey]) {
        self.state = state
        self.depth = depth
        self.extraPath = extraPath
        elementCount = packed.count
        end = packed.end
        cursor = packed.payload
        self.packed = packed
    }

    var codingPath: [any CodingKey] { Array(state.codingPath.prefix(depth)) + extraPath }
    var count: Int? { elementCount }
    var isAtEnd: Bool { currentIndex >= elementCount }

    private var elementPath: [any CodingKey] { codingPath + [IndexKey(currentIndex)] }

    /// Bounds of the next element; throws at the end or on a malformed header.
    private func peek(_ type: Any.Type) throws -> (offset: Int, end: Int) {
        guard !isAtEnd else {
            throw DecodingError.valueNotFound(
                type,
                DecodingError.Context(codingPath: elementPath, debugDescription: "unkeyed container is at its end"))
        }
        let valueEnd = try state.mapErrors(elementPath) { try state.valueEnd(at: cursor, limit: end) }
        return (cursor, valueEnd)
    }

    /// Steps past the element that ends at `valueEnd`.
    private mutating func advance(to valueEnd: Int) {
        cursor = valueEnd
        currentIndex += 1
    }

    /// Reads the next (tagged) element with `body(offset, end)` and advances past it.
    private mutating func next<R>(_ type: Any.Type, _ body: (Int, Int) throws -> R) throws -> R {
        let bounds = try peek(type)
        let value = try state.mapErrors(elementPath) { try body(bounds.offset, bounds.end) }
        advance(to: bounds.end)
        return value
    }

    /// Reads the next element of a packed array as `P`.
    private mutating func nextPacked<P: PlainValue>(_ header: DecoderState.PackedHeader, as type: P.Type) throws -> P {
        guard !isAtEnd else {
            throw DecodingError.valueNotFound(
                type,
                DecodingError.Context(codingPath: elementPath, debugDescription: "unkeyed container is at its end"))
        }
        guard header.kind == P.plainKind else {
            throw DecodingError.typeMismatch(
                type,
                DecodingError.Context(
                    codingPath: elementPath, debugDescription: "the array holds \(header.kind) values"))
        }
        let index = currentIndex
        let value = try state.mapErrors(elementPath) {
            try state.withPackedBytes(header) { raw -> P in
                let element = UnsafeRawBufferPointer(
                    rebasing: raw[(index * P.plainKind.stride)...].prefix(P.plainKind.stride))
                guard P.isValidRepresentation(element) else {
                    throw WireError(message: "invalid \(P.self) in a packed array")
                }
                return element.loadUnaligned(as: P.self)
            }
        }
        currentIndex += 1
        return value
    }

    private mutating func plain<P: PlainValue>(_ type: P.Type, _ read: (Int, Int) throws -> P) throws -> P {
        if let packed { return try nextPacked(packed, as: P.self) }
        return try next(P.self, read)
    }

    mutating func decodeNil() throws -> Bool {
        guard !isAtEnd else {
            throw DecodingError.valueNotFound(
                Never?.self,
                DecodingError.Context(codingPath: elementPath, debugDescription: "unkeyed container is at its end"))
        }
        if packed != nil { return false }
        guard try state.mapErrors(elementPath, { try state.isNil(at: cursor, limit: end) }) else { return false }
        cursor += 1
        currentIndex += 1
        return true
    }

    mutating func decode(_ type: Bool.Type) throws -> Bool {
        let state = state; return try plain(Bool.self) { try state.readBool(at: $0, limit: $1) }
    }
    mutating func decode(_ type: Double.Type) throws -> Double {
        let state = state; return try plain(Double.self) { try state.readDouble(at: $0, limit: $1) }
    }
    mutating func decode(_ type: Float.Type) throws -> Float {
        let state = state; return try plain(Float.self) { try state.readFloat(at: $0, limit: $1) }
    }
    mutating func decode(_ type: Int.Type) throws -> Int { try integer() }
    mutating func decode(_ type: Int8.Type) throws -> Int8 { try integer() }
    mutating func decode(_ type: Int16.Type) throws -> Int16 { try integer() }
    mutating func decode(_ type: Int32.Type) throws -> Int32 { try integer() }
    mutating func decode(_ type: Int64.Type) throws -> Int64 { try integer() }
    mutating func decode(_ type: UInt.Type) throws -> UInt { try integer() }
    mutating func decode(_ type: UInt8.Type) throws -> UInt8 { try integer() }
    mutating func decode(_ type: UInt16.Type) throws -> UInt16 { try integer() }
    mutating func decode(_ type: UInt32.Type) throws -> UInt32 { try integer() }
    mutating func decode(_ type: UInt64.Type) throws -> UInt64 { try integer() }

    mutating func decode(_ type: String.Type) throws -> String {
        try requireUnpacked(type)
        let state = state
        return try next(type) { try state.readString(at: $0, limit: $1) }
    }

    mutating func decode(_ type: Int128.Type) throws -> Int128 {
        try requireUnpacked(type)
        let state = state
        return try next(type) { try state.readInt128(at: $0, limit: $1) }
    }

    mutating func decode(_ type: UInt128.Type) throws -> UInt128 {
        try requireUnpacked(type)
        let state = state
        return try next(type) { try state.readUInt128(at: $0, limit: $1) }
    }

    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T {
        if let packed {
            guard let plainType = T.self as? any PlainValue.Type,
                let value = try nextPacked(packed, as: plainType) as? T
            else {
                throw DecodingError.typeMismatch(
                    type,
                    DecodingError.Context(
                        codingPath: elementPath, debugDescription: "the array holds \(packed.kind) values"))
            }
            return value
        }
        let bounds = try peek(type)
        let value = try state.decodeNested(
            T.self, at: bounds.offset, limit: bounds.end, keys: extraPath, key: IndexKey(currentIndex))
        advance(to: bounds.end)
        return value
    }

    mutating func nestedContainer<NestedKey: CodingKey>(
        keyedBy type: NestedKey.Type
    ) throws -> KeyedDecodingContainer<NestedKey> {
        try requireUnpacked(type)
        let bounds = try peek(type)
        let container = try decoder(bounds.offset, bounds.end).container(keyedBy: type)
        advance(to: bounds.end)
        return container
    }

    mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer {
        try requireUnpacked(UnkeyedDecoding.self)
        let bounds = try peek(UnkeyedDecoding.self)
        let container = try decoder(bounds.offset, bounds.end).unkeyedContainer()
        advance(to: bounds.end)
        return container
    }

    mutating func superDecoder() throws -> any Decoder {
        try requireUnpacked(SlotDecoder.self)
        let bounds = try peek(SlotDecoder.self)
        let decoder = decoder(bounds.offset, bounds.end)
        advance(to: bounds.end)
        return decoder
    }

    private func decoder(_ offset: Int, _ valueEnd: Int) -> SlotDecoder {
        SlotDecoder(
            state: state, offset: offset, limit: valueEnd, depth: depth, extraPath: extraPath + [IndexKey(currentIndex)]
        )
    }

    private func requireUnpacked(_ type: Any.Type) throws {
        if let packed {
            throw DecodingError.typeMismatch(
                type,
                DecodingError.Context(
                    codingPath: elementPath, debugDescription: "the array holds \(packed.kind) values"))
        }
    }

    private mutating func integer<T: FixedWidthInteger & PlainValue>() throws -> T {
        let state = state
        return try plain(T.self) { try state.readInteger(T.self, at: $0, limit: $1) }
    }
}
