#if canImport(Glibc)
import Glibc
#endif

/// Unbuffered writes to standard error (Glibc's `stderr` global is not concurrency-safe in Swift 6).
package enum StandardError {
    /// Writes all of `text`, retrying after signals.
    package static func write(_ text: String) {
        var text = text
        text.withUTF8 { buffer in
            var offset = 0
            while offset < buffer.count {
                let n = Glibc.write(2, buffer.baseAddress! + offset, buffer.count - offset)
                if n < 0 && errno == EINTR { continue }  // a signal, not a failure: retry
                if n <= 0 { break }
                offset += n
            }
        }
    }
}
