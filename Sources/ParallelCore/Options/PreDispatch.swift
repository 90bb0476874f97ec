/// How many tasks to dispatch before waiting for the first results: joblib's `pre_dispatch`.
///
/// Write `"all"`, an integer, or `"K*n_jobs"` with `K` an integer or a decimal (`"2*n_jobs"`,
/// `"1.5*n_jobs"`, `"n_jobs"`). As in joblib the amount counts *tasks*, not batches, and the
/// input is taken lazily: with `preDispatch: 3` and `batchSize: 1`, no more than 3 inputs are
/// taken before the first result is in. A malformed value is reported when the call starts, as a
/// ``ParallelError`` with code `.invalidArgument`, before any input is taken.
public struct PreDispatch: Hashable, Sendable, ExpressibleByStringLiteral, ExpressibleByIntegerLiteral,
    CustomStringConvertible
{
    private enum Form: Hashable, Sendable {
        case all
        case tasks(Int)
        case text(String)
    }

    private let form: Form
    /// A `.text` form parsed once, when the value is made, so a call only does arithmetic.
    private let factor: Factor?

    /// Take the whole input up front.
    public static let all = PreDispatch(form: .all)

    /// A fixed number of tasks.
    public static func tasks(_ count: Int) -> PreDispatch { PreDispatch(form: .tasks(count)) }

    private init(form: Form) {
        self.form = form
        if case .text(let text) = form { factor = Self.parseFactor(text.trimmingSpaces()) } else { factor = nil }
    }

    /// `"all"`, `"N"`, `"n_jobs"` or `"K*n_jobs"`.
    public init(stringLiteral value: String) {
        self.init(form: value.trimmingSpaces() == "all" ? .all : .text(value))
    }

    /// A fixed number of tasks.
    public init(integerLiteral value: Int) { self.init(form: .tasks(value)) }

    /// The value as written.
    public var description: String {
        switch form {
        case .all: "all"
        case .tasks(let n): String(n)
        case .text(let text): text
        }
    }

    /// The number of tasks to pre-dispatch for `nJobs` workers, or `nil` for "all".
    /// - Throws: ``ParallelError`` `.invalidArgument` when the value is malformed or below 1.
    package func resolve(nJobs: Int) throws -> Int? {
        let amount: Int
        switch form {
        case .all:
            return nil
        case .tasks(let n):
            amount = n
        case .text(let text):
            guard let factor else {
                throw ParallelError.invalid(
                    "preDispatch", "'\(text)' is not \"all\", an integer, or \"K*n_jobs\"",
                    fix: "Write for example \"2*n_jobs\", \"1.5*n_jobs\", 8 or \"all\".")
            }
            switch factor {
            case .count(let n): amount = n
            case .perJob(let k):
                // Checked in Double first: converting a product past Int.max traps
                // (`nJobs: Int.max` with the default "2*n_jobs"). Such an amount means "all".
                let product = (k * Double(nJobs)).rounded(.down)
                amount = product >= Double(Int.max) ? Int.max : Int(product)
            }
        }
        guard amount >= 1 else {
            throw ParallelError.invalid(
                "preDispatch", "'\(description)' dispatches \(amount) tasks with nJobs \(nJobs)",
                fix: "Use a value that dispatches at least one task.")
        }
        return amount
    }

    private enum Factor: Hashable, Sendable { case count(Int), perJob(Double) }

    private static func parseFactor(_ text: String) -> Factor? {
        // The default every `Parallel` value is made with: skip the general parse.
        if text == "2*n_jobs" { return .perJob(2) }
        let compact = text.filter { $0 != " " }
        if let n = Int(compact) { return .count(n) }
        if compact == "n_jobs" { return .perJob(1) }
        let parts = compact.split(separator: "*", omittingEmptySubsequences: false)
        guard parts.count == 2 else { return nil }
        let number: Substring
        if parts[1] == "n_jobs" {
            number = parts[0]
        } else if parts[0] == "n_jobs" {
            number = parts[1]
        } else {
            return nil
        }
        guard let k = Double(number), k.isFinite, k >= 0, k <= 1_000_000,
            number.allSatisfy({ $0.isNumber || $0 == "." })
        else { return nil }
        return .perJob(k)
    }
}

extension String {
    /// The string without leading and trailing spaces; works on UTF-8 bytes (a space is one byte),
    /// so the common case of no spaces is a two-byte check.
    package func trimmingSpaces() -> String {
        let bytes = utf8
        guard let first = bytes.firstIndex(where: { $0 != UInt8(ascii: " ") }),
            let last = bytes.lastIndex(where: { $0 != UInt8(ascii: " ") })
        else { return "" }
        if first == bytes.startIndex && bytes.index(after: last) == bytes.endIndex { return self }
        return String(Substring(bytes[first...last]))
    }
}
