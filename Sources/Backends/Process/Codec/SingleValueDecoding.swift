// The single value container of one encoded value.

/// Reads the one value at `offset`.
struct SingleValueDecoding: SingleValueDecodingContainer {
    let state: DecoderState
    let offset: Int
    let limit: Int
    let depth: Int
    let extraPath: [any CodingKey]

    var codingPath: [any CodingKey] { Array(state.codingPath.prefix(depth)) + extraPath }

    private func read<R>(_ body: () throws -> R) throws -> R { try state.mapErrors(codingPath, body) }

    func decodeNil() -> Bool { (try? state.isNil(at: offset, limit: limit)) ?? false }
    func decode(_ type: Bool.Type) throws -> Bool { try read { try state.readBool(at: offset, limit: limit) } }
    func decode(_ type: String.Type) throws -> String { try read { try state.readString(at: offset, limit: limit) } }
    func decode(_ type: Double.Type) throws -> Double { try read { try state.readDouble(at: offset, limit: limit) } }
    func decode(_ type: Float.Type) throws -> Float { try read { try state.readFloat(at: offset, limit: limit) } }
    func decode(_ type: Int.Type) throws -> Int { try integer() }
    func decode(_ type: Int8.Type) throws -> Int8 { try integer() }
    func decode(_ type: Int16.Type) throws -> Int16 { try integer() }
    func decode(_ type: Int32.Type) throws -> Int32 { try integer() }
    func decode(_ type: Int64.Type) throws -> Int64 { try integer() }
    func decode(_ type: Int128.Type) throws -> Int128 { try read { try state.readInt128(at: offset, limit: limit) } }
    func decode(_ type: UInt.Type) throws -> UInt { try integer() }
    func decode(_ type: UInt8.Type) throws -> UInt8 { try integer() }
    func decode(_ type: UInt16.Type) throws -> UInt16 { try integer() }
    func decode(_ type: UInt32.Type) throws -> UInt32 { try integer() }
    func decode(_ type: UInt64.Type) throws -> UInt64 { try integer() }
    func decode(_ type: UInt128.Type) throws -> UInt128 { try read { try state.readUInt128(at: offset, limit: limit) } }

    func decode<T: Decodable>(_ type: T.Type) throws -> T {
        try state.decodeNested(T.self, at: offset, limit: limit, keys: extraPath, key: nil)
    }

    private func integer<T: FixedWidthInteger>() throws -> T {
        try read { try state.readInteger(T.self, at: offset, limit: limit) }
    }
}
