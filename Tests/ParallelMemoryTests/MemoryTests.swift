import Foundation
import ParallelKit
import Synchronization
import Testing

@testable import ParallelMemory

@Suite("Memory: hits, misses, arguments")
struct MemoryTests {
    @Test func secondCallIsReadFromDisk() async throws {
        let scratch = ScratchFolder()
        defer { scratch.remove() }
        let log = ComputationLog(path: scratch.path + "/log")
        let memory = try Memory(location: scratch.path + "/cache")
        let square = memory.cache("square") { (x: Int) in
            log.record("\(x)")
            return x * x
        }
        #expect(try await square(7) == 49)
        #expect(try await square(7) == 49)
        #expect(try await square(8) == 64)
        #expect(log.lines == ["7", "8"])
        // Another Memory on the same folder (another run) finds the entries.
        let again = try Memory(location: scratch.path + "/cache").cache("square") { (x: Int) in
            log.record("again \(x)")
            return -1
        }
        #expect(try await again(7) == 49)
        #expect(log.lines == ["7", "8"])
        #expect(scratch.entryNames.isEmpty)  // entries live under cache/, not here
        #expect(FileManager.default.fileExists(atPath: scratch.path + "/cache/ParallelKitMemory/entries"))
    }

    @Test func nameVersionAndArgumentAllSeparateEntries() async throws {
        let scratch = ScratchFolder()
        defer { scratch.remove() }
        let log = ComputationLog(path: scratch.path + "/log")
        let memory = try Memory(location: scratch.path)
        func function(_ name: String, _ version: Int) -> @Sendable ([String: Double]) async throws -> String {
            memory.cache(name, version: version) { (argument: [String: Double]) in
                log.record("\(name) \(version)")
                return "\(name) \(version) \(argument.count)"
            }
        }
        let argument = ["a": 1.0, "b": -0.0]
        #expect(try await function("f", 0)(argument) == "f 0 2")
        #expect(try await function("f", 1)(argument) == "f 1 2")
        #expect(try await function("g", 0)(argument) == "g 0 2")
        #expect(try await function("f", 0)(["a": 1.0, "b": 0.0]) == "f 0 2")
        #expect(log.lines.count == 4)
        // The same dictionary built in another order is the same key.
        var reordered: [String: Double] = Dictionary(minimumCapacity: 64)
        reordered["b"] = -0.0
        reordered["a"] = 1.0
        #expect(try await function("f", 0)(reordered) == "f 0 2")
        #expect(log.lines.count == 4)
        #expect(scratch.entryNames.count == 4)
    }

    @Test func noLocationCachesNothing() async throws {
        let memory = try Memory(location: nil, bytesLimit: 100)
        let calls = Atomic<Int>(0)
        let f = memory.cache("f") { (x: Int) in
            calls.add(1, ordering: .relaxed)
            return x
        }
        _ = try await f(1)
        _ = try await f(1)
        let log = ComputationLog(path: NSTemporaryDirectory() + "parallelkit-memory-nil-\(getpid())")
        defer { unlink(log.path) }
        _ = try await memory.cached(SquareJob(x: 3, log: log)).run()
        _ = try await memory.cached(SquareJob(x: 3, log: log)).run()
        #expect(calls.load(ordering: .relaxed) == 2)
        #expect(log.lines.count == 2)
        try memory.clear()
    }

    @Test func errorsAreNotCached() async throws {
        struct Flaky: Error {}
        let scratch = ScratchFolder()
        defer { scratch.remove() }
        let attempts = Atomic<Int>(0)
        let f = try Memory(location: scratch.path).cache("flaky") { (x: Int) in
            if attempts.add(1, ordering: .relaxed).newValue == 1 { throw Flaky() }
            return x + 1
        }
        await #expect(throws: Flaky.self) { try await f(1) }
        #expect(try await f(1) == 2)
        #expect(try await f(1) == 2)
        #expect(attempts.load(ordering: .relaxed) == 2)
    }

    @Test func clearDeletesEverything() async throws {
        let scratch = ScratchFolder()
        defer { scratch.remove() }
        let log = ComputationLog(path: scratch.path + "/log")
        let memory = try Memory(location: scratch.path)
        for x in 0..<5 { _ = try await memory.cached(SquareJob(x: x, log: log)).run() }
        #expect(scratch.entryNames.count == 5)
        try memory.clear()
        #expect(scratch.entryNames.isEmpty)
        #expect(try await memory.cached(SquareJob(x: 2, log: log)).run() == 4)
        #expect(log.lines == ["0", "1", "2", "3", "4", "2"])
    }

    @Test func aFolderDeletedWhileInUseIsMadeAgain() async throws {
        let scratch = ScratchFolder()
        defer { scratch.remove() }
        let log = ComputationLog(path: NSTemporaryDirectory() + "parallelkit-memory-deleted-\(getpid())")
        defer { unlink(log.path) }
        let memory = try Memory(location: scratch.path + "/cache")
        _ = try await memory.cached(SquareJob(x: 1, log: log)).run()
        try FileManager.default.removeItem(atPath: scratch.path + "/cache")
        #expect(try await memory.cached(SquareJob(x: 1, log: log)).run() == 1)
        #expect(try await memory.cached(SquareJob(x: 1, log: log)).run() == 1)
        #expect(log.lines == ["1", "1"])
    }

    @Test func badArgumentsSayWhatToDo() async throws {
        let scratch = ScratchFolder()
        defer { scratch.remove() }
        let file = scratch.path + "/a-file"
        _ = FileManager.default.createFile(atPath: file, contents: Data("x".utf8))
        let cases: [(String?, Int?, String)] = [
            ("", nil, "empty"),
            (scratch.path, 0, "bytesLimit"),
            (scratch.path, -5, "bytesLimit"),
            (file, nil, "not a folder"),
            (file + "/below", nil, "Pass a folder you can write"),
        ]
        for (location, limit, mention) in cases {
            do {
                _ = try Memory(location: location, bytesLimit: limit)
                Issue.record("accepted location \(location ?? "nil"), bytesLimit \(limit.map(String.init) ?? "nil")")
            } catch let error as ParallelError {
                #expect(error.code == .invalidArgument)
                #expect(error.description.contains(mention), "\(error)")
            }
        }
        let unnamed = try Memory(location: scratch.path).cache("") { (x: Int) in x }
        await #expect {
            try await unnamed(1)
        } throws: { error in
            (error as? ParallelError)?.code == .invalidArgument && "\(error)".contains("empty")
        }
    }

    @Test func relativeLocationIsResolvedOnce() throws {
        let memory = try Memory(location: "relative-\(getpid())-check")
        defer {
            try? FileManager.default.removeItem(
                atPath: FileManager.default.currentDirectoryPath + "/relative-\(getpid())-check")
        }
        #expect(memory.folder?.root.hasPrefix("/") == true)
    }
}
