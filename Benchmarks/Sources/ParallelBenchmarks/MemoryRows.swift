// Rows M1–M4: `Memory`, joblib's on-disk cache. The cache folder is under the
// temporary directory, on this machine's disk (ext4 here; a tmpfs would be faster).

import Foundation
import ParallelKit

/// The Memory section's figures: keys m.{hit,miss,uncached} (temporary folder), m.shm.* (the same
/// on /dev/shm), m.big.hit and m.big.store (a folder of many entries).
func runMemory(_ o: Options) async -> Figures {
    var f = Figures()
    let calls = o.quick ? 2_000 : 20_000
    let bigEntries = o.quick ? 2_000 : 10_000
    let lookups = o.quick ? 1_000 : 5_000
    f.info["m.calls"] = String(calls)
    f.info["m.big.entries"] = String(bigEntries)
    f.info["m.lookups"] = String(lookups)
    let root = NSTemporaryDirectory() + "parallelkit-bench-memory-\(getpid())"
    defer { try? FileManager.default.removeItem(atPath: root) }
    do {
        try await measureHitsAndMisses(into: &f, root: root, prefix: "m", calls: calls, o)
        // The same on a tmpfs, where creating a file does not wait for the disk's journal: the
        // library's own share of the miss path.
        if FileManager.default.fileExists(atPath: "/dev/shm") {
            let shm = "/dev/shm/parallelkit-bench-memory-\(getpid())"
            defer { try? FileManager.default.removeItem(atPath: shm) }
            try await measureHitsAndMisses(into: &f, root: shm, prefix: "m.shm", calls: calls, o)
        }

        // A folder of `bigEntries` entries: hits on keys spread over it, and one store with a
        // bytesLimit (which scans the folder to enforce the limit).
        let folder = root + "/big"
        let memory = try Memory(location: folder)
        let cached = memory.cache("square", version: 0) { (x: Int) in memorySquare(x) }
        for i in 0..<bigEntries { _ = try await cached(i) }
        let limited = try Memory(location: folder, bytesLimit: 1 << 40).cache("square", version: 0) { (x: Int) in
            memorySquare(x)
        }
        var storeKey = bigEntries
        for rep in 0...o.reps {
            var rng = ParallelRandom(seed: 11, stream: rep)
            let keys = (0..<lookups).map { _ in Int(rng.next() % UInt64(bigEntries)) }
            var total = 0
            let start = nowNanos()
            for key in keys { total &+= try await cached(key) }
            let elapsed = seconds(from: start, to: nowNanos())
            blackHole(total)
            let storeStart = nowNanos()
            _ = try await limited(storeKey)
            let store = seconds(from: storeStart, to: nowNanos())
            storeKey += 1
            if rep > 0 {
                f.samples["m.big.hit", default: []].append(elapsed)
                f.samples["m.big.store", default: []].append(store)
            }
        }
    } catch {
        f.errors["m"] = "\(error)"
    }
    return f
}

@Sendable func memorySquare(_ x: Int) -> Int { x &* x }

/// Uncached calls, then misses on `calls` new keys, then hits on the same keys, per repetition.
func measureHitsAndMisses(into f: inout Figures, root: String, prefix: String, calls: Int, _ o: Options) async throws {
    for rep in 0...o.reps {
        let folder = root + "/rep\(rep)"
        let memory = try Memory(location: folder)
        let cached = memory.cache("square", version: rep) { (x: Int) in memorySquare(x) }

        // Uncached: the same async call through a closure, no cache.
        let plain: @Sendable (Int) async throws -> Int = { x in memorySquare(x) }
        var start = nowNanos()
        var total = 0
        for i in 0..<calls { total &+= try await plain(opaque(i)) }
        let uncached = seconds(from: start, to: nowNanos())
        blackHole(total)

        // Misses: every key new, so each call hashes, locks, computes, writes and renames.
        start = nowNanos()
        for i in 0..<calls { total &+= try await cached(opaque(i)) }
        let miss = seconds(from: start, to: nowNanos())

        // Hits: the same keys again.
        start = nowNanos()
        for i in 0..<calls { total &+= try await cached(opaque(i)) }
        let hit = seconds(from: start, to: nowNanos())
        blackHole(total)
        if rep > 0 {
            f.samples["\(prefix).uncached", default: []].append(uncached)
            f.samples["\(prefix).miss", default: []].append(miss)
            f.samples["\(prefix).hit", default: []].append(hit)
        }
        try memory.clear()
    }
}

extension TableBuilder {
    /// Rows M1–M4.
    mutating func memoryRows() {
        let calls = f.info["m.calls"].flatMap(Int.init) ?? 0
        for (prefix, place, ids) in [
            ("m", "temporary folder (ext4 disk)", ["M1", "M2", "M3"]),
            ("m.shm", "/dev/shm (tmpfs)", ["M1b", "M2b", "M3b"]),
        ] {
            let w = "M. `Memory`, `Int → Int`, ×\(calls.formatted()) calls, \(place)"
            timed(ids[0], w, "uncached closure call (baseline)", key: prefix + ".uncached", n: calls)
            if let hit = f.median(prefix + ".hit") {
                let perCall = hit / Double(max(calls, 1))
                rows.append(
                    Row(
                        id: ids[1], workload: w, variant: "`memory.cache` hit (read, check, decode, mark used)",
                        median: formatTime(hit), perTask: formatTime(perCall), result: "",
                        target: "< 50 µs", met: verdict(perCall < 50e-6)))
            } else {
                rows.append(
                    Row(
                        id: ids[1], workload: w, variant: "`memory.cache` hit", median: na(prefix + ".hit"),
                        target: "< 50 µs", met: "—"))
            }
            if let miss = f.median(prefix + ".miss"), let plain = f.median(prefix + ".uncached") {
                rows.append(
                    Row(
                        id: ids[2], workload: w, variant: "`memory.cache` miss (key, lock, compute, write, rename)",
                        median: formatTime(miss),
                        perTask: formatSigned((miss - plain) / Double(max(calls, 1))) + " overhead"))
            } else {
                rows.append(Row(id: ids[2], workload: w, variant: "`memory.cache` miss", median: na(prefix + ".miss")))
            }
        }
        let entries = f.info["m.big.entries"].flatMap(Int.init) ?? 0
        let lookups = f.info["m.lookups"].flatMap(Int.init) ?? 0
        let wb = "M. a folder of \(entries.formatted()) entries"
        timed("M4", wb, "hits on \(lookups.formatted()) random keys", key: "m.big.hit", n: lookups)
        timed("M5", wb, "one store with a bytesLimit (scans the folder to enforce it)", key: "m.big.store", n: nil)
    }
}
