import ParallelCore

// A task's error crossing back from a worker. The parent rebuilds the original error when its
// type is Codable and can be found by name (so `catch let e as MyError` works across processes);
// otherwise it reports `.remoteTaskFailed` with the remote type and description.

/// An error as it travels from a worker to the parent.
struct ErrorEnvelope: Codable, Sendable, Equatable {
    /// `_mangledTypeName` of the error's dynamic type, when it has one.
    var typeName: String?
    /// The type as `String(reflecting:)` prints it, for messages.
    var typeDescription: String
    /// `String(describing: error)`.
    var description: String
    /// The error encoded with the binary codec, when it is `Encodable` and encoding succeeded.
    var payload: [UInt8]?
    /// The error was a `CancellationError` (not Codable, but every backend rethrows it as itself).
    var isCancellation: Bool?

    /// Captures `error` in a worker.
    init(_ error: any Error) {
        let type = type(of: error)
        typeName = _mangledTypeName(type)
        typeDescription = String(reflecting: type)
        description = String(describing: error)
        if error is CancellationError { isCancellation = true }
        if let encodable = error as? any Encodable {
            payload = try? BinaryEncoder().encode(encodable)
        }
    }

    /// Rebuilds the error in the parent.
    /// - Parameter taskIndex: the failing task's submission index, for the fallback error.
    func rebuild(taskIndex: Int) -> any Error {
        if isCancellation == true { return CancellationError() }
        if let payload, let typeName, let type = JobTypeResolver.type(named: typeName),
            let decodable = type as? any (Error & Decodable).Type,
            let error = try? BinaryDecoder().decode(decodable, from: payload)
        {
            return error
        }
        return ParallelError(
            .remoteTaskFailed, taskIndex: taskIndex,
            "task \(taskIndex) failed in a worker process with \(typeDescription): \(description). "
                + "(The error came back as text because its type is not Codable or cannot be found by name; "
                + "make it an internal or public Codable type to catch it as itself.)")
    }
}
