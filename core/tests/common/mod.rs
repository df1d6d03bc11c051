//! Helpers shared by the integration tests: a seeded RNG, proptest configuration, value and
//! series strategies, the detector line-up, and bit-exact comparisons.
//!
//! Every strategy here is run under a fixed seed (derived from the test's name), so a run is
//! reproducible without regression files.
#![allow(dead_code)] // each test binary uses a different subset

use oddsight_core::{
    BaselineDetector, Detector, DetectorParams, EwmaBaseline, EwmaParams, Point, QuantileWindow, QuantileWindowParams,
    SeasonalBaseline, SeasonalParams, Verdict, WindowBaseline, WindowParams,
};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed, TestCaseError, TestRunner};
use std::fmt::Debug;

/// SplitMix64: a tiny, well-mixed, seedable generator, so the scenarios need no `rand`.
#[derive(Debug, Clone)]
pub(crate) struct SplitMix64(u64);

impl SplitMix64 {
    pub(crate) fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    pub(crate) fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Standard normal (Box–Muller; one draw per call is enough here).
    pub(crate) fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.uniform(); // (0, 1], so the log is finite
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }

    /// Uniform integer in `0..n` (`n > 0`).
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

/// FNV-1a of a test name: the seed of its proptest runner.
fn seed_of(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

/// A proptest configuration with a fixed seed and no regression files.
pub(crate) fn config(cases: u32, name: &str) -> Config {
    Config {
        cases,
        rng_seed: RngSeed::Fixed(seed_of(name)),
        failure_persistence: None,
        max_shrink_iters: 512,
        ..Config::default()
    }
}

/// Runs `test` on `cases` values of `strategy` under a seed derived from `name`; panics with the
/// minimal failing input on failure.
pub(crate) fn check<S>(name: &str, cases: u32, strategy: S, test: impl Fn(S::Value) -> Result<(), TestCaseError>)
where
    S: Strategy,
    S::Value: Debug,
{
    let mut runner = TestRunner::new(config(cases, name));
    if let Err(e) = runner.run(&strategy, test) {
        panic!("{name}: {e}");
    }
}

// ---------------------------------------------------------------------------------------------
// Values and series

/// Ordinary values: what telemetry usually looks like.
pub(crate) fn moderate() -> BoxedStrategy<f64> {
    prop_oneof![-1e3..1e3f64, 0.0..1e6f64, (-20i32..20).prop_map(f64::from)].boxed()
}

/// Any finite value up to 1e300 in magnitude: huge, tiny, subnormal, signed zeros, integers.
pub(crate) fn wild() -> BoxedStrategy<f64> {
    prop_oneof![
        3 => moderate(),
        1 => -1e300..1e300f64,
        1 => (-300i32..=300, -9.99..9.99f64).prop_map(|(e, m)| m * 10f64.powi(e)),
        1 => -1e-300..1e-300f64,
        1 => prop::sample::select(vec![
            0.0,
            -0.0,
            1e300,
            -1e300,
            f64::MIN_POSITIVE,
            -f64::MIN_POSITIVE,
            5e-324,
            -5e-324,
            1.0,
            1e-9,
        ]),
    ]
    .boxed()
}

/// Large but not huge: squares of differences stay finite (the variance-based baselines
/// overflow beyond, see `regressions.rs`).
pub(crate) fn big() -> BoxedStrategy<f64> {
    prop_oneof![
        3 => moderate(),
        1 => -1e150..1e150f64,
        1 => (-150i32..=150, -9.99..9.99f64).prop_map(|(e, m)| m * 10f64.powi(e)),
        1 => -1e-300..1e-300f64,
        1 => prop::sample::select(vec![0.0, -0.0, 1e150, -1e150, f64::MIN_POSITIVE, 5e-324, 1e-9]),
    ]
    .boxed()
}

/// Any finite `f64` at all, up to `±f64::MAX`.
pub(crate) fn any_finite() -> BoxedStrategy<f64> {
    prop_oneof![
        3 => wild(),
        1 => prop::num::f64::NORMAL | prop::num::f64::SUBNORMAL | prop::num::f64::ZERO,
        1 => prop::sample::select(vec![f64::MAX, f64::MIN, 1.7e308, -1.7e308]),
    ]
    .boxed()
}

/// A series of points with non-decreasing timestamps (steps of 0 to 2 minutes, so equal
/// timestamps occur) and values from `value`, in one of four shapes: independent values, a
/// constant, a constant with rare spikes, and an alternation between two values.
pub(crate) fn series<V>(value: V, len: std::ops::Range<usize>) -> impl Strategy<Value = Vec<Point>>
where
    V: Strategy<Value = f64> + Clone + 'static,
{
    let steps = prop::collection::vec(prop_oneof![1 => Just(0i64), 6 => 1i64..=60_000, 1 => 60_001i64..=120_000], len);
    let shape = prop_oneof![
        3 => prop::collection::vec(value.clone(), 1..64).prop_map(Shape::Free).boxed(),
        1 => value.clone().prop_map(Shape::Constant).boxed(),
        1 => (value.clone(), value.clone(), 0u64..1_000_000).prop_map(|(a, b, s)| Shape::Spiky(a, b, s)).boxed(),
        1 => (value.clone(), value).prop_map(|(a, b)| Shape::Alternate(a, b)).boxed(),
    ];
    (0i64..3_000_000, steps, shape).prop_map(|(t0, steps, shape)| {
        let mut t = t0;
        let mut rng = SplitMix64::new(t0 as u64);
        steps
            .into_iter()
            .enumerate()
            .map(|(i, dt)| {
                t += dt;
                let v = match &shape {
                    Shape::Free(vs) => vs[i % vs.len()],
                    Shape::Constant(c) => *c,
                    Shape::Spiky(c, spike, _) => {
                        if rng.below(16) == 0 {
                            *spike
                        } else {
                            *c
                        }
                    }
                    Shape::Alternate(a, b) => {
                        if i % 2 == 0 {
                            *a
                        } else {
                            *b
                        }
                    }
                };
                Point::new(t, v)
            })
            .collect()
    })
}

#[derive(Debug, Clone)]
enum Shape {
    Free(Vec<f64>),
    Constant(f64),
    Spiky(f64, f64, u64),
    Alternate(f64, f64),
}

/// Continues `history` with `more` (whose timestamps start at 0) so that timestamps stay
/// non-decreasing.
pub(crate) fn after(history: &[Point], more: &[Point]) -> Vec<Point> {
    let base = history.last().map_or(0, |p| p.timestamp);
    let first = more.first().map_or(0, |p| p.timestamp);
    more.iter().map(|p| Point::new(base + (p.timestamp - first), p.value)).collect()
}

pub(crate) fn split(points: &[Point]) -> (Vec<i64>, Vec<f64>) {
    points.iter().map(|p| (p.timestamp, p.value)).unzip()
}

// ---------------------------------------------------------------------------------------------
// The line-up

/// An EWMA that warms after five points.
pub(crate) fn ewma() -> EwmaBaseline {
    EwmaParams::default().alpha(0.2).warmup(5).build().unwrap()
}

/// A 16-point window that warms after five.
pub(crate) fn window() -> WindowBaseline {
    WindowParams::default().window(16).warmup(5).build().unwrap()
}

/// A 15-point median/MAD window that warms after five.
pub(crate) fn quantile_window() -> QuantileWindow {
    QuantileWindowParams::default().window(15).warmup(5).build().unwrap()
}

/// A ten-minute cycle of one-minute buckets with a five-minute coarse level, three samples per
/// bucket, and an exclusion window 30–40 minutes after the epoch (inside the range the series
/// strategies cover).
pub(crate) fn seasonal() -> SeasonalBaseline {
    SeasonalParams::default()
        .period_ms(600_000)
        .bucket_ms(60_000)
        .anchor_ms(0)
        .coarse_period_ms(Some(300_000))
        .min_samples(3)
        .exclude(1_800_000, 2_400_000)
        .build()
        .unwrap()
}

/// Gap detection on (90 s), the rest default.
pub(crate) fn detector_params() -> DetectorParams {
    DetectorParams::default().max_gap_ms(Some(90_000))
}

pub(crate) fn detector<B, S>(baseline: B, scorer: S) -> BaselineDetector<B, S>
where
    B: oddsight_core::Baseline + Clone,
    S: oddsight_core::Scorer + Clone,
{
    BaselineDetector::new(baseline, scorer, detector_params()).unwrap()
}

/// Calls the generic function `$f(name, make)` for every baseline × scorer combination, and
/// reports every combination that failed (not only the first).
#[allow(unused_macros)]
macro_rules! for_each_detector {
    ($f:ident) => {{
        use oddsight_core::{RatioScorer, StudentT, ZScore};
        let mut failed: Vec<&str> = Vec::new();
        let mut run = |name: &'static str, f: &dyn Fn(&'static str)| {
            if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(name))).is_err() {
                failed.push(name);
            }
        };
        run("ewma/z", &|n| $f(n, || common::detector(common::ewma(), ZScore)));
        run("ewma/ratio", &|n| $f(n, || common::detector(common::ewma(), RatioScorer::default())));
        run("ewma/student-t", &|n| $f(n, || common::detector(common::ewma(), StudentT)));
        run("window/z", &|n| $f(n, || common::detector(common::window(), ZScore)));
        run("window/ratio", &|n| $f(n, || common::detector(common::window(), RatioScorer::default())));
        run("window/student-t", &|n| $f(n, || common::detector(common::window(), StudentT)));
        run("quantile-window/z", &|n| $f(n, || common::detector(common::quantile_window(), ZScore)));
        run("quantile-window/ratio", &|n| {
            $f(n, || common::detector(common::quantile_window(), RatioScorer::default()))
        });
        run("quantile-window/student-t", &|n| $f(n, || common::detector(common::quantile_window(), StudentT)));
        run("seasonal/z", &|n| $f(n, || common::detector(common::seasonal(), ZScore)));
        run("seasonal/ratio", &|n| $f(n, || common::detector(common::seasonal(), RatioScorer::new(2.0).unwrap())));
        run("seasonal/student-t", &|n| $f(n, || common::detector(common::seasonal(), StudentT)));
        assert!(failed.is_empty(), "failed for {failed:?}");
    }};
}
#[allow(unused_imports)]
pub(crate) use for_each_detector;

