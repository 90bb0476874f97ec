import Glibc
import ParallelCore
import Testing

// Tests run in parallel in one process, so a descriptor number closed twice anywhere (library or
// test) can close another test's pipe once the kernel has handed the number out again: that test
// then sees an end of file it cannot explain (a worker that "exits" right after its handshake).
// A test that holds a raw descriptor for long keeps it in an `OwnedDescriptor`, which remembers
// what the number named when it was opened and turns such a mix-up into a failure that says what
// happened, instead of closing a number that is no longer its own.

/// A descriptor a test owns: closed at most once, and only while the number still names the file
/// it named at first.
///
/// - Concurrency: not thread-safe; owned by one test at a time, like the descriptor itself.
package final class OwnedDescriptor {
    /// The descriptor number.
    package let number: Int32
    /// What it is, for messages ("the worker's request pipe").
    package let role: String
    private let identity: FileIdentity?
    /// False once ``close(sourceLocation:)`` ran.
    package private(set) var isOpen = true

    /// Takes ownership of `number`, which must be open. A number that is not open is recorded as
    /// an issue and never closed.
    /// - Complexity: one `fstat`.
    package init(_ number: Int32, role: String, sourceLocation: SourceLocation = #_sourceLocation) {
        self.number = number
        self.role = role
        identity = FileIdentity(of: number)
        if identity == nil {
            isOpen = false
            Issue.record("fd \(number) (\(role)) was not open when it was handed over", sourceLocation: sourceLocation)
        }
    }

    deinit { close() }

    /// Whether the number still names the file it named at first (false once closed).
    /// - Complexity: one `fstat`.
    package var isIntact: Bool { isOpen && identity != nil && FileIdentity(of: number) == identity }

    /// Records an issue when the descriptor is meant to be open but its number no longer names
    /// its file: someone closed it (a double close elsewhere in the process), and perhaps the
    /// number now names another test's file. Returns whether it is intact.
    @discardableResult
    package func expectIntact(_ when: String, sourceLocation: SourceLocation = #_sourceLocation) -> Bool {
        guard isOpen, !isIntact else { return true }
        let now = FileIdentity(of: number).map { "now names inode \($0.inode)" } ?? "is closed"
        let message =
            "fd \(number) (\(role)) \(now) \(when), but its owner had not closed it: something else in the process "
            + "did (a double close, or a close of a descriptor it did not own)"
        Issue.record(Comment(rawValue: message), sourceLocation: sourceLocation)
        return false
    }

    /// Closes the descriptor, once. A number that no longer names its file is left alone (it
    /// belongs to someone else now) and recorded as an issue.
    package func close(sourceLocation: SourceLocation = #_sourceLocation) {
        guard isOpen else { return }
        guard expectIntact("as its owner went to close it", sourceLocation: sourceLocation) else {
            isOpen = false
            return
        }
        isOpen = false
        _ = Glibc.close(number)
    }
}
