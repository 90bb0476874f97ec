import Foundation
@_spi(Locking) import ParallelCore
import ParallelKit
import ParallelTestSupport
import Testing

@testable import ParallelProcess

/// Red-team F1 (temp-folder cleanup redirected by a symlink swap) and F11 (bad temp folders).
@Suite("Temp folder safety", .serialized)
struct TempFolderSecurityTests {
    /// A fresh folder under the system temp folder, removed by the caller.
    static func makeBase(_ label: String) throws -> String {
        let base = NSTemporaryDirectory() + "parallelkit-\(label)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: false)
        chmod(base, 0o755)
        return base
    }

    static func expectUnusable(
        _ folder: String, mentioning words: String, sourceLocation: SourceLocation = #_sourceLocation
    ) {
        do {
            _ = try withParallelConfig(tempFolder: folder) { try SharedArray(repeating: 1.0, count: 10) }
            Issue.record("a SharedArray was created in \(folder)", sourceLocation: sourceLocation)
        } catch let error as ParallelError {
            #expect(error.code == .invalidArgument, sourceLocation: sourceLocation)
            #expect(error.description.contains(folder), "\(error)", sourceLocation: sourceLocation)
            #expect(error.description.contains(words), "\(error)", sourceLocation: sourceLocation)
        } catch {
            Issue.record("not a ParallelError: \(error)", sourceLocation: sourceLocation)
        }
    }

    @Test("F11: a missing folder is created; a file, /proc and an others-writable folder are ParallelErrors")
    func badFoldersAreClearErrors() async throws {
        let base = try Self.makeBase("badfolders")
        defer { try? FileManager.default.removeItem(atPath: base) }
        let missing = base + "/not/yet/there"
        let array = try withParallelConfig(tempFolder: missing) { try SharedArray(repeating: 2.0, count: 10) }
        #expect(array[9] == 2.0)
        var info = stat()
        #expect(
            stat(missing, &info) == 0 && info.st_mode & 0o777 == 0o700,
            "created private to the user, as joblib creates it")

        let file = base + "/a-file"
        #expect(FileManager.default.createFile(atPath: file, contents: Data([1])))
        Self.expectUnusable(file, mentioning: "not a folder")
        Self.expectUnusable("/proc", mentioning: "/proc")

        let shared = base + "/shared777"
        try FileManager.default.createDirectory(atPath: shared, withIntermediateDirectories: false)
        chmod(shared, 0o777)
        Self.expectUnusable(shared, mentioning: "sticky")
        // With the sticky bit (as /tmp has) others cannot rename our entries: accepted.
        chmod(shared, 0o1777)
        _ = try withParallelConfig(tempFolder: shared) { try SharedArray(repeating: 1.0, count: 10) }

