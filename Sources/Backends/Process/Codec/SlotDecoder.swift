// The `Decoder` a value sees in its `init(from:)`: a view of one encoded value.

/// A `Decoder` for the value at `offset`, which ends at `limit`.
struct SlotDecoder: Decoder {
    let state: DecoderState
    let offset: Int
    let limit: Int
    /// How many leading keys of `state.codingPath` belong to this value.
    let depth: Int
    /// Keys below `depth` that are not on `state.codingPath` (a `superDecoder`'s key).
    var extraPath: [any CodingKey] = []

    var codingPath: [any CodingKey] { Array(state.codingPath.prefix(depth)) + extraPath }
    var userInfo: [CodingUserInfoKey: Any] { state.userInfo }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        let header = try state.mapErrors(codingPath) { try state.container(at: offset, limit: limit) }
        guard header.tag == .keyed || header.count == 0 else {
            throw WireError(message: "expected a keyed container at byte \(offset), found an unkeyed one")
                .decodingError(at: codingPath)
        }
        return KeyedDecodingContainer(
            KeyedDecoding<Key>(state: state, header: header, depth: depth, extraPath: extraPath))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        try state.mapErrors(codingPath) {
            switch try state.tag(at: offset, limit: limit) {
            case .packed, .sharedPacked:
                let packed = try state.packedHeader(at: offset, limit: limit)
                return UnkeyedDecoding(state: state, packed: packed, depth: depth, extraPath: extraPath)
            default:
                let header = try state.container(at: offset, limit: limit)
                guard header.tag == .unkeyed || header.count == 0 else {
                    throw WireError(message: "expected an unkeyed container at byte \(offset), found a keyed one")
                }
                return UnkeyedDecoding(state: state, header: header, depth: depth, extraPath: extraPath)
            }
        }
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer {
        SingleValueDecoding(state: state, offset: offset, limit: limit, depth: depth, extraPath: extraPath)
    }
}
