// C shims for ParallelKit: Linux calls that Swift's Glibc module does not export (they need
// _GNU_SOURCE or are raw syscalls), kept tiny so the Swift side owns all policy.
#ifndef C_PARALLEL_SUPPORT_H
#define C_PARALLEL_SUPPORT_H

#include <spawn.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Number of CPUs in this thread's affinity mask (sched_getaffinity), or -1 when unknown.
int pk_affinity_cpu_count(void);

/// pipe2(fds, O_CLOEXEC). Returns 0 or -1 with errno set.
int pk_pipe2_cloexec(int fds[2]);

/// accept4(fd, address, length, SOCK_CLOEXEC): the connection is close-on-exec from the start,
/// so a process another thread spawns meanwhile cannot inherit it. Returns an fd or -1 with errno set.
int pk_accept_cloexec(int fd, struct sockaddr *address, socklen_t *length);

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

/// Runs SHA-256's block function over `blocks` 64-byte blocks at `data`, updating `state`
/// (eight words). Padding and the rest of the hash are the caller's (ParallelCore's SHA256).
void pk_sha256_blocks(uint32_t state[8], const uint8_t *data, size_t blocks);

#ifdef __cplusplus
}
#endif
#endif
