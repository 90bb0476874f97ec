// The constructor that turns a re-executed ParallelKit binary into a worker process.
//
// Why a constructor: users should not have to write a line of code for process backends to work
// in a plain executable or inside `swift test`. The parent re-runs /proc/self/exe with
// PARALLELKIT_WORKER set; this constructor runs before main (and before XCTest / Swift Testing
// parse their arguments), and hands control to the Swift worker loop, which never returns.
//
// Why it may defer: with a statically linked Swift runtime, Foundation's and Dispatch's own
// constructors come after this one and have not run yet, so Swift code that touches them crashes
// or hangs (we tried: both happen). Then the constructor only records the request and
// `ParallelWorker.enterIfNeeded()`, called first thing in main, runs the loop.
//
// Why a target of its own: the linker keeps every object file of a target an executable depends
// on, constructors included. Only ParallelProcess depends on this target, so a program that links
// ParallelCore alone never runs this code.
#define _GNU_SOURCE
#include "CParallelWorkerHook.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

/// Defined with @_cdecl in ParallelProcess. Weak, so a binary that links CParallelSupport without
/// ParallelProcess still loads; such a worker exits with PK_WORKER_EXIT_NOT_LINKED.
extern void parallelkit_worker_main(void) __attribute__((weak));
/// Defined with @_cdecl in ParallelCluster: a worker that connects back to its parent over TCP.
extern void parallelkit_remote_worker_main(void) __attribute__((weak));

static pk_worker_request pk_request;
static int pk_state = PK_WORKER_NONE;

int pk_worker_current_state(void) { return __atomic_load_n(&pk_state, __ATOMIC_ACQUIRE); }

int pk_worker_copy_request(pk_worker_request *out) {
    if (pk_worker_current_state() == PK_WORKER_NONE) return 0;
    *out = pk_request;
    return 1;
}

int pk_worker_claim_deferred(void) {
    int expected = PK_WORKER_DEFERRED;
    return __atomic_compare_exchange_n(&pk_state, &expected, PK_WORKER_RUNNING, 0, __ATOMIC_ACQ_REL,
                                       __ATOMIC_ACQUIRE)
               ? 1
               : 0;
}

static char pk_connect_value[4096];
static int pk_swift_runtime_is_static(void);

const char *pk_worker_connect_value(void) {
    pk_worker_request request;
    if (!pk_worker_copy_request(&request) || !request.remote) return NULL;
    return pk_connect_value;
}

void pk_worker_run_remote(void) {
    if (parallelkit_remote_worker_main == NULL) {
        static const char message[] =
            "ParallelKit: this executable was started as a remote worker but does not link ParallelCluster\n";
        (void)!write(2, message, sizeof message - 1);
        _exit(PK_WORKER_EXIT_NOT_LINKED);
    }
    parallelkit_remote_worker_main(); // never returns
    _exit(0);
}

/// A worker on another machine (or started by srun/ssh): no descriptors were handed over, it
/// connects back to its parent over TCP (ParallelCluster). Only the request is recorded here;
/// the Swift side reads the secret, connects and proves it.
static void pk_remote_worker_constructor(const char *value) {
    size_t length = strlen(value);
    if (length >= sizeof pk_connect_value) {
        static const char message[] = "ParallelKit: ignoring an overlong PARALLELKIT_CONNECT variable\n";
        (void)!write(2, message, sizeof message - 1);
        unsetenv(PK_CONNECT_ENV);
        return;
    }
    memcpy(pk_connect_value, value, length + 1);
    unsetenv(PK_CONNECT_ENV);
    setvbuf(stdout, NULL, _IOLBF, 0);
    memset(&pk_request, 0, sizeof pk_request);
    pk_request.protocol_version = 1;
    pk_request.remote = 1;
    if (pk_swift_runtime_is_static()) {
        __atomic_store_n(&pk_state, PK_WORKER_DEFERRED, __ATOMIC_RELEASE);
        return;
    }
    __atomic_store_n(&pk_state, PK_WORKER_RUNNING, __ATOMIC_RELEASE);
    pk_worker_run_remote();
}

