/// One call's bar: turns its events into lines of a shared ``ProgressTerminal``.
///
/// Called only from its channel's serial delivery queue, so it needs no lock of its own; the
/// terminal serialises the bars of several calls.
package final class ProgressBar: Sendable {
    private let terminal: ProgressTerminal
    private let id: Int

    package init(terminal: ProgressTerminal) {
        self.terminal = terminal
        self.id = terminal.newBarID()
    }

    package func show(_ event: ProgressEvent) {
        switch event {
        case .started(let snapshot): terminal.add(bar: id, snapshot)
        case .progressed(let snapshot): terminal.update(bar: id, snapshot)
        case .taskFailed: break  // the next `progressed` carries the failure count
        case .finished(let snapshot): terminal.finish(bar: id, snapshot)
        }
    }
}
