import Foundation
import Glibc
import ParallelKit
import Testing

@testable import ParallelMemory

@Suite("Memory: damaged entries are recomputed")
struct DamagedEntryTests {
    enum Damage: String, CaseIterable, Sendable {
        case empty, truncatedHeader, truncatedPayload, flippedPayloadBit, flippedChecksum, garbage, extraByte,
            otherKeysEntry
    }

    @Test(arguments: Damage.allCases)
    func damagedEntryIsRecomputedAndReplaced(_ damage: Damage) async throws {
        let scratch = ScratchFolder("damaged-\(damage.rawValue)")
        defer { scratch.remove() }
        let log = ComputationLog(path: scratch.path + "/log")
        let memory = try Memory(location: scratch.path)
        let job = SquareJob(x: 12, offset: 0, log: log)
        let other = SquareJob(x: 13, offset: 0, log: log)
        #expect(try await memory.cached(job).run() == 144)
        #expect(try await memory.cached(other).run() == 169)
        let names = scratch.entryNames
        #expect(names.count == 2)
        // Which file belongs to `job`: the one whose checksum area changes when we recompute.
        let key = try CacheKey(
            name: "job " + stableTypeName(SquareJob.self), version: 0, argument: job, resultType: Int.self)
        let path = scratch.entryPath(key.fileName)
        let otherPath = scratch.entryPath(names.first { $0 != key.fileName }!)
        var bytes = [UInt8](FileManager.default.contents(atPath: path)!)
        switch damage {
        case .empty: bytes = []
        case .truncatedHeader: bytes = Array(bytes.prefix(30))
        case .truncatedPayload: bytes.removeLast()
        case .flippedPayloadBit: bytes[bytes.count - 1] ^= 0x04
        case .flippedChecksum: bytes[60] ^= 0x01
        case .garbage: bytes = (0..<200).map { UInt8(truncatingIfNeeded: $0 &* 37) }
        case .extraByte: bytes.append(0)
        case .otherKeysEntry: bytes = [UInt8](FileManager.default.contents(atPath: otherPath)!)
        }
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        #expect(try await memory.cached(job).run() == 144)
        #expect(log.lines == ["12", "13", "12"])
        // Replaced: the next call is a hit again.
        #expect(try await memory.cached(job).run() == 144)
        #expect(log.lines.count == 3)
        #expect(
            FileManager.default.contents(atPath: path).map { [UInt8]($0) }.flatMap {
                EntryFile.payload(of: $0, key: key)
            } != nil)
    }

    @Test func payloadOfAnotherTypeIsRecomputed() async throws {
        let scratch = ScratchFolder()
        defer { scratch.remove() }
        let memory = try Memory(location: scratch.path)
        // The same name and version, but the result type changed without a version bump: the
        // type is part of the key, so the two never meet.
        let asInt = memory.cache("changes") { (x: Int) in x }
        let asString = memory.cache("changes") { (x: Int) in "s\(x)" }
        #expect(try await asInt(5) == 5)
        #expect(try await asString(5) == "s5")
        #expect(scratch.entryNames.count == 2)
    }

    @Test func leftoverTemporaryFilesAreIgnoredAndSwept() async throws {
        let scratch = ScratchFolder()
        defer { scratch.remove() }
        let memory = try Memory(location: scratch.path)
        let log = ComputationLog(path: scratch.path + "/log")
        let tmp = scratch.path + "/ParallelKitMemory/tmp/"
        // A writer that was killed: a pid that cannot be alive (above pid_max's ceiling).
        let abandoned = tmp + String(repeating: "ab", count: 32) + ".99999999.1"
        let live = tmp + String(repeating: "cd", count: 32) + ".\(getpid()).999999"
        _ = FileManager.default.createFile(atPath: abandoned, contents: Data([1, 2, 3]))
        _ = FileManager.default.createFile(atPath: live, contents: Data([1, 2, 3]))
        #expect(try await memory.cached(SquareJob(x: 2, log: log)).run() == 4)
        try memory.clear()
        #expect(!FileManager.default.fileExists(atPath: abandoned))
        #expect(FileManager.default.fileExists(atPath: live))
    }
}