/// Parses one non-negative decimal field ending at `:` or the end of the string.
static int pk_parse_field(const char **cursor, long *value) {
    const char *start = *cursor;
    char *end = NULL;
    errno = 0;
    long parsed = strtol(start, &end, 10);
    if (errno != 0 || end == start || parsed < 0 || parsed > 0x7fffffffL) return 0;
    if (*end != ':' && *end != '\0') return 0;
    *value = parsed;
    *cursor = (*end == ':') ? end + 1 : end;
    return 1;
}

static int pk_parse_request(const char *text, pk_worker_request *out, long *request_inode, long *reply_inode) {
    long fields[7];
    const char *cursor = text;
    for (int i = 0; i < 7; i++) {
        if (!pk_parse_field(&cursor, &fields[i])) return 0;
    }
    if (*cursor != '\0') return 0;
    out->protocol_version = (int)fields[0];
    out->parent_pid = (pid_t)fields[1];
    out->request_fd = (int)fields[2];
    out->reply_fd = (int)fields[3];
    out->board_fd = (int)fields[4];
    out->remote = 0;
    *request_inode = fields[5];
    *reply_inode = fields[6];
    return out->protocol_version == 1 && out->request_fd > 2 && out->reply_fd > 2 && out->board_fd > 2;
}

/// The handshake only the parent can give: the request and reply descriptors must
/// be the very pipes the parent made, recognised by their inode numbers (which it put in the
/// variable; pipe inodes are not reused while either end is open). A stray variable, or one copied
/// into another program's environment with unrelated descriptors 3 to 5, fails this check.
static int pk_is_pipe_with_inode(int fd, long inode) {
    struct stat info;
    if (fstat(fd, &info) != 0) return 0;
    return S_ISFIFO(info.st_mode) && (long)(info.st_ino & 0x7fffffff) == inode;
}

/// Moves `fd` to a close-on-exec descriptor near the top of the descriptor table:
/// user code that writes to, closes or dup2s over "its" low descriptors cannot reach the protocol,
/// and programs a job starts do not inherit it. Returns the new descriptor, or -1.
static int pk_move_high(int fd, int base) {
    int high = fcntl(fd, F_DUPFD_CLOEXEC, base);
    if (high < 0) high = fcntl(fd, F_DUPFD_CLOEXEC, 10);
    if (high < 0) return -1;
    close(fd);
    return high;
}

/// The lowest descriptor the protocol moves to: 64 below the soft limit (at most 4096), so the
/// numbers a program allocates from the bottom never reach it.
static int pk_protocol_fd_base(void) {
    struct rlimit limit;
    long top = 1024;
    if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY) top = (long)limit.rlim_cur;
    if (top > 4096) top = 4096;
    long base = top - 64;
    return base < 10 ? 10 : (int)base;
}

/// Moves the three protocol descriptors up and points 3, 4 and 5 at /dev/null. Returns 0 on
/// failure (descriptor table full).
static int pk_relocate_protocol(pk_worker_request *request) {
    int base = pk_protocol_fd_base();
    int request_fd = pk_move_high(request->request_fd, base);
    int reply_fd = pk_move_high(request->reply_fd, base);
    int board_fd = pk_move_high(request->board_fd, base);
    if (request_fd < 0 || reply_fd < 0 || board_fd < 0) return 0;
    request->request_fd = request_fd;
    request->reply_fd = reply_fd;
    request->board_fd = board_fd;
    int null_fd = open("/dev/null", O_RDWR);
    if (null_fd >= 0) {
        for (int fd = 3; fd <= 5; fd++) {
            if (fd != null_fd) dup2(null_fd, fd);
        }
        if (null_fd > 5) close(null_fd);
    }
    return 1;
}

/// True when the Swift runtime lives in the main executable (a --static-swift-stdlib build).
/// dlsym finds swift_retain only where it is exported, which a static executable does not do; when
/// found, dladdr names the image that holds it. Unknown counts as static: deferring is safe, running
/// Swift too early is not.
static int pk_swift_runtime_is_static(void) {
    void *retain = dlsym(RTLD_DEFAULT, "swift_retain");
    if (retain == NULL) return 1;
    Dl_info runtime, self;
    if (dladdr(retain, &runtime) == 0 || dladdr((void *)&pk_worker_current_state, &self) == 0) return 1;
    return runtime.dli_fbase == self.dli_fbase;
}

