import Testing

@_spi(Locking) @testable import ParallelCore

/// The `.bar` display: a live block on a real pseudo-terminal, plain lines through a pipe or with
/// NO_COLOR / TERM=dumb, two bars at once, and text printed above a live bar.
@Suite("ProgressTerminal: the bar on a terminal and in logs")
struct ProgressTerminalTests {
    static let xterm = ["TERM": "xterm-256color"]

    /// Shows one simulated call of `total` tasks, one every `step` seconds, on `terminal`, handing
    /// the bar its events directly (the channel's delivery and merging are tested on their own).
    static func simulateCall(
        on terminal: ProgressTerminal, clock: FakeClock, backend: String = "threading",
        total: Int = 100, step: Double = 0.1, failing: Set<Int> = []
    ) {
        let bar = ProgressBar(terminal: terminal)
        var snapshot = ProgressSnapshot(backend: backend, nJobs: 2, total: total)
        clock.set(seconds: 0)
        bar.show(.started(snapshot))
        for i in 1...total {
            clock.set(seconds: Double(i) * step)
            if failing.contains(i) { snapshot.failed += 1 } else { snapshot.completed += 1 }
            snapshot.elapsed = .seconds(Double(i) * step)
            snapshot.tasksPerSecond = 1 / step
            snapshot.estimatedRemaining = .seconds(Double(total - i) * step)
            bar.show(.progressed(snapshot))
        }
        bar.show(.finished(snapshot))
    }

