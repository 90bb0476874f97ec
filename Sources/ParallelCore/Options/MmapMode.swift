/// How worker processes map shared arrays: joblib's `mmap_mode`.
public enum MmapMode: String, Hashable, Sendable, Codable, CaseIterable {
    /// Read-only (the default): a worker's write is a clear error, never silently lost.
    case r
    /// Read-write: workers' writes are visible to the caller and to each other.
    case rPlus = "r+"
    /// Read-write, as joblib's `w+` (which workers open as `r+` so data is not zeroed).
    case wPlus = "w+"
    /// Copy-on-write: workers may write; their writes stay private to them.
    case c
    /// No mapping: arrays are copied into the job's message.
    case disabled
}
