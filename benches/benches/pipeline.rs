//! Single-thread throughput of the whole per-point path, in points per second: a detector
//! producing a full `Verdict`, a `Watch` adding the alert policy, and the `Aggregator` that
//! turns raw events into per-minute points.
//!
//! As in `kernels`, state stays warm across iterations and each iteration pushes one chunk of
//! generated points; chunks are replayed whole weeks later so timestamps keep moving forward.
//!
//! Run: `cargo bench -p oddsight-benches --bench pipeline` (add `-- --test` for a smoke run;
//! set `ODDSIGHT_BENCH_CLOCK=thread` to time thread CPU rather than wall-clock time).

use criterion::measurement::Measurement;
use criterion::{BenchmarkId, Criterion, Throughput};
use oddsight_benches::{
    MINUTE_MS, MINUTES_PER_WEEK, START_MS, Series, ThreadTime, WEEK_MS, minute_latency, request_events,
    thread_clock_requested,
};
use oddsight_core::{
    AggregatorParams, BaselineDetector, Detector, DetectorParams, EwmaParams, Point, SeasonalParams,
    StrikePolicyParams, Watch, ZScore,
};
use std::hint::black_box;

/// Points pushed per iteration: one week of minutes.
const CHUNK: usize = MINUTES_PER_WEEK;

fn elements(n: usize) -> Throughput {
    Throughput::Elements(n as u64)
}

/// Splits a two-week series into a warm-up week and the measured week.
fn two_weeks(seed: u64) -> (Series, Series) {
    let s = minute_latency(2 * CHUNK, seed);
    let warm = Series { timestamps: s.timestamps[..CHUNK].to_vec(), values: s.values[..CHUNK].to_vec() };
    let chunk = Series { timestamps: s.timestamps[CHUNK..].to_vec(), values: s.values[CHUNK..].to_vec() };
    (warm, chunk)
}

/// `BaselineDetector<EwmaBaseline, ZScore>::observe`: score (expectation, z, p-value, anomaly
/// score, severity, confidence, band) then learn, one `Verdict` per point.
fn detector<M: Measurement>(c: &mut Criterion<M>) {
    let mut g = c.benchmark_group("detector");
    g.throughput(elements(CHUNK));
    let (warm, chunk) = two_weeks(11);
    let baseline = EwmaParams::default().build().expect("default parameters are valid");
    let mut d = BaselineDetector::new(baseline, ZScore, DetectorParams::default()).expect("valid parameters");
    for (&t, &x) in warm.timestamps.iter().zip(&warm.values) {
        d.observe(Point::new(t, x)).expect("finite, in order");
    }
    let mut offset = 0;
    g.bench_function(BenchmarkId::new("observe", "ewma/z"), |bench| {
        bench.iter(|| {
            offset += WEEK_MS;
            let mut anomalies = 0u64;
            for (&t, &x) in black_box(&chunk.timestamps).iter().zip(black_box(&chunk.values)) {
                if let Ok(v) = d.observe(Point::new(t + offset, x)) {
                    anomalies += u64::from(v.is_anomaly);
                }
            }
            anomalies
        })
    });
    g.finish();
}

/// `Watch<BaselineDetector<SeasonalBaseline, ZScore>, StrikePolicy>::push` with the default
/// three-strikes policy: the full per-point cost of watching one series.
fn watch<M: Measurement>(c: &mut Criterion<M>) {
    let mut g = c.benchmark_group("watch");
    g.throughput(elements(CHUNK));
    let (warm, chunk) = two_weeks(12);
    let baseline = SeasonalParams::default().build().expect("default parameters are valid");
    let detector = BaselineDetector::new(baseline, ZScore, DetectorParams::default()).expect("valid parameters");
    let mut w = Watch::new(detector, StrikePolicyParams::default().build().expect("default parameters are valid"));
    for (&t, &x) in warm.timestamps.iter().zip(&warm.values) {
        w.push(Point::new(t, x)).expect("finite, in order");
    }
    let mut offset = 0;
    g.bench_function(BenchmarkId::new("push", "seasonal/z/strikes"), |bench| {
        bench.iter(|| {
            offset += WEEK_MS;
            let mut events = 0usize;
            for (&t, &x) in black_box(&chunk.timestamps).iter().zip(black_box(&chunk.values)) {
                if let Ok(step) = w.push(Point::new(t + offset, x)) {
                    events += step.events.len();
                }
            }
            events
        })
    });
    g.finish();
}

/// `Aggregator::push` on raw request events (100 a minute) into one-minute intervals: count,
/// sum, min, max per event and an exact p95 per closed interval.
fn aggregator<M: Measurement>(c: &mut Criterion<M>) {
    let mut g = c.benchmark_group("aggregator");
    let n = 100 * CHUNK / 10;
    g.throughput(elements(n));
    let events = request_events(n, 100.0, 13);
    let last = events.timestamps.last().copied().unwrap_or(START_MS);
    // Whole minutes past the last event, so each replay lands strictly later.
    let replay = ((last - START_MS) / MINUTE_MS + 1) * MINUTE_MS;
    let mut agg = AggregatorParams::default().build().expect("default parameters are valid");
    let mut offset = 0;
    g.bench_function(BenchmarkId::new("push", "100/min"), |bench| {
        bench.iter(|| {
            let mut closed = 0usize;
            for (&t, &x) in black_box(&events.timestamps).iter().zip(black_box(&events.values)) {
                if let Ok(out) = agg.push(t + offset, x) {
                    closed += out.len();
                }
            }
            offset += replay;
            closed
        })
    });
    g.finish();
}

fn all<M: Measurement>(c: &mut Criterion<M>) {
    detector(c);
    watch(c);
    aggregator(c);
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
