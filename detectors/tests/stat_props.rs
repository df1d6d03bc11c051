//! Invariants every detector in `stat`, `seasonal` and `counts` keeps, checked with proptest:
//! verdicts are never NaN, `score` never mutates, a snapshot round-trip gives bit-identical
//! verdicts, batch calls equal the streaming loop, and rejected input leaves the state exactly
//! as it was.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use oddsight_core::{Detector, Point, SeasonalParams, Stateful, Verdict};
use oddsight_detectors::counts::{ErrorRatioDetector, ErrorRatioParams, PoissonParams, Sides};
use oddsight_detectors::seasonal::{
    RatioToBaselineParams, SeasonalAggregateDetector, SeasonalAggregateParams, SeasonalZScoreParams, Statistic,
};
use oddsight_detectors::stat::{EwmaZScoreParams, IqrParams, MadZScoreParams, RateOfChangeParams, WindowZScoreParams};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

/// What values a detector accepts.
#[derive(Debug, Clone, Copy)]
enum Domain {
    /// Any finite value.
    Real,
    /// Counts: finite and ≥ 0.
    Count,
    /// Error ratios in [0, 1].
    Ratio,
}

impl Domain {
    /// Maps an arbitrary finite value into the domain (so every generated series is valid).
    fn map(self, x: f64) -> f64 {
        match self {
            Domain::Real => x,
            Domain::Count => x.abs().floor(),
            Domain::Ratio => (x.abs() % 1000.0) / 1000.0,
        }
    }

    /// A finite value the domain refuses, if there is one.
    fn invalid(self) -> Option<f64> {
        match self {
            Domain::Real => None,
            Domain::Count => Some(-1.0),
            Domain::Ratio => Some(1.5),
        }
    }
}

/// A generated series: timestamps that never go backwards (with repeats) and values that mix
/// noise, constants, spikes and small counts.
#[derive(Debug, Clone)]
struct Series {
    timestamps: Vec<i64>,
    values: Vec<f64>,
}

impl Series {
    fn mapped(&self, domain: Domain) -> Vec<f64> {
        self.values.iter().map(|&v| domain.map(v)).collect()
    }
    fn points(&self, domain: Domain) -> Vec<Point> {
        self.timestamps.iter().zip(self.mapped(domain)).map(|(&t, v)| Point::new(t, v)).collect()
    }
}

fn value() -> impl Strategy<Value = f64> {
    prop_oneof![
        6 => -1_000.0..1_000.0f64,
        2 => (0u32..6).prop_map(f64::from),
        1 => Just(42.0),
        1 => prop_oneof![-1e12..-1e6f64, 1e6..1e12f64],
    ]
}

fn series(max_len: usize) -> impl Strategy<Value = Series> {
    (-2_000_000_000_000i64..2_000_000_000_000, prop::collection::vec((0i64..120_000, value()), 0..max_len)).prop_map(
        |(start, steps)| {
            let mut t = start;
            let mut timestamps = Vec::with_capacity(steps.len());
            let mut values = Vec::with_capacity(steps.len());
            for (dt, v) in steps {
                // A third of the steps repeat the timestamp (several samples in one ms).
                t += if dt % 3 == 0 { 0 } else { dt };
                timestamps.push(t);
                values.push(v);
            }
            Series { timestamps, values }
        },
    )
}

fn assert_sane(v: &Verdict) -> Result<(), TestCaseError> {
    let finite =
        [v.value, v.expected, v.lower, v.upper, v.z, v.p_value, v.anomaly_score, v.confidence, v.severity_score];
    prop_assert!(finite.iter().all(|x| x.is_finite()), "non-finite field in {v:?}");
    prop_assert!((0.0..=1.0).contains(&v.anomaly_score) && (0.0..=1.0).contains(&v.p_value), "{v:?}");
    prop_assert!((0.0..=1.0).contains(&v.confidence), "{v:?}");
    prop_assert!(v.lower <= v.upper, "{v:?}");
    Ok(())
}

/// Bit-for-bit equality of verdict lists (PartialEq on f64 would accept -0.0 == 0.0).
fn assert_identical(a: &[Verdict], b: &[Verdict]) -> Result<(), TestCaseError> {
    prop_assert_eq!(a, b);
    for (x, y) in a.iter().zip(b) {
        for (p, q) in [(x.z, y.z), (x.anomaly_score, y.anomaly_score), (x.expected, y.expected), (x.upper, y.upper)] {
            prop_assert_eq!(p.to_bits(), q.to_bits());
        }
    }
    Ok(())
}

