//! The monitor, single thread: 10,000 series × 1,440 points (a day of minutes) per iteration,
//! through one target selecting every series, then one `tick` reporting what fired. In points
//! per second.
//!
//! - `monitor/ingest_batch/{ewma,seasonal}`: each series' day in one `Monitor::ingest_batch`
//!   call (what a host does with a scrape buffer or a file), series after series.
//! - `monitor/ingest_batch/ewma_unreachable`: the same with a policy no point can reach
//!   (`threshold(0.9999)`, |z| ≈ 226): the monitor's own cost, with no point ever judged.
//! - `monitor/ingest_point/ewma`: minute after minute, one `Monitor::ingest_id` call per series
//!   and point (a live feed, series interleaved), so per-call overhead and cache misses on
//!   10,000 states show.
//!
//! Data: 64 seeded `minute_latency` days (daily shape, AR(1) noise, rare +300 ms spikes; see
//! `src/lib.rs`), series `k` replaying day `k % 64`. Every series is warmed with one day before
//! measuring; each iteration replays the day a week later, so seasonal phases stay put and
//! timestamps keep moving forward. The policy is the default three strikes, so the spikes
//! raise strikes (and the occasional alert) on the full path while calm points take the quiet
//! path.
//!
//! Run: `cargo bench -p oddsight-benches --bench monitor` (add `-- --test` for a smoke run).

use criterion::measurement::Measurement;
use criterion::{BenchmarkId, Criterion, SamplingMode, Throughput};
use oddsight_benches::{MINUTES_PER_DAY, START_MS, ThreadTime, WEEK_MS, minute_latency, thread_clock_requested};
use oddsight_core::StrikePolicyParams;
use oddsight_detectors::monitor::{Monitor, SeriesId, TargetConfig};
use std::hint::black_box;
use std::time::Duration;

const SERIES: usize = 10_000;
const POINTS: usize = MINUTES_PER_DAY;
/// Distinct generated days, shared round-robin by the series.
const DAYS: usize = 64;

struct Fleet {
    monitor: Monitor,
    ids: Vec<SeriesId>,
    /// One day of timestamps from `START_MS`.
    timestamps: Vec<i64>,
    days: Vec<Vec<f64>>,
    /// Added to `timestamps` for the next day pushed.
    offset: i64,
}

impl Fleet {
    fn new(spec: &str, policy: StrikePolicyParams) -> Self {
        let mut monitor = Monitor::new();
        let target = TargetConfig::new("latency", "latency_ms", spec).policy(policy);
        monitor.add_target(target).expect("a valid target");
        let ids = (0..SERIES)
            .map(|k| monitor.series_id(&format!("latency_ms{{host=\"h{k}\"}}")).expect("a valid series name"))
            .collect();
        let days: Vec<Vec<f64>> = (0..DAYS).map(|d| minute_latency(POINTS, 1000 + d as u64).values).collect();
        let timestamps = minute_latency(POINTS, 0).timestamps;
        let mut fleet = Fleet { monitor, ids, timestamps, days, offset: 0 };
        let events = fleet.batches(); // the warm-up day
        eprintln!("monitor/{spec}: {SERIES} series warmed up with a day each, {events} events reported");
        fleet
    }

    /// The next day of every series, one batch per series; returns the events reported.
    fn batches(&mut self) -> usize {
        let ts: Vec<i64> = self.timestamps.iter().map(|t| t + self.offset).collect();
        for (k, &id) in self.ids.iter().enumerate() {
            if self.monitor.ingest_batch(id, &ts, black_box(&self.days[k % DAYS])).is_err() {
                return 0;
            }
        }
        self.offset += WEEK_MS;
        self.monitor.tick(ts[POINTS - 1]).len()
    }

    /// The next day of every series, minute by minute, one call per point.
    fn points(&mut self) -> usize {
        for (i, &t) in self.timestamps.iter().enumerate() {
            let t = t + self.offset;
            for (k, &id) in self.ids.iter().enumerate() {
                if self.monitor.ingest_id(id, t, black_box(self.days[k % DAYS][i])).is_err() {
                    return 0;
                }
            }
        }
        self.offset += WEEK_MS;
        self.monitor.tick(START_MS + self.offset).len()
    }
}

fn monitor<M: Measurement>(c: &mut Criterion<M>) {
    let mut g = c.benchmark_group("monitor");
    g.throughput(Throughput::Elements((SERIES * POINTS) as u64));
    // An iteration is 14.4 M points (0.1 to 1 s): ten flat samples of one iteration each.
    g.sampling_mode(SamplingMode::Flat).sample_size(10).warm_up_time(Duration::from_millis(500));
    // Fleets are built on first use, so that a filtered run builds only what it measures.
    let unreachable = StrikePolicyParams::threshold(0.9999);
    for (name, spec, policy) in [
        ("ewma", "ewma", StrikePolicyParams::default()),
        ("seasonal", "seasonal", StrikePolicyParams::default()),
        ("ewma_unreachable", "ewma", unreachable),
    ] {
        let mut fleet = None;
        g.bench_function(BenchmarkId::new("ingest_batch", name), |b| {
            let fleet = fleet.get_or_insert_with(|| Fleet::new(spec, policy.clone()));
            b.iter(|| fleet.batches())
        });
    }
    let mut fleet = None;
    g.bench_function(BenchmarkId::new("ingest_point", "ewma"), |b| {
        let fleet = fleet.get_or_insert_with(|| Fleet::new("ewma", StrikePolicyParams::default()));
        b.iter(|| fleet.points())
    });
    g.finish();
}

/// `criterion_main!`, with the clock chosen by `ODDSIGHT_BENCH_CLOCK` (see `ThreadTime`).
fn main() {
    if thread_clock_requested() {
        monitor(&mut Criterion::default().with_measurement(ThreadTime).configure_from_args());
    } else {
        monitor(&mut Criterion::default().configure_from_args());
    }
    Criterion::default().configure_from_args().final_summary();
}
