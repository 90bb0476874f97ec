import Foundation
import Glibc
import ParallelCore

// Shared memory is committed with posix_fallocate so that running out shows up as an error at
// creation instead of a SIGBUS at first write. But shmem has no size limit of its own: asking a
// memfd for more than the machine has does not fail with ENOSPC, it wakes the OOM killer (a test
// asking for 1 PiB got the test process killed). So the size is checked against what is free
// first: memory for memfds and tmpfs, the file system's free blocks for other folders.

/// How much a new shared segment may take.
enum AvailableSpace {
    /// Memory kept free for everything else when sizing a segment.
    static let memoryMargin = 64 << 20

    /// Fails unless `byteCount` more bytes fit in the file system holding `fd` (and, for memfds
    /// and tmpfs, in memory).
    static func check(byteCount: Int, fd: Int32, isAnonymous: Bool) throws {
        guard byteCount > 0 else { return }
        var inMemory = isAnonymous
        if !isAnonymous {
            // Files in /dev/shm and other tmpfs folders live in memory too.
            inMemory = Platform.isInMemoryFileSystem(fd) ?? false
            var fileSystem = statvfs()
            if fstatvfs(fd, &fileSystem) == 0 {
                let free = Int(clamping: UInt64(fileSystem.f_bavail) &* UInt64(fileSystem.f_frsize))
                if byteCount > free {
                    throw SystemError(
                        "shared memory of \(byteCount) bytes: the temp folder has \(free) bytes free", ENOSPC)
                }
            }
        }
        if inMemory, let available = availableMemory(), byteCount > available - memoryMargin {
            throw SystemError(
                "shared memory of \(byteCount) bytes: only \(max(0, available - memoryMargin)) bytes of memory can be spared",
                ENOMEM)
        }
    }

    /// Memory the kernel could give now: MemAvailable, or less under a cgroup limit.
    static func availableMemory() -> Int? {
        var candidates: [Int] = []
        if let meminfo = try? String(contentsOfFile: Platform.memoryInfoPath, encoding: .utf8),
            let line = meminfo.split(separator: "\n").first(where: { $0.hasPrefix("MemAvailable:") }),
            let kilobytes = Int(line.split(separator: " ").dropFirst().first ?? "")
        {
            candidates.append(kilobytes * 1024)
        }
        for (limitPath, usagePath) in Platform.cgroupMemoryFiles {
            guard let limit = readNumber(limitPath), let usage = readNumber(usagePath), limit < Int.max / 2 else {
                continue
            }
            candidates.append(max(0, limit - usage))
        }
        return candidates.min()
    }

    private static func readNumber(_ path: String) -> Int? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        return Int(text.trimmingCharacters(in: .whitespacesAndNewlines))
    }
}
