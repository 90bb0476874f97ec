// Low-level read failures. The byte reader does not know coding paths; containers catch these
// and rethrow `DecodingError.dataCorrupted` with the path, so the user sees both.

/// A malformed, truncated or mistyped byte sequence.
struct WireError: Error, CustomStringConvertible {
    /// What was wrong, with the byte offset.
    let message: String
    var description: String { message }

    /// Converts to the standard error type at `codingPath`.
    func decodingError(at codingPath: [any CodingKey]) -> DecodingError {
        .dataCorrupted(DecodingError.Context(codingPath: codingPath, debugDescription: message))
    }
}
