#define _GNU_SOURCE
#include "CParallelSupport.h"

#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

int pk_affinity_cpu_count(void) {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof(set), &set) != 0) return -1;
    return CPU_COUNT(&set);
}

int pk_pipe2_cloexec(int fds[2]) { return pipe2(fds, O_CLOEXEC); }

int pk_accept_cloexec(int fd, struct sockaddr *address, socklen_t *length) {
    return accept4(fd, address, length, SOCK_CLOEXEC);
}

int pk_memfd_create(const char *name) { return memfd_create(name, MFD_CLOEXEC); }

int pk_pidfd_open(pid_t pid) {
#ifdef SYS_pidfd_open
    return (int)syscall(SYS_pidfd_open, pid, 0);
#else
    return (int)syscall(434, pid, 0);
#endif
}

int pk_set_parent_death_signal(int sig) { return prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0); }

int pk_set_pipe_size(int fd, int size) { return fcntl(fd, F_SETPIPE_SZ, size); }

void pk_set_current_thread_name(const char *name) {
    char buffer[16];
    strncpy(buffer, name, sizeof(buffer) - 1);
    buffer[sizeof(buffer) - 1] = '\0';
    pthread_setname_np(pthread_self(), buffer);
}

int pk_current_thread_id(void) { return (int)syscall(SYS_gettid); }
