/// A soft hint for choosing the backend when neither `Parallel` nor a scope names one: joblib's
/// `prefer`.
public enum Prefer: String, Hashable, Sendable, Codable, CaseIterable {
    /// Prefer worker processes (`"process"`).
    case processes
    /// Prefer threads (`"threading"`).
    case threads
}

/// A hard constraint on the backend: joblib's `require`.
public enum Require: String, Hashable, Sendable, Codable, CaseIterable {
    /// Tasks must share the caller's memory, so the backend must run them in this process.
    case sharedMemory
}
