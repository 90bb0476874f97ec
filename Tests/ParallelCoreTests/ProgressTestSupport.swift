import Dispatch
import Synchronization
import Testing

@_spi(Locking) @testable import ParallelCore

#if canImport(Glibc)
import Glibc
#endif

/// A monotonic clock the test moves by hand (never backwards).
final class FakeClock: Sendable {
    private let time = Atomic<UInt64>(1_000_000_000)
    var now: UInt64 { time.load(ordering: .acquiring) }
    /// Moves to `start + seconds` and returns that time.
    @discardableResult
    func set(seconds: Double) -> UInt64 {
        let value = 1_000_000_000 + UInt64(seconds * 1e9)
        time.store(value, ordering: .releasing)
        return value
    }
    var function: @Sendable () -> UInt64 { { self.now } }
}

/// Every event a handler got, with a check that it was never called concurrently.
final class EventRecorder: Sendable {
    private let events = LockedValue<[ProgressEvent]>([])
    private let inside = Atomic<Int>(0)
    private let overlapped = Atomic<Bool>(false)
    /// Called with each event after it is recorded (still inside the handler).
    private let onEvent: @Sendable (ProgressEvent) -> Void

    init(onEvent: @escaping @Sendable (ProgressEvent) -> Void = { _ in }) {
        self.onEvent = onEvent
    }

    var progress: ParallelProgress {
        .handler { event in
            if self.inside.add(1, ordering: .acquiringAndReleasing).newValue > 1 {
                self.overlapped.store(true, ordering: .relaxed)
            }
            self.events.withLock { $0.append(event) }
            self.onEvent(event)
            self.inside.subtract(1, ordering: .acquiringAndReleasing)
        }
    }

    var recorded: [ProgressEvent] { events.withLock { $0 } }

    var wasCalledConcurrently: Bool { overlapped.load(ordering: .relaxed) }

    var snapshots: [ProgressSnapshot] {
        recorded.compactMap { event in
            switch event {
            case .started(let s), .progressed(let s), .finished(let s): s
            case .taskFailed: nil
            }
        }
    }
    var progressed: [ProgressSnapshot] {
        recorded.compactMap { if case .progressed(let s) = $0 { s } else { nil } }
    }
}

extension ParallelProgress {
    /// Calls this value's handler directly (tests composing recorders).
    func deliverForTest(_ event: ProgressEvent) {
        if case .handler(let handler) = mode { handler(event) }
    }
}

/// Kinds of events, for comparing sequences.
enum EventKind: Equatable { case started, progressed, taskFailed(retry: Bool), finished }
extension ProgressEvent {
    var kind: EventKind {
        switch self {
        case .started: .started
        case .progressed: .progressed
        case .taskFailed(_, let retry): .taskFailed(retry: retry)
        case .finished: .finished
        }
    }
}

/// A flag a test can wait for, with a generous timeout.
final class Signal: Sendable {
    private struct State {
        var fired = false
        var expired = false
        var waiters: [CheckedContinuation<Void, Never>] = []
    }
    private let state = LockedValue(State())

    func fire() { release { $0.fired = true } }

    var fired: Bool { state.withLock { $0.fired } }

    private func release(_ mark: (inout State) -> Void) {
        let waiters = state.withLock { s in
            mark(&s)
            defer { s.waiters = [] }
            return s.waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    /// True when fired within `seconds`: a bound that only stops a broken channel from hanging the
    /// test, far beyond any delay a loaded machine causes (at load 30 on 2 cores, 10 s was not).
    func wait(seconds: Double = 60) async -> Bool {
        let timeout = Task { [self] in
            try? await Task.sleep(for: .seconds(seconds))
            release { $0.expired = true }
        }
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let done = state.withLock { s -> Bool in
                if s.fired || s.expired { return true }
                s.waiters.append(c)
                return false
            }
            if done { c.resume() }
        }
        timeout.cancel()
        return fired
    }
}

/// A pseudo-terminal: the bar writes to `follower`, the test reads what it wrote from `leader`.
final class PseudoTerminal {
    let leader: Int32
    let follower: Int32