/// Every detector of the three modules, with small warm-ups so judging starts early.
macro_rules! for_each_detector {
    ($check:ident, $series:expr) => {{
        let s: &Series = $series;
        $check(|| EwmaZScoreParams::default().warmup(5).build().unwrap(), Domain::Real, s)?;
        $check(|| WindowZScoreParams::default().window(20).warmup(5).build().unwrap(), Domain::Real, s)?;
        $check(|| MadZScoreParams::default().window(25).warmup(5).build().unwrap(), Domain::Real, s)?;
        $check(|| IqrParams::default().window(25).warmup(5).build().unwrap(), Domain::Real, s)?;
        $check(|| RateOfChangeParams::default().lookback(3).window(30).warmup(5).build().unwrap(), Domain::Real, s)?;
        $check(|| SeasonalZScoreParams::default().min_samples(3).build().unwrap(), Domain::Real, s)?;
        $check(
            || RatioToBaselineParams::default().seasonal(SeasonalParams::default().min_samples(3)).build().unwrap(),
            Domain::Real,
            s,
        )?;
        $check(
            || {
                SeasonalAggregateParams::default()
                    .interval_ms(10_000)
                    .statistic(Statistic::Count)
                    .seasonal(SeasonalParams::default().min_samples(3))
                    .build()
                    .unwrap()
            },
            Domain::Real,
            s,
        )?;
        $check(
            || {
                SeasonalAggregateParams::default()
                    .interval_ms(60_000)
                    .statistic(Statistic::P95)
                    .seasonal(SeasonalParams::default().min_samples(2))
                    .build()
                    .unwrap()
            },
            Domain::Real,
            s,
        )?;
        $check(|| PoissonParams::default().warmup(5).build().unwrap(), Domain::Count, s)?;
        $check(|| PoissonParams::default().warmup(5).overdispersion(false).build().unwrap(), Domain::Count, s)?;
        $check(
            || ErrorRatioParams::default().warmup(5).sides(Sides::Both).requests_per_point(500.0).build().unwrap(),
            Domain::Ratio,
            s,
        )?;
    }};
}

fn never_nan<D: Detector>(make: impl Fn() -> D, domain: Domain, s: &Series) -> Result<(), TestCaseError> {
    let mut d = make();
    for p in s.points(domain) {
        assert_sane(&d.observe(p).unwrap())?;
    }
    // Extreme (valid) probes against whatever state was reached.
    let t = d.last_timestamp().unwrap_or(0);
    for x in [0.0, 1.0, 1e12, -1e12, 1e-300, f64::MAX, f64::MIN_POSITIVE] {
        if let Ok(v) = d.score(Point::new(t, domain.map(x))) {
            assert_sane(&v)?;
        }
    }
    Ok(())
}

fn score_is_pure<D: Detector + Clone + PartialEq>(
    make: impl Fn() -> D,
    domain: Domain,
    s: &Series,
) -> Result<(), TestCaseError> {
    let mut d = make();
    for p in s.points(domain) {
        let before = d.clone();
        let scored = d.score(p).unwrap();
        prop_assert!(d == before, "score mutated {}", d.name());
        prop_assert_eq!(&scored, &d.observe(p).unwrap(), "observe must return what score said");
    }
    let before = d.clone();
    let t = d.last_timestamp().unwrap_or(0);
    let _ = d.score_batch(&[t, t + 1, t + 70_000], &[domain.map(1.0), domain.map(2.0), domain.map(3.0)]).unwrap();
    prop_assert!(d == before);
    Ok(())
}

fn snapshot_round_trip<D: Detector + Stateful>(
    make: impl Fn() -> D,
    domain: Domain,
    s: &Series,
) -> Result<(), TestCaseError> {
    let points = s.points(domain);
    let half = points.len() / 2;
    let mut a = make();
    for p in &points[..half] {
        a.observe(*p).unwrap();
    }
    let snap = a.snapshot().unwrap();
    let mut b = D::from_snapshot(&snap).unwrap();
    prop_assert_eq!(b.snapshot().unwrap(), snap);
    let va: Vec<Verdict> = points[half..].iter().map(|p| a.observe(*p).unwrap()).collect();
    let vb: Vec<Verdict> = points[half..].iter().map(|p| b.observe(*p).unwrap()).collect();
    assert_identical(&va, &vb)?;
    prop_assert_eq!(a.snapshot().unwrap(), b.snapshot().unwrap());
    Ok(())
}

