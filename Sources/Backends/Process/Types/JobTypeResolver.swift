@_spi(Locking) import ParallelCore

// Jobs and errors cross processes as type names: `_mangledTypeName` in the parent, `_typeByName`
// in the worker, which works because both are the same executable. Names of private, fileprivate
// and local types embed the address of an anonymous context, which differs in every process
// (ASLR), so they cannot be found there (we checked: such a name fails to resolve in another process). Such types
// are refused in the parent, before anything is sent.

/// Finds types by name, and says which types cannot be found by name in a worker.
///
/// - Concurrency: thread-safe; results are cached behind a mutex.
package enum JobTypeResolver {
    private static let byName = LockedValue<[String: any Any.Type]>([:])
    private static let verdicts = LockedValue<[ObjectIdentifier: String?]>([:])

    /// The name a worker resolves with `type(named:)`, or nil for a type without one.
    static func name(of type: any Any.Type) -> String? {
        _mangledTypeName(type)
    }

    /// The type with this mangled name in this executable, or nil.
    /// - Complexity: a dictionary lookup after the first resolution of each name.
    static func type(named name: String) -> (any Any.Type)? {
        // `_mangledTypeName` only produces printable ASCII. Bytes below 0x20 are symbolic
        // references to the runtime, which would follow them as pointers: a corrupt name must
        // never get that far.
        guard !name.isEmpty, name.utf8.count <= 4096, name.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7f }) else {
            return nil
        }
        if let cached = byName.withLock({ $0[name] }) { return cached }
        guard let type = _typeByName(name) else { return nil }
        byName.withLock { $0[name] = type }
        return type
    }

    /// Why `type` cannot be found by name in a worker process, or nil when it can.
    /// - Complexity: a dictionary lookup after the first check of each type.
    static func unreachableReason(_ type: any Any.Type) -> String? {
        let key = ObjectIdentifier(type)
        if let cached = verdicts.withLock({ $0[key] }) { return cached }
        let verdict = computeReason(type)
        verdicts.withLock { $0[key] = verdict }
        return verdict
    }

    private static func computeReason(_ type: any Any.Type) -> String? {
        let shown = String(reflecting: type)
        // A private, fileprivate or local declaration prints as "(unknown context at $…)": its
        // name holds an address that means nothing in another process, even when this process
        // happens to resolve it.
        if shown.contains("(unknown context at") {
            return "\(readable(shown)) is private, fileprivate or local to a function (or uses such a type as a "
                + "generic argument)"
        }
        guard let name = name(of: type) else { return "\(shown) has no mangled name" }
        guard let found = Self.type(named: name), found == type else {
            return "\(shown) cannot be found again by its mangled name \"\(name)\""
        }
        return nil
    }

    /// `String(reflecting:)` without its "(unknown context at $…)." parts, which name addresses.
    static func readable(_ shown: String) -> String {
        var result = shown
        while let start = result.range(of: "(unknown context at "),
            let end = result[start.upperBound...].range(of: ").")
        {
            result.removeSubrange(start.lowerBound..<end.upperBound)
        }
        return result
    }

    /// The `.notSerializable` error for a job type that cannot reach a worker, or nil.
    package static func checkJobType(_ type: any Any.Type) -> ParallelError? {
        guard let reason = unreachableReason(type) else { return nil }
        return ParallelError(
            .notSerializable,
            "the job type cannot be sent to a worker process: \(reason). Worker processes find a job's type "
                + "again by its name, so declare it internal or public, at file scope or nested in another type, "
                + "not private, fileprivate or inside a function.")
    }
}