/// Feeds `points` to a detector with `observe`, returning the verdicts.
pub(crate) fn observe_all<D: Detector>(d: &mut D, points: &[Point]) -> Vec<Verdict> {
    points.iter().map(|&p| d.observe(p).unwrap()).collect()
}

/// A Watch over `make()`'s baseline stays sane while level shifts (by factors of `10^±exponent`)
/// drive its policy into re-baselining.
pub(crate) fn watch_over<B, F>(name: &str, values: BoxedStrategy<f64>, exponent: i32, make: F)
where
    B: oddsight_core::Baseline + oddsight_core::Stateful + Clone,
    F: Fn() -> B,
{
    let factor = prop_oneof![values.clone(), (-exponent..=exponent).prop_map(|e| 10f64.powi(e))];
    let shifts = prop::collection::vec((0usize..150, factor), 0..4);
    check(&format!("watch-sane/{name}"), 24, (series(values, 10..150), shifts), |(mut points, shifts)| {
        for (at, by) in shifts {
            for p in points.iter_mut().skip(at) {
                let moved = p.value * by;
                p.value = if moved.is_finite() { moved } else { p.value };
            }
        }
        let policy = oddsight_core::StrikePolicyParams::strikes(2)
            .rebaseline(Some(oddsight_core::ShiftRule::new(3, 0)))
            .build()
            .unwrap();
        let mut w = oddsight_core::Watch::new(detector(make(), oddsight_core::ZScore), policy);
        for &p in &points {
            sane(&w.push(p).unwrap().verdict)?;
        }
        Ok(())
    });
}

