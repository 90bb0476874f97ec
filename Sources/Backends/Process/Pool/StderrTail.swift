import Foundation

// The last lines a worker wrote to stderr. When a worker crashes, the Swift runtime prints the
// reason ("Fatal error: Index out of range") and then a backtrace of about a hundred lines there
// just before dying; a crash report that quotes them tells the user what happened without a trip
// through the terminal's scrollback. The reason line is also kept on its own, because a long
// backtrace can push it out of the tail.

/// A bounded buffer of a stream's most recent lines, plus its last crash message.
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
    /// The last line that reads like the cause of a crash.
    private(set) var crashMessage: String?

    /// Lines that carry the cause of a crash, as the Swift runtime and common tools print them.
    static let crashMarkers = [
        "Fatal error:", "Precondition failed:", "Assertion failed:", "fatal error:", "Program crashed:",
        "terminate called", "Segmentation fault", "panic:",
    ]

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
        guard line.count < 4096 else { return }
        let text = String(decoding: line, as: UTF8.self)
        if Self.crashMarkers.contains(where: text.contains) {
            crashMessage = text.trimmingCharacters(in: .whitespaces)
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