    init(columns: UInt16 = 70) throws {
        leader = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC)
        guard leader >= 0 else { throw PTYError.open }
        var unlock: Int32 = 0
        var number: UInt32 = 0
        // TIOCSPTLCK and TIOCGPTN: the Glibc module does not import these macros.
        guard ioctl(leader, UInt(0x4004_5431), &unlock) == 0, ioctl(leader, UInt(0x8004_5430), &number) == 0 else {
            close(leader)
            throw PTYError.open
        }
        follower = open("/dev/pts/\(number)", O_RDWR | O_NOCTTY | O_CLOEXEC)
        guard follower >= 0 else {
            close(leader)
            throw PTYError.open
        }
        var size = winsize(ws_row: 24, ws_col: columns, ws_xpixel: 0, ws_ypixel: 0)
        _ = ioctl(leader, UInt(TIOCSWINSZ), &size)
        _ = fcntl(leader, F_SETFL, fcntl(leader, F_GETFL) | O_NONBLOCK)
    }

    /// Everything written so far (the tty turns "\n" into "\r\n").
    func readAvailable() -> String { drain(leader) }

    deinit {
        close(follower)
        close(leader)
    }
}

enum PTYError: Error { case open }

/// A pipe whose write end a plain bar writes to.
final class OutputPipe {
    let reader: Int32
    let writer: Int32

    init() {
        var fds: [Int32] = [0, 0]
        precondition(pipe(&fds) == 0)
        reader = fds[0]
        writer = fds[1]
        _ = fcntl(reader, F_SETFL, fcntl(reader, F_GETFL) | O_NONBLOCK)
    }

    func readAvailable() -> String { drain(reader) }

    deinit {
        close(reader)
        close(writer)
    }
}

/// Reads a non-blocking descriptor until it has nothing more.
private func drain(_ fd: Int32) -> String {
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 4096)
    while true {
        let n = read(fd, &buffer, buffer.count)
        if n > 0 { bytes += buffer[0..<n]; continue }
        if n < 0 && errno == EINTR { continue }
        break
    }
    return String(decoding: bytes, as: UTF8.self)
}

/// `text` without ANSI escape sequences (CSI: ESC [ params letter).
func strippingEscapes(_ text: String) -> String {
    var out = ""
    var iterator = text.unicodeScalars.makeIterator()
    while let c = iterator.next() {
        guard c == "\u{1B}" else { out.unicodeScalars.append(c); continue }
        guard iterator.next() == "[" else { continue }
        while let p = iterator.next(), !(("A"..."Z").contains(p) || ("a"..."z").contains(p)) {}
    }
    return out
}

/// The lines of terminal output, split on "\n" with the tty's "\r" before it removed, working on
/// scalars (Swift's "\r\n" is one Character, which string splitting would not cut).
func ttyLines(_ text: String) -> [String] {
    text.unicodeScalars.split(separator: "\n", omittingEmptySubsequences: false).map { piece in
        var scalars = String.UnicodeScalarView(piece)
        if scalars.last == "\r" { scalars.removeLast() }
        return String(scalars)
    }
}

/// What a line of output shows after its `\r` redraws: the pieces between carriage returns.
func redrawnPieces(_ line: String) -> [String] {
    line.unicodeScalars.split(separator: "\r").map { String(String.UnicodeScalarView($0)) }
}

/// A minimal terminal: enough of VT100 to replay what the bar writes (`\r`, `\n`, cursor up,
/// clear to end of screen or line) and see the screen a person would see, scrollback included.
struct ScreenModel {
    private(set) var rows: [String] = [""]
    private(set) var row = 0
    private(set) var column = 0
    /// The screen each time a frame began (at each `\r`), to see intermediate states.
    private(set) var frames: [[String]] = []
    /// Set when a character was written past `width` (the line would have wrapped).
    private(set) var overflowed = false
    let width: Int

    init(width: Int, replaying output: String) {
        self.width = width
        var scalars = output.unicodeScalars.makeIterator()
        while let c = scalars.next() {
            switch c {
            case "\r":
                frames.append(rows)
                column = 0
            case "\n":
                row += 1
                column = 0  // the tty's ONLCR has sent \r already
                if row == rows.count { rows.append("") }
            case "\u{1B}":
                guard scalars.next() == "[" else { continue }
                var number = ""
                var command: Unicode.Scalar = " "
                while let p = scalars.next() {
                    if ("0"..."9").contains(p) { number.unicodeScalars.append(p) } else { command = p; break }
                }
                switch command {
                case "A": row = max(0, row - (Int(number) ?? 1))
                case "J":
                    rows[row] = String(rows[row].prefix(column))
                    rows.removeSubrange((row + 1)...)
                case "K": rows[row] = String(rows[row].prefix(column))
                default: break
                }
            default:
                var line = Array(rows[row])
                while line.count < column { line.append(" ") }
                if column < line.count { line[column] = Character(c) } else { line.append(Character(c)) }
                rows[row] = String(line)
                column += 1
                if column >= width { overflowed = true }
            }
        }
    }
}
