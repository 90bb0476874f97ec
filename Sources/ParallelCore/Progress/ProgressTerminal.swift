import Dispatch
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The one owner of a progress output (standard error): draws the bars of every call that shows
/// one, so two calls at once never garble each other.
///
/// Two modes, chosen once from the output and the environment:
/// - **live**: the output is a terminal, `NO_COLOR` is unset or empty, and `TERM` is set and not
///   `dumb`. The live bars form a block of one line each at the bottom, redrawn in place (`\r`,
///   cursor up, clear to the end of the screen) at most once per `redrawInterval` (50 ms: 20 a
///   second) and once a second while nothing happens, so the elapsed time keeps moving. Lines are
///   cut to the terminal's width (`TIOCGWINSZ`, asked at each redraw) so they never wrap. A
///   finished bar's last line is printed above the block and stays in the scrollback.
/// - **plain** (a pipe, a file, CI, `NO_COLOR`, `TERM=dumb`): whole lines only, without `\r` or
///   escape codes: one when a call starts, then at most one every 10 s of the call or 5 % of its
///   tasks, and a final one.
///
/// Every frame is one `write(2)`. ``printAbove(_:)`` lets other output through without
/// corrupting the block. Output that bypasses it (a task printing to the same terminal) is not
/// coordinated: it shows, and the next redraw may overwrite part of it.
///
/// `Sendable`: all mutable state is in one `LockedValue`, held while a frame is written, so frames of
/// different calls never interleave.
package final class ProgressTerminal: Sendable {
    private struct Bar {
        var id: Int
        var snapshot: ProgressSnapshot
        /// When the snapshot arrived, to advance its elapsed time between events.
        var receivedAt: UInt64
        var lastPlainElapsed: Duration = .zero
        var lastPlainPercent = 0
    }

    private struct State {
        var nextID = 0
        var bars: [Bar] = []
        /// Lines of the live block now on the screen (the cursor is at the end of the last).
        var drawnLines = 0
        var lastDrawAt: UInt64 = 0
        var redrawPending = false
        var ticking = false
    }

    /// Standard error, as the process found it.
    package static let standardError = ProgressTerminal(
        fileDescriptor: 2, environment: ProcessInfo.processInfo.environment)

    /// Whether this terminal redraws a live block (see the type's description).
    package let isLive: Bool
    private let fd: Int32
    private let clock: @Sendable () -> UInt64
    private let redrawInterval: UInt64
    private let plainInterval: Duration
    private let plainStep: Int
    private let state = LockedValue(State())
    private let timerQueue = DispatchQueue(label: "ParallelKit.progress.terminal")

    /// A terminal writing to `fileDescriptor` (which it does not own or close).
    ///
    /// - Parameters:
    ///   - environment: where `NO_COLOR` and `TERM` are read (tests inject theirs).
    ///   - plainInterval, plainStepPercent: how often plain lines come at most.
    package init(
        fileDescriptor: Int32, environment: [String: String],
        clock: @escaping @Sendable () -> UInt64 = { MonotonicClock.now() },
        redrawInterval: Duration = .milliseconds(50),
        plainInterval: Duration = .seconds(10), plainStepPercent: Int = 5
    ) {
        fd = fileDescriptor
        self.clock = clock
        self.redrawInterval = redrawInterval.nanoseconds
        self.plainInterval = plainInterval
        plainStep = plainStepPercent
        let noColor = !(environment["NO_COLOR"] ?? "").isEmpty
        let term = environment["TERM"] ?? ""
        isLive = isatty(fileDescriptor) == 1 && !noColor && !term.isEmpty && term != "dumb"
    }

    /// An identifier for a new bar.
    package func newBarID() -> Int {
        state.withLock { s in
            defer { s.nextID += 1 }
            return s.nextID
        }
    }

    /// A call started: a new line in the block, or a plain first line.
    package func add(bar id: Int, _ snapshot: ProgressSnapshot) {
        let now = clock()
        state.withLock { s in
            s.bars.append(Bar(id: id, snapshot: snapshot, receivedAt: now))
            if isLive {
                drawLocked(&s, now: now)
                startTickingLocked(&s)
            } else {
                write(ProgressLineFormat.plainLine(snapshot, finished: false) + "\n")
            }
        }
    }

    /// New counts for a bar; drawn now or with the next frame.
    package func update(bar id: Int, _ snapshot: ProgressSnapshot) {
        let now = clock()
        state.withLock { s in
            guard let index = s.bars.firstIndex(where: { $0.id == id }) else { return }
            s.bars[index].snapshot = snapshot
            s.bars[index].receivedAt = now
            if isLive {
                if now &- s.lastDrawAt >= redrawInterval {
                    drawLocked(&s, now: now)
                } else {
                    scheduleRedrawLocked(&s, after: redrawInterval - (now &- s.lastDrawAt))
                }
                return
            }
            let bar = s.bars[index]
            let percent = ProgressLineFormat.percent(snapshot)
            let byTime = snapshot.elapsed - bar.lastPlainElapsed >= plainInterval
            let byStep = percent.map { $0 - bar.lastPlainPercent >= plainStep } ?? false
            guard byTime || byStep else { return }
            s.bars[index].lastPlainElapsed = snapshot.elapsed
            if let percent { s.bars[index].lastPlainPercent = percent }
            write(ProgressLineFormat.plainLine(snapshot, finished: false) + "\n")
        }
    }

    /// A call is over: its final line is printed for good and its bar leaves the block.
    package func finish(bar id: Int, _ snapshot: ProgressSnapshot) {
        let now = clock()
        state.withLock { s in
            s.bars.removeAll { $0.id == id }
            if isLive {
                let line = ProgressLineFormat.liveLine(snapshot, finished: true, width: width - 1)
                drawLocked(&s, now: now, above: line + "\n")
            } else {
                write(ProgressLineFormat.plainLine(snapshot, finished: true) + "\n")
            }
        }
    }

    /// Writes `text` as whole lines (a newline is added if it lacks one): above the live block,
    /// which is then redrawn below it; in plain mode, or with no bar, simply in turn with the
    /// bars' lines.
    ///
    /// - Parameter writer: writes the line elsewhere instead (standard output, for verbose ≥ 50,
    ///   with `print` and a flush): it is called between clearing the block and redrawing it.
    package func printAbove(_ text: String, writer: ((String) -> Void)? = nil) {
        let now = clock()
        let lines = text.hasSuffix("\n") ? text : text + "\n"
        state.withLock { s in
            guard isLive && s.drawnLines > 0 else {
                if let writer { writer(lines) } else { write(lines) }
                return
            }
            guard let writer else {
                drawLocked(&s, now: now, above: lines)
                return
            }
            clearLocked(&s)
            writer(lines)
            drawLocked(&s, now: now)
        }
    }

    // MARK: - Drawing (under the lock)

    /// The terminal's width in columns (80 when it cannot say).
    private var width: Int {
        var size = winsize()
        guard ioctl(fd, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 else { return 80 }
        return Int(size.ws_col)
    }

    /// `\r`, cursor up to the block's first line, clear to the end of the screen.
    private func clearSequence(_ s: State) -> String {
        guard s.drawnLines > 0 else { return "" }
        return "\r" + (s.drawnLines > 1 ? "\u{1B}[\(s.drawnLines - 1)A" : "") + "\u{1B}[J"
    }

    /// Removes the block from the screen (the cursor stays where it began).
    private func clearLocked(_ s: inout State) {
        write(clearSequence(s))
        s.drawnLines = 0
    }

    /// Clears the block, writes `above`, and draws every live bar, in one write.
    private func drawLocked(_ s: inout State, now: UInt64, above: String = "") {
        var frame = clearSequence(s)
        frame += above
        let columns = width - 1
        let lines = s.bars.map { bar -> String in
            var snapshot = bar.snapshot
            snapshot.elapsed += .nanoseconds(Int64(clamping: now &- bar.receivedAt))
            return ProgressLineFormat.liveLine(snapshot, finished: false, width: columns)
        }
        frame += lines.joined(separator: "\n")
        s.drawnLines = lines.count
        s.lastDrawAt = now
        write(frame)
    }

    private func scheduleRedrawLocked(_ s: inout State, after nanoseconds: UInt64) {
        guard !s.redrawPending else { return }
        s.redrawPending = true
        timerQueue.asyncAfter(deadline: .now() + .nanoseconds(Int(clamping: nanoseconds))) { [self] in
            state.withLock { s in
                s.redrawPending = false
                guard !s.bars.isEmpty else { return }
                drawLocked(&s, now: clock())
            }
        }
    }

    /// Redraws once a second while bars are live, so elapsed time moves during long tasks.
    private func startTickingLocked(_ s: inout State) {
        guard !s.ticking else { return }
        s.ticking = true
        tick()
    }

    private func tick() {
        timerQueue.asyncAfter(deadline: .now() + .seconds(1)) { [self] in
            let again = state.withLock { s -> Bool in
                guard !s.bars.isEmpty else {
                    s.ticking = false
                    return false
                }
                let now = clock()
                if now &- s.lastDrawAt >= redrawInterval { drawLocked(&s, now: now) }
                return true
            }
            if again { tick() }
        }
    }

    private func write(_ text: String) {
        var text = text
        text.withUTF8 { buffer in
            var offset = 0
            while offset < buffer.count {
                let n = Glibc.write(fd, buffer.baseAddress! + offset, buffer.count - offset)
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { return }  // a closed or broken output: progress is not worth failing for
                offset += n
            }
        }
    }
}
