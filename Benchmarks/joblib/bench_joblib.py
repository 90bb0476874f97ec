#!/usr/bin/env python3
"""joblib side of the ParallelKit benchmark.

Runs the same workloads as the Swift executable `ParallelBenchmarks` in joblib and writes one JSON
object to stdout (progress goes to stderr). The Swift executable runs this script through
Foundation.Process and merges the figures into its table, so both sides are measured in the same
run on the same machine.

Method: every configuration gets one warm-up call, then
`--reps` timed calls; the Swift side takes the medians. All samples are in the JSON, and the
trivial workload's warm-up times too (`first`: for loky, the call that starts the workers).

Workloads:
  trivial  `i * i`, N tasks (default 100 000): plain loop (a list comprehension), n_jobs=1,
           threading / loky / multiprocessing with n_jobs=2 and auto batching.
           Per-task overhead = (median - median plain loop) / N.
  cpu      a pure-Python integer loop calibrated at start-up to about 5 ms, N tasks (default
           200): plain loop, n_jobs=1, threading / loky / multiprocessing n_jobs=2.
           Speed-up = median plain loop / median.
  cold     time from the call to the first result of 2 tasks with 2 workers:
           loky in a fresh interpreter (and, for reference, after its reusable executor was shut
           down in this one), and multiprocessing
           (which starts a pool for every call).

If joblib cannot be imported, the JSON is {"error": "..."} and the exit status is 0, so the Swift
table still prints (with "n/a" in the joblib rows).
"""

import argparse
import json
import os
import platform
import statistics
import sys
import time


def trivial(i):
    return i * i


def cpu_task(k):
    # A deterministic integer loop; k is calibrated so one call takes about --cpu-ms.
    acc = 0
    for j in range(k):
        acc = (acc * 31 + j) % 1000003
    return acc


def log(msg):
    print(f"[bench_joblib] {msg}", file=sys.stderr, flush=True)


def timed(fn):
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def measure(fn, reps):
    """One warm-up call, then `reps` timed calls. Returns (warm-up seconds, samples in seconds).
    The warm-up is kept apart: for loky it is the interpreter's first call, which starts the
    workers (the "cold call")."""
    first = timed(fn)
    return first, [timed(fn) for _ in range(reps)]


def calibrate_cpu(target_s):
    k = 20_000
    while True:
        t = min(timed(lambda: cpu_task(k)) for _ in range(3))
        if t >= 0.002:
            break
        k *= 2
    k = max(1, int(k * target_s / t))
    samples = [timed(lambda: cpu_task(k)) for _ in range(7)]
    return k, statistics.median(samples)


def shutdown_loky():
    from joblib.externals.loky import get_reusable_executor
    get_reusable_executor().shutdown(wait=True, kill_workers=True)


def first_result(backend):
    """Seconds from the call to the first result of 2 tasks on 2 workers."""
    from joblib import Parallel, delayed
    tasks = (delayed(trivial)(i) for i in range(2))
    t0 = time.perf_counter()
    if backend == "multiprocessing":
        # joblib's multiprocessing backend has no return_as="generator": the 2 tasks run at once
        # on the 2 workers, so the list is complete about when the first result is.
        Parallel(n_jobs=2, backend=backend)(tasks)
        return time.perf_counter() - t0
    gen = Parallel(n_jobs=2, backend=backend, return_as="generator")(tasks)
    next(gen)
    t = time.perf_counter() - t0
    for _ in gen:
        pass
    return t


