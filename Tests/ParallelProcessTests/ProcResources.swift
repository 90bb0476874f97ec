import Foundation

/// What this process holds, read from /proc: the numbers the leak tests compare.
struct ProcResources: CustomStringConvertible {
    var fileDescriptors: Int
    var threads: Int
    var children: [Int32]
    var residentBytes: Int

    static func current() -> ProcResources {
        ProcResources(
            fileDescriptors: (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? -1,
            threads: (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task").count) ?? -1,
            children: childPIDs(of: getpid()),
            residentBytes: residentBytes())
    }

    var description: String {
        "fds \(fileDescriptors), threads \(threads), children \(children.count), RSS \(residentBytes >> 20) MiB"
    }

    /// Live (not zombie) processes whose parent is `pid`.
    static func childPIDs(of pid: Int32) -> [Int32] {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return [] }
        return entries.compactMap { Int32($0) }.filter { candidate in
            guard let stat = processStat(candidate) else { return false }
            return stat.parent == pid && stat.state != "Z"
        }
    }

    /// State letter and parent pid from /proc/<pid>/stat.
    static func processStat(_ pid: Int32) -> (state: Character, parent: Int32)? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = text.lastIndex(of: ")")
        else { return nil }
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard fields.count > 2, let state = fields[0].first, let parent = Int32(fields[1]) else { return nil }
        return (state, parent)
    }

    /// Whether `pid` has ended (gone, or a zombie awaiting its reaper).
    static func hasEnded(_ pid: Int32) -> Bool {
        guard let stat = processStat(pid) else { return true }
        return stat.state == "Z" || stat.state == "X"
    }

    static func residentBytes() -> Int {
        guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
            let line = text.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
            let kilobytes = Int(line.split(separator: " ").dropFirst().first ?? "")
        else { return -1 }
        return kilobytes * 1024
    }

    /// Threads of this process with `name` (as set with pthread_setname_np).
    static func threads(named name: String) -> Int {
        guard let tasks = try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task") else { return -1 }
        return tasks.filter { task in
            (try? String(contentsOfFile: "/proc/self/task/\(task)/comm", encoding: .utf8))?
                .trimmingCharacters(in: .whitespacesAndNewlines) == name
        }.count
    }
}

/// Waits until `condition` holds or `timeout` passes, checking every 10 ms; returns whether it
/// held. For conditions another process brings about (nothing here can be told when).
func eventually(within timeout: Duration, _ condition: () -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if condition() { return true }
        try? await Task.sleep(for: .milliseconds(10))
    }
    return condition()
}
