import Foundation
import ParallelKit
import Synchronization
import Testing

/// A `tempFolder` is checked for every backend, also those that never put a file there (threads,
/// `"sequential"`, one job): the same rule and error as the process backends, before any task
/// runs (issue 7). A missing folder is created, as joblib and the process backends do.
@Suite("Temp folder on backends that do not use it")
struct TempFolderOnThreadsTests {
    static func makeBase() throws -> String {
        let base = NSTemporaryDirectory() + "pk-threads-temp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: false)
        chmod(base, 0o700)
        return base
    }

    /// The call throws `.invalidArgument` naming `folder` and mentioning `reason`, and runs nothing.
    static func expectRefused(
        _ parallel: Parallel, _ folder: String, mentioning reason: String,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async {
        let ran = Atomic<Int>(0)
        let tasks = (0..<4).map { i in
            delayed { () -> Int in
                ran.add(1, ordering: .relaxed)
                return i
            }()
        }
        let error = await #expect(throws: ParallelError.self, sourceLocation: sourceLocation) {
            try await parallel(tasks)
        }
        #expect(error?.code == .invalidArgument, sourceLocation: sourceLocation)
        let text = error?.description ?? ""
        #expect(text.contains(folder) && text.contains(reason), "\(text)", sourceLocation: sourceLocation)
        #expect(ran.load(ordering: .relaxed) == 0, sourceLocation: sourceLocation)
    }

    @Test(
        "a file, a path that cannot be made, an others-writable non-sticky folder: clear errors on threads and in-process"
    )
    func badFoldersAreRefused() async throws {
        let base = try Self.makeBase()
        defer { try? FileManager.default.removeItem(atPath: base) }
        let file = base + "/a-file"
        #expect(FileManager.default.createFile(atPath: file, contents: Data([1])))
        let underFile = file + "/sub"
        let shared = base + "/shared777"
        try FileManager.default.createDirectory(atPath: shared, withIntermediateDirectories: false)
        chmod(shared, 0o777)

        // A path that cannot be created (nothing can be made in /proc).
        let uncreatable = "/proc/parallelkit-\(getpid())-missing/temp"
        let cases = [
            (file, "not a folder"), (underFile, "not a folder"), (uncreatable, "creating"), (shared, "sticky"),
        ]
        for (folder, reason) in cases {
            await Self.expectRefused(
                Parallel(nJobs: 2, backend: "threading", tempFolder: folder), folder, mentioning: reason)
            await Self.expectRefused(Parallel(nJobs: 1, tempFolder: folder), folder, mentioning: reason)
            await Self.expectRefused(
                Parallel(nJobs: 2, backend: "sequential", tempFolder: folder), folder, mentioning: reason)
            // From a scope as well.
            let scoped = try await withParallelConfig(tempFolder: folder) { () async -> Bool in
                (try? await Parallel(nJobs: 2, backend: "threading")([delayed { 1 }()])) == nil
            }
            #expect(scoped, "a scope's bad tempFolder is refused too")
        }

        // The rules accept what the process backends accept: a sticky shared folder, and a
        // missing one, which is created private to the user.
        chmod(shared, 0o1777)
        let missing = base + "/not/yet/there"
        for folder in [shared, missing] {
            let results = try await Parallel(nJobs: 2, backend: "threading", tempFolder: folder)(
                (0..<4).map { i in delayed { i }() })
            #expect(results == [0, 1, 2, 3])
        }
        var info = stat()
        #expect(stat(missing, &info) == 0 && info.st_mode & 0o777 == 0o700)
    }
}
