// A single value container writes exactly one value into its slot.

/// The single value container of one slot.
struct SingleValueEncoding: SingleValueEncodingContainer {
    let state: EncoderState
    let slot: Int
    let depth: Int
    let extraPath: [any CodingKey]

    var codingPath: [any CodingKey] { Array(state.codingPath.prefix(depth)) + extraPath }

    private func begin() throws { try state.willWriteSingle(slot: slot) }

    mutating func encodeNil() throws { try begin(); state.writeNil() }
    mutating func encode(_ value: Bool) throws { try begin(); state.writeBool(value) }
    mutating func encode(_ value: String) throws { try begin(); state.writeString(value) }
    mutating func encode(_ value: Double) throws { try begin(); state.writeDouble(value) }
    mutating func encode(_ value: Float) throws { try begin(); state.writeFloat(value) }
    mutating func encode(_ value: Int) throws { try begin(); state.writeSigned(Int64(value)) }
    mutating func encode(_ value: Int8) throws { try begin(); state.writeSigned(Int64(value)) }
    mutating func encode(_ value: Int16) throws { try begin(); state.writeSigned(Int64(value)) }
    mutating func encode(_ value: Int32) throws { try begin(); state.writeSigned(Int64(value)) }
    mutating func encode(_ value: Int64) throws { try begin(); state.writeSigned(value) }
    mutating func encode(_ value: Int128) throws { try begin(); state.writeInt128(value) }
    mutating func encode(_ value: UInt) throws { try begin(); state.writeUnsigned(UInt64(value)) }
    mutating func encode(_ value: UInt8) throws { try begin(); state.writeUnsigned(UInt64(value)) }
    mutating func encode(_ value: UInt16) throws { try begin(); state.writeUnsigned(UInt64(value)) }
    mutating func encode(_ value: UInt32) throws { try begin(); state.writeUnsigned(UInt64(value)) }
    mutating func encode(_ value: UInt64) throws { try begin(); state.writeUnsigned(value) }
    mutating func encode(_ value: UInt128) throws { try begin(); state.writeUInt128(value) }

    mutating func encode<T: Encodable>(_ value: T) throws {
        try begin()
        try state.encodeNested(value, keys: extraPath, key: nil)
    }
}
