// The last lines a worker wrote to stderr. When a worker crashes, the Swift runtime prints the
// reason ("Fatal error: Index out of range", a backtrace) there just before dying; a crash report
// that quotes it tells the user what happened without a trip to the terminal scrollback.

/// A bounded buffer of a stream's most recent lines.
///
/// - Complexity: amortised O(bytes appended); memory is bounded by `capacity`.
struct StderrTail {
    /// Bytes kept (the most recent ones, trimmed at a line start when possible).
    let capacity: Int
    /// Lines reported.
    let maxLines: Int
    private var bytes: [UInt8] = []

    init(capacity: Int = 16 * 1024, maxLines: Int = 40) {
        self.capacity = capacity
        self.maxLines = maxLines
    }

    mutating func append(_ chunk: UnsafeRawBufferPointer) {
        bytes.append(contentsOf: chunk)
        if bytes.count > capacity {
            var cut = bytes.count - capacity
            // Drop whole lines where possible, so the first kept line is not a fragment.
            if let newline = bytes[cut...].firstIndex(of: UInt8(ascii: "\n")), newline - cut < capacity / 4 {
                cut = newline + 1
            }
            bytes.removeFirst(cut)
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