fn batch_equals_loop<D: Detector + Clone + PartialEq>(
    make: impl Fn() -> D,
    domain: Domain,
    s: &Series,
) -> Result<(), TestCaseError> {
    let values = s.mapped(domain);
    let half = values.len() / 2;
    let mut warm = make();
    warm.update_batch(&s.timestamps[..half], &values[..half]).unwrap();
    let mut looped_update = make();
    for (&t, &v) in s.timestamps[..half].iter().zip(&values[..half]) {
        looped_update.update(Point::new(t, v)).unwrap();
    }
    prop_assert!(warm == looped_update);

    let (ts, vs) = (&s.timestamps[half..], &values[half..]);
    let scored = warm.score_batch(ts, vs).unwrap();
    let scored_loop: Vec<Verdict> = ts.iter().zip(vs).map(|(&t, &v)| warm.score(Point::new(t, v)).unwrap()).collect();
    assert_identical(&scored, &scored_loop)?;

    let mut batch = warm.clone();
    let mut looped = warm;
    let a = batch.observe_batch(ts, vs).unwrap();
    let b: Vec<Verdict> = ts.iter().zip(vs).map(|(&t, &v)| looped.observe(Point::new(t, v)).unwrap()).collect();
    assert_identical(&a, &b)?;
    prop_assert!(batch == looped);
    Ok(())
}

fn rejects_without_change<D: Detector + Clone + PartialEq>(
    make: impl Fn() -> D,
    domain: Domain,
    s: &Series,
) -> Result<(), TestCaseError> {
    let mut d = make();
    let values = s.mapped(domain);
    d.update_batch(&s.timestamps, &values).unwrap();
    let before = d.clone();
    let snap = d.snapshot().unwrap();
    let t = d.last_timestamp().unwrap_or(0);
    let mut bad = vec![f64::NAN, f64::INFINITY, f64::NEG_INFINITY];
    bad.extend(domain.invalid());
    for x in bad {
        let p = Point::new(t + 1, x);
        prop_assert!(d.update(p).is_err());
        prop_assert!(d.observe(p).is_err());
        prop_assert!(d.score(p).is_err());
        // A bad point at the end of a batch: nothing of the batch is applied.
        prop_assert!(d.observe_batch(&[t + 1, t + 2, t + 3], &[domain.map(1.0), domain.map(2.0), x]).is_err());
        prop_assert!(d.update_batch(&[t + 1, t + 2], &[domain.map(1.0), x]).is_err());
        prop_assert!(d.rebaseline(&[Point::new(t + 1, domain.map(3.0)), p]).is_err());
    }
    if let Some(last) = d.last_timestamp() {
        let early = Point::new(last - 1, domain.map(1.0));
        prop_assert!(d.update(early).is_err() && d.observe(early).is_err() && d.score(early).is_err());
        prop_assert!(d.observe_batch(&[last, last - 1], &[domain.map(1.0), domain.map(1.0)]).is_err());
    }
    prop_assert!(d.observe_batch(&[t + 1, t + 2], &[domain.map(1.0)]).is_err()); // lengths differ
    prop_assert!(d == before, "{} changed after rejected input", d.name());
    prop_assert_eq!(d.snapshot().unwrap(), snap);
    Ok(())
}

