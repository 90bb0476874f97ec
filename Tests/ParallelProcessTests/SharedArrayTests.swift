import Foundation
import ParallelKit
import Testing

@testable import ParallelProcess

/// Sums a slice of a shared input; optionally writes the sum into a shared output.
struct SliceSumJob: ParallelJob {
    var input: SharedArray<Double>
    var output: SharedArray<Double>?
    var part: Int
    var parts: Int

    func run() async throws -> Double {
        let size = input.count / parts
        let range = (part * size)..<(part == parts - 1 ? input.count : (part + 1) * size)
        let sum = input.withUnsafeBufferPointer { $0[range].reduce(0, +) }
        output?[part] = sum
        return sum
    }
}

/// Writes `value` at `index` and returns what it reads back there.
struct WriteJob: ParallelJob {
    var array: SharedArray<Int>
    var index: Int
    var value: Int
    func run() async throws -> Int {
        array[index] = value
        return array[index]
    }
}

/// Sums a plain array (which travels through shared memory when large).
struct PlainSumJob: ParallelJob {
    var values: [Double]
    var scale: Double
    func run() async throws -> Double { values.reduce(0, +) * scale }
}

@Suite("Shared arrays", .serialized)
struct SharedArrayTests {
    let backend = ProcessBackend()

    @Test func badSizesAndFoldersAreErrors() throws {
        #expect(throws: ParallelError.self) { try SharedArray(repeating: 0.0, count: -1) }
        #expect(throws: ParallelError.self) { try SharedArray(repeating: 0.0, count: Int.max) }
        // A folder that cannot be created (under a file) is a ParallelError (red-team F11).
        #expect(throws: ParallelError.self) {
            try withParallelConfig(tempFolder: "/dev/null/parallelkit-folder") { try SharedArray([1, 2, 3]) }
        }
        // Too large: an error at creation, never the OOM killer (shared memory has no limit of
        // its own) nor a SIGBUS at first write; in anonymous memory, on tmpfs and on disk.
        #expect(throws: (any Error).self) { try SharedArray(repeating: UInt8(0), count: 1 << 50) }
        for folder in ["/dev/shm", NSTemporaryDirectory()] where FileManager.default.isWritableFile(atPath: folder) {
            #expect(throws: (any Error).self) {
                try withParallelConfig(tempFolder: folder) { try SharedArray(repeating: UInt8(0), count: 1 << 50) }
            }
        }
    }

    @Test func sharedArrayHasReferenceSemantics() throws {
        let array = try SharedArray([1, 2, 3])
        let copy = array
        copy[1] = 20
        #expect(Array(array) == [1, 20, 3])
        let zeros = try SharedArray(repeating: 0.5, count: 4)
        #expect(Array(zeros) == [0.5, 0.5, 0.5, 0.5])
        let empty = try SharedArray([Double]())
        #expect(empty.isEmpty)
        #expect(empty.withUnsafeBufferPointer { $0.count } == 0)
    }

    @Test func sharedArrayRoundTripsThroughTheCodecInProcess() throws {
        let array = try SharedArray((0..<1000).map(Double.init))
        // As a request to workers encodes it (the call's mmap mode in userInfo).
        var encoder = BinaryEncoder()
        encoder.userInfo[.parallelKitMmapMode] = MmapMode.r
        let bytes = try encoder.encode(array)
        #expect(bytes.count < 200, "only a reference is encoded, not 8000 bytes")
        // Anything else (a result, a cache) carries the elements (red-team F9).
        #expect(try BinaryEncoder().encode(array).count > 8000)
        var decoder = BinaryDecoder()
        decoder.userInfo[.parallelKitMmapMode] = MmapMode.rPlus
        let mapped = try decoder.decode(SharedArray<Double>.self, from: bytes)
        #expect(Array(mapped) == Array(array))
        mapped[3] = -1
        #expect(array[3] == -1, "a .rPlus mapping shares the memory")
        #expect(throws: DecodingError.self) { try decoder.decode(SharedArray<Int>.self, from: bytes) }
    }

    @Test func workersReadSharedInputAndWriteSharedOutput() async throws {
        let input = try SharedArray((0..<1_000_000).map { Double($0 % 1000) })
        let output = try SharedArray(repeating: 0.0, count: 4)
        let jobs = (0..<4).map { SliceSumJob(input: input, output: output, part: $0, parts: 4) }
        let sums = try await Parallel(nJobs: 2, backend: .instance(backend), batchSize: 1, mmapMode: .rPlus)(jobs)
        let expected = input.withUnsafeBufferPointer { $0.reduce(0, +) }
        #expect(sums.reduce(0, +) == expected)
        #expect(Array(output) == sums, "workers' writes are visible to the caller with .rPlus")
    }

    @Test func wPlusWritesAreVisibleToo() async throws {
        let array = try SharedArray(repeating: 0, count: 8)
        _ = try await Parallel(nJobs: 2, backend: .instance(backend), batchSize: 1, mmapMode: .wPlus)(
            (0..<8).map { WriteJob(array: array, index: $0, value: $0 * 10) })
        #expect(Array(array) == (0..<8).map { $0 * 10 })
    }

    @Test func copyOnWriteKeepsWorkersWritesPrivate() async throws {
        let array = try SharedArray(repeating: 7, count: 4)
        let readBack = try await Parallel(nJobs: 2, backend: .instance(backend), batchSize: 1, mmapMode: .c)(
            (0..<4).map { WriteJob(array: array, index: $0, value: 100 + $0) })
        #expect(readBack == [100, 101, 102, 103], "a worker sees its own writes")
        #expect(Array(array) == [7, 7, 7, 7], "the caller does not")
    }

    @Test func disabledMappingSendsAPrivateCopy() async throws {
        let array = try SharedArray(repeating: 1, count: 4)
        let readBack = try await Parallel(nJobs: 2, backend: .instance(backend), batchSize: 1, mmapMode: .disabled)(
            (0..<4).map { WriteJob(array: array, index: $0, value: 5) })
        #expect(readBack == [5, 5, 5, 5])
        #expect(Array(array) == [1, 1, 1, 1])
    }

    @Test func writingInReadOnlyModeIsAClearError() async throws {
        let array = try SharedArray(repeating: 0, count: 2)
        do {
            _ = try await Parallel(nJobs: 2, backend: .instance(backend), batchSize: 1)(
                [WriteJob(array: array, index: 0, value: 1)])
            Issue.record("writing to a .r array must fail")
        } catch let error as ParallelError {
            #expect(error.code == .workerCrashed)
            #expect(error.description.contains("read-only"), "\(error)")
            #expect(error.description.contains("mmapMode: .rPlus"), "\(error)")
        }
        #expect(Array(array) == [0, 0], "nothing was written")
    }

    @Test func largePlainArraysTravelThroughSharedMemory() async throws {
        let values = (0..<300_000).map { Double($0 % 7) }  // 2.4 MB, above the 1M default
        let store = LargeArrayStore(threshold: 1 << 20, folder: nil)
        var encoder = BinaryEncoder()
        encoder.largeArrays = store
        let bytes = try encoder.encode(PlainSumJob(values: values, scale: 1))
        #expect(bytes.count < 500, "the array went to shared memory, the message holds a reference")
        #expect(store.segmentCount == 1)
        // The same array again reuses its segment.
        _ = try encoder.encode([PlainSumJob(values: values, scale: 2), PlainSumJob(values: values, scale: 3)])
        #expect(store.segmentCount == 1)
        var decoder = BinaryDecoder()
        decoder.segments = SegmentMapper()
        #expect(try decoder.decode(PlainSumJob.self, from: bytes).values == values)
        store.releaseAll()

        let expected = values.reduce(0, +)
        let jobs = (1...4).map { PlainSumJob(values: values, scale: Double($0)) }
        let shared = try await Parallel(nJobs: 2, backend: .instance(backend), batchSize: 1)(jobs)
        #expect(shared == (1...4).map { expected * Double($0) })
        let copied = try await Parallel(nJobs: 2, backend: .instance(backend), batchSize: 1, maxNbytes: .disabled)(jobs)
        #expect(copied == shared)
    }

    @Test func tempFolderKeepsNoFiles() async throws {
        let folder = NSTemporaryDirectory() + "parallelkit-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: false)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        func filesInside() -> [String] {
            (FileManager.default.enumerator(atPath: folder)?.allObjects as? [String] ?? [])
                .filter { !$0.isEmpty }
                .filter { path in
                    var isDirectory: ObjCBool = false
                    return FileManager.default.fileExists(atPath: folder + "/" + path, isDirectory: &isDirectory)
                        && !isDirectory.boolValue
                }
        }
        let values = (0..<300_000).map(Double.init)
        let sums = try await Parallel(nJobs: 2, backend: .instance(backend), batchSize: 1, tempFolder: folder)(
            (1...2).map { PlainSumJob(values: values, scale: Double($0)) })
        #expect(sums.count == 2)
        let array = try withParallelConfig(tempFolder: folder) { try SharedArray(values) }
        #expect(array.count == values.count)
        // Only the lock that marks the private folder as alive is a file (red-team F10).
        #expect(
            filesInside().map { ($0 as NSString).lastPathComponent } == [".lock"],
            "files are unlinked as soon as they are open: \(filesInside())")
        let privateFolders = try FileManager.default.contentsOfDirectory(atPath: folder)
        #expect(privateFolders.count == 1)
        #expect(privateFolders.allSatisfy { $0.hasPrefix("parallelkit-\(getpid())-") })
        var info = stat()
        #expect(stat(folder + "/" + privateFolders[0], &info) == 0)
        #expect(info.st_mode & 0o777 == 0o700)
    }

    @Test func staleFoldersOfDeadProcessesAreSwept() throws {
        let folder = NSTemporaryDirectory() + "parallelkit-sweep-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: false)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        // A folder whose lock nobody holds (its owner died): swept, whatever its pid says.
        let stale = folder + "/parallelkit-1-abcdef"
        try FileManager.default.createDirectory(atPath: stale, withIntermediateDirectories: false)
        #expect(FileManager.default.createFile(atPath: stale + "/.lock", contents: Data()))
        #expect(FileManager.default.createFile(atPath: stale + "/array-left-behind", contents: Data([1, 2, 3])))
        // A folder whose lock is held (a live owner, maybe in another PID namespace where its pid
        // means nothing here: red-team F10): kept, although no process has its pid.
        let alive = folder + "/parallelkit-999999999-keepme"
        try FileManager.default.createDirectory(atPath: alive, withIntermediateDirectories: false)
        let lock = open(alive + "/.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        #expect(lock >= 0 && flock(lock, LOCK_EX) == 0)
        defer { close(lock) }
        TempFolder.sweepStaleFolders(in: folder)
        #expect(!FileManager.default.fileExists(atPath: stale))
        #expect(FileManager.default.fileExists(atPath: alive + "/.lock"), "its lock is held: the folder stays")
    }
}
