//! Invariants of the change-point and trend detectors (CUSUM, BOCPD, Mann–Kendall), checked
//! with proptest: verdicts are never NaN, `score` never mutates, a snapshot round-trip gives
//! bit-identical verdicts, batch calls equal the streaming loop, rejected input leaves the state
//! exactly as it was, and malformed snapshots are errors, never panics. Also the batch tests
//! (ESD, seasonal ESD, period discovery): no NaN, no panic, slices equal views.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use ndarray::Array1;
use oddsight_core::{Detector, Fit, Point, Stateful, Verdict};
use oddsight_detectors::change::{BocpdParams, CusumParams};
use oddsight_detectors::esd::{AnomalyCap, EsdParams, SeasonalEsdParams, Tail};
use oddsight_detectors::period::PeriodParams;
use oddsight_detectors::trend::MannKendallParams;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

/// A generated series: timestamps that never go backwards (a third repeat the previous one)
/// and values that mix noise, small integers (ties), a constant, level changes and huge values.
#[derive(Debug, Clone)]
struct Series {
    timestamps: Vec<i64>,
    values: Vec<f64>,
}

impl Series {
    fn points(&self) -> Vec<Point> {
        self.timestamps.iter().zip(&self.values).map(|(&t, &v)| Point::new(t, v)).collect()
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
    (-2_000_000_000_000i64..2_000_000_000_000, prop::collection::vec((0i64..120_000, value(), 0u8..20), 0..max_len))
        .prop_map(|(start, steps)| {
            let mut t = start;
            let mut level = 0.0;
            let (mut timestamps, mut values) = (Vec::with_capacity(steps.len()), Vec::with_capacity(steps.len()));
            for (dt, v, jump) in steps {
                t += if dt % 3 == 0 { 0 } else { dt };
                if jump == 0 {
                    level += 500.0; // a level shift now and then
                }
                timestamps.push(t);
                values.push(level + v);
            }
            Series { timestamps, values }
        })
}

fn assert_sane(v: &Verdict) -> Result<(), TestCaseError> {
    let finite = [v.value, v.expected, v.lower, v.upper, v.z, v.p_value, v.anomaly_score, v.confidence];
    prop_assert!(finite.iter().all(|x| x.is_finite()), "non-finite field in {v:?}");
    prop_assert!((0.0..=1.0).contains(&v.anomaly_score) && (0.0..=1.0).contains(&v.p_value), "{v:?}");
    prop_assert!((0.0..=1.0).contains(&v.confidence) && v.lower <= v.upper, "{v:?}");
    Ok(())
}

/// Bit-for-bit equality of verdict lists.
fn assert_identical(a: &[Verdict], b: &[Verdict]) -> Result<(), TestCaseError> {
    prop_assert_eq!(a, b);
    for (x, y) in a.iter().zip(b) {
        for (p, q) in [(x.z, y.z), (x.anomaly_score, y.anomaly_score), (x.expected, y.expected), (x.lower, y.lower)] {
            prop_assert_eq!(p.to_bits(), q.to_bits());
        }
    }
    Ok(())
}

/// Runs `$check` on every detector of this area, with small windows so judging starts early,
/// and once with the defaults.
macro_rules! for_each_detector {
    ($check:ident, $series:expr) => {{
        let s: &Series = $series;
        $check(|| CusumParams::default().window(16).warmup(5).settle(4).threshold(4.0).build().unwrap(), s)?;
        $check(|| CusumParams::default().build().unwrap(), s)?;
        $check(|| BocpdParams::default().max_run_length(20).confirm(4).warmup(5).build().unwrap(), s)?;
        $check(|| BocpdParams::default().max_run_length(16).warmup(3).outlier_probability(0.0).build().unwrap(), s)?;
        $check(|| BocpdParams::default().build().unwrap(), s)?;
        $check(|| MannKendallParams::default().window(10).alpha(0.05).build().unwrap(), s)?;
        $check(|| MannKendallParams::default().build().unwrap(), s)?;
    }};
}

fn never_nan<D: Detector>(make: impl Fn() -> D, s: &Series) -> Result<(), TestCaseError> {
    let mut d = make();
    for p in s.points() {
        assert_sane(&d.observe(p).unwrap())?;
    }
    let t = d.last_timestamp().unwrap_or(0);
    for x in [0.0, 1.0, 1e12, -1e12, 1e-300, 1e150, -1e150, f64::MIN_POSITIVE] {
        assert_sane(&d.score(Point::new(t, x)).unwrap())?;
    }
    // Beyond ±1e150 values are refused (typed), never judged into NaN.
    for x in [f64::MAX, -f64::MAX, 1e151] {
        prop_assert!(d.score(Point::new(t, x)).is_err());
    }
    Ok(())
}

fn score_is_pure<D: Detector + Clone + PartialEq>(make: impl Fn() -> D, s: &Series) -> Result<(), TestCaseError> {
    let mut d = make();
    for p in s.points() {
        let before = d.clone();
        let scored = d.score(p).unwrap();
        prop_assert!(d == before, "score mutated {}", d.name());
        let observed = d.observe(p).unwrap();
        assert_identical(&[scored], &[observed])?;
    }
    let before = d.clone();
    let t = d.last_timestamp().unwrap_or(0);
    let _ = d.score_batch(&[t, t + 1, t + 70_000], &[1.0, 2.0, 1e9]).unwrap();
    prop_assert!(d == before);
    Ok(())
}

fn snapshot_round_trip<D: Detector + Stateful + Clone + PartialEq>(
    make: impl Fn() -> D,
    s: &Series,
) -> Result<(), TestCaseError> {
    let points = s.points();
    let half = points.len() / 2;
    let mut a = make();
    for &p in &points[..half] {
        a.observe(p).unwrap();
    }
    let snap = a.snapshot().unwrap();
    let mut b = D::from_snapshot(&snap).unwrap();
    prop_assert!(a == b, "restored state differs");
    prop_assert_eq!(&b.snapshot().unwrap(), &snap);
    let (mut va, mut vb) = (Vec::new(), Vec::new());
    for &p in &points[half..] {
        va.push(a.observe(p).unwrap());
        vb.push(b.observe(p).unwrap());
    }
    assert_identical(&va, &vb)?;
    prop_assert_eq!(a.snapshot().unwrap(), b.snapshot().unwrap());
    Ok(())
}

fn batch_equals_loop<D: Detector + Clone + PartialEq>(make: impl Fn() -> D, s: &Series) -> Result<(), TestCaseError> {
    let mut looped = make();
    let one_by_one: Vec<Verdict> = s.points().into_iter().map(|p| looped.observe(p).unwrap()).collect();
    let mut batched = make();
    let all = batched.observe_batch(&s.timestamps, &s.values).unwrap();
    assert_identical(&one_by_one, &all)?;
    prop_assert!(looped == batched);
    // Views with a stride give the same.
    let mut viewed = make();
    let t = Array1::from_iter(s.timestamps.iter().flat_map(|&t| [t, 0]));
    let v = Array1::from_iter(s.values.iter().flat_map(|&v| [v, f64::NAN]));
    let strided = viewed.observe_view(t.slice(ndarray::s![..;2]), v.slice(ndarray::s![..;2])).unwrap();
    assert_identical(&one_by_one, &strided)?;
    // update_batch learns exactly what observe did; score_batch judges against one state.
    let mut updated = make();
    updated.update_batch(&s.timestamps, &s.values).unwrap();
    prop_assert!(updated == looped);
    let t0 = looped.last_timestamp().unwrap_or(0);
    let ts: Vec<i64> = (0..5).map(|i| t0 + i * 1000).collect();
    let vs = [1.0, -3.0, 500.0, 2.5, 1e7];
    let scored = looped.score_batch(&ts, &vs).unwrap();
    let each: Vec<Verdict> = ts.iter().zip(&vs).map(|(&t, &v)| looped.score(Point::new(t, v)).unwrap()).collect();
    assert_identical(&scored, &each)
}

fn bad_input_leaves_state<D: Detector + Clone + PartialEq>(
    make: impl Fn() -> D,
    s: &Series,
) -> Result<(), TestCaseError> {
    let mut d = make();
    d.update_batch(&s.timestamps, &s.values).unwrap();
    let before = d.clone();
    let snap = d.snapshot().unwrap();
    let t = d.last_timestamp().unwrap_or(0);
    for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        prop_assert!(d.update(Point::new(t, bad)).is_err());
        prop_assert!(d.observe(Point::new(t, bad)).is_err());
        prop_assert!(d.score(Point::new(t, bad)).is_err());
    }
    if d.last_timestamp().is_some() {
        prop_assert!(d.observe(Point::new(t - 1, 1.0)).is_err());
        prop_assert!(d.update(Point::new(t - 1, 1.0)).is_err());
    }
    // A bad point anywhere in a batch rejects the whole batch.
    prop_assert!(d.observe_batch(&[t, t + 1, t + 2], &[1.0, f64::NAN, 2.0]).is_err());
    prop_assert!(d.update_batch(&[t + 5, t + 1], &[1.0, 2.0]).is_err());
    prop_assert!(d.observe_batch(&[t, t + 1], &[1.0]).is_err());
    prop_assert!(d.rebaseline(&[Point::new(t, f64::NAN)]).is_err());
    prop_assert!(d == before, "state changed after rejected input");
    prop_assert_eq!(d.snapshot().unwrap(), snap);
    Ok(())
}

