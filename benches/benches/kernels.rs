//! Single-thread throughput of the baseline kernels, in points per second.
//!
//! Every bench keeps one baseline warm across iterations (the steady state a long-running
//! series is in) and pushes one chunk of generated points per iteration; criterion reports the
//! time per chunk and, from `Throughput::Elements`, points per second. Data come from the
//! seeded generators in `oddsight_benches`, so figures are comparable across commits.
//!
//! Run: `cargo bench -p oddsight-benches --bench kernels` (add `-- --test` for a smoke run;
//! set `ODDSIGHT_BENCH_CLOCK=thread` to time thread CPU rather than wall-clock time).

use criterion::measurement::Measurement;
use criterion::{BenchmarkId, Criterion, Throughput};
use oddsight_benches::{
    MINUTES_PER_DAY, MINUTES_PER_WEEK, ThreadTime, gaussian, lognormal, minute_latency, thread_clock_requested,
};
use oddsight_core::{Baseline, EwmaParams, QuantileSketchParams, QuantileWindowParams, SeasonalParams, WindowParams};
use std::hint::black_box;

/// Points pushed per iteration: one week of minutes.
const CHUNK: usize = MINUTES_PER_WEEK;

fn elements(n: usize) -> Throughput {
    Throughput::Elements(n as u64)
}

/// `EwmaBaseline::z` then `EwmaBaseline::learn` per point: the inner loop of every EWMA
/// detector, without the verdict around it.
fn ewma<M: Measurement>(c: &mut Criterion<M>) {
    let mut g = c.benchmark_group("ewma");
    g.throughput(elements(CHUNK));
    for (name, data) in [("iid", gaussian(CHUNK, 1)), ("telemetry", minute_latency(CHUNK, 2).values)] {
        let mut b = EwmaParams::default().build().expect("default parameters are valid");
        data.iter().for_each(|&x| b.learn(x));
        g.bench_function(BenchmarkId::new("z+learn", name), |bench| {
            bench.iter(|| {
                let mut beyond = 0u64;
                for &x in black_box(data.as_slice()) {
                    beyond += u64::from(b.z(x).abs() > 3.0);
                    b.learn(x);
                }
                beyond
            })
        });
    }
    g.finish();
}

/// Exact sliding mean and variance (`WindowBaseline::learn`), at the default window of an hour
/// of minutes and at a day.
fn window<M: Measurement>(c: &mut Criterion<M>) {
    let mut g = c.benchmark_group("window");
    g.throughput(elements(CHUNK));
    let data = minute_latency(CHUNK, 3).values;
    for w in [60, MINUTES_PER_DAY] {
        let mut b = WindowParams::default().window(w).build().expect("valid window");
        data.iter().for_each(|&x| b.learn(x));
        g.bench_function(BenchmarkId::new("learn", format!("w{w}")), |bench| {
            bench.iter(|| {
                for &x in black_box(data.as_slice()) {
                    b.learn(x);
                }
                b.mean()
            })
        });
    }
    g.finish();
}

/// Sliding median and MAD over a day of minutes (`QuantileWindow::learn` then `robust`), on
/// iid noise (leaving and arriving ranks unrelated: the worst case) and on telemetry (the
/// leaving point is the same minute yesterday, close in rank). `learn` alone is there to split
/// the cost.
fn quantile_window<M: Measurement>(c: &mut Criterion<M>) {
    let mut g = c.benchmark_group("quantile_window");
    g.throughput(elements(CHUNK));
    let warm = |seed: u64| {
        let mut w = QuantileWindowParams::default().window(MINUTES_PER_DAY).build().expect("valid window");
        gaussian(MINUTES_PER_DAY, seed).iter().for_each(|&x| w.learn(x));
        w
    };
    let iid = gaussian(CHUNK, 4);
    let telemetry = minute_latency(CHUNK + MINUTES_PER_DAY, 5).values;
    for (name, data) in [("iid", &iid[..]), ("telemetry", &telemetry[MINUTES_PER_DAY..])] {
        let mut w = warm(6);
        if name == "telemetry" {
            telemetry[..MINUTES_PER_DAY].iter().for_each(|&x| w.learn(x));
        }
        let mut only_learn = w.clone();
        g.bench_function(BenchmarkId::new("learn+robust", name), |bench| {
            bench.iter(|| {
                let mut acc = 0.0;
                for &x in black_box(data) {
                    w.learn(x);
                    if let Some((_, scale, _)) = w.robust() {
                        acc += scale;
                    }
                }
                acc
            })
        });
        g.bench_function(BenchmarkId::new("learn", name), |bench| {
            bench.iter(|| {
                for &x in black_box(data) {
                    only_learn.learn(x);
                }
                only_learn.median()
            })
        });
    }
    g.finish();
}

/// `SeasonalBaseline` (default: hour of week, hour of day, global) judging then learning
/// per-minute points: `expect(t)` then `learn(t, x)`, as a detector does.
fn seasonal<M: Measurement>(c: &mut Criterion<M>) {
    let mut g = c.benchmark_group("seasonal");
    g.throughput(elements(CHUNK));
    let s = minute_latency(2 * CHUNK, 7);
    let (warmup, chunk) = s.timestamps.split_at(CHUNK);
    let (warm_values, values) = s.values.split_at(CHUNK);
    let mut b = SeasonalParams::default().build().expect("default parameters are valid");
    warmup.iter().zip(warm_values).for_each(|(&t, &x)| b.learn(t, x));
    let mut offset = 0;
    g.bench_function("expect+learn", |bench| {
        bench.iter(|| {
            let mut acc = 0.0;
            for (&t, &x) in black_box(chunk).iter().zip(black_box(values)) {
                let t = t + offset;
                acc += (x - b.expect(t).center).abs();
                b.learn(t, x);
            }
            // Replay the same week a week later, so timestamps keep moving forward.
            offset += oddsight_benches::WEEK_MS;
            acc
        })
    });
    g.finish();
}

/// `QuantileSketch::add` on lognormal latencies spanning four orders of magnitude.
fn sketch<M: Measurement>(c: &mut Criterion<M>) {
    let mut g = c.benchmark_group("sketch");
    g.throughput(elements(CHUNK));
    let data = lognormal(CHUNK, 8);
    let mut s = QuantileSketchParams::default().build().expect("default parameters are valid");
    data.iter().for_each(|&x| s.add(x).expect("finite"));
    g.bench_function("add", |bench| {
        bench.iter(|| {
            let mut ok = 0u64;
            for &x in black_box(data.as_slice()) {
                ok += u64::from(s.add(x).is_ok());
            }
            ok
        })
    });
    g.finish();
}

fn all<M: Measurement>(c: &mut Criterion<M>) {
    ewma(c);
    window(c);
    quantile_window(c);
    seasonal(c);
    sketch(c);
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
