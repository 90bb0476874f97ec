// Measurement plumbing: clocks, medians, /proc readings, deadlines and the store of figures.

import Dispatch
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

// MARK: - Clock and statistics

/// Monotonic nanoseconds.
@inline(__always)
func nowNanos() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

/// Seconds between two `nowNanos()` readings.
@inline(__always)
func seconds(from start: UInt64, to end: UInt64) -> Double { Double(end &- start) / 1e9 }

func median(_ xs: [Double]) -> Double? { medianOf(xs) }

func medianOf(_ xs: [Double]) -> Double? {
    guard !xs.isEmpty else { return nil }
    let s = xs.sorted()
    let m = s.count / 2
    return s.count % 2 == 1 ? s[m] : (s[m - 1] + s[m]) / 2
}

/// Where results go so the optimizer cannot drop the work that made them: an atomic store is an
/// observable side effect, unlike an unused result of a pure function.
private let sink = Atomic<UInt64>(0)

/// Always zero, but the optimizer cannot know it.
private let zero = Atomic<Int>(0)

/// Returns `x`, through an atomic load that the optimizer can neither fold nor hoist across the
/// clock reads around it.
@inline(never)
func opaque(_ x: Int) -> Int { x &+ zero.load(ordering: .relaxed) }

@inline(never)
func blackHole(_ value: UInt64) {
    sink.store(value, ordering: .relaxed)
}

@inline(never)
func blackHole(_ value: Int) {
    blackHole(UInt64(bitPattern: Int64(value)))
}

@inline(never)
func blackHole<T: BinaryInteger>(_ values: [T]) {
    blackHole(UInt64(truncatingIfNeeded: values.count) &+ UInt64(truncatingIfNeeded: values.last ?? 0))
}

func log(_ message: String) {
    FileHandle.standardError.write(Data("[bench] \(message)\n".utf8))
}

// MARK: - Figures

/// Every figure of a run, by key: timed samples (seconds unless the key says otherwise), the
/// reason a measurement is missing, and informational strings. Sections fill one each; the process
/// rows come back as JSON from a child process; the joblib figures are mapped into the same keys.
struct Figures: Codable, Sendable {
    var samples: [String: [Double]] = [:]
    var errors: [String: String] = [:]
    var info: [String: String] = [:]

    mutating func merge(_ other: Figures) {
        samples.merge(other.samples) { _, new in new }
        errors.merge(other.errors) { _, new in new }
        info.merge(other.info) { _, new in new }
    }

    func median(_ key: String) -> Double? {
        samples[key].flatMap(medianOf)
    }

    /// The reason `key` has no figure: the error recorded for the longest prefix of `key`.
    func reason(for key: String) -> String? {
        var best: (Int, String)?
        for (k, v) in errors where key.hasPrefix(k) && k.count > (best?.0 ?? -1) {
            best = (k.count, v)
        }
        return best?.1
    }
}

// MARK: - /proc/self/status

/// A `Vm…:` line of /proc/self/status, in bytes.
func procStatus(_ field: String) -> Int? {
    guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else {
        return nil
    }
    for line in text.split(separator: "\n") where line.hasPrefix(field + ":") {
        let parts = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
        if parts.count >= 2, let kb = Int(parts[1]) { return kb * 1024 }
    }
    return nil
}

/// The first three fields of /proc/loadavg.
func loadAverage() -> String {
    guard let text = try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8) else { return "?" }
    return text.split(separator: " ").prefix(3).joined(separator: " ")
}

/// Resets VmHWM to the current VmRSS (Linux 4.0+: write "5" to /proc/self/clear_refs).
func resetPeakRSS() -> Bool {
    let fd = open("/proc/self/clear_refs", O_WRONLY)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    return write(fd, "5", 1) == 1
}

/// Gives freed heap pages back to the system, so an RSS baseline is not padded by earlier work.
func trimHeap() {
    // glibc's malloc_trim is not exported by the Glibc module; look it up at run time.
    typealias MallocTrim = @convention(c) (Int) -> Int32
    if let sym = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "malloc_trim") {
        _ = unsafeBitCast(sym, to: MallocTrim.self)(0)
    }
}

// MARK: - Deadlines

struct DeadlineExceeded: Error, CustomStringConvertible {
    var seconds: Double
    var description: String { "did not finish within \(Int(seconds)) s (abandoned)" }
}

/// Who finishes first, the work or the timer; and the timer, to cancel it when the work wins.
private final class DeadlineRace: Sendable {
    private let state = Mutex<(done: Bool, timer: Task<Void, Never>?)>((false, nil))

    /// True for the first caller only.
    func claim() -> Bool {
        state.withLock { s in
            if s.done { return false }
            s.done = true
            s.timer?.cancel()
            return true
        }
    }

    func setTimer(_ t: Task<Void, Never>) {
        state.withLock { s in
            if s.done { t.cancel() } else { s.timer = t }
        }
    }
}

/// Runs `body` in its own task and returns its result, or throws `DeadlineExceeded` after
/// `seconds` without waiting for it (a hung library call is abandoned, not awaited), so the table
/// still prints.
func withDeadline<T: Sendable>(
    _ seconds: Double,
    _ body: @escaping @Sendable () async throws -> T
) async throws -> T {
    let race = DeadlineRace()
    return try await withCheckedThrowingContinuation { (cont: CheckedContinuation<T, any Error>) in
        let work = Task {
            let result: Result<T, any Error>
            do { result = .success(try await body()) } catch { result = .failure(error) }
            if race.claim() { cont.resume(with: result) }
        }
        race.setTimer(
            Task {
                try? await Task.sleep(nanoseconds: UInt64(seconds * 1e9))
                if Task.isCancelled { return }
                if race.claim() {
                    work.cancel()
                    cont.resume(throwing: DeadlineExceeded(seconds: seconds))
                }
            })
    }
}

// MARK: - Paths

/// The Benchmarks/ folder of the checkout this binary was built from.
let benchmarksDirectory: URL = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent()  // ParallelBenchmarks
    .deletingLastPathComponent()  // Sources
    .deletingLastPathComponent()  // Benchmarks

/// This executable's absolute path (the process rows re-run it as a child).
func executablePath() -> String {
    var buf = [CChar](repeating: 0, count: 4096)
    let n = readlink("/proc/self/exe", &buf, buf.count - 1)
    if n > 0 {
        return buf.withUnsafeBufferPointer { p in
            String(decoding: UnsafeRawBufferPointer(start: p.baseAddress, count: n), as: UTF8.self)
        }
    }
    return CommandLine.arguments[0]
}
