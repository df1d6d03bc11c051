//! Every detector the specification language names, alone, and the investigation's ranking.
//!
//! - `detectors/observe_batch/<name>`: the detector built from its name with default
//!   parameters (`AnyDetector::parse`), warmed with one week of `minute_latency` (daily shape,
//!   AR(1) noise, rare +300 ms spikes; see `src/lib.rs`), then each iteration judges and learns
//!   the next day through `observe_batch`, one full `Verdict` per point. Days are replayed a
//!   week later each time so timestamps keep moving forward. `default` is the default detector;
//!   `ensemble` is `ensemble(seasonal, mad, cusum)`; `error_ratio` reads the latencies in
//!   seconds (a ratio in [0, 1]).
//! - `investigate/rank`: `oddsight_investigate::rank` over seeded incident cases from the
//!   case generator (default parameters), one case per iteration, in cases per second.
//!
//! Run: `cargo bench -p oddsight-benches --bench detectors` (add `-- --test` for a smoke run;
//! set `ODDSIGHT_BENCH_CLOCK=thread` to time thread CPU rather than wall-clock time).

use criterion::measurement::Measurement;
use criterion::{BenchmarkId, Criterion, Throughput};
use oddsight_benches::{
    MINUTES_PER_DAY, MINUTES_PER_WEEK, ThreadTime, WEEK_MS, minute_latency, thread_clock_requested,
};
use oddsight_core::Detector;
use oddsight_detectors::{AnyDetector, NAMES};
use oddsight_investigate::generate::GeneratorParams;
use oddsight_investigate::{RankingParams, rank};
use std::hint::black_box;

fn detectors<M: Measurement>(c: &mut Criterion<M>) {
    let mut g = c.benchmark_group("detectors");
    g.throughput(Throughput::Elements(MINUTES_PER_DAY as u64));
    g.sample_size(10);
    let s = minute_latency(MINUTES_PER_WEEK + MINUTES_PER_DAY, 11);
    let (warm_ts, day_ts) = s.timestamps.split_at(MINUTES_PER_WEEK);
    let (warm_xs, day_xs) = s.values.split_at(MINUTES_PER_WEEK);
    // The measured day follows the warm-up week; each iteration replays it a week later.
    let day_ts = day_ts.to_vec();
    let seconds: Vec<f64> = s.values.iter().map(|x| x / 1000.0).collect();
    for &(name, _) in NAMES {
        let spec = if name == "ensemble" { "ensemble(seasonal, mad, cusum)" } else { name };
        let (warm_xs, day_xs) =
            if name == "error_ratio" { seconds.split_at(MINUTES_PER_WEEK) } else { (warm_xs, day_xs) };
        let Ok(mut d) = AnyDetector::parse(spec) else {
            eprintln!("detectors/{name}: needs parameters, left out");
            continue;
        };
        if d.observe_batch(warm_ts, warm_xs).is_err() {
            eprintln!("detectors/{name}: refused the warm-up week, left out");
            continue;
        }
        let mut offset = 0;
        let mut ts = day_ts.clone();
        g.bench_function(BenchmarkId::new("observe_batch", name), |bench| {
            bench.iter(|| {
                for (t, base) in ts.iter_mut().zip(&day_ts) {
                    *t = base + offset;
                }
                offset += WEEK_MS;
                d.observe_batch(&ts, black_box(day_xs)).map(|v| v.len()).unwrap_or(0)
            })
        });
    }
    g.finish();
}

fn ranking<M: Measurement>(c: &mut Criterion<M>) {
    let mut g = c.benchmark_group("investigate");
    g.throughput(Throughput::Elements(1));
    let Ok(generator) = GeneratorParams::default().build() else {
        eprintln!("investigate/rank: the default case generator did not build");
        return;
    };
    let cases: Vec<_> = generator.cases(16).into_iter().map(|c| c.case).collect();
    let params = RankingParams::default();
    let mut k = 0;
    g.bench_function("rank", |bench| {
        bench.iter(|| {
            k = (k + 1) % cases.len();
            rank(black_box(&cases[k]), &params, &[]).map(|r| r.services.len()).unwrap_or(0)
        })
    });
    g.finish();
}

fn all<M: Measurement>(c: &mut Criterion<M>) {
    detectors(c);
    ranking(c);
}

/// `criterion_main!`, with the clock chosen by `ODDSIGHT_BENCH_CLOCK` (see `ThreadTime`).
fn main() {
    if thread_clock_requested() {
        all(&mut Criterion::default().with_measurement(ThreadTime).configure_from_args());
    } else {
        all(&mut Criterion::default().configure_from_args());
    }
    Criterion::default().configure_from_args().final_summary();
}
