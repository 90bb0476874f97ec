// A stand-in for an old C library, for the process examples: it keeps its state in globals and
// trusts its input, as much C written before threads did.
#ifndef PROCESS_EXAMPLES_LEGACY_C_H
#define PROCESS_EXAMPLES_LEGACY_C_H

/// Sets the library's global scale factor (one per process).
void legacy_set_scale(int factor);

/// Adds the global scale factor `count` times, yielding the CPU between reads. Correct only when
/// no other thread calls legacy_set_scale meanwhile: the library is not thread-safe.
long legacy_scaled_sum(int count);

/// Returns the number after the ':' of a "name:value" record. A record without ':' makes it read
/// address 1: a segmentation fault, as a real parser's missing NULL check would.
int legacy_parse_field(const char *record);

#endif
