//! Seeded data generators for the oddsight benchmarks.
//!
//! Every generator is a pure function of its arguments: the same `(n, seed)` gives the same
//! data bit for bit on every machine, so bench figures can be compared across commits and
//! the Python comparison in `benches/compare/` can time pandas on exactly the series we time.
//!
//! | generator | shape |
//! |---|---|
//! | [`gaussian`] | iid `N(100, 10²)` |
//! | [`minute_latency`] | per-minute p50 latency in ms: daily and weekly seasonality, AR(1) noise, rare spikes |
//! | [`lognormal`] | iid request latencies in ms, `exp(N(ln 100, 1))`: four orders of magnitude |
//! | [`request_events`] | raw request events: Poisson arrivals at a given rate, lognormal latencies |
//!
//! The random source is [`SplitMix64`], written out here rather than taken from `rand` so that
//! the stream can never change under a dependency upgrade and is trivially reproducible in
//! another language.

use criterion::measurement::{Measurement, ValueFormatter, WallTime};
use std::f64::consts::TAU;
use std::time::Duration;

/// One minute in milliseconds.
pub const MINUTE_MS: i64 = 60_000;
/// One day in milliseconds.
pub const DAY_MS: i64 = 24 * 60 * MINUTE_MS;
/// One week in milliseconds.
pub const WEEK_MS: i64 = 7 * DAY_MS;
/// Minutes in a day: the sliding-window length the quantile benches use.
pub const MINUTES_PER_DAY: usize = 1440;
/// Minutes in a week: the chunk most benches push per iteration, so that replaying a chunk
/// shifted by whole weeks keeps every seasonal phase where it was.
pub const MINUTES_PER_WEEK: usize = 7 * MINUTES_PER_DAY;
/// 2026-11-23T00:00:00Z, a Monday: where generated time series start.
pub const START_MS: i64 = 1_795_392_000_000;

/// The SplitMix64 generator (Steele, Lea & Flood 2014): 64 bits of state, one add and three
/// xor-shift-multiplies per output, passes BigCrush. Plenty for bench data.
#[derive(Debug, Clone)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        SplitMix64 { state: seed }
    }

    /// The next 64 random bits.
    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `(0, 1]`, from the top 53 bits (never 0, so its logarithm is finite).
    #[inline]
    pub fn uniform(&mut self) -> f64 {
        ((self.next_u64() >> 11) + 1) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Standard normal, by the Box–Muller transform (one output per two uniforms, no caching,
    /// so the stream is a plain function of the call count).
    #[inline]
    pub fn gaussian(&mut self) -> f64 {
        let u1 = self.uniform();
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (TAU * u2).cos()
    }
}

/// A time series: timestamps in Unix ms, one value each.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Unix milliseconds, non-decreasing.
    pub timestamps: Vec<i64>,
    /// The values, all finite.
    pub values: Vec<f64>,
}

impl Series {
    /// Number of points.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Whether there are no points.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}

/// `n` iid draws from `N(100, 10²)`: the worst case for a sliding median, since the leaving
/// and arriving values have unrelated ranks (a third of the window apart on average).
pub fn gaussian(n: usize, seed: u64) -> Vec<f64> {
    let mut rng = SplitMix64::new(seed);
    (0..n).map(|_| 100.0 + 10.0 * rng.gaussian()).collect()
}

/// `n` per-minute points of a service's median latency in ms, starting Monday 00:00 UTC
/// ([`START_MS`]):
///
/// ```text
/// value = max(1, 120 · daily(t) · weekly(t) + noise(t) + spike(t))
/// daily  = 1 + 0.5 · sin(2π (hour − 8) / 24)       peak 180 ms at 14:00, trough 60 ms at 02:00
/// weekly = 0.7 on Saturday and Sunday, else 1
/// noise  = AR(1), φ = 0.6, innovations N(0, 6²)     (stationary sd 7.5 ms)
/// spike  = +300 ms with probability 0.002            (about three a day)
/// ```
///
/// A day-long window over it sees the leaving point (same minute yesterday) close in rank to
/// the arriving one, which is what real telemetry looks like to a sliding median.
pub fn minute_latency(n: usize, seed: u64) -> Series {
    let mut rng = SplitMix64::new(seed);
    let mut ar = 0.0;
    let mut timestamps = Vec::with_capacity(n);
    let mut values = Vec::with_capacity(n);
    for i in 0..n {
        let t = START_MS + i as i64 * MINUTE_MS;
        let minute_of_week = i % MINUTES_PER_WEEK;
        let hour = (minute_of_week % MINUTES_PER_DAY) as f64 / 60.0;
        let daily = 1.0 + 0.5 * (TAU * (hour - 8.0) / 24.0).sin();
        let weekly = if minute_of_week >= 5 * MINUTES_PER_DAY { 0.7 } else { 1.0 };
        ar = 0.6 * ar + 6.0 * rng.gaussian();
        let spike = if rng.uniform() < 0.002 { 300.0 } else { 0.0 };
        timestamps.push(t);
        values.push((120.0 * daily * weekly + ar + spike).max(1.0));
    }
    Series { timestamps, values }
}

/// `n` iid request latencies in ms, `exp(N(ln 100, 1))`: median 100 ms, p99 ≈ 1 s, with a
/// tail reaching tens of seconds. What a quantile sketch summarises.
pub fn lognormal(n: usize, seed: u64) -> Vec<f64> {
    let mut rng = SplitMix64::new(seed);
    (0..n).map(|_| (100f64.ln() + rng.gaussian()).exp()).collect()
}

/// `n` raw request events from [`START_MS`] on: Poisson arrivals at `per_minute` events a
/// minute on average (exponential gaps, whole milliseconds), each with a [`lognormal`]
/// latency. What an aggregator turns into per-minute statistics.
pub fn request_events(n: usize, per_minute: f64, seed: u64) -> Series {
    let mut rng = SplitMix64::new(seed);
    let mean_gap = MINUTE_MS as f64 / per_minute;
    let mut t = START_MS;
    let mut timestamps = Vec::with_capacity(n);
    let mut values = Vec::with_capacity(n);
    for _ in 0..n {
        t += (-rng.uniform().ln() * mean_gap) as i64;
        timestamps.push(t);
        values.push((100f64.ln() + rng.gaussian()).exp());
    }
    Series { timestamps, values }
}

/// The environment variable that switches the benches from wall-clock time to [`ThreadTime`]:
/// `ODDSIGHT_BENCH_CLOCK=thread cargo bench -p oddsight-benches`.
pub const CLOCK_VAR: &str = "ODDSIGHT_BENCH_CLOCK";

/// Whether [`CLOCK_VAR`] asks for [`ThreadTime`].
pub fn thread_clock_requested() -> bool {
    std::env::var(CLOCK_VAR).is_ok_and(|v| v == "thread")
}

/// A criterion measurement of the CPU time of the benchmarking thread
/// (`CLOCK_THREAD_CPUTIME_ID`), for shared machines: time the thread spends preempted by other
/// processes is not counted, so medians reflect what one core does rather than how busy the
/// machine was. On a quiet machine it agrees with wall-clock time. Outside 64-bit Linux it falls
/// back to wall-clock time.
#[derive(Debug, Clone, Copy, Default)]
pub struct ThreadTime;

#[cfg(all(target_os = "linux", target_pointer_width = "64"))]
fn thread_cpu_time() -> Duration {
    #[repr(C)]
    struct Timespec {
        tv_sec: i64,
        tv_nsec: i64,
    }
    unsafe extern "C" {
        fn clock_gettime(clock: i32, tp: *mut Timespec) -> i32;
    }
    const CLOCK_THREAD_CPUTIME_ID: i32 = 3;
    let mut t = Timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `t` is a valid, writable `struct timespec` (two 64-bit fields on 64-bit Linux),
    // and the clock id is a constant the kernel always supports.
    let rc = unsafe { clock_gettime(CLOCK_THREAD_CPUTIME_ID, &mut t) };
    if rc != 0 {
        return Duration::ZERO;
    }
    Duration::new(t.tv_sec.max(0) as u64, t.tv_nsec.clamp(0, 999_999_999) as u32)
}

#[cfg(not(all(target_os = "linux", target_pointer_width = "64")))]
fn thread_cpu_time() -> Duration {
    use std::sync::OnceLock;
    use std::time::Instant;
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now).elapsed()
}

