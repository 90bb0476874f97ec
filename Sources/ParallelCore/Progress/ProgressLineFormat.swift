import Foundation

/// The text of a bar's line, as pure functions of a snapshot (tested without a terminal).
package enum ProgressLineFormat {
    /// `threading, 2 jobs`: which call a line belongs to.
    package static func label(_ s: ProgressSnapshot) -> String {
        "\(s.backend.isEmpty ? "Parallel" : s.backend), \(s.nJobs) job\(s.nJobs == 1 ? "" : "s")"
    }

    /// `0:07`, `12:03`, `1:02:03`.
    package static func clock(_ duration: Duration) -> String {
        let total = max(0, Int(duration.seconds.rounded(.down)))
        let (h, m, sec) = (total / 3600, total / 60 % 60, total % 60)
        let two = { (v: Int) in v < 10 ? "0\(v)" : "\(v)" }
        return h > 0 ? "\(h):\(two(m)):\(two(sec))" : "\(m):\(two(sec))"
    }

    /// `12.4 tasks/s` with three significant digits, `1.2k`/`3.4M` above ten thousand.
    package static func rate(_ perSecond: Double) -> String {
        let number: String
        switch perSecond {
        case 1e7...: number = String(format: "%.1fM", perSecond / 1e6)
        case 1e4...: number = String(format: "%.1fk", perSecond / 1e3)
        case 100...: number = String(format: "%.0f", perSecond)
        case 10...: number = String(format: "%.1f", perSecond)
        default: number = String(format: "%.2f", perSecond)
        }
        return number + " tasks/s"
    }

    /// `37/100  37%`, or `37 tasks` while the total is unknown. Percent is rounded down, so 100%
    /// means every task is settled.
    package static func counts(_ s: ProgressSnapshot) -> String {
        guard let total = s.total else { return "\(s.settled) task\(s.settled == 1 ? "" : "s")" }
        return "\(s.settled)/\(total) \(percent(s) ?? 100)%"
    }

    package static func percent(_ s: ProgressSnapshot) -> Int? {
        guard let total = s.total else { return nil }
        return total == 0 ? 100 : min(100, s.settled * 100 / total)
    }

    /// The fields after the counts: rate, elapsed, ETA (while running), failures.
    package static func details(_ s: ProgressSnapshot, finished: Bool) -> [String] {
        var fields: [String] = []
        if let rate = s.tasksPerSecond { fields.append(self.rate(rate)) }
        fields.append((finished ? "in " : "elapsed ") + clock(s.elapsed))
        if !finished, s.total != nil, let eta = s.estimatedRemaining { fields.append("ETA " + clock(eta)) }
        if s.failed > 0 { fields.append("\(s.failed) failed") }
        if s.retried > 0 { fields.append("\(s.retried) retried") }
        return fields
    }

    /// Whether a finished call stopped before all its tasks were settled.
    package static func stoppedEarly(_ s: ProgressSnapshot) -> Bool {
        if let total = s.total { return s.settled < total }
        return false
    }

    /// A plain line (logs, CI, dumb terminals): no `\r`, no escape codes.
    /// `[threading, 2 jobs] 37/100 37%, 12.4 tasks/s, elapsed 0:03, ETA 0:05`.
    package static func plainLine(_ s: ProgressSnapshot, finished: Bool) -> String {
        var head = "[\(label(s))] "
        if finished { head += stoppedEarly(s) ? "stopped at " : "done " }
        return ([head + counts(s)] + details(s, finished: finished)).joined(separator: ", ")
    }

    /// The live line's compact fields: `0:03<0:05` (elapsed, then time left), or `in 0:08` when
    /// finished, then the rate and failures.
    package static func liveDetails(_ s: ProgressSnapshot, finished: Bool) -> [String] {
        var time = (finished ? "in " : "") + clock(s.elapsed)
        if !finished, s.total != nil, let eta = s.estimatedRemaining { time += "<" + clock(eta) }
        var fields = [time]
        if let rate = s.tasksPerSecond { fields.append(self.rate(rate)) }
        if s.failed > 0 { fields.append("\(s.failed) failed") }
        if s.retried > 0 { fields.append("\(s.retried) retried") }
        return fields
    }

    /// A live line fitted to `width` columns (never more, so the terminal never wraps it):
    /// `threading, 2 jobs  37/100 37% [=======>       ]  0:03<0:05  12.4 tasks/s`.
    /// The bar takes the room left over (none when the total is unknown or the room is short);
    /// fields are dropped from the end when the line does not fit.
    package static func liveLine(_ s: ProgressSnapshot, finished: Bool, width: Int) -> String {
        let width = max(1, width)
        var head = label(s) + "  "
        if finished && stoppedEarly(s) { head += "stopped at " }
        head += counts(s)
        let tail = liveDetails(s, finished: finished).joined(separator: "  ")
        let fixed = head.count + 2 + tail.count
        if let percent = percent(s), width - fixed - 3 >= 10 {
            let inner = min(60, width - fixed - 3)
            let full = inner * percent / 100
            let arrow = full < inner && full > 0 ? ">" : ""
            let filled = String(repeating: "=", count: full - arrow.count) + arrow
            let bar = "[" + filled + String(repeating: " ", count: inner - filled.count) + "]"
            return head + " " + bar + "  " + tail
        }
        let line = tail.isEmpty ? head : head + "  " + tail
        return String(line.prefix(width))
    }
}
