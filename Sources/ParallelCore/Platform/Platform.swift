import CParallelSupport
import Glibc

/// The operating-system services ParallelKit uses that POSIX does not define, in one place.
///
/// Everything else in the library is POSIX (`posix_spawn`, `poll`, `mmap`, pipes, signals,
/// pthreads) or the Swift toolchain's own modules. What is here is Linux's: `memfd_create`,
/// `pidfd_open`, `pipe2`, `F_SETPIPE_SZ`, `posix_spawn`'s close-from action, `gettid`, thread
/// names, the affinity mask, and the files of `/proc` and the cgroup hierarchy. The C side of
/// these calls is the `CParallelSupport` target; the parent-death signal that a worker arms before
/// `main` is in the `CParallelWorkerHook` target. A port to another system reimplements this enum
/// and those two targets (the README's "Platforms" section lists what each call must become).
///
/// - Concurrency: every member is safe from any thread.
package enum Platform {
    // MARK: Processes

    /// A path that runs this executable again, to start workers.
    package static let currentExecutablePath = "/proc/self/exe"

    /// A path through which a process of the same user opens descriptor `fd` of process `pid`
    /// (how a worker maps the shared memory its parent created, without passing descriptors).
    package static func descriptorPath(process pid: Int32, fd: Int32) -> String {
        "/proc/\(pid)/fd/\(fd)"
    }

    /// A descriptor that becomes readable when process `pid` ends (`pidfd_open`), or -1 with
    /// `errno` set.
    package static func openProcessHandle(_ pid: pid_t) -> Int32 {
        pk_pidfd_open(pid)
    }

    /// A file whose state field (after the command name in parentheses) says whether process
    /// `pid` runs, sleeps or is stopped (`T`, `t`).
    package static func processStatusPath(process pid: Int32) -> String {
        "/proc/\(pid)/stat"
    }

    /// Adds "close every descriptor from `lowest` up" to a spawn's file actions. Returns 0, or an
    /// error number where the C library cannot (then only close-on-exec descriptors are closed).
    package static func closeDescriptors(
        from lowest: Int32, in actions: UnsafeMutablePointer<posix_spawn_file_actions_t>
    ) -> Int32 {
        pk_spawn_file_actions_close_from(actions, lowest)
    }

    // MARK: Descriptors and memory

    /// A pipe whose two ends are close-on-exec from the start (`pipe2(O_CLOEXEC)`), so no
    /// concurrent spawn inherits it. Returns 0, or -1 with `errno` set.
    package static func makePipe(_ fds: UnsafeMutablePointer<Int32>) -> Int32 {
        pk_pipe2_cloexec(fds)
    }

    /// Asks for a pipe buffer of `bytes`; returns the new capacity or -1 (a refusal only costs
    /// speed).
    @discardableResult
    package static func setPipeCapacity(_ fd: Int32, bytes: Int32) -> Int32 {
        pk_set_pipe_size(fd, bytes)
    }

    /// An anonymous, close-on-exec shared-memory file (`memfd_create`), or -1 with `errno` set.
    /// It disappears with the last descriptor or mapping of it, however the program ends.
    package static func makeAnonymousSharedMemory(name: String) -> Int32 {
        pk_memfd_create(name)
    }

    /// Whether the file of `fd` lives in memory (tmpfs, shmem) rather than on a disk; nil when
    /// unknown.
    package static func isInMemoryFileSystem(_ fd: Int32) -> Bool? {
        switch pk_fd_is_in_memory(fd) {
        case 1: true
        case 0: false
        default: nil
        }
    }

    /// Where the kernel reports the memory it could give now (`MemAvailable:` in kilobytes).
    package static let memoryInfoPath = "/proc/meminfo"

    /// cgroup v2 and v1 files of the memory limit and the current usage, in bytes.
    package static let cgroupMemoryFiles: [(limit: String, usage: String)] = [
        ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
        ("/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory/memory.usage_in_bytes"),
    ]

    // MARK: Threads and CPUs

    /// The calling thread's system-wide id (`gettid`).
    package static func currentThreadID() -> Int32 {
        pk_current_thread_id()
    }

    /// Names the calling thread, as debuggers and `/proc/<pid>/task/<tid>/comm` show it (at most
    /// 15 bytes are kept).
    package static func setCurrentThreadName(_ name: String) {
        pk_set_current_thread_name(name)
    }

    /// The number of CPUs in the calling thread's affinity mask, or nil when unknown.
    package static func affinityCPUCount() -> Int? {
        let count = Int(pk_affinity_cpu_count())
        return count > 0 ? count : nil
    }

    /// The system-wide limit on threads (`kernel.threads-max`), for error messages.
    package static let threadsMaxPath = "/proc/sys/kernel/threads-max"

    /// This process's cgroup membership (`hierarchy:controllers:path` lines).
    package static let cgroupMembershipPath = "/proc/self/cgroup"

    /// Where the cgroup v2 hierarchy is mounted; v1 controllers are folders below it (`pids/`).
    package static let cgroupRoot = "/sys/fs/cgroup"

    /// The cgroup v2 CPU quota file (`cpu.max`: "max 100000" or "150000 100000").
    package static let cgroupCPUMaxPath = "/sys/fs/cgroup/cpu.max"

    /// The cgroup v1 CPU quota files (quota and period, in microseconds).
    package static let cgroupCPUQuotaV1Paths = (
        quota: "/sys/fs/cgroup/cpu/cpu.cfs_quota_us", period: "/sys/fs/cgroup/cpu/cpu.cfs_period_us"
    )
}