        // Parallel checks the folder when the call starts, before any task runs.
        let ran = Counter()
        await #expect {
            _ = try await Parallel(nJobs: 2, backend: .instance(MultiprocessingBackend()), tempFolder: file)(
                [PlainSumJob(values: [1], scale: 1)])
            ran.increment()
        } throws: { error in
            (error as? ParallelError)?.code == .invalidArgument && "\(error)".contains(file)
        }
        #expect(ran.value == 0)
    }

    /// The red team's attack on the stale-folder sweep: another user keeps swapping a stale
    /// private folder with a symlink to a folder of ours (renameat2 RENAME_EXCHANGE) in a 0777
    /// folder without the sticky bit, while we sweep. Working through descriptors with O_NOFOLLOW,
    /// the sweep never leaves the folder it opened: no file of the target may disappear.
    // Sweeps for 4 s without suspending, and waits for the attacker's exit: off the cooperative pool.
    @Test(
        "F1: a symlink swap by another user never redirects the sweep (needs root to play two users)",
        .offCooperativePool)
    func symlinkSwapCannotRedirectTheSweep() async throws {
        guard getuid() == 0, FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv"),
            FileManager.default.isExecutableFile(atPath: "/usr/bin/python3")
        else {
            print("skipped: playing an attacker as another user needs root, /usr/bin/setpriv and /usr/bin/python3")
            return
        }
        let base = try Self.makeBase("race")
        defer { try? FileManager.default.removeItem(atPath: base) }
        let shared = base + "/shared777"
        let precious = base + "/precious"
        try FileManager.default.createDirectory(atPath: shared, withIntermediateDirectories: false)
        chmod(shared, 0o777)
        try FileManager.default.createDirectory(atPath: precious, withIntermediateDirectories: false)
        let names = ["a", "b", "c", "d", "e", ".lock"]
        for name in names {
            #expect(FileManager.default.createFile(atPath: precious + "/" + name, contents: Data([7])))
        }

        // The attacker (uid 65534) swaps every parallelkit-* entry with a symlink to `precious`.
        let attacker = Process()
        attacker.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
        attacker.arguments = [
            "--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/python3", "-c", Self.attackerScript,
            shared, precious,
        ]
        try attacker.run()
        defer {
            kill(attacker.processIdentifier, SIGKILL)
            attacker.waitUntilExit()
        }
        let ready = await eventually(within: .seconds(20)) {
            FileManager.default.fileExists(atPath: shared + "/.attacker-ready")
        }
        #expect(ready, "the attacker did not start")

        // Stale folders of a dead owner (unlocked .lock), made in a folder the attacker cannot
        // reach and moved in whole (writing into them by path would itself follow a swapped link).
        let count = 40
        for round in 0..<count {
            let staging = base + "/staging"
            try FileManager.default.createDirectory(atPath: staging, withIntermediateDirectories: false)
            _ = FileManager.default.createFile(atPath: staging + "/.lock", contents: Data())
            for file in 0..<20 {
                _ = FileManager.default.createFile(atPath: staging + "/array-\(file)", contents: Data([1]))
            }
            #expect(rename(staging, shared + "/parallelkit-1-round\(round)") == 0)
        }
        // Sweep while the attacker swaps every one of them back and forth.
        _ = FileManager.default.createFile(atPath: shared + "/.go", contents: Data())
        let swapping = await eventually(within: .seconds(20)) {
            ((try? FileManager.default.contentsOfDirectory(atPath: shared)) ?? []).filter { $0.hasPrefix(".decoy-") }
                .count == count
        }
        #expect(swapping, "the attacker did not reach every folder")
        let until = ContinuousClock.now + .seconds(4)
        while ContinuousClock.now < until { TempFolder.sweepStaleFolders(in: shared) }
        let left = (try? FileManager.default.contentsOfDirectory(atPath: precious)) ?? []
        #expect(Set(left) == Set(names), "the sweep deleted files through a symlink: \(left)")
    }

    static let attackerScript = """
        import ctypes, os, sys, time
        folder, target = sys.argv[1], sys.argv[2]
        libc = ctypes.CDLL(None, use_errno=True)
        AT_FDCWD, RENAME_EXCHANGE = -100, 2
        def exchange(a, b):
            libc.renameat2(AT_FDCWD, a.encode(), AT_FDCWD, b.encode(), RENAME_EXCHANGE)
        open(os.path.join(folder, ".attacker-ready"), "w").close()
        # Idle until the stale folders are in place, so the busy loop lasts only while the sweep runs.
        while not os.path.exists(os.path.join(folder, ".go")): time.sleep(0.01)
        t0 = time.time()
        while time.time() - t0 < 20:
            for name in os.listdir(folder):
                if name.startswith("parallelkit-"):
                    path, decoy = os.path.join(folder, name), os.path.join(folder, ".decoy-" + name)
                    try: os.symlink(target, decoy)
                    except OSError: pass
                    for _ in range(50): exchange(path, decoy)
        """

    @Test("a private folder removed under us is replaced without closing descriptors a user of the old one holds")
    func removedPrivateFolderIsReplacedSafely() throws {
        let base = try Self.makeBase("replaced")
        defer { try? FileManager.default.removeItem(atPath: base) }
        // What a thread creating a file holds between looking the folder up and opening in it.
        let old = try TempFolder.shared.privateFolder(in: base)
        var info = stat()
        try #require(fstat(old.directoryFD, &info) == 0)
        let oldInode = info.st_ino
        try FileManager.default.removeItem(atPath: old.path)
        // Another thread finds it gone (ENOENT) and makes a new one.
        close(try TempFolder.shared.createUnlinkedFile(in: base))
        let new = try TempFolder.shared.privateFolder(in: base)
        #expect(new !== old && new.path != old.path)
        // The old folder's descriptors were not closed under its user: had they been, the
        // numbers could name other files by now (the new folder's, even with the old inode
        // number, which the file system reuses), and a file would be created there. Still the
        // removed folder: no links.
        #expect(fstat(old.directoryFD, &info) == 0 && info.st_ino == oldInode && info.st_nlink == 0)
        // A third thread that also found the old folder gone, late: the new one stays.
        TempFolder.shared.forget(old, of: base)
        #expect(try TempFolder.shared.privateFolder(in: base) === new)
    }
}

