// Decoding a nested value: the path bookkeeping, the depth limit and the array fast paths.

extension DecoderState {
    /// Decodes the value at `offset`, which ends at `limit`, with `keys` and `key` appended to
    /// the coding path.
    func decodeNested<T: Decodable>(
        _ type: T.Type, at offset: Int, limit: Int, keys: [any CodingKey], key: (any CodingKey)?
    ) throws -> T {
        let depth = codingPath.count
        codingPath.append(contentsOf: keys)
        if let key { codingPath.append(key) }
        nesting += 1
        defer {
            codingPath.removeSubrange(depth...)
            nesting -= 1
        }
        // `nesting` also counts values decoded through single value containers, which add no key.
        guard nesting <= WireLimits.maxDepth else {
            throw WireError(message: "values nested deeper than \(WireLimits.maxDepth) levels")
                .decodingError(at: codingPath)
        }
        if ObjectIdentifier(T.self) != lastUnpackedType {
            if let arrayType = T.self as? any ArrayFastPath.Type {
                do {
                    if let fast = try arrayType.decodeFast(from: self, at: offset, limit: limit) {
                        guard let value = fast as? T else {
                            throw WireError(message: "array type mismatch for \(T.self)")
                        }
                        return value
                    }
                } catch let error as WireError {
                    throw error.decodingError(at: codingPath)
                }
                return try T(from: SlotDecoder(state: self, offset: offset, limit: limit, depth: codingPath.count))
            }
        }
        lastUnpackedType = ObjectIdentifier(T.self)
        return try T(from: SlotDecoder(state: self, offset: offset, limit: limit, depth: codingPath.count))
    }

    /// Runs `body`, turning a `WireError` into a `DecodingError` at `path`.
    @inline(__always)
    func mapErrors<R>(_ path: @autoclosure () -> [any CodingKey], _ body: () throws -> R) throws -> R {
        do {
            return try body()
        } catch let error as WireError {
            throw error.decodingError(at: path())
        }
    }
}
