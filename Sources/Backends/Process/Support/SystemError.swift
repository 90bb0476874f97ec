import Glibc

/// A failed system call, with its errno.
struct SystemError: Error, CustomStringConvertible, Equatable {
    /// What was being done.
    let operation: String
    /// The errno value.
    let code: Int32

    init(_ operation: String, _ code: Int32) {
        self.operation = operation
        self.code = code
    }

    var description: String { "\(operation) failed: \(String(cString: strerror(code))) (errno \(code))" }
}
