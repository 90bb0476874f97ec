// Worker mode for ParallelKit's process backends. A worker is this same executable re-executed
// by posix_spawn with PARALLELKIT_WORKER in its environment. A constructor (worker_hook.c) reads
// that variable before main runs; these functions let the Swift side see what it found.
#ifndef C_PARALLEL_WORKER_HOOK_H
#define C_PARALLEL_WORKER_HOOK_H

#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/// The environment variable that turns a process into a worker. Its value is
/// "<protocol>:<parent pid>:<request fd>:<reply fd>:<status board fd>:<request pipe inode>:<reply
/// pipe inode>" (inodes masked to 31 bits). The inodes are the handshake: a process becomes a worker
/// only when those descriptors are the parent's pipes. The constructor then moves the three
/// descriptors to close-on-exec numbers near the top of the table and points 3, 4 and 5 at
/// /dev/null; `pk_worker_copy_request` reports the moved numbers.
#define PK_WORKER_ENV "PARALLELKIT_WORKER"

/// The environment variable that starts a worker on another machine (the "slurm" and "ssh"
/// backends): it connects back to its parent over TCP. Its value is parsed by ParallelCluster.
#define PK_CONNECT_ENV "PARALLELKIT_CONNECT"

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
    /// 1 for a worker started by PK_CONNECT_ENV (no descriptors: it connects back over TCP).
    int remote;
} pk_worker_request;

/// The current state (see `pk_worker_state`).
int pk_worker_current_state(void);

/// Copies the decoded request into `out`. Returns 1 when this process is a worker, else 0.
int pk_worker_copy_request(pk_worker_request *out);

/// Atomically moves a deferred request to RUNNING. Returns 1 for the one caller that should now
/// run the worker loop, 0 otherwise (not a worker, or already running).
int pk_worker_claim_deferred(void);

/// The value PK_CONNECT_ENV had (the variable itself is removed at start-up), or NULL when this
/// process is not a remote worker.
const char *pk_worker_connect_value(void);

/// Runs the remote worker (ParallelCluster's `parallelkit_remote_worker_main`); never returns.
/// Exits with PK_WORKER_EXIT_NOT_LINKED when ParallelCluster is not linked in.
void pk_worker_run_remote(void) __attribute__((noreturn));

/// Frame kind and modes of the bootstrap frame the constructor writes on the reply fd, so the
/// parent learns at once that the executable understood the request (see README "Frames").
#define PK_FRAME_KIND_BOOTSTRAP 1
#define PK_BOOTSTRAP_MODE_RUNNING 1
#define PK_BOOTSTRAP_MODE_DEFERRED 2

/// Exit status of a worker that cannot run: ParallelProcess is not linked into the executable.
#define PK_WORKER_EXIT_NOT_LINKED 121

#ifdef __cplusplus
}
#endif
#endif
