import Foundation
import Glibc
import Testing

@testable import ParallelProcess

@Suite("Workers' stderr reaches ours through a relay that never blocks the event loop")
struct StandardErrorRelayTests {
    @Test func aStalledDestinationNeverBlocksForwardingAndDropsAreReported() throws {
        var fds: [Int32] = [0, 0]
        #expect(pipe(&fds) == 0)
        defer { close(fds[0]) }
        let relay = StandardErrorRelay(fd: fds[1], capacity: 4096)
        // Nobody reads the pipe yet: the relay's thread fills it (64 KiB) and blocks. Every call
        // below must still return at once; a relay that wrote on the caller's thread would hang here.
        let chunk = [UInt8](repeating: UInt8(ascii: "x"), count: 1000)
        for _ in 0..<200 {
            chunk.withUnsafeBytes { relay.forward($0) }
        }
        // Now drain, and find the line that says bytes were dropped.
        var received = Data()
        var buffer = [UInt8](repeating: 0, count: 65536)
        while !(String(decoding: received, as: UTF8.self).contains("bytes of worker standard error dropped")) {
            let n = read(fds[0], &buffer, buffer.count)
            try #require(n > 0)
            received.append(contentsOf: buffer[0..<n])
        }
        let text = String(decoding: received, as: UTF8.self)
        #expect(text.hasPrefix("xxxx"))
        // Far fewer than the 200,000 bytes forwarded arrived: the excess was dropped, not queued.
        #expect(received.count < 200_000)
        // The drop line is the relay's last write for what it was given, and nothing more is
        // forwarded, so its thread is idle and the write end can be closed safely.
        close(fds[1])
    }
}
