import Foundation

/// Flushes standard output, so that the demo's lines (buffered `print`) and ParallelKit's progress
/// lines on standard error (unbuffered) come out in the order they were written, also when the
/// output goes to a pipe or a file.
func flushOutput() {
    fflush(nil)
}

extension String {
    /// The string padded with spaces to `width` characters.
    func padding(_ width: Int) -> String {
        count >= width ? self + " " : self + String(repeating: " ", count: width - count)
    }
}

/// Sleeps without blocking a thread: the analogue of `time.sleep` in joblib's examples.
@Sendable func nap(_ seconds: Double) async throws {
    try await Task.sleep(for: .seconds(seconds))
}
