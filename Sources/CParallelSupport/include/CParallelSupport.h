// C shims for ParallelKit: Linux calls that Swift's Glibc module does not export (they need
// _GNU_SOURCE or are raw syscalls), kept tiny so the Swift side owns all policy.
#ifndef C_PARALLEL_SUPPORT_H
#define C_PARALLEL_SUPPORT_H

#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Number of CPUs in this thread's affinity mask (sched_getaffinity), or -1 when unknown.
int pk_affinity_cpu_count(void);

/// pipe2(fds, O_CLOEXEC). Returns 0 or -1 with errno set.
int pk_pipe2_cloexec(int fds[2]);

/// memfd_create(name, MFD_CLOEXEC). Returns an fd or -1 with errno set.
int pk_memfd_create(const char *name);

/// pidfd_open(pid, 0) through syscall(2). Returns an fd or -1 with errno set.
int pk_pidfd_open(pid_t pid);

/// prctl(PR_SET_PDEATHSIG, sig): the kernel sends `sig` to this process when its parent thread dies.
int pk_set_parent_death_signal(int sig);

/// fcntl(fd, F_SETPIPE_SZ, size). Returns the new capacity or -1.
int pk_set_pipe_size(int fd, int size);

/// pthread_setname_np(pthread_self(), name); names longer than 15 bytes are truncated.
void pk_set_current_thread_name(const char *name);

/// The calling thread's kernel thread id (gettid).
int pk_current_thread_id(void);

#ifdef __cplusplus
}
#endif
#endif

// Worker mode for the process backends (issue 3); kept in its own header.
#include "CParallelWorkerHook.h"
