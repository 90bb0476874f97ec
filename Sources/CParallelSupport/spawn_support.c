// Helpers for the process backends that the Glibc module does not export (they need _GNU_SOURCE
// or Linux headers): posix_spawn's closefrom action and the file system type of a descriptor.
#define _GNU_SOURCE
#include "CParallelSupport.h"

#include <errno.h>
#include <linux/magic.h>
#include <spawn.h>
#include <sys/vfs.h>

int pk_spawn_file_actions_close_from(posix_spawn_file_actions_t *actions, int lowest) {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
    return posix_spawn_file_actions_addclosefrom_np(actions, lowest);
#else
    (void)actions;
    (void)lowest;
    return ENOSYS;
#endif
}

int pk_fd_is_in_memory(int fd) {
    struct statfs info;
    if (fstatfs(fd, &info) != 0) return -1;
    return (info.f_type == TMPFS_MAGIC || info.f_type == RAMFS_MAGIC) ? 1 : 0;
}
