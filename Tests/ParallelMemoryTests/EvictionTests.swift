import Foundation
import ParallelKit
import Testing

@Suite("Memory: bytesLimit evicts least recently used entries")
struct EvictionTests {
    /// Entries of about 1,090 bytes (80 of header, about 1,010 of payload).
    static func blobs(_ memory: Memory, _ log: ComputationLog) -> @Sendable (Int) async throws -> [UInt8] {
        memory.cache("blob") { (i: Int) in
            log.record("\(i)")
            return [UInt8](repeating: UInt8(i), count: 1000)
        }
    }

    func totalBytes(_ scratch: ScratchFolder) -> Int {
        scratch.entryNames.reduce(0) { total, name in
            total + ((try? FileManager.default.attributesOfItem(atPath: scratch.entryPath(name))[.size] as? Int) ?? 0)
        }
    }

    @Test func leastRecentlyUsedGoFirstAndTheLimitHoldsAfterEveryStore() async throws {
        let scratch = ScratchFolder()
        defer { scratch.remove() }
        let limit = 3500
        let log = ComputationLog(path: scratch.path + "/log")
        let memory = try Memory(location: scratch.path, bytesLimit: limit)
        let blob = EvictionTests.blobs(memory, log)
        for i in 0..<3 {
            _ = try await blob(i)
            #expect(totalBytes(scratch) <= limit)
        }
        #expect(scratch.entryNames.count == 3)
        _ = try await blob(0)  // a hit: 0 becomes the most recently used
        #expect(log.lines == ["0", "1", "2"])
        _ = try await blob(3)  // evicts 1, the least recently used
        #expect(totalBytes(scratch) <= limit)
        #expect(scratch.entryNames.count == 3)
        _ = try await blob(0)
        _ = try await blob(2)
        _ = try await blob(3)
        #expect(log.lines == ["0", "1", "2", "3"])
        _ = try await blob(1)  // recomputed (it was evicted); evicts 0, now the least recent
        #expect(log.lines == ["0", "1", "2", "3", "1"])
        _ = try await blob(2)
        _ = try await blob(3)
        _ = try await blob(1)
        #expect(log.lines.count == 5)
        #expect(totalBytes(scratch) <= limit)
    }

    @Test func anEntryLargerThanTheLimitIsNotStored() async throws {
        let scratch = ScratchFolder()
        defer { scratch.remove() }
        let log = ComputationLog(path: scratch.path + "/log")
        let memory = try Memory(location: scratch.path, bytesLimit: 500)
        let blob = EvictionTests.blobs(memory, log)
        _ = try await blob(1)
        _ = try await blob(1)
        #expect(log.lines == ["1", "1"])
        #expect(scratch.entryNames.isEmpty)
    }
}

/// Stores a 1,000-byte blob keyed by `index` in a cache with a limit, from whatever process runs it.
struct LimitedStoreJob: ParallelJob {
    var location: String
    var limit: Int
    var index: Int
    func run() async throws -> Int {
        let memory = try Memory(location: location, bytesLimit: limit)
        let blob = memory.cache("blob") { (i: Int) in [UInt8](repeating: UInt8(truncatingIfNeeded: i), count: 1000) }
        return try await blob(index).count
    }
}

@Suite("Memory: bytesLimit with several writer processes")
struct ConcurrentEvictionTests {
    @Test func theLimitHoldsWhenWorkerProcessesStoreAtOnce() async throws {
        let scratch = ScratchFolder()
        defer { scratch.remove() }
        let limit = 5000
        let jobs = (0..<40).map { LimitedStoreJob(location: scratch.path, limit: limit, index: $0) }
        let counts = try await Parallel(nJobs: 4, backend: .instance(ProcessBackend()), batchSize: 1)(jobs)
        #expect(counts == Array(repeating: 1000, count: 40))
        let total = scratch.entryNames.reduce(0) { sum, name in
            sum + ((try? FileManager.default.attributesOfItem(atPath: scratch.entryPath(name))[.size] as? Int) ?? 0)
        }
        #expect(total <= limit)
        #expect(scratch.entryNames.count == 4)  // 4 entries of about 1,090 bytes fit in 5,000
        #expect(
            (try? FileManager.default.contentsOfDirectory(atPath: scratch.path + "/ParallelKitMemory/tmp"))?.isEmpty
                == true)
    }
}