// ---------------------------------------------------------------------------------------------
// Comparisons

/// Every float of a verdict as bits, plus the rest, so that two verdicts compare bit for bit
/// (`PartialEq` would let `0.0 == -0.0` and fail on NaN).
pub(crate) fn verdict_bits(v: &Verdict) -> impl PartialEq + Debug + use<> {
    (
        v.timestamp,
        [v.value, v.expected, v.lower, v.upper, v.z, v.p_value, v.anomaly_score, v.severity_score, v.confidence]
            .map(f64::to_bits),
        (v.is_anomaly, v.direction, v.severity, v.component.to_string(), v.warm, v.notes),
    )
}

/// Asserts two states are the same: `PartialEq`, and bit for bit through `Debug` (which prints
/// floats in round-trip form and tells `-0.0` from `0.0`). A state holding NaN (see
/// `regressions.rs`) is never `==` to itself, so it is compared through `Debug` alone.
pub(crate) fn same_state<T: PartialEq + Debug>(a: &T, b: &T) -> Result<(), TestCaseError> {
    prop_assert_eq!(format!("{a:?}"), format!("{b:?}"));
    #[allow(clippy::eq_op)]
    let holds_nan = a != a;
    prop_assert!(holds_nan || a == b, "PartialEq disagrees with Debug: {:?}", a);
    Ok(())
}

/// Asserts two verdict sequences are bit-identical.
pub(crate) fn same_verdicts(a: &[Verdict], b: &[Verdict]) -> Result<(), TestCaseError> {
    prop_assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(b) {
        prop_assert_eq!(verdict_bits(x), verdict_bits(y));
    }
    Ok(())
}

/// The verdict contract: nothing NaN, scores and confidence in `[0, 1]`, the band around the
/// expected value.
pub(crate) fn sane(v: &Verdict) -> Result<(), TestCaseError> {
    for (name, x) in [
        ("value", v.value),
        ("expected", v.expected),
        ("lower", v.lower),
        ("upper", v.upper),
        ("z", v.z),
        ("p_value", v.p_value),
        ("anomaly_score", v.anomaly_score),
        ("severity_score", v.severity_score),
        ("confidence", v.confidence),
    ] {
        prop_assert!(!x.is_nan(), "{} is NaN in {:?}", name, v);
    }
    prop_assert!(v.expected.is_finite(), "expected is not finite in {:?}", v);
    prop_assert!((0.0..=1.0).contains(&v.anomaly_score), "anomaly_score out of [0,1]: {:?}", v);
    prop_assert!((0.0..=1.0).contains(&v.confidence), "confidence out of [0,1]: {:?}", v);
    prop_assert!((0.0..=1.0).contains(&v.p_value), "p_value out of [0,1]: {:?}", v);
    prop_assert!((0.0..=10.0).contains(&v.severity_score), "severity_score out of [0,10]: {:?}", v);
    prop_assert!(v.z.abs() <= oddsight_core::scale::MAX_Z, "z beyond MAX_Z: {:?}", v);
    prop_assert!(v.lower <= v.expected && v.expected <= v.upper, "band does not hold expected: {:?}", v);
    prop_assert_eq!(v.severity, oddsight_core::scale::severity(v.anomaly_score));
    if !v.warm || v.notes.excluded {
        prop_assert_eq!(v.anomaly_score, 0.0);
        prop_assert!(!v.is_anomaly);
    }
    Ok(())
}