/// A thread-safe counter for tests.
final class Counter: Sendable {
    private let storage = LockedValue(0)
    func increment() { storage.withLock { $0 += 1 } }
    var value: Int { storage.withLock { $0 } }
}

/// F10 end to end: a program in another PID namespace (a container sharing the temp folder) uses
/// the same temp folder, so it sweeps it; our live private folder must survive. The other program
/// is this test binary, run under `unshare --pid` with `PARALLELKIT_TEST_SWEEP_FOLDER` set, where
/// `sweepFromTheEnvironment` makes a shared array in that folder (which sweeps it first).
// Reads the other run's output until it ends (a whole test binary's start): off the cooperative pool.
@Suite("Temp folder across PID namespaces", .serialized, .offCooperativePool)
struct TempFolderNamespaceTests {
    @Test("F10: a run in another PID namespace does not sweep a live process's folder (needs root)")
    func otherNamespaceKeepsOurFolder() async throws {
        guard getuid() == 0, FileManager.default.isExecutableFile(atPath: "/usr/bin/unshare") else {
            print("skipped: a PID namespace needs root and /usr/bin/unshare")
            return
        }
        let folder = try TempFolderSecurityTests.makeBase("namespace")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let ours = try withParallelConfig(tempFolder: folder) { try SharedArray(repeating: 1.0, count: 10) }
        let mine = try FileManager.default.contentsOfDirectory(atPath: folder).filter {
            $0.hasPrefix("parallelkit-\(getpid())-")
        }
        #expect(mine.count == 1)

        // The binary's real path: the child mounts its own /proc.
        let executable = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        let other = Process()
        other.executableURL = URL(fileURLWithPath: "/usr/bin/unshare")
        other.arguments = [
            "--pid", "--fork", "--mount-proc", executable, "--testing-library", "swift-testing",
            "--filter", "sweepFromTheEnvironment",
        ]
        other.environment = ["PARALLELKIT_TEST_SWEEP_FOLDER": folder, "PATH": "/usr/bin:/bin"]
        let output = Pipe()
        other.standardOutput = output
        other.standardError = output
        try other.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        other.waitUntilExit()
        #expect(other.terminationStatus == 0, "\(text.suffix(2000))")
        #expect(text.contains("swept from another PID namespace"), "the other run did sweep: \(text.suffix(2000))")
        // Our folder is alive (its lock is held), so it is still there and still usable.
        #expect(mine.allSatisfy { FileManager.default.fileExists(atPath: folder + "/" + $0) })
        let again = try withParallelConfig(tempFolder: folder) { try SharedArray(repeating: 2.0, count: 10) }
        #expect(again[0] == 2.0 && ours[0] == 1.0)
    }

    /// Runs only inside the child of `otherNamespaceKeepsOurFolder`.
    @Test func sweepFromTheEnvironment() throws {
        guard let folder = ProcessInfo.processInfo.environment["PARALLELKIT_TEST_SWEEP_FOLDER"] else { return }
        // In a new PID namespace this process is pid 1 or 2 and the parent's pid means nothing.
        let names = try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.hasPrefix("parallelkit-") }
        _ = try withParallelConfig(tempFolder: folder) { try SharedArray(repeating: 3.0, count: 10) }
        print("swept from another PID namespace (pid \(getpid())): \(names)")
    }
}
