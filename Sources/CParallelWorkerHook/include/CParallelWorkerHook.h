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

#ifdef __cplusplus
}
#endif
#endif