def cold_child(backend):
    """Runs first_result in a fresh interpreter and returns its figure."""
    import subprocess
    r = subprocess.run([sys.executable, os.path.abspath(__file__), "--cold-child", backend],
                       check=True, capture_output=True, text=True)
    return float(r.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--trivial-n", type=int, default=100_000)
    ap.add_argument("--cpu-n", type=int, default=200)
    ap.add_argument("--cpu-ms", type=float, default=5.0)
    ap.add_argument("--cold-reps", type=int, default=None)
    ap.add_argument("--cold-child", metavar="BACKEND",
                    help="internal: print one cold first-result time and exit")
    ap.add_argument("--quick", action="store_true",
                    help="small N and 1 repetition (smoke test)")
    args = ap.parse_args()
    if args.quick:
        args.reps = 1
        args.trivial_n = min(args.trivial_n, 10_000)
        args.cpu_n = min(args.cpu_n, 40)
    if args.cold_child:
        import joblib  # noqa: F401 - imported before the clock starts, as in a real program
        print(first_result(args.cold_child))
        return
    cold_reps = args.cold_reps if args.cold_reps is not None else args.reps

    try:
        import joblib
        from joblib import Parallel, delayed
    except Exception as e:  # noqa: BLE001 - any import failure means "no joblib"
        json.dump({"error": f"cannot import joblib: {e!r}"}, sys.stdout)
        print()
        return

    out = {
        "joblib_version": joblib.__version__,
        "python": platform.python_version(),
        "cpu_count": joblib.cpu_count(),
        "reps": args.reps,
        "trivial": {"n": args.trivial_n, "samples": {}},
        "cpu": {"n": args.cpu_n, "samples": {}},
        "cold": {"samples": {}},
    }

    # --- trivial -------------------------------------------------------------------------------
    n = args.trivial_n
    configs = [
        ("plain", lambda: [trivial(i) for i in range(n)]),
        ("n_jobs_1", lambda: Parallel(n_jobs=1)(delayed(trivial)(i) for i in range(n))),
        ("threading", lambda: Parallel(n_jobs=2, backend="threading")(
            delayed(trivial)(i) for i in range(n))),
        ("loky", lambda: Parallel(n_jobs=2, backend="loky")(
            delayed(trivial)(i) for i in range(n))),
        ("multiprocessing", lambda: Parallel(n_jobs=2, backend="multiprocessing")(
            delayed(trivial)(i) for i in range(n))),
    ]
    out["trivial"]["first"] = {}
    for name, fn in configs:
        log(f"trivial N={n} {name}")
        first, samples = measure(fn, args.reps)
        out["trivial"]["first"][name] = first
        out["trivial"]["samples"][name] = samples

    # --- cpu -----------------------------------------------------------------------------------
    k, task_s = calibrate_cpu(args.cpu_ms / 1000.0)
    out["cpu"]["iterations"] = k
    out["cpu"]["task_ms"] = task_s * 1000.0
    log(f"cpu task calibrated: k={k}, {task_s * 1000:.2f} ms")
    m = args.cpu_n
    configs = [
        ("plain", lambda: [cpu_task(k) for _ in range(m)]),
        ("n_jobs_1", lambda: Parallel(n_jobs=1)(delayed(cpu_task)(k) for _ in range(m))),
        ("threading", lambda: Parallel(n_jobs=2, backend="threading")(
            delayed(cpu_task)(k) for _ in range(m))),
        ("loky", lambda: Parallel(n_jobs=2, backend="loky")(
            delayed(cpu_task)(k) for _ in range(m))),
        ("multiprocessing", lambda: Parallel(n_jobs=2, backend="multiprocessing")(
            delayed(cpu_task)(k) for _ in range(m))),
    ]
    for name, fn in configs:
        log(f"cpu N={m} {name}")
        out["cpu"]["samples"][name] = measure(fn, args.reps)[1]

    # --- cold start to first result, 2 workers ----------------------------------------------------
    # "fresh": a new interpreter per sample (joblib already imported, as a program would have it
    # before its first Parallel call): the real first call of a program. "reused interpreter":
    # the loky executor is shut down and the call is repeated in this interpreter.
    cold_child("loky")  # warm-up (page cache, as the other configurations get)
    samples = []
    for _ in range(cold_reps):
        samples.append(cold_child("loky"))
    out["cold"]["samples"]["loky"] = samples
    log(f"cold loky (fresh interpreter): {samples}")
    samples = []
    for _ in range(cold_reps):
        shutdown_loky()
        samples.append(first_result("loky"))
    shutdown_loky()
    out["cold"]["samples"]["loky_reused_interpreter"] = samples
    log(f"cold loky (reused interpreter): {samples}")
    first_result("multiprocessing")  # warm-up
    samples = [first_result("multiprocessing") for _ in range(cold_reps)]
    out["cold"]["samples"]["multiprocessing"] = samples
    log(f"cold multiprocessing: {samples}")

    json.dump(out, sys.stdout)
    print()


if __name__ == "__main__":
    main()
