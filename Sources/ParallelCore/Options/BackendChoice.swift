/// Which backend runs a call: a registered name or a backend instance.
///
/// A string literal is a name: `Parallel(backend: "threading")`. A literal compares equal to
/// `.named` of the same string; two `.instance` choices are equal when they hold the same object.
public enum BackendChoice: Hashable, Sendable, ExpressibleByStringLiteral, CustomStringConvertible {
    /// A backend registered under this name (built in: `"sequential"`, `"threading"`,
    /// `"process"` or its alias `"loky"`, `"multiprocessing"`).
    case named(String)
    /// This backend object.
    case instance(any ParallelBackend)

    /// Creates a `.named` choice from a string literal.
    public init(stringLiteral value: String) { self = .named(value) }

    /// The name for `.named`, or the backend's display name for `.instance`.
    public var description: String {
        switch self {
        case .named(let name): name
        case .instance(let backend): backend.displayName
        }
    }

    /// Compares names by string and instances by identity.
    public static func == (lhs: BackendChoice, rhs: BackendChoice) -> Bool {
        switch (lhs, rhs) {
        case (.named(let a), .named(let b)): a == b
        case (.instance(let a), .instance(let b)): a === b
        default: false
        }
    }

    /// Hashes the name, or the instance's identity.
    public func hash(into hasher: inout Hasher) {
        switch self {
        case .named(let name):
            hasher.combine(0)
            hasher.combine(name)
        case .instance(let backend):
            hasher.combine(1)
            hasher.combine(ObjectIdentifier(backend))
        }
    }
}