    @Test("on a terminal: redrawn in place with \\r, cut to its width, and a final N/N 100% line")
    func liveOnPseudoTerminal() async throws {
        let pty = try PseudoTerminal(columns: 70)
        let clock = FakeClock()
        let terminal = ProgressTerminal(fileDescriptor: pty.follower, environment: Self.xterm, clock: clock.function)
        #expect(terminal.isLive)
        Self.simulateCall(on: terminal, clock: clock)
        let output = pty.readAvailable()

        // Redraws: back to the line start, then clear to the end of the screen.
        #expect(output.components(separatedBy: "\r\u{1B}[J").count - 1 >= 10)
        let screen = ScreenModel(width: 70, replaying: output)
        #expect(!screen.overflowed)  // lines are cut to the width: nothing wraps
        #expect(
            screen.frames.contains {
                $0.last?.hasPrefix("threading, 2 jobs  50/100 50% [") == true && $0.last?.contains("0:05<0:05") == true
            })
        // What stays on the screen: the final line alone, the cursor on the next line.
        #expect(screen.rows == ["threading, 2 jobs  100/100 100% [============]  in 0:10  10.0 tasks/s", ""])
    }

    @Test("through a pipe: plain lines at most every 5 %, no \\r, no escape codes, a final line")
    func plainThroughPipe() async {
        let pipe = OutputPipe()
        let clock = FakeClock()
        let terminal = ProgressTerminal(fileDescriptor: pipe.writer, environment: Self.xterm, clock: clock.function)
        #expect(!terminal.isLive)
        Self.simulateCall(on: terminal, clock: clock)
        let output = pipe.readAvailable()
        #expect(!output.contains("\r") && !output.contains("\u{1B}"))
        let lines = output.split(separator: "\n").map(String.init)
        #expect(lines.count >= 3 && lines.count <= 22)  // the start, ≤ 20 steps of 5 %, the end
        #expect(lines.first == "[threading, 2 jobs] 0/100 0%, elapsed 0:00")
        #expect(lines.last?.hasPrefix("[threading, 2 jobs] done 100/100 100%, ") == true)
        let percents = lines.dropFirst().dropLast().compactMap { line in
            line.split(separator: " ").first { $0.hasSuffix("%,") }.flatMap { Int($0.dropLast(2)) }
        }
        for (a, b) in zip(percents, percents.dropFirst()) { #expect(b - a >= 5) }
    }

    @Test("plain lines also every 10 s when progress is slow")
    func plainEveryTenSeconds() async {
        let pipe = OutputPipe()
        let clock = FakeClock()
        let terminal = ProgressTerminal(fileDescriptor: pipe.writer, environment: [:], clock: clock.function)
        // 1000 tasks at one a second: 5 % takes 50 s, so the 10 s rule is what prints.
        Self.simulateCall(on: terminal, clock: clock, total: 1000, step: 1)
        let lines = pipe.readAvailable().split(separator: "\n")
        #expect(lines.count == 1 + 100 + 1)  // the start, one every 10 s, the end
        #expect(lines[1] == "[threading, 2 jobs] 10/1000 1%, 1.00 tasks/s, elapsed 0:10, ETA 16:30")
        #expect(lines[2].hasPrefix("[threading, 2 jobs] 20/1000 2%, "))
    }

    @Test("a final line with failures says how many failed", arguments: [true, false])
    func finalLineWithFailures(live: Bool) async throws {
        let pty = try PseudoTerminal()
        let clock = FakeClock()
        let terminal = ProgressTerminal(
            fileDescriptor: pty.follower, environment: live ? Self.xterm : [:], clock: clock.function)
        Self.simulateCall(on: terminal, clock: clock, total: 20, failing: [3, 7])
        let last = ttyLines(strippingEscapes(pty.readAvailable())).filter { !$0.isEmpty }.last ?? ""
        #expect(last.contains("20/20 100%") && last.contains("2 failed"))
    }

    @Test(
        "NO_COLOR, TERM=dumb and no TERM on a terminal: plain lines",
        arguments: [
            ["TERM": "xterm", "NO_COLOR": "1"], ["TERM": "dumb"], [:],
        ])
    func plainOnTerminal(environment: [String: String]) async throws {
        let pty = try PseudoTerminal()
        let clock = FakeClock()
        let terminal = ProgressTerminal(fileDescriptor: pty.follower, environment: environment, clock: clock.function)
        #expect(!terminal.isLive)
        Self.simulateCall(on: terminal, clock: clock)
        let output = pty.readAvailable()
        #expect(!output.contains("\u{1B}"))
        // The tty adds \r before each \n (ONLCR); the bar itself writes none.
        #expect(!output.replacingOccurrences(of: "\r\n", with: "\n").contains("\r"))
        #expect(output.contains("done 100/100 100%"))
    }

    @Test("an empty NO_COLOR does not count (no-color.org)")
    func emptyNoColor() throws {
        let pty = try PseudoTerminal()
        #expect(ProgressTerminal(fileDescriptor: pty.follower, environment: ["TERM": "xterm", "NO_COLOR": ""]).isLive)
    }

    @Test("two calls at once share the terminal: one line each, final lines intact", arguments: [true, false])
    func twoBarsAtOnce(live: Bool) async throws {
        let pty = try PseudoTerminal(columns: 90)
        let clock = FakeClock()
        let terminal = ProgressTerminal(
            fileDescriptor: pty.follower, environment: live ? Self.xterm : [:], clock: clock.function)
        let alpha = ProgressChannel(.bar, terminal: terminal, nestingLevel: 0, clock: clock.function)
        let beta = ProgressChannel(.bar, terminal: terminal, nestingLevel: 0, clock: clock.function)
        alpha.start(total: 40, backend: "alpha", nJobs: 2, now: clock.set(seconds: 0))
        beta.start(total: 60, backend: "beta", nJobs: 3, now: clock.now)
        for i in 1...60 {
            let now = clock.set(seconds: Double(i) * 0.1)
            if i <= 40 { alpha.tasksCompleted(count: 1, now: now) }
            beta.tasksCompleted(count: 1, now: now)
            if i == 40 {
                alpha.finish(now: now)
                await alpha.waitUntilDelivered()
            }
        }
        beta.finish(now: clock.now)
        await beta.waitUntilDelivered()

        let output = pty.readAvailable()
        if live {
            let screen = ScreenModel(width: 90, replaying: output)
            #expect(!screen.overflowed)
            // While both ran, the block showed alpha's line above beta's.
            #expect(
                screen.frames.contains { rows in
                    rows.count >= 2 && rows[rows.count - 2].hasPrefix("alpha, 2 jobs  ")
                        && rows[rows.count - 1].hasPrefix("beta, 3 jobs  ")
                })
            // No row ever held parts of both.
            #expect(screen.frames.allSatisfy { $0.allSatisfy { !($0.contains("alpha") && $0.contains("beta")) } })
            // At the end: each final line once, in the order the calls ended, nothing left drawn.
            #expect(screen.rows.count == 3 && screen.rows[2].isEmpty)
            #expect(screen.rows[0].hasPrefix("alpha, 2 jobs  40/40 100% [") && screen.rows[0].contains("in 0:04"))
            #expect(screen.rows[1].hasPrefix("beta, 3 jobs  60/60 100% [") && screen.rows[1].contains("in 0:06"))
        } else {
            let lines = ttyLines(output).filter { !$0.isEmpty }
            #expect(!output.contains("\u{1B}"))
            #expect(lines.allSatisfy { $0.hasPrefix("[alpha, 2 jobs] ") != $0.hasPrefix("[beta, 3 jobs] ") })
            #expect(lines.filter { $0.contains("done 40/40 100%") }.count == 1)
            #expect(lines.last?.hasPrefix("[beta, 3 jobs] done 60/60 100%") == true)
        }
    }

    @Test("printAbove clears the live block, prints the text, and draws the bar again below it")
    func printAboveLiveBar() async throws {
        let pty = try PseudoTerminal()
        let clock = FakeClock()
        let terminal = ProgressTerminal(fileDescriptor: pty.follower, environment: Self.xterm, clock: clock.function)
        let channel = ProgressChannel(.bar, terminal: terminal, nestingLevel: 0, clock: clock.function)
        channel.start(total: 10, backend: "threading", nJobs: 2, now: clock.set(seconds: 0))
        channel.tasksCompleted(count: 3, now: clock.set(seconds: 1))
        let drawn = Signal()
        // Wait until the bar is on the screen (delivery is asynchronous, on a thread of its own;
        // the pty has no event to wait for). The bound only stops a broken bar from hanging the
        // test: under load a 10 s one was missed.
        let deadline = ContinuousClock.now + .seconds(60)
        var seen = ""
        while ContinuousClock.now < deadline {
            seen += pty.readAvailable()
            if seen.contains("3/10 30%") { drawn.fire(); break }
            try await Task.sleep(for: .milliseconds(1))
        }
        #expect(drawn.fired)
        channel.printAbove("[Parallel(n_jobs=2)]: Done   3 tasks")
        let after = pty.readAvailable()
        #expect(after.hasPrefix("\r\u{1B}[J[Parallel(n_jobs=2)]: Done   3 tasks\r\nthreading, 2 jobs  3/10 30% ["))
        // Through a writer of the caller's (standard output, say): cleared before, drawn after.
        let written = LockedValue<[String]>([])
        channel.printAbove("to stdout") { line in
            written.withLock { $0.append(line) }
            _ = pty.readAvailable().hasSuffix("\r\u{1B}[J") ? written.withLock { $0.append("cleared first") } : ()
        }
        #expect(written.withLock { $0 } == ["to stdout\n", "cleared first"])
        #expect(
            ttyLines(strippingEscapes(pty.readAvailable())).last?.hasPrefix("threading, 2 jobs  3/10 30% [") == true)
        channel.finish(now: clock.set(seconds: 2))
        await channel.waitUntilDelivered()
    }

    @Test("in plain mode, printAbove's text is a whole line between the bar's lines")
    func printAbovePlain() {
        let pipe = OutputPipe()
        let clock = FakeClock()
        let terminal = ProgressTerminal(fileDescriptor: pipe.writer, environment: [:], clock: clock.function)
        let bar = ProgressBar(terminal: terminal)
        let snapshot = ProgressSnapshot(backend: "threading", nJobs: 2, total: 4)
        bar.show(.started(snapshot))
        terminal.printAbove("[Parallel(n_jobs=2)]: Done   1 tasks")
        bar.show(.finished(snapshot))
        #expect(
            pipe.readAvailable().split(separator: "\n") == [
                "[threading, 2 jobs] 0/4 0%, elapsed 0:00",
                "[Parallel(n_jobs=2)]: Done   1 tasks",
                "[threading, 2 jobs] stopped at 0/4 0%, in 0:00",
            ])
    }
}

