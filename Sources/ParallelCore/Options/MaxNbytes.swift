/// The size above which an array of plain values in a ``ParallelJob`` travels to worker processes
/// through shared memory instead of being copied: joblib's `max_nbytes`.
///
/// Write an integer (bytes), a string with a `K`, `M` or `G` suffix (powers of 1024, as joblib:
/// `"1M"` is 1,048,576 bytes), or `.disabled`. A malformed string is reported when the call
/// starts, as a ``ParallelError`` with code `.invalidArgument`.
public struct MaxNbytes: Hashable, Sendable, ExpressibleByStringLiteral, ExpressibleByIntegerLiteral,
    CustomStringConvertible
{
    private enum Form: Hashable, Sendable {
        case bytes(Int)
        case text(String)
        case disabled
    }

    private let form: Form
    /// A `.text` form parsed once, when the value is made, so a call does not parse it again.
    private let parsedBytes: Int?

    /// Never share arrays automatically; copy them into the job's message.
    public static let disabled = MaxNbytes(form: .disabled)

    /// The default, `"1M"`.
    public static let standard: MaxNbytes = "1M"

    private init(form: Form) {
        self.form = form
        if case .text(let text) = form { parsedBytes = Self.parse(text) } else { parsedBytes = nil }
    }

    /// A size such as `"500K"`, `"1M"`, `"2G"` or `"4096"`.
    public init(stringLiteral value: String) { self.init(form: .text(value)) }

    /// A size in bytes.
    public init(integerLiteral value: Int) { self.init(form: .bytes(value)) }

    /// The value as written.
    public var description: String {
        switch form {
        case .bytes(let n): String(n)
        case .text(let text): text
        case .disabled: "disabled"
        }
    }

    /// The threshold in bytes, or `nil` when disabled.
    /// - Throws: ``ParallelError`` `.invalidArgument` for a malformed or negative size.
    package func resolve() throws -> Int? {
        switch form {
        case .disabled:
            return nil
        case .bytes(let n):
            guard n >= 0 else { throw Self.malformed(description) }
            return n
        case .text(let text):
            guard let parsedBytes else { throw Self.isTooLarge(text) ? Self.tooLarge(text) : Self.malformed(text) }
            return parsedBytes
        }
    }

    /// Bytes for a size such as `"1M"`, or `nil` when it is not one (or is too large).
    private static func parse(_ text: String) -> Int? {
        guard let (value, multiplier, digits) = number(text) else { return nil }
        // A plain byte count is taken exactly (a Double would round "9223372036854775807").
        if multiplier == 1, digits.allSatisfy({ $0.isASCII && $0.isNumber }), let exact = Int(digits) { return exact }
        // Checked in Double before converting: converting a value past Int.max traps.
        guard value * Double(multiplier) < Double(Int.max) else { return nil }
        return Int(value * Double(multiplier))
    }

    /// The number and the suffix's multiplier of a well-formed size, whatever its magnitude.
    private static func number(_ text: String) -> (value: Double, multiplier: Int, digits: Substring)? {
        let trimmed = text.trimmingSpaces()
        guard let last = trimmed.last else { return nil }
        let multiplier: Int
        var digits = Substring(trimmed)
        switch last {
        case "K", "k": multiplier = 1 << 10; digits = digits.dropLast()
        case "M", "m": multiplier = 1 << 20; digits = digits.dropLast()
        case "G", "g": multiplier = 1 << 30; digits = digits.dropLast()
        default: multiplier = 1
        }
        guard let value = Double(digits), value.isFinite, value >= 0,
            digits.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") })
        else { return nil }
        return (value, multiplier, digits)
    }

    /// A well-formed size beyond `Int.max` bytes (`"999999999999G"`).
    private static func isTooLarge(_ text: String) -> Bool { number(text) != nil }

    private static func tooLarge(_ text: String) -> ParallelError {
        ParallelError.invalid(
            "maxNbytes", "'\(text)' is larger than any memory (the largest size is \(Int.max) bytes)",
            fix: "Use a size such as \"1M\" or \"2G\", or .disabled.")
    }

    private static func malformed(_ text: String) -> ParallelError {
        ParallelError.invalid(
            "maxNbytes", "'\(text)' is not a size",
            fix: "Use a byte count such as 1048576, a string such as \"500K\", \"1M\" or \"2G\", or .disabled.")
    }
}