fn reset_forgets<D: Detector>(make: impl Fn() -> D, domain: Domain, s: &Series) -> Result<(), TestCaseError> {
    let mut d = make();
    d.update_batch(&s.timestamps, &s.mapped(domain)).unwrap();
    d.reset();
    prop_assert_eq!(d.snapshot().unwrap(), make().snapshot().unwrap());
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    #[test]
    fn verdicts_are_never_nan(s in series(160)) {
        for_each_detector!(never_nan, &s);
    }

    #[test]
    fn score_never_mutates(s in series(120)) {
        for_each_detector!(score_is_pure, &s);
    }

    #[test]
    fn snapshots_round_trip_bit_for_bit(s in series(160)) {
        for_each_detector!(snapshot_round_trip, &s);
    }

    #[test]
    fn batch_equals_the_streaming_loop(s in series(160)) {
        for_each_detector!(batch_equals_loop, &s);
    }

    #[test]
    fn rejected_input_leaves_state_unchanged(s in series(120)) {
        for_each_detector!(rejects_without_change, &s);
    }

    #[test]
    fn reset_is_a_fresh_detector(s in series(60)) {
        for_each_detector!(reset_forgets, &s);
    }

    #[test]
    fn error_ratio_counts_api_is_all_or_nothing(
        rows in prop::collection::vec((0i64..100_000, 0u32..2000, 0u32..2000), 1..80),
        bad_at in any::<prop::sample::Index>(),
    ) {
        let mut ts = Vec::new();
        let mut errors = Vec::new();
        let mut requests = Vec::new();
        let mut t = 0;
        for &(dt, a, b) in &rows {
            t += dt;
            ts.push(t);
            errors.push(f64::from(a.min(b)));
            requests.push(f64::from(a.max(b)));
        }
        let mut d = ErrorRatioParams::default().warmup(5).build().unwrap();
        let mut looped = d.clone();
        let batch = d.observe_counts_batch(&ts, &errors, &requests).unwrap();
        for (i, v) in batch.iter().enumerate() {
            assert_sane(v)?;
            prop_assert_eq!(v, &looped.observe_counts(ts[i], errors[i], requests[i]).unwrap());
        }
        prop_assert_eq!(&d, &looped);
        let snap = d.snapshot().unwrap();
        let restored = ErrorRatioDetector::from_snapshot(&snap).unwrap();
        prop_assert_eq!(&restored, &d);
        // Spoil one row of a fresh batch: errors above requests.
        let before = d.clone();
        let later: Vec<i64> = ts.iter().map(|x| x + t).collect();
        let mut spoiled = errors.clone();
        let i = bad_at.index(spoiled.len());
        spoiled[i] = requests[i] + 1.0;
        prop_assert!(d.observe_counts_batch(&later, &spoiled, &requests).is_err());
        prop_assert!(d.score_counts_batch(&later, &spoiled, &requests).is_err());
        prop_assert_eq!(&d, &before);
    }
}

#[test]
fn extreme_timestamps_do_not_panic() {
    fn run<D: Detector>(mut d: D, domain: Domain) {
        for &t in &[i64::MIN, i64::MIN + 1, -1, 0, 1, i64::MAX - 1, i64::MAX] {
            let _ = d.observe(Point::new(t, domain.map(3.0)));
            let _ = d.score(Point::new(t, domain.map(5.0)));
        }
    }
    run(EwmaZScoreParams::default().warmup(1).max_gap_ms(Some(1)).build().unwrap(), Domain::Real);
    run(IqrParams::default().warmup(1).max_gap_ms(Some(1)).build().unwrap(), Domain::Real);
    run(RateOfChangeParams::default().warmup(1).max_gap_ms(Some(1)).build().unwrap(), Domain::Real);
    run(SeasonalZScoreParams::default().min_samples(1).build().unwrap(), Domain::Real);
    run(
        SeasonalAggregateParams::default()
            .statistic(Statistic::Count)
            .seasonal(SeasonalParams::default().min_samples(1))
            .max_gap_ms(Some(1))
            .build()
            .unwrap(),
        Domain::Real,
    );
    run(PoissonParams::default().warmup(1).max_gap_ms(Some(1)).build().unwrap(), Domain::Count);
    run(ErrorRatioParams::default().warmup(1).max_gap_ms(Some(1)).build().unwrap(), Domain::Ratio);
    let mut a: SeasonalAggregateDetector = SeasonalAggregateParams::default().build().unwrap();
    let _ = a.push(i64::MIN, 1.0);
    let _ = a.push(i64::MAX, 1.0);
    let _ = a.flush();
}

#[test]
fn malformed_snapshots_are_typed_errors() {
    use oddsight_detectors::counts::PoissonDetector;
    use oddsight_detectors::stat::{IqrDetector, RateOfChangeDetector};
    for bad in ["", "{}", "null", r#"{"format":"oddsight","kind":"IqrDetector","version":1,"state":{}}"#] {
        assert!(IqrDetector::from_snapshot(bad).is_err());
        assert!(RateOfChangeDetector::from_snapshot(bad).is_err());
        assert!(PoissonDetector::from_snapshot(bad).is_err());
        assert!(ErrorRatioDetector::from_snapshot(bad).is_err());
        assert!(SeasonalAggregateDetector::from_snapshot(bad).is_err());
    }
    // Another detector's snapshot is an incompatible-snapshot error, not a misread.
    let p = PoissonParams::default().build().unwrap().snapshot().unwrap();
    let e = IqrDetector::from_snapshot(&p).unwrap_err();
    assert_eq!(e.code(), "IncompatibleSnapshot");
}
