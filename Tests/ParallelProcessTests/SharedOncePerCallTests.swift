import Foundation
import ParallelKit
import Testing

@testable import ParallelProcess

/// Issue 9: a large array carried by many jobs of one call is put in shared memory once (parent
/// side) and copied out of it once per worker, not once per job (worker side).
@Suite("Large arrays: shared once per call")
struct SharedOncePerCallTests {
    struct CarryingJob: Codable {
        var data: [Double]
        var part: Int
    }

    static let big = (0..<300_000).map { Double($0 & 1023) }  // 2.4 MB, above "1M"

    /// 16 jobs that all carry `array`, encoded through one call's store as a batch is.
    static func encodeSixteen(_ array: [Double], _ store: LargeArrayStore) throws -> [UInt8] {
        var encoder = BinaryEncoder()
        encoder.largeArrays = store
        return try encoder.encode((0..<16).map { CarryingJob(data: array, part: $0) })
    }

    @Test("16 jobs carrying the same big array create one segment; another array a second one")
    func oneSegmentPerArray() throws {
        let store = LargeArrayStore(threshold: 1 << 20, folder: nil)
        defer { store.releaseAll() }
        let first = try Self.encodeSixteen(Self.big, store)
        #expect(store.segmentCount == 1)
        #expect(first.count < 16 * 1024, "the jobs carry references, not the array (\(first.count) bytes)")
        _ = try Self.encodeSixteen(Self.big, store)
        #expect(store.segmentCount == 1, "a later batch of the same call reuses the segment")
        let other = Self.big.map { $0 + 1 }
        _ = try Self.encodeSixteen(other, store)
        #expect(store.segmentCount == 2)
    }

    @Test("a worker decodes the 16 jobs' array once: every job gets the same storage, with the right values")
    func decodedOncePerWorker() throws {
        let store = LargeArrayStore(threshold: 1 << 20, folder: nil)
        let bytes = try Self.encodeSixteen(Self.big, store)
        let cache = DecodedArrayCache()
        var decoder = BinaryDecoder()
        decoder.segments = SegmentMapper(cache: cache)
        let jobs = try decoder.decode([CarryingJob].self, from: bytes)
        #expect(jobs.count == 16)
        #expect(jobs.allSatisfy { $0.data == Self.big })
        let bases = Set(jobs.map { job in job.data.withUnsafeBufferPointer { UInt(bitPattern: $0.baseAddress) } })
        #expect(bases.count == 1, "one copy out of shared memory, shared by the 16 jobs")
        #expect(cache.count == 1)
        // Once the call ends (its segments freed), the next batch drops the copy.
        store.releaseAll()
        _ = SegmentMapper(cache: cache)
        #expect(cache.count == 0)
    }

    @Test(
        "an array shared after another call ended, in a temp folder on disk, is never taken for the ended one's copy"
    )
    func laterSegmentIsNotMistakenForAnEndedOne() throws {
        // On ext4 (where NSTemporaryDirectory() is on this project's machines) a freed inode is
        // handed straight back, and the lowest free descriptor number is reused: the second
        // call's segment then has the first one's descriptor number, device and inode.
        let folder = WorkerHardeningTests.temporaryPath("aba")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let cache = DecodedArrayCache()
        let first = LargeArrayStore(threshold: 1 << 20, folder: folder)
        var decoder = BinaryDecoder()
        decoder.segments = SegmentMapper(cache: cache)
        let firstJobs = try decoder.decode([CarryingJob].self, from: try Self.encodeSixteen(Self.big, first))
        #expect(firstJobs.allSatisfy { $0.data == Self.big })
        #expect(cache.count == 1)
        first.releaseAll()

        let other = Self.big.map { $0 + 1 }
        let second = LargeArrayStore(threshold: 1 << 20, folder: folder)
        defer { second.releaseAll() }
        // As in a worker: the parent made the second segment before the batch that carries it
        // arrives, so the worker's look for ended segments finds that descriptor open.
        let secondBatch = try Self.encodeSixteen(other, second)
        decoder = BinaryDecoder()
        decoder.segments = SegmentMapper(cache: cache)
        let secondJobs = try decoder.decode([CarryingJob].self, from: secondBatch)
        #expect(secondJobs.allSatisfy { $0.data == other }, "the second call's jobs got the first call's array")
    }

    @Test("a cached copy is dropped when its owner's descriptor is seen naming a newer segment")
    func copyOfAnEndedSegmentIsDropped() {
        let cache = DecodedArrayCache()
        func reference(fd: Int32, serial: UInt64) -> SegmentReference {
            SegmentReference(
                ownerPID: 4242, fd: fd, offset: 0, byteCount: 8, device: 1, inode: 7, serial: serial)
        }
        cache.remember([1.0], for: reference(fd: 22, serial: 1))
        cache.remember([2.0], for: reference(fd: 23, serial: 2))
        // Descriptor 22 now holds segment 3 (same inode, as ext4 may hand out): 1 has ended.
        cache.remember([3.0], for: reference(fd: 22, serial: 3))
        #expect(cache.count == 2)
        #expect(cache.array(for: reference(fd: 22, serial: 1)) == nil)
    }

    @Test("through the process backend: 16 jobs carrying one array get the right answers")
    func endToEnd() async throws {
        let array = Self.big
        let sums = try await Parallel(nJobs: 2, backend: "process")(
            (0..<16).map { ArraySliceSumJob(data: array, part: $0) })
        let chunk = array.count / 16
        #expect(sums == (0..<16).map { part in array[(part * chunk)..<((part + 1) * chunk)].reduce(0, +) })
    }
}

/// Sums its sixteenth of an array it carries whole.
struct ArraySliceSumJob: ParallelJob {
    var data: [Double]
    var part: Int
    func run() async throws -> Double {
        let chunk = data.count / 16
        return data[(part * chunk)..<((part + 1) * chunk)].reduce(0, +)
    }
}
