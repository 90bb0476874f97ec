// Worker mode for ParallelKit's process backends. A worker is this same executable re-executed
// by posix_spawn with PARALLELKIT_WORKER in its environment. A constructor (worker_hook.c) reads
// that variable before main runs; these functions let the Swift side see what it found.
#ifndef C_PARALLEL_WORKER_HOOK_H
#define C_PARALLEL_WORKER_HOOK_H

#include <spawn.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/// The environment variable that turns a process into a worker. Its value is
/// "<protocol>:<parent pid>:<request fd>:<reply fd>:<status board fd>".
#define PK_WORKER_ENV "PARALLELKIT_WORKER"

/// What the constructor found at start-up.
typedef enum {
    /// Not a worker: the program runs normally.
    PK_WORKER_NONE = 0,
    /// A worker whose Swift runtime was ready in the constructor; the worker loop runs there.
    PK_WORKER_RUNNING = 1,
    /// A worker in a binary with a statically linked Swift runtime: the constructor could not run
    /// Swift yet, so `ParallelWorker.enterIfNeeded()` must start the loop from main.
    PK_WORKER_DEFERRED = 2,
} pk_worker_state;

/// The worker request decoded from the environment.
typedef struct {
    int protocol_version;
    pid_t parent_pid;
    int request_fd;
    int reply_fd;
    int board_fd;
} pk_worker_request;

/// The current state (see `pk_worker_state`).
int pk_worker_current_state(void);

/// Copies the decoded request into `out`. Returns 1 when this process is a worker, else 0.
int pk_worker_copy_request(pk_worker_request *out);

/// Atomically moves a deferred request to RUNNING. Returns 1 for the one caller that should now
/// run the worker loop, 0 otherwise (not a worker, or already running).
int pk_worker_claim_deferred(void);

/// Frame kind and modes of the bootstrap frame the constructor writes on the reply fd, so the
/// parent learns at once that the executable understood the request (see README "Frames").
#define PK_FRAME_KIND_BOOTSTRAP 1
#define PK_BOOTSTRAP_MODE_RUNNING 1
#define PK_BOOTSTRAP_MODE_DEFERRED 2

/// Exit status of a worker that cannot run: ParallelProcess is not linked into the executable.
#define PK_WORKER_EXIT_NOT_LINKED 121

/// Adds "close every descriptor from `lowest` up" to a spawn's file actions, so a worker inherits
/// only the descriptors it is given: the parent's other descriptors that lack O_CLOEXEC (a file
/// being written, a socket) must not live on in long-lived workers. Returns 0, or ENOSYS where
/// the C library lacks posix_spawn_file_actions_addclosefrom_np (glibc before 2.34).
int pk_spawn_file_actions_close_from(posix_spawn_file_actions_t *actions, int lowest);

/// 1 when `fd` lives in a memory-backed file system (tmpfs, ramfs, shmem), 0 when not, -1 when
/// unknown. Shared arrays in such a folder take memory, not disk (fstatfs is not in the Glibc
/// module).
int pk_fd_is_in_memory(int fd);

/// Relaxed-enough atomics on memory shared between processes (the status board): Swift's
/// Synchronization module has no atomic view of raw memory, so these wrap the C builtins.
static inline uint64_t pk_atomic_load_u64(const uint64_t *address) {
    return __atomic_load_n(address, __ATOMIC_ACQUIRE);
}
static inline void pk_atomic_store_u64(uint64_t *address, uint64_t value) {
    __atomic_store_n(address, value, __ATOMIC_RELEASE);
}

#ifdef __cplusplus
}
#endif
#endif
