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

    /// Take the whole input up front.
    public static let all = PreDispatch(form: .all)

    /// A fixed number of tasks.
    public static func tasks(_ count: Int) -> PreDispatch { PreDispatch(form: .tasks(count)) }

    private init(form: Form) { self.form = form }

    /// `"all"`, `"N"`, `"n_jobs"` or `"K*n_jobs"`.
    public init(stringLiteral value: String) {
        form = value.trimmingSpaces() == "all" ? .all : .text(value)
    }

    /// A fixed number of tasks.
    public init(integerLiteral value: Int) { form = .tasks(value) }

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
            guard let factor = Self.parseFactor(text.trimmingSpaces()) else {
                throw ParallelError.invalid(
                    "preDispatch", "'\(text)' is not \"all\", an integer, or \"K*n_jobs\"",
                    fix: "Write for example \"2*n_jobs\", \"1.5*n_jobs\", 8 or \"all\".")
            }
            switch factor {
            case .count(let n): amount = n
            case .perJob(let k): amount = Int((k * Double(nJobs)).rounded(.down))
            }
        }
        guard amount >= 1 else {
            throw ParallelError.invalid(
                "preDispatch", "'\(description)' dispatches \(amount) tasks with nJobs \(nJobs)",
                fix: "Use a value that dispatches at least one task.")
        }
        return amount
    }

    private enum Factor { case count(Int), perJob(Double) }

    private static func parseFactor(_ text: String) -> Factor? {
        let compact = text.filter { $0 != " " }
        if let n = Int(compact) { return .count(n) }
        if compact == "n_jobs" { return .perJob(1) }
        let parts = compact.split(separator: "*", omittingEmptySubsequences: false)
        guard parts.count == 2 else { return nil }
        let number: Substring
        if parts[1] == "n_jobs" { number = parts[0] } else if parts[0] == "n_jobs" { number = parts[1] } else {
            return nil
        }
        guard let k = Double(number), k.isFinite, k >= 0, k <= 1_000_000,
              number.allSatisfy({ $0.isNumber || $0 == "." })
        else { return nil }
        return .perJob(k)
    }
}

extension String {
    package func trimmingSpaces() -> String {
        String(drop(while: { $0 == " " }).reversed().drop(while: { $0 == " " }).reversed())
    }
}