fn malformed_snapshots_are_errors<D: Detector + Stateful>(
    make: impl Fn() -> D,
    s: &Series,
) -> Result<(), TestCaseError> {
    let mut d = make();
    d.update_batch(&s.timestamps, &s.values).unwrap();
    let snap = d.snapshot().unwrap();
    prop_assert!(D::from_snapshot(&snap[..snap.len() / 2]).is_err());
    prop_assert!(D::from_snapshot(&snap.replace("\"version\":1", "\"version\":9")).is_err());
    prop_assert!(D::from_snapshot(&snap.replacen("\"kind\":\"", "\"kind\":\"x", 1)).is_err());
    // Numeric fields (up to 24, spread over the snapshot) bent to hostile values: restore must
    // never panic, and whatever it accepts must still judge without NaN.
    let mut fields = Vec::new();
    let mut pos = 0;
    while let Some(off) = snap[pos..].find(':') {
        let at = pos + off + 1;
        pos = at;
        let end = snap[at..].find([',', '}', ']']).map_or(snap.len(), |e| at + e);
        let field = &snap[at..end];
        if !field.is_empty() && field.chars().all(|c| c.is_ascii_digit() || "-.eE+".contains(c)) {
            fields.push((at, end));
        }
    }
    let stride = fields.len().div_ceil(24).max(1);
    for &(at, end) in fields.iter().step_by(stride) {
        for hostile in ["-1", "1e308", "0", "123456789012", "-0.5"] {
            let bent = format!("{}{}{}", &snap[..at], hostile, &snap[end..]);
            if let Ok(mut r) = D::from_snapshot(&bent) {
                let t = r.last_timestamp().unwrap_or(0).saturating_add(1);
                for x in [0.0, 5.0, -1e6] {
                    if let Ok(v) = r.observe(Point::new(t, x)) {
                        assert_sane(&v)?;
                    }
                }
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn verdicts_are_never_nan(s in series(160)) {
        for_each_detector!(never_nan, &s);
    }

    #[test]
    fn score_never_mutates(s in series(120)) {
        for_each_detector!(score_is_pure, &s);
    }

    #[test]
    fn snapshots_round_trip_bit_identically(s in series(140)) {
        for_each_detector!(snapshot_round_trip, &s);
    }

    #[test]
    fn batch_equals_the_streaming_loop(s in series(120)) {
        for_each_detector!(batch_equals_loop, &s);
    }

    #[test]
    fn bad_input_leaves_the_state_untouched(s in series(100)) {
        for_each_detector!(bad_input_leaves_state, &s);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 8, ..ProptestConfig::default() })]

    #[test]
    fn malformed_snapshots_never_panic(s in series(60)) {
        for_each_detector!(malformed_snapshots_are_errors, &s);
    }
}

fn check_esd_outcome(o: &oddsight_detectors::esd::EsdOutcome, n: usize) -> Result<(), TestCaseError> {
    prop_assert_eq!(o.verdicts.len(), n);
    for v in &o.verdicts {
        assert_sane(v)?;
        prop_assert_eq!(v.is_anomaly, v.anomaly_score >= 0.5, "decision and score disagree: {:?}", v);
    }
    let flagged: Vec<usize> = o.verdicts.iter().enumerate().filter(|(_, v)| v.is_anomaly).map(|(i, _)| i).collect();
    prop_assert_eq!(&flagged, &o.anomalies);
    prop_assert!(o.center.is_finite() && o.scale.is_finite() && o.scale >= 0.0);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn esd_is_total_and_consistent(s in series(300), robust in any::<bool>(), tail in 0u8..3, cap in 1usize..6) {
        let tail = [Tail::Both, Tail::Upper, Tail::Lower][tail as usize];
        let p = EsdParams::default().robust(robust).tail(tail).max_anomalies(AnomalyCap::Count(cap));
        match p.detect(&s.timestamps, &s.values) {
            Ok(o) => {
                check_esd_outcome(&o, s.values.len())?;
                prop_assert!(o.anomalies.len() <= cap);
                // Slices and views agree.
                let view = p.detect_view(Array1::from(s.timestamps.clone()).view(), Array1::from(s.values.clone()).view()).unwrap();
                prop_assert_eq!(&o, &view);
                let fitted = p.fit(&s.values[..]).unwrap();
                prop_assert_eq!(&fitted.anomalies, &o.anomalies);
            }
            Err(_) => prop_assert!(s.values.len() < 3 || 2 * cap + 1 > s.values.len()),
        }
    }

    #[test]
    fn seasonal_esd_and_period_discovery_are_total(s in series(400), period in 0usize..30, gaps in any::<bool>()) {
        let p = SeasonalEsdParams::default().period(if period < 2 { None } else { Some(period) });
        if let Ok(o) = p.detect(&s.timestamps, &s.values) {
            check_esd_outcome(&o.esd, s.values.len())?;
            prop_assert!(o.residuals.iter().all(|r| r.is_finite()));
        }
        let mut values = s.values.clone();
        if gaps {
            for v in values.iter_mut().step_by(7) {
                *v = f64::NAN;
            }
        }
        let untimed = PeriodParams::default().find(&values);
        let timed = PeriodParams::default().find_timed(&s.timestamps, &values);
        for found in [untimed, timed].into_iter().flatten() {
            for c in &found.candidates {
                prop_assert!(c.strength.is_finite() && c.strength > 0.0 && c.strength <= 1.0 && c.period >= 2);
            }
        }
    }
}