static void pk_write_all(int fd, const unsigned char *bytes, size_t count) {
    while (count > 0) {
        ssize_t written = write(fd, bytes, count);
        if (written < 0 && errno == EINTR) continue;
        // The parent is gone or the fd is not ours: nothing to serve, leave quietly.
        if (written <= 0) _exit(0);
        bytes += written;
        count -= (size_t)written;
    }
}

/// The bootstrap frame: u32 little-endian body length, then kind, mode and our pid (i32 LE).
static void pk_send_bootstrap(int fd, unsigned char mode) {
    unsigned char frame[10];
    uint32_t length = 6;
    int32_t pid = (int32_t)getpid();
    for (int i = 0; i < 4; i++) frame[i] = (unsigned char)(length >> (8 * i));
    frame[4] = PK_FRAME_KIND_BOOTSTRAP;
    frame[5] = mode;
    for (int i = 0; i < 4; i++) frame[6 + i] = (unsigned char)((uint32_t)pid >> (8 * i));
    pk_write_all(fd, frame, sizeof frame);
}

__attribute__((constructor)) static void pk_worker_constructor(void) {
    const char *value = getenv(PK_WORKER_ENV);
    if (value == NULL) {
        const char *connect = getenv(PK_CONNECT_ENV);
        if (connect != NULL) pk_remote_worker_constructor(connect);
        return;
    }
    pk_worker_request request;
    long request_inode = -1, reply_inode = -1;
    int valid = pk_parse_request(value, &request, &request_inode, &reply_inode);
    // Children of this worker (a nested process backend inside a job) must start as ordinary
    // programs and receive their own request, so the variable goes away before anything else runs.
    unsetenv(PK_WORKER_ENV);
    if (!valid) {
        static const char message[] =
            "ParallelKit: ignoring a malformed PARALLELKIT_WORKER variable; running as a normal program\n";
        (void)!write(2, message, sizeof message - 1);
        return;
    }
    if (!pk_is_pipe_with_inode(request.request_fd, request_inode) ||
        !pk_is_pipe_with_inode(request.reply_fd, reply_inode) || fcntl(request.board_fd, F_GETFD) < 0) {
        // Not started by a ParallelKit parent (a stray or inherited variable): run main as usual.
        static const char message[] =
            "ParallelKit: ignoring PARALLELKIT_WORKER: its descriptors are not the pipes of a ParallelKit parent; "
            "running as a normal program\n";
        (void)!write(2, message, sizeof message - 1);
        return;
    }
    // The worker must not outlive its parent. The death signal is armed first and the parent is
    // checked after, so a parent that died in between is still noticed.
    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    if (getppid() != request.parent_pid) {
        // The pipes are a real parent's, but that parent has already ended: nothing to serve.
        static const char message[] = "ParallelKit: worker started after its parent ended; exiting\n";
        (void)!write(2, message, sizeof message - 1);
        _exit(0);
    }
    if (!pk_relocate_protocol(&request)) {
        static const char message[] = "ParallelKit: worker cannot move its protocol descriptors (descriptor table full)\n";
        (void)!write(2, message, sizeof message - 1);
        _exit(PK_WORKER_EXIT_NOT_LINKED);
    }
    // A job's print must reach the parent's terminal promptly and survive a crash of the worker.
    setvbuf(stdout, NULL, _IOLBF, 0);

    pk_request = request;
    if (pk_swift_runtime_is_static()) {
        __atomic_store_n(&pk_state, PK_WORKER_DEFERRED, __ATOMIC_RELEASE);
        pk_send_bootstrap(request.reply_fd, PK_BOOTSTRAP_MODE_DEFERRED);
        return;
    }
    __atomic_store_n(&pk_state, PK_WORKER_RUNNING, __ATOMIC_RELEASE);
    pk_send_bootstrap(request.reply_fd, PK_BOOTSTRAP_MODE_RUNNING);
    if (parallelkit_worker_main == NULL) {
        static const char message[] =
            "ParallelKit: this executable was started as a worker but does not link ParallelProcess\n";
        (void)!write(2, message, sizeof message - 1);
        _exit(PK_WORKER_EXIT_NOT_LINKED);
    }
    parallelkit_worker_main(); // never returns
    _exit(0);
}
