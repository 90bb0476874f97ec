#!/usr/bin/env bash
# Runs the test targets under ThreadSanitizer, as CI does:
#
#     Scripts/tsan.sh                      # every target below
#     Scripts/tsan.sh ParallelKitTests     # some of them
#
# The build passes -DPARALLELKIT_TSAN, under which LockedValue is a pthread mutex the sanitizer
# sees instead of Synchronization's Mutex, which it cannot see on Linux (Scripts/tsan-mutex-repro.swift).
# Each target runs in its own test process: together, on two cores, the sanitizer's slowdown stalls
# the whole process long enough for timing bounds (10–20 s "well within" checks) to fail.
#
# ParallelProcessTests is not in the default list: under the sanitizer its run stops part-way, in
# the tests whose workers crash on purpose (in 3 of 5 runs here the test process stopped writing in
# the middle of a line, during "retry after a crash…" or "maxFailures on worker processes", and
# never finished; not diagnosed). The runs that finished (24–98 s) reported no race. To try it:
# `Scripts/tsan.sh ParallelProcessTests`, which skips the tests the sanitizer cannot judge:
#   ChaosTests, FaultTests/segfaultIsReported, WorkerHardeningTests/corruptStatusPageIsRangeChecked:
#     they assert how a worker process dies (which signal, within the timeout); a worker is this
#     same sanitized binary, whose SIGSEGV handler reports and exits with status 66 instead;
#   FrameTests/randomStreamsNeverCrashTheReader, CodecFuzzTests: single-threaded fuzzing of the
#     parsers, with nothing for the sanitizer to check and by far the slowest under it.
# The cluster suites run with PARALLELKIT_CLUSTER_TESTS=0: their in-process parts (transport,
# handshake, settings) are checked; the ssh and SLURM calls skip themselves.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$PWD

targets=("$@")
if [[ ${#targets[@]} -eq 0 ]]; then
    targets=(ParallelCoreTests ParallelConfigurationTests ParallelThreadingTests ParallelKitTests
        ParallelRandomTests ParallelMemoryTests ConcurrentPerformBackendTests ParallelClusterTests)
fi
skip='ParallelProcessTests\.(ChaosTests/|FaultTests/segfaultIsReported|WorkerHardeningTests/corruptStatusPageIsRangeChecked|FrameTests/randomStreamsNeverCrashTheReader|CodecFuzzTests/)'
flags=(--sanitize=thread -Xswiftc -DPARALLELKIT_TSAN --scratch-path "$root/.build-tsan")

swift build --build-tests "${flags[@]}"

export TSAN_OPTIONS="halt_on_error=1 suppressions=$root/.ci/tsan-suppressions.txt"
export PARALLELKIT_CLUSTER_TESTS=0
for target in "${targets[@]}"; do
    start=$SECONDS
    swift test --skip-build "${flags[@]}" --filter "$target\\." --skip "$skip"
    printf '%s under ThreadSanitizer: ok in %ds\n' "$target" "$((SECONDS - start))"
done
