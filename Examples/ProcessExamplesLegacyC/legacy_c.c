#include "legacy_c.h"

#include <sched.h>
#include <stdlib.h>
#include <string.h>

static volatile int scale_factor = 1;

void legacy_set_scale(int factor) { scale_factor = factor; }

long legacy_scaled_sum(int count) {
    long total = 0;
    for (int i = 0; i < count; i++) {
        total += scale_factor;
        // Give other threads the chance to run mid-computation, as real work would.
        if (i % 64 == 0) sched_yield();
    }
    return total;
}

int legacy_parse_field(const char *record) {
    const char *colon = strchr(record, ':');
    return atoi(colon + 1);
}
