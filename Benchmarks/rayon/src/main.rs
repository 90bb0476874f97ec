//! Rayon's side of ParallelKit's benchmark rows (Benchmarks/README.md, "Rayon beside ParallelKit").
//! Prints one JSON object of timed samples, in seconds, on standard output:
//!   map        1M trivial items, (0..n).into_par_iter().map(square).collect() on 2 threads
//!   cpu.seq    the CPU-bound items in a plain loop; cpu.par the same through par_iter on 2 threads
//!   spawn      n tiny tasks, one rayon::scope spawn each (seconds per task)
//!   fixed2     one install + par_iter of 2 items (seconds per call, the mean over --calls calls)
//! Usage: rayon-bench --reps R --warmup W --trivial-n N --cpu-n N --spin-iterations I --spawn-n N --calls C
//! (W untimed repetitions first, 1 by default; the benchmark runs it once per Swift repetition with
//! --reps 1, so both sides are timed in the same rounds).

use rayon::prelude::*;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Instant;

/// The trivial item, as in the Swift rows: one real call per item.
#[inline(never)]
fn square(i: i64) -> i64 {
    i.wrapping_mul(i)
}

/// The CPU-bound item: the same xorshift loop as the Swift `spin`, step for step.
#[inline(never)]
fn spin(seed: i64, iterations: u64) -> u64 {
    let mut x: u64 = (seed as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut acc: u64 = 0;
    for _ in 0..iterations {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        acc = acc.wrapping_add(x);
    }
    acc
}

fn arg(args: &[String], name: &str, default: u64) -> u64 {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(default)
}

fn samples_json(name: &str, xs: &[f64]) -> String {
    let values: Vec<String> = xs.iter().map(|x| format!("{:e}", x)).collect();
    format!("\"{}\": [{}]", name, values.join(", "))
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let reps = arg(&args, "--reps", 5) as usize;
    let warmup = arg(&args, "--warmup", 1) as usize;
    let trivial_n = arg(&args, "--trivial-n", 1_000_000) as i64;
    let cpu_n = arg(&args, "--cpu-n", 200) as i64;
    let spin_iterations = arg(&args, "--spin-iterations", 1_000_000);
    let spawn_n = arg(&args, "--spawn-n", 100_000) as i64;
    let calls = arg(&args, "--calls", 2_000).max(1) as usize;

    let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().expect("a 2-thread pool");
    let expected: Vec<i64> = (0..trivial_n).map(square).collect();
    let (mut map, mut cpu_seq, mut cpu_par, mut spawn, mut fixed2) = (vec![], vec![], vec![], vec![], vec![]);
    let slots: Vec<AtomicI64> = (0..spawn_n).map(|_| AtomicI64::new(0)).collect();

    for rep in 0..(warmup + reps) {
        let timed = rep >= warmup;

        let t = Instant::now();
        let v: Vec<i64> = pool.install(|| (0..trivial_n).into_par_iter().map(square).collect());
        let s = t.elapsed().as_secs_f64();
        assert!(v == expected, "wrong map results");
        drop(v);
        if timed { map.push(s); }

        let t = Instant::now();
        let seq: Vec<u64> = (0..cpu_n).map(|i| spin(i, spin_iterations)).collect();
        let s_seq = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let par: Vec<u64> = pool.install(|| (0..cpu_n).into_par_iter().map(|i| spin(i, spin_iterations)).collect());
        let s_par = t.elapsed().as_secs_f64();
        assert!(seq == par, "wrong cpu results");
        if timed { cpu_seq.push(s_seq); cpu_par.push(s_par); }

        let t = Instant::now();
        pool.install(|| {
            rayon::scope(|sc| {
                for i in 0..spawn_n {
                    let slots = &slots;
                    sc.spawn(move |_| slots[i as usize].store(square(i), Ordering::Relaxed));
                }
            })
        });
        let s = t.elapsed().as_secs_f64();
        assert!(slots[(spawn_n - 1) as usize].load(Ordering::Relaxed) == square(spawn_n - 1));
        if timed { spawn.push(s / spawn_n as f64); }

        let t = Instant::now();
        let mut check = 0i64;
        for _ in 0..calls {
            let v: Vec<i64> = pool.install(|| (0..2i64).into_par_iter().map(square).collect());
            check = check.wrapping_add(v[1]);
        }
        let s = t.elapsed().as_secs_f64();
        assert!(check == calls as i64);
        if timed { fixed2.push(s / calls as f64); }
    }

    println!(
        "{{\"rayon_version\": \"1\", {}, {}, {}, {}, {}}}",
        samples_json("map", &map),
        samples_json("cpu.seq", &cpu_seq),
        samples_json("cpu.par", &cpu_par),
        samples_json("spawn", &spawn),
        samples_json("fixed2", &fixed2)
    );
}
