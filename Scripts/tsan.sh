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
# ParallelProcessTests is not in the default list. Under `swift test` its sanitized run stopped
# part-way in 3 of 5 runs here (in the tests whose workers crash on purpose, the output cut in the
# middle of a line, the run never finishing). The test binary run directly
# (`.build-tsan/debug/ParallelKitPackageTests.xctest --testing-library swift-testing --filter …`)
# finished in 84 s with no race reported; it failed only where the sanitizer changes what is
# measured: CrashStderrTests (the worker's crash report is the sanitizer's) and ResourceTests'
# leak counts (the sanitizer's own threads and descriptors). Those 84 s would put this CI stage
# well past its 3-minute budget, so the suite is a manual run:
# `Scripts/tsan.sh ParallelProcessTests`, which skips the tests the sanitizer cannot judge:
#   ChaosTests, FaultTests/segfaultIsReported, WorkerHardeningTests/corruptStatusPageIsRangeChecked:
#     they assert how a worker process dies (which signal, within the timeout); a worker is this
#     same sanitized binary, whose SIGSEGV handler reports and exits with status 66 instead;
#   CrashStderrTests and ResourceTests' two leak counts, for the reasons above;
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
skip='ParallelProcessTests\.(ChaosTests/|FaultTests/segfaultIsReported|WorkerHardeningTests/corruptStatusPageIsRangeChecked'
skip+='|CrashStderrTests/|ResourceTests/(eightOverlappingCalls|thousandCallsInARow)LeakNothing'
skip+='|FrameTests/randomStreamsNeverCrashTheReader|CodecFuzzTests/)'
flags=(--sanitize=thread -Xswiftc -DPARALLELKIT_TSAN --scratch-path "$root/.build-tsan")

swift build --build-tests "${flags[@]}"

export TSAN_OPTIONS="halt_on_error=1 suppressions=$root/.ci/tsan-suppressions.txt"
export PARALLELKIT_CLUSTER_TESTS=0
for target in "${targets[@]}"; do
    start=$SECONDS
    swift test --skip-build "${flags[@]}" --filter "$target\\." --skip "$skip"
    printf '%s under ThreadSanitizer: ok in %ds\n' "$target" "$((SECONDS - start))"
done
