/// A seedable random number generator whose sequence for a `(seed, stream)` pair is fixed: the
/// same on every backend, for any nJobs and batch size, in a worker process or not, and in every
/// future version of ParallelKit.
///
/// Give each task its own stream — typically its index — and one seed for the whole run:
///
/// ```swift
/// let samples = try await Parallel(nJobs: 4, backend: "process")((0..<100).map { i in
///     Simulate(rng: ParallelRandom(seed: 42, stream: i))
/// })
/// ```
///
/// **Algorithm.** xoshiro256** (Blackman and Vigna, 2018): 256 bits of state, period 2²⁵⁶ − 1.
/// `next()` returns `rotl(s1 × 5, 7) × 9` and advances the state.
///
/// **Seeding and streams.** The four state words are `a[i] ^ b[i]` for i = 0…3, where
/// - `a` is the first four outputs of SplitMix64 started at `seed` (state += 0x9E3779B97F4A7C15,
///   output = mix(state)),
/// - `b` is the first four outputs of a second SplitMix64 started at `UInt64(bitPattern: stream)`
///   with increment 0xD1B54A32D192ED03, and the same `mix`;
///
/// `mix(z)`: `z = (z ^ (z >> 30)) × 0xBF58476D1CE4E5B9; z = (z ^ (z >> 27)) × 0x94D049BB133111EB;
/// z ^ (z >> 31)`. Every state word depends on the whole seed and the whole stream through a
/// bijective mixer, so neighbouring seeds or streams start far apart (unlike a plain offset,
/// where stream k+1 would be stream k one step later); the two increments differ, so
/// `(seed: x, stream: y)` and `(seed: y, stream: x)` are unrelated. An all-zero state (the one
/// xoshiro cannot leave) would need a 256-bit coincidence; it is replaced by `a`.
///
/// `Double.random(in:using:)` and other standard library helpers may change how they map bits to
/// values between Swift versions; for values that never change, derive them from `next()`
/// yourself (e.g. `Double(rng.next() >> 11) * 0x1p-53` for a `Double` in [0, 1)).
///
/// - Complexity: O(1) per value; a few nanoseconds.
/// - Concurrency: a value type; copy it into each task. A copy continues the same sequence.
public struct ParallelRandom: RandomNumberGenerator, Sendable, Codable, Hashable {
    private var s0: UInt64
    private var s1: UInt64
    private var s2: UInt64
    private var s3: UInt64

    /// The generator for `stream` (typically a task's index) of the run seeded with `seed`.
    public init(seed: UInt64, stream: Int) {
        var seedMixer = SplitMix64(state: seed, increment: 0x9E37_79B9_7F4A_7C15)
        var streamMixer = SplitMix64(state: UInt64(bitPattern: Int64(stream)), increment: 0xD1B5_4A32_D192_ED03)
        let a = (seedMixer.next(), seedMixer.next(), seedMixer.next(), seedMixer.next())
        let b = (streamMixer.next(), streamMixer.next(), streamMixer.next(), streamMixer.next())
        (s0, s1, s2, s3) = (a.0 ^ b.0, a.1 ^ b.1, a.2 ^ b.2, a.3 ^ b.3)
        if s0 | s1 | s2 | s3 == 0 { (s0, s1, s2, s3) = a }
    }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        let result = rotateLeft(s1 &* 5, 7) &* 9
        let t = s1 << 17
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = rotateLeft(s3, 45)
        return result
    }

    @inline(__always)
    private func rotateLeft(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }
}

/// SplitMix64 (Steele, Lea and Flood, 2014), used only to turn a seed and a stream into
/// xoshiro256** state.
private struct SplitMix64 {
    var state: UInt64
    let increment: UInt64

    mutating func next() -> UInt64 {
        state &+= increment
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
