import Foundation
import ParallelCore
import ParallelTestSupport
import Testing

@testable import ParallelProcess

// A descriptor number closed twice in this process (whose tests run in parallel) closes whatever
// the kernel gave that number to in between: once, another test's worker request pipe, so that
// worker read end of file right after its handshake and the test saw it "exit" (a fresh-clone CI
// failure of `unknownTypeIsAFaultNotACrash`). `OwnedDescriptor` makes such a mix-up a failure
// that says what happened. These tests replace a number behind its owner's back with dup2, which
// is atomic on a number the test owns, so no other test can be handed the number meanwhile.

@Suite("Descriptor ownership in tests", .offCooperativePool)
struct DescriptorOwnershipTests {
    /// A pipe's two ends (close-on-exec).
    private static func makePipe() throws -> (read: Int32, write: Int32) {
        var fds: [Int32] = [-1, -1]
        guard Platform.makePipe(&fds) == 0 else { throw SystemError("pipe2", errno) }
        return (fds[0], fds[1])
    }

    private static func inode(_ fd: Int32) -> UInt64? {
        var info = stat()
        return fstat(fd, &info) == 0 ? UInt64(info.st_ino) : nil
    }

    @Test("a number replaced behind its owner's back is reported, and the file it now names stays open")
    func replacedNumberIsReportedAndNotClosed() throws {
        let mine = try Self.makePipe()
        let theirs = try Self.makePipe()
        defer {
            // mine.write is a duplicate of theirs.write below; closed only while it still is.
            if Self.inode(mine.write) == Self.inode(theirs.write) { close(mine.write) }
            for fd in [mine.read, theirs.read, theirs.write] { close(fd) }
        }
        let owned = OwnedDescriptor(mine.write, role: "a test pipe")
        #expect(owned.isIntact)
        // Someone else closes the number and the kernel hands it out again: here, in one step.
        #expect(dup2(theirs.write, mine.write) == mine.write)
        #expect(!owned.isIntact)
        withKnownIssue {
            owned.close()
        } matching: { issue in
            issue.comments.contains { $0.rawValue.contains("fd \(mine.write) (a test pipe) now names inode") }
        }
        // The number was left to its new owner: still open, still their pipe.
        #expect(Self.inode(mine.write) == Self.inode(theirs.write))
        owned.close()  // once closed, a no-op
        #expect(Self.inode(mine.write) == Self.inode(theirs.write))
    }

    @Test("a descriptor its owner closes is closed once, without an issue")
    func ownersCloseIsClean() throws {
        let ends = try Self.makePipe()
        defer { close(ends.read) }
        let owned = OwnedDescriptor(ends.write, role: "a test pipe")
        owned.close()
        #expect(!owned.isOpen)
        // The pipe's only write end is gone: its reader sees end of file.
        var byte: UInt8 = 0
        #expect(read(ends.read, &byte, 1) == 0)
    }

    @Test("a worker's request pipe closed behind the client's back is named as the cause of the end of file")
    func workerClientNamesAForeignClose() throws {
        let null = open("/dev/null", O_WRONLY | O_CLOEXEC)
        try #require(null >= 0)
        defer { close(null) }
        var requestNumber: Int32 = -1
        try withKnownIssue {
            let client = try BlockingWorkerClient()
            try client.expectHandshake()
            requestNumber = client.process.requestFD
            // What a double close elsewhere plus a reuse of the number looks like to this client.
            #expect(dup2(null, requestNumber) == requestNumber)
            try client.sendBatch([AddJob(a: 1, b: 2)])
            // The worker saw end of file on its request pipe and ended; the client says why.
            #expect(try client.nextFrame() == nil)
            #expect(client.waitForExit() == 0)
        } matching: { issue in
            issue.comments.contains { $0.rawValue.contains("request pipe) now names inode") }
        }
        // The client left the number alone: it is still the /dev/null duplicate, closed here.
        let stillNull = Self.inode(requestNumber) == Self.inode(null)
        #expect(stillNull)
        if stillNull { close(requestNumber) }  // else not ours to close
    }
}
