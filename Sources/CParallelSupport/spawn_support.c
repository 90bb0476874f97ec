// posix_spawn helpers that the Glibc module does not export (they need _GNU_SOURCE).
#define _GNU_SOURCE
#include "CParallelWorkerHook.h"

#include <errno.h>
#include <spawn.h>

int pk_spawn_file_actions_close_from(posix_spawn_file_actions_t *actions, int lowest) {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
    return posix_spawn_file_actions_addclosefrom_np(actions, lowest);
#else
    (void)actions;
    (void)lowest;
    return ENOSYS;
#endif
}