impl Measurement for ThreadTime {
    type Intermediate = Duration;
    type Value = Duration;

    fn start(&self) -> Duration {
        thread_cpu_time()
    }
    fn end(&self, start: Duration) -> Duration {
        thread_cpu_time().saturating_sub(start)
    }
    fn add(&self, a: &Duration, b: &Duration) -> Duration {
        *a + *b
    }
    fn zero(&self) -> Duration {
        Duration::ZERO
    }
    fn to_f64(&self, value: &Duration) -> f64 {
        value.as_nanos() as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        // Nanoseconds, like wall-clock time, so criterion's own formatting applies.
        static WALL: WallTime = WallTime;
        WALL.formatter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thread_time_counts_work() {
        let clock = ThreadTime;
        let start = clock.start();
        let mut x = 1u64;
        for i in 0..5_000_000u64 {
            x = std::hint::black_box(x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(i));
        }
        let spent = clock.end(start);
        assert!(spent > Duration::from_micros(100) && spent < Duration::from_secs(60), "{spent:?} ({x})");
        assert_eq!(clock.add(&spent, &clock.zero()), spent);
    }

    #[test]
    fn generators_are_deterministic_and_shaped() {
        assert_eq!(gaussian(100, 7), gaussian(100, 7));
        assert_ne!(gaussian(100, 7), gaussian(100, 8));

        let g = gaussian(100_000, 1);
        let mean = g.iter().sum::<f64>() / g.len() as f64;
        let sd = (g.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / g.len() as f64).sqrt();
        assert!((mean - 100.0).abs() < 0.2 && (sd - 10.0).abs() < 0.2, "{mean} {sd}");

        let s = minute_latency(MINUTES_PER_WEEK, 1);
        assert_eq!(s.len(), MINUTES_PER_WEEK);
        assert!(s.timestamps.windows(2).all(|w| w[1] - w[0] == MINUTE_MS));
        assert!(s.values.iter().all(|v| v.is_finite() && *v >= 1.0));
        // Monday 14:00 is busier than Monday 02:00 and than Saturday 14:00.
        let at = |day: usize, hour: usize| {
            let i = day * MINUTES_PER_DAY + hour * 60;
            s.values[i..i + 30].iter().sum::<f64>() / 30.0
        };
        assert!(at(0, 14) > 2.0 * at(0, 2) && at(0, 14) > at(5, 14) * 1.2);

        let e = request_events(10_000, 100.0, 3);
        assert!(e.timestamps.windows(2).all(|w| w[1] >= w[0]));
        let minutes = (e.timestamps[e.len() - 1] - START_MS) as f64 / MINUTE_MS as f64;
        assert!((minutes - 100.0).abs() < 10.0, "{minutes}");

        let mut l = lognormal(10_001, 5);
        l.sort_by(f64::total_cmp);
        assert!((l[5000] / 100.0 - 1.0).abs() < 0.1, "{}", l[5000]);
    }
}
