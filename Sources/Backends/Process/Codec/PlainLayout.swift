@_spi(Locking) import ParallelCore

// Jobs and results made only of numbers — `struct Point { var x, y: Double }`,
// `struct Square: ParallelJob { var n: Int }` — are the common case of numeric work, and for them
// Codable costs a call through the coding protocols per field where copying their bytes is one
// memory copy for the whole value. This file decides, once per type, whether a type's bytes are
// its complete value.

/// Which types may cross a process boundary as raw memory.
///
/// A type qualifies when it is trivial (`_isPOD`: no references, no existentials) and reflection
/// shows it is a struct or tuple whose stored properties are, recursively, structs, tuples or
/// fixed-width integers and floating-point numbers. Every bit pattern of such a type is a valid
/// value, so bytes from another process can never make an invalid one. `Bool`, enums, optionals
/// and pointers disqualify a type; so does a custom `Mirror` (it could hide a field).
///
/// - Concurrency: thread-safe; verdicts are cached per type behind a mutex.
enum PlainLayout {
    private static let verdicts = LockedValue<[ObjectIdentifier: Bool]>([:])

    /// Whether `T` qualifies, judged (once per type) on `sample`.
    static func isPlain<T>(_ sample: T) -> Bool {
        let key = ObjectIdentifier(T.self)
        if let cached = verdicts.withLock({ $0[key] }) { return cached }
        let verdict = _isPOD(T.self) && !(sample is any CustomReflectable) && hasOnlyNumbers(sample)
        verdicts.withLock { $0[key] = verdict }
        return verdict
    }

    private static let numberTypes: Set<ObjectIdentifier> = [
        ObjectIdentifier(Int.self), ObjectIdentifier(Int8.self), ObjectIdentifier(Int16.self),
        ObjectIdentifier(Int32.self), ObjectIdentifier(Int64.self), ObjectIdentifier(UInt.self),
        ObjectIdentifier(UInt8.self), ObjectIdentifier(UInt16.self), ObjectIdentifier(UInt32.self),
        ObjectIdentifier(UInt64.self), ObjectIdentifier(Float.self), ObjectIdentifier(Double.self),
    ]

    private static func hasOnlyNumbers(_ value: Any, depth: Int = 0) -> Bool {
        if numberTypes.contains(ObjectIdentifier(type(of: value))) { return true }
        guard depth < 16, !(value is any CustomReflectable) else { return false }
        let mirror = Mirror(reflecting: value)
        guard mirror.displayStyle == .struct || mirror.displayStyle == .tuple, mirror.superclassMirror == nil else {
            return false
        }
        return mirror.children.allSatisfy { hasOnlyNumbers($0.value, depth: depth + 1) }
    }
}