/// ``ProgressLineFormat``: the words of a bar's line.
@Suite("ProgressLineFormat: the text of bar lines")
struct ProgressLineFormatTests {
    static func snapshot(total: Int?, completed: Int, failed: Int = 0) -> ProgressSnapshot {
        ProgressSnapshot(
            backend: "process", nJobs: 4, total: total, completed: completed, failed: failed,
            elapsed: .seconds(65), tasksPerSecond: 12.345, estimatedRemaining: .seconds(3725))
    }

    @Test("a live line never exceeds the width, for any width", arguments: [1, 10, 30, 50, 79, 200])
    func fitsWidth(width: Int) {
        for snap in [Self.snapshot(total: 100, completed: 37), Self.snapshot(total: nil, completed: 5)] {
            #expect(ProgressLineFormat.liveLine(snap, finished: false, width: width).count <= width)
        }
    }

    @Test("fields: counts, percent rounded down, rate, elapsed, ETA")
    func fields() {
        #expect(
            ProgressLineFormat.plainLine(Self.snapshot(total: 1000, completed: 999), finished: false)
                == "[process, 4 jobs] 999/1000 99%, 12.3 tasks/s, elapsed 1:05, ETA 1:02:05")
        #expect(
            ProgressLineFormat.plainLine(Self.snapshot(total: nil, completed: 5), finished: false)
                == "[process, 4 jobs] 5 tasks, 12.3 tasks/s, elapsed 1:05")
        #expect(
            ProgressLineFormat.plainLine(Self.snapshot(total: 10, completed: 4, failed: 1), finished: true)
                == "[process, 4 jobs] stopped at 5/10 50%, 12.3 tasks/s, in 1:05, 1 failed")
        #expect(
            ProgressLineFormat.liveLine(Self.snapshot(total: 100, completed: 50), finished: false, width: 68)
                == "process, 4 jobs  50/100 50% [====>     ]  1:05<1:02:05  12.3 tasks/s")
        // Too narrow for a bar of 10: the bar goes, the words stay.
        #expect(
            ProgressLineFormat.liveLine(Self.snapshot(total: 100, completed: 50), finished: false, width: 67)
                == "process, 4 jobs  50/100 50%  1:05<1:02:05  12.3 tasks/s")
    }

    @Test(
        "rates read well from slow to very fast",
        arguments: [
            (0.5, "0.50 tasks/s"), (42.0, "42.0 tasks/s"), (420.0, "420 tasks/s"), (42_000.0, "42.0k tasks/s"),
            (42_000_000.0, "42.0M tasks/s"),
        ])
    func rates(value: Double, text: String) {
        #expect(ProgressLineFormat.rate(value) == text)
    }
}
