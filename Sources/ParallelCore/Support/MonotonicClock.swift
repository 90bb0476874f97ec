#if canImport(Glibc)
import Glibc
#endif

/// Nanoseconds on the monotonic clock: the engine's one time source.
///
/// The engine stamps batches and tasks with plain `UInt64` nanoseconds so that a stamp is one
/// `clock_gettime` call (tens of nanoseconds: Benchmarks/RESULTS.md, "Measurements behind design
/// choices") and fits in an atomic, and so the pure state machines can be
/// driven by times their tests choose.
@usableFromInline
package enum MonotonicClock {
    /// The current monotonic time in nanoseconds; never 0.
    @inlinable
    package static func now() -> UInt64 {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return UInt64(spec.tv_sec) &* 1_000_000_000 &+ UInt64(spec.tv_nsec) | 1
    }
}

extension Duration {
    /// This duration in whole nanoseconds, clamped to `0...UInt64.max`.
    package var nanoseconds: UInt64 {
        let (seconds, attoseconds) = components
        if seconds < 0 { return 0 }
        let whole = UInt64(clamping: seconds).multipliedReportingOverflow(by: 1_000_000_000)
        if whole.overflow { return .max }
        return whole.partialValue &+ UInt64(attoseconds / 1_000_000_000)
    }

    /// This duration in seconds, as a `Double`.
    package var seconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) * 1e-18
    }
}
