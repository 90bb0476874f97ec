import Foundation

// When the system refuses a thread, a process or a descriptor, the user needs to know which limit
// said no and what to do. errno alone (EAGAIN) names none: it is the same for
// RLIMIT_NPROC, a pids cgroup, kernel.threads-max and, for threads, RLIMIT_AS too small for one
// more stack. So the message lists the limits in effect that could have refused it.

/// Describes the system limits behind a refused thread, process or descriptor.
package enum SystemLimits {
    /// What was being started, for messages.
    package enum Resource: String, Sendable {
        case thread = "a thread"
        case process = "a worker process"
    }

    /// A `.workerCrashed` error for a thread or process the system refused. Blames no task.
    /// - Parameters:
    ///   - resource: what could not be started.
    ///   - purpose: what it was for, such as "a lane of the threading backend".
    ///   - code: the errno from pthread_create, posix_spawn, pipe or memfd_create.
    package static func refused(_ resource: Resource, for purpose: String, code: Int32) -> ParallelError {
        let reason = String(cString: strerror(code))
        return ParallelError(
            .workerCrashed,
            "could not start \(resource.rawValue) for \(purpose): \(reason) (errno \(code)). "
                + limitsText(for: code, resource: resource)
                + " Lower nJobs, or raise the limit. No task was run by it; other calls are not affected.")
    }

    /// The limits that can cause `code`, with their values where they are finite.
    package static func limitsText(for code: Int32, resource: Resource) -> String {
        var limits: [String] = []
        if code == EMFILE || code == ENFILE {
            limits.append(
                "open files RLIMIT_NOFILE (ulimit -n) \(rlimitText(__rlimit_resource_t(RLIMIT_NOFILE.rawValue)))")
            if code == ENFILE { limits.append("the system-wide fs.file-max") }
            return "The limit on open file descriptors was reached: " + limits.joined(separator: "; ") + "."
        }
        limits.append("processes and threads per user RLIMIT_NPROC (ulimit -u) \(rlimitText(__rlimit_resource_t(6)))")
        if let pids = pidsCgroup() { limits.append("the pids cgroup (systemd TasksMax, container pids limit) \(pids)") }
        if let threadsMax = firstLine(of: Platform.threadsMaxPath) { limits.append("kernel.threads-max \(threadsMax)") }
        if resource == .thread || code == ENOMEM {
            limits.append(
                "address space RLIMIT_AS (ulimit -v) \(rlimitText(__rlimit_resource_t(RLIMIT_AS.rawValue))), each thread reserving an 8 MiB stack"
            )
        }
        return "A limit on processes, threads or memory refused it; in effect: " + limits.joined(separator: "; ") + "."
    }

    /// RLIMIT_NPROC is 6 on Linux (the Glibc module does not export its name).
    private static func rlimitText(_ resource: __rlimit_resource_t) -> String {
        var limit = rlimit()
        guard getrlimit(resource, &limit) == 0 else { return "(unknown)" }
        if limit.rlim_cur == rlim_t.max { return "unlimited" }
        return String(limit.rlim_cur)
    }

    /// "current/max" of this process's pids cgroup (v2, or v1's pids controller), when it has a limit.
    private static func pidsCgroup() -> String? {
        guard let text = try? String(contentsOfFile: Platform.cgroupMembershipPath, encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard fields.count == 3 else { continue }
            let folder: String
            if fields[1].isEmpty {
                folder = Platform.cgroupRoot + fields[2]
            } else if fields[1].split(separator: ",").contains("pids") {
                folder = Platform.cgroupRoot + "/pids" + fields[2]
            } else {
                continue
            }
            guard let maximum = firstLine(of: folder + "/pids.max"), maximum != "max" else { continue }
            return "\(firstLine(of: folder + "/pids.current") ?? "?")/\(maximum) in use"
        }
        return nil
    }

    private static func firstLine(of path: String) -> String? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        return text.split(separator: "\n").first.map(String.init)
    }
}
