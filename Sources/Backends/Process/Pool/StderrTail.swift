import Foundation

// The last lines a worker wrote to stderr. When a worker crashes, the Swift runtime prints the
// reason ("Fatal error: Index out of range") and then a backtrace of about a hundred lines there
// just before dying; a crash report that quotes them tells the user what happened without a trip
// through the terminal's scrollback. The reason line is also kept on its own, because a long
// backtrace can push it out of the tail.

/// A bounded buffer of a stream's most recent lines, plus the cause of the latest crash report.
///
/// The cause is the *first* line of the current batch that states a reason (`Fatal error:`,
/// `Precondition failed:`, …): the Swift runtime prints the reason first and then its backtrace,
/// whose `*** Program crashed:` headline and register dump (`r14 0x… Fatal error: fai`) must not
/// displace it. A headline (`Program crashed:`, `Segmentation fault`) is the cause
/// only when no reason line came before it (a plain signal). Register-dump lines never count.
///
/// - Complexity: amortised O(bytes appended); memory is bounded by `capacity`.
struct StderrTail {
    /// Bytes kept (the most recent ones, trimmed at a line start when possible).
    let capacity: Int
    /// Lines reported.
    let maxLines: Int
    private var bytes: [UInt8] = []
    /// Where the line being written started in `bytes` (for finding whole lines as they end).
    private var lineStart = 0
    private var reason: String?
    private var headline: String?

    /// The line that best says why the worker crashed, if one was written since ``startBatch()``.
    var crashMessage: String? { reason ?? headline }

    /// Lines that state the cause of a crash, as the Swift runtime and common tools print them.
    static let reasonMarkers = [
        "Fatal error:", "Precondition failed:", "Assertion failed:", "fatal error:", "terminate called", "panic:",
    ]
    /// Lines that announce a crash without its cause (the backtracer's headline, a shell's note).
    static let headlineMarkers = ["Program crashed:", "Segmentation fault"]

    /// The backtracer's first line, before any headline (`*** Signal 6: Backtracing from 0x…`),
    /// or the runtime's note that comes before it when a thread would not stop for the backtrace
    /// (`swift-runtime: failed to suspend thread 5314 while processing a crash; …`).
    static let reportStartMarkers = ["Backtracing from", "while processing a crash"]

    /// Whether `line` starts a crash report (a reason, a headline or the backtracer's first line;
    /// not a register dump).
    static func startsCrashReport(_ line: String) -> Bool {
        guard !isRegisterDump(line) else { return false }
        return (reasonMarkers + headlineMarkers + reportStartMarkers).contains(where: line.contains)
    }

    /// A line of the backtracer's register or memory dump: a register name or an address, then
    /// a hexadecimal value (`rax 0x…`, `0x00007f… 46 61 74 …`).
    static func isRegisterDump(_ line: String) -> Bool {
        let words = line.split(separator: " ", omittingEmptySubsequences: true)
        guard words.count >= 2 else { return false }
        let first = words[0]
        let isRegisterName = first.count <= 6 && first.allSatisfy { $0.isLowercase || $0.isNumber }
        let isAddress = first.hasPrefix("0x") && first.dropFirst(2).allSatisfy(\.isHexDigit)
        return (isRegisterName || isAddress) && words[1].hasPrefix("0x") || isAddress
    }

    /// Forgets the crash cause of an earlier batch (a worker serves many batches).
    mutating func startBatch() {
        reason = nil
        headline = nil
    }

    init(capacity: Int = 32 * 1024, maxLines: Int = 150) {
        self.capacity = capacity
        self.maxLines = maxLines
    }

    mutating func append(_ chunk: UnsafeRawBufferPointer) {
        let scanFrom = bytes.count
        bytes.append(contentsOf: chunk)
        var index = scanFrom
        while let newline = bytes[index...].firstIndex(of: UInt8(ascii: "\n")) {
            noteLine(bytes[lineStart..<newline])
            lineStart = newline + 1
            index = newline + 1
        }
        if bytes.count > capacity {
            var cut = bytes.count - capacity
            // Drop whole lines where possible, so the first kept line is not a fragment.
            if let newline = bytes[cut...].firstIndex(of: UInt8(ascii: "\n")), newline - cut < capacity / 4 {
                cut = newline + 1
            }
            bytes.removeFirst(cut)
            lineStart = max(0, lineStart - cut)
        }
    }

    private mutating func noteLine(_ line: ArraySlice<UInt8>) {
        // Crash messages are short; a huge line (a dump) is not one and is not worth decoding.
        guard line.count < 4096, reason == nil else { return }
        let text = String(decoding: line, as: UTF8.self)
        guard !Self.isRegisterDump(text) else { return }
        if Self.reasonMarkers.contains(where: text.contains) {
            reason = text.trimmingCharacters(in: .whitespaces)
        } else if headline == nil, Self.headlineMarkers.contains(where: text.contains) {
            headline = text.trimmingCharacters(in: .whitespaces)
        }
    }

    /// The last lines, without the trailing newline; empty when nothing was written.
    var lastLines: String {
        let text = String(decoding: bytes, as: UTF8.self)
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        if lines.last == "" { lines.removeLast() }
        return lines.suffix(maxLines).joined(separator: "\n")
    }
}
