//! Rejected input: every fallible call of `oddsight-core` answers bad input (NaN, ±inf, an
//! out-of-order timestamp, batches of mismatched lengths, a batch with one bad point in the
//! middle, a late event) with the right typed [`Error`] variant and leaves its state exactly as
//! it was, by `PartialEq` and by snapshot. Also: every params struct rejects out-of-range values
//! with [`Error::InvalidParameter`] naming the parameter and the value.

// clippy's allow-unwrap-in-tests covers `#[test]` functions only, not the helpers here.
#![allow(clippy::unwrap_used)]

mod common;

use common::{after, check, for_each_detector, moderate, observe_all, same_state, series, split};
use ndarray::{Array1, s};
use oddsight_core::{
    AggregatorParams, Baseline, CalibratorParams, ColdStart, Detector, DetectorParams, Error, EwmaParams, Point,
    QuantileSketchParams, QuantileWindowParams, RatioScorer, ScaleFloor, SeasonalParams, ShiftRule, Stateful,
    StrikePolicyParams, Trigger, WindowParams, ZScore,
};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

const CASES: u32 = 32;

/// One way a point can be bad.
#[derive(Debug, Clone, Copy)]
enum Bad {
    Nan,
    PosInf,
    NegInf,
    /// Earlier than the point before it.
    Late,
}

fn bad() -> impl Strategy<Value = Bad> {
    prop_oneof![Just(Bad::Nan), Just(Bad::PosInf), Just(Bad::NegInf), Just(Bad::Late)]
}

impl Bad {
    fn value(self, fallback: f64) -> f64 {
        match self {
            Bad::Nan => f64::NAN,
            Bad::PosInf => f64::INFINITY,
            Bad::NegInf => f64::NEG_INFINITY,
            Bad::Late => fallback,
        }
    }

    /// Checks `result` is the error this kind of bad point must give; `late` is the offending
    /// timestamp and `last` the newest accepted one, for [`Bad::Late`].
    fn expect<T: std::fmt::Debug>(
        self,
        result: oddsight_core::Result<T>,
        late: i64,
        last: i64,
    ) -> Result<(), TestCaseError> {
        match (self, result) {
            (Bad::Nan, Err(Error::NonFinite { what: "value", value })) => prop_assert!(value.is_nan()),
            (Bad::PosInf, Err(Error::NonFinite { what: "value", value })) => prop_assert_eq!(value, f64::INFINITY),
            (Bad::NegInf, Err(Error::NonFinite { what: "value", value })) => prop_assert_eq!(value, f64::NEG_INFINITY),
            (Bad::Late, Err(e @ Error::OutOfOrder { .. })) => {
                prop_assert!(
                    matches!(e, Error::OutOfOrder { timestamp, last: l } if timestamp == late && l == last),
                    "{:?}",
                    e
                );
                prop_assert_eq!(e.code(), "OutOfOrder");
            }
            (kind, other) => prop_assert!(false, "{:?} gave {:?}", kind, other),
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Detectors

fn rejects_bad_points<D, F>(name: &str, make: F)
where
    D: Detector + Stateful + Clone + PartialEq + std::fmt::Debug,
    F: Fn() -> D,
{
    check(
        &format!("point/{name}"),
        CASES,
        (series(moderate(), 1..60), bad(), 0i64..100_000, moderate()),
        |(history, kind, dt, v)| {
            let mut d = make();
            observe_all(&mut d, &history);
            let last = d.last_timestamp().unwrap();
            let point = match kind {
                Bad::Late => Point::new(last - 1 - dt, v),
                _ => Point::new(last + dt, kind.value(v)),
            };
            let (before, snap) = (d.clone(), d.snapshot().unwrap());
            kind.expect(d.score(point), point.timestamp, last)?;
            kind.expect(d.observe(point), point.timestamp, last)?;
            kind.expect(d.update(point), point.timestamp, last)?;
            same_state(&d, &before)?;
            prop_assert_eq!(d.snapshot().unwrap(), snap);
            // And the detector carries on as if nothing happened.
            let next = Point::new(last, 1.0);
            let (mut a, mut b) = (d.clone(), before.clone());
            prop_assert_eq!(
                common::verdict_bits(&a.observe(next).unwrap()),
                common::verdict_bits(&b.observe(next).unwrap())
            );
            Ok(())
        },
    );
}

#[test]
fn detectors_reject_bad_points_and_stay_untouched() {
    for_each_detector!(rejects_bad_points);
}

/// A batch gone wrong in one of five ways.
#[derive(Debug, Clone, Copy)]
enum BadBatch {
    Point(Bad),
    /// The first point is earlier than what the detector already learned.
    BeforeHistory,
    /// One more timestamp than values, or one fewer.
    Lengths(bool),
}

fn bad_batch() -> impl Strategy<Value = BadBatch> {
    prop_oneof![
        4 => bad().prop_map(BadBatch::Point),
        1 => Just(BadBatch::BeforeHistory),
        1 => any::<bool>().prop_map(BadBatch::Lengths),
    ]
}

fn rejects_bad_batches<D, F>(name: &str, make: F)
where
    D: Detector + Stateful + Clone + PartialEq + std::fmt::Debug,
    F: Fn() -> D,
{
    let strategy = (series(moderate(), 1..40), series(moderate(), 2..30), bad_batch(), any::<prop::sample::Index>());
    check(&format!("batch/{name}"), CASES, strategy, |(history, batch, kind, at)| {
        let mut d = make();
        observe_all(&mut d, &history);
        let last = d.last_timestamp().unwrap();
        let batch = after(&history, &batch);
        let (mut ts, mut vs) = split(&batch);
        // Somewhere past the first point, so that good points come before the bad one.
        let i = 1 + at.index(ts.len() - 1);
        match kind {
            BadBatch::Point(Bad::Late) => ts[i] = ts[i - 1] - 1,
            BadBatch::Point(b) => vs[i] = b.value(0.0),
            BadBatch::BeforeHistory => ts[0] = last - 1,
            BadBatch::Lengths(true) => ts.push(ts[ts.len() - 1]),
            BadBatch::Lengths(false) => {
                ts.pop();
            }
        }
        let check_error = |r: oddsight_core::Result<()>| -> Result<(), TestCaseError> {
            match kind {
                BadBatch::Point(Bad::Late) => Bad::Late.expect(r, ts[i], ts[i - 1]),
                BadBatch::Point(b) => b.expect(r, 0, 0),
                BadBatch::BeforeHistory => Bad::Late.expect(r, last - 1, last),
                BadBatch::Lengths(_) => {
                    prop_assert!(
                        matches!(&r, Err(Error::Shape { expected, got, .. }) if *expected == vs.len() && *got == ts.len()),
                        "{:?}",
                        r
                    );
                    Ok(())
                }
            }
        };
        let (before, snap) = (d.clone(), d.snapshot().unwrap());
        check_error(d.observe_batch(&ts, &vs).map(drop))?;
        check_error(d.update_batch(&ts, &vs))?;
        check_error(d.score_batch(&ts, &vs).map(drop))?;
        let tsa: Array1<i64> = ts.iter().flat_map(|&t| [t, 0]).collect();
        let vsa: Array1<f64> = vs.iter().flat_map(|&v| [v, 0.0]).collect();
        check_error(d.observe_view(tsa.slice(s![..;2]), vsa.slice(s![..;2])).map(drop))?;
        check_error(d.score_view(tsa.slice(s![..;2]), vsa.slice(s![..;2])).map(drop))?;
        same_state(&d, &before)?;
        prop_assert_eq!(d.snapshot().unwrap(), snap);
        Ok(())
    });
}

#[test]
fn detectors_reject_bad_batches_whole() {
    for_each_detector!(rejects_bad_batches);
}

#[test]
fn empty_batches_are_fine() {
    let mut d = common::detector(common::ewma(), ZScore);
    assert!(d.observe_batch(&[], &[]).unwrap().is_empty());
    assert!(d.score_batch(&[], &[]).unwrap().is_empty());
    d.update_batch(&[], &[]).unwrap();
    assert_eq!(d.last_timestamp(), None);
}

// ---------------------------------------------------------------------------------------------
// Baselines, sketch, calibrator, aggregator

fn baseline_rejects<B, F>(name: &str, make: F)
where
    B: Baseline + Stateful + Clone + PartialEq + std::fmt::Debug,
    F: Fn() -> B,
{
    let kinds = prop_oneof![Just(Bad::Nan), Just(Bad::PosInf), Just(Bad::NegInf)];
    check(
        &format!("baseline/{name}"),
        CASES,
        (series(moderate(), 0..60), kinds, -1_000_000i64..5_000_000),
        |(history, kind, t)| {
            let mut b = make();
            for &p in &history {
                b.update(p).unwrap();
            }
            let (before, snap) = (b.clone(), b.to_snapshot().unwrap());
            kind.expect(b.update(Point::new(t, kind.value(0.0))), 0, 0)?;
            same_state(&b, &before)?;
            prop_assert_eq!(b.to_snapshot().unwrap(), snap);
            // Baselines themselves accept any time order.
            b.update(Point::new(t - 10_000_000, 1.0)).unwrap();
            Ok(())
        },
    );
}

#[test]
fn baselines_reject_non_finite_values_and_stay_untouched() {
    baseline_rejects("ewma", common::ewma);
    baseline_rejects("window", common::window);
    baseline_rejects("quantile-window", common::quantile_window);
    baseline_rejects("seasonal", common::seasonal);
}

#[test]
fn sketch_and_calibrator_reject_non_finite_values() {
    let xs = prop::collection::vec(moderate(), 0..200);
    let kinds = prop_oneof![Just(Bad::Nan), Just(Bad::PosInf), Just(Bad::NegInf)];
    check("sketch+calibrator", CASES, (xs, kinds), |(xs, kind)| {
        let mut s = QuantileSketchParams::default().build().unwrap();
        let mut c = CalibratorParams::default().build().unwrap();
        for &x in &xs {
            s.add(x).unwrap();
            c.update(x).unwrap();
        }
        let (s0, c0) = (s.clone(), c.clone());
        let (ss, cs) = (s.to_snapshot().unwrap(), c.to_snapshot().unwrap());
        kind.expect(s.add(kind.value(0.0)), 0, 0)?;
        for r in [c.update(kind.value(0.0)), c.observe(kind.value(0.0)).map(drop)] {
            prop_assert!(
                matches!(r, Err(Error::NonFinite { what: "score", value }) if value.to_bits() == kind.value(0.0).to_bits()),
                "{:?}",
                r
            );
        }
        same_state(&s, &s0)?;
        same_state(&c, &c0)?;
        prop_assert_eq!((s.to_snapshot().unwrap(), c.to_snapshot().unwrap()), (ss, cs));
        // Out-of-range quantiles are parameter errors, NaN included.
        for q in [-0.1, 1.1, f64::NAN] {
            prop_assert!(matches!(s.quantile(q), Err(Error::InvalidParameter { name: "q", .. })), "q = {}", q);
        }
        Ok(())
    });
}

#[test]
fn aggregator_rejects_non_finite_and_late_events() {
    let events = prop::collection::vec((0i64..30_000, moderate()), 1..100);
    check("aggregator", CASES, (events, bad(), 1i64..200_000), |(steps, kind, back)| {
        let mut agg = AggregatorParams::default().width_ms(10_000).build().unwrap();
        let mut t = 0;
        for (dt, v) in steps {
            t += dt;
            agg.push(t, v).unwrap();
        }
        let (before, snap) = (agg.clone(), agg.to_snapshot().unwrap());
        let r = match kind {
            Bad::Late => agg.push(t - back, 1.0),
            _ => agg.push(t, kind.value(0.0)),
        };
        match kind {
            Bad::Late => {
                // Late only if it falls before the open interval.
                let open_start = t - t.rem_euclid(10_000);
                if t - back < open_start {
                    // `closed_at` is the boundary the event fell behind: past it, at most the
                    // start of the open interval.
                    prop_assert!(
                        matches!(r, Err(Error::LateEvent { timestamp, closed_at }) if timestamp == t - back && timestamp < closed_at && closed_at <= open_start),
                        "{:?}",
                        r
                    );
                } else {
                    prop_assert!(r.is_ok());
                    return Ok(());
                }
            }
            _ => kind.expect(r, 0, 0)?,
        }
        same_state(&agg, &before)?;
        prop_assert_eq!(agg.to_snapshot().unwrap(), snap);
        Ok(())
    });
}

#[test]
fn aggregator_late_after_flush_names_the_closed_window() {
    let mut agg = AggregatorParams::default().width_ms(1_000).build().unwrap();
    agg.push(1_500, 1.0).unwrap();
    let closed = agg.flush().unwrap();
    assert_eq!((closed.start, closed.end), (1_000, 2_000));
    let before = agg.clone();
    let e = agg.push(1_999, 1.0).unwrap_err();
    assert!(matches!(e, Error::LateEvent { timestamp: 1_999, closed_at: 2_000 }), "{e:?}");
    assert_eq!(e.code(), "LateEvent");
    assert_eq!(agg, before);
    assert!(agg.push(2_000, 1.0).unwrap().is_empty());
}

// ---------------------------------------------------------------------------------------------
// Watch

#[test]
fn watch_rejects_bad_points_and_batches_untouched() {
    use oddsight_core::{StrikePolicy, Watch};
    let strategy = (series(moderate(), 1..80), bad(), series(moderate(), 2..20), any::<prop::sample::Index>());
    check("watch", CASES, strategy, |(history, kind, batch, at)| {
        let mut w: Watch<_, StrikePolicy> = Watch::new(
            common::detector(common::seasonal(), ZScore),
            StrikePolicyParams::strikes(2).rebaseline(Some(ShiftRule::new(4, 0))).build().unwrap(),
        );
        for &p in &history {
            w.push(p).unwrap();
        }
        let last = history[history.len() - 1].timestamp;
        let (before, snap) = (w.clone(), w.to_snapshot().unwrap());
        let point = match kind {
            Bad::Late => Point::new(last - 1, 1.0),
            _ => Point::new(last, kind.value(0.0)),
        };
        kind.expect(w.push(point), last - 1, last)?;
        let batch = after(&history, &batch);
        let (ts, mut vs) = split(&batch);
        let i = 1 + at.index(ts.len() - 1);
        vs[i] = f64::NAN;
        prop_assert!(matches!(w.push_batch(&ts, &vs), Err(Error::NonFinite { .. })), "NaN in a batch");
        prop_assert!(matches!(w.push_batch(&ts, &vs[1..]), Err(Error::Shape { .. })), "lengths differ");
        same_state(&w, &before)?;
        prop_assert_eq!(w.to_snapshot().unwrap(), snap);
        Ok(())
    });
}

#[test]
fn watch_orders_against_every_pushed_point_even_skipped_ones() {
    use oddsight_core::{Learned, Watch};
    // Points in the exclusion window are neither judged nor learned, yet time has moved on.
    let mut w =
        Watch::new(common::detector(common::seasonal(), ZScore), StrikePolicyParams::default().build().unwrap());
    let step = w.push(Point::new(1_900_000, 5.0)).unwrap();
    assert!(step.verdict.notes.excluded && step.learned == Learned::Skipped);
    assert_eq!(w.detector().last_timestamp(), None);
    let before = w.clone();
    let e = w.push(Point::new(1_899_999, 5.0)).unwrap_err();
    assert!(matches!(e, Error::OutOfOrder { timestamp: 1_899_999, last: 1_900_000 }), "{e:?}");
    assert!(matches!(w.push_batch(&[1_899_999], &[1.0]), Err(Error::OutOfOrder { .. })));
    assert_eq!(w, before);
    w.push(Point::new(1_900_000, 5.0)).unwrap(); // equal timestamps are fine
}

// ---------------------------------------------------------------------------------------------
// Parameter validation

/// Asserts `r` is `InvalidParameter` for `name` with the value printed as `value`, and that the
/// message reads `invalid parameter {name}: {reason}, got {value}`.
#[track_caller]
fn rejects<T: std::fmt::Debug>(r: oddsight_core::Result<T>, name: &str, value: &str) {
    match r {
        Err(e @ Error::InvalidParameter { .. }) => {
            let Error::InvalidParameter { name: n, value: v, reason } = &e else { unreachable!() };
            assert_eq!((*n, v.as_str()), (name, value), "{e}");
            assert_eq!(e.to_string(), format!("invalid parameter {name}: {reason}, got {value}"));
            assert!(!reason.is_empty() && reason.chars().next().is_some_and(char::is_lowercase), "{e}");
            assert_eq!(e.code(), "InvalidParameter");
        }
        other => panic!("expected InvalidParameter for {name} = {value}, got {other:?}"),
    }
}

#[test]
fn the_message_reads_as_the_style_guide_says() {
    let e = EwmaParams::default().alpha(1.5).build().unwrap_err();
    assert_eq!(e.to_string(), "invalid parameter alpha: must be in (0, 1], got 1.5");
}

#[test]
fn ewma_params() {
    for a in [0.0, -0.1, 1.5, f64::NAN, f64::INFINITY] {
        rejects(EwmaParams::default().alpha(a).build(), "alpha", &a.to_string());
    }
    EwmaParams::default().alpha(1.0).warmup(0).build().unwrap();
    for (abs, rel, name, value) in [
        (0.0, 0.0, "floor.absolute", "0"),
        (-1.0, 0.0, "floor.absolute", "-1"),
        (f64::NAN, 0.0, "floor.absolute", "NaN"),
        (f64::INFINITY, 0.0, "floor.absolute", "inf"),
        (1e-9, -0.5, "floor.relative", "-0.5"),
        (1e-9, f64::INFINITY, "floor.relative", "inf"),
        (1e-9, f64::NAN, "floor.relative", "NaN"),
    ] {
        rejects(EwmaParams::default().floor(ScaleFloor::new(abs, rel)).build(), name, value);
        rejects(WindowParams::default().floor(ScaleFloor::new(abs, rel)).build(), name, value);
        rejects(QuantileWindowParams::default().floor(ScaleFloor::new(abs, rel)).build(), name, value);
        rejects(SeasonalParams::default().floor(ScaleFloor::new(abs, rel)).build(), name, value);
    }
}

#[test]
fn window_params() {
    rejects(WindowParams::default().window(0).build(), "window", "0 (allowed 2..=10000000)");
    rejects(WindowParams::default().window(1).build(), "window", "1 (allowed 2..=10000000)");
    rejects(WindowParams::default().window(10_000_001).build(), "window", "10000001 (allowed 2..=10000000)");
    WindowParams::default().window(2).warmup(100).build().unwrap();
    rejects(QuantileWindowParams::default().window(0).build(), "window", "0 (allowed 1..=1000000)");
    rejects(QuantileWindowParams::default().window(1_000_001).build(), "window", "1000001 (allowed 1..=1000000)");
    QuantileWindowParams::default().window(1).warmup(0).build().unwrap();
}

#[test]
fn sketch_and_calibrator_params() {
    for a in [0.0, 0.5, 0.7, -0.01, f64::NAN] {
        rejects(QuantileSketchParams::default().relative_accuracy(a).build(), "relative_accuracy", &a.to_string());
    }
    rejects(QuantileSketchParams::default().max_bins(15).build(), "max_bins", "15 (allowed 16..=65536)");
    rejects(QuantileSketchParams::default().max_bins(65_537).build(), "max_bins", "65537 (allowed 16..=65536)");
    let mut p = QuantileSketchParams::default();
    p.min_magnitude = 0.0;
    rejects(p.build(), "min_magnitude", "0");

    for r in [0.0, 1.0, -0.5, f64::NAN] {
        rejects(CalibratorParams::default().false_alarm_rate(r).build(), "false_alarm_rate", &r.to_string());
    }
    rejects(CalibratorParams::default().min_samples(9).build(), "min_samples", "9");
    let mut c = CalibratorParams::default();
    c.relative_accuracy = 0.5;
    rejects(c.build(), "relative_accuracy", "0.5");
}

#[test]
fn seasonal_params() {
    const H: i64 = 3_600_000;
    let p = SeasonalParams::default;
    rejects(p().period_ms(0).build(), "period_ms", "0");
    rejects(p().period_ms(-H).build(), "period_ms", &(-H).to_string());
    rejects(p().bucket_ms(0).build(), "bucket_ms", "0");
    rejects(p().bucket_ms(11 * 60_000).build(), "bucket_ms", "660000"); // does not divide a week
    rejects(p().bucket_ms(1).build(), "bucket_ms", "1"); // 604,800,000 buckets
    rejects(p().tz_offset_ms(24 * H + 1).build(), "tz_offset_ms", "86400001");
    rejects(p().tz_offset_ms(-24 * H - 1).build(), "tz_offset_ms", "-86400001");
    p().tz_offset_ms(-24 * H).build().unwrap();
    rejects(p().coarse_period_ms(Some(0)).build(), "coarse_period_ms", "0");
    rejects(p().coarse_period_ms(Some(5 * H)).build(), "coarse_period_ms", "18000000"); // does not divide a week
    rejects(
        p().bucket_ms(2 * H).coarse_period_ms(Some(7 * H)).period_ms(14 * H).build(),
        "coarse_period_ms",
        "25200000",
    );
    for a in [0.0, 1.01, f64::NAN] {
        rejects(p().alpha(a).build(), "alpha", &a.to_string());
    }
    rejects(p().min_samples(0).build(), "min_samples", "0");
    for z in [0.5, f64::INFINITY, f64::NAN] {
        rejects(p().clip_z(z).build(), "clip_z", &z.to_string());
    }
    rejects(p().exclude(10, 10).build(), "exclusions", "10..10");
    rejects(p().exclude(0, 5).exclude(10, 3).build(), "exclusions", "10..3");
    p().cold_start(ColdStart::Strict).coarse_period_ms(None).build().unwrap();
}

#[test]
fn aggregator_params() {
    rejects(AggregatorParams::default().width_ms(0).build(), "width_ms", "0");
    rejects(AggregatorParams::default().width_ms(-5).build(), "width_ms", "-5");
    rejects(AggregatorParams::default().exact_limit(0).build(), "exact_limit", "0 (allowed 1..=100000000)");
    let mut p = AggregatorParams::default();
    p.max_gap_intervals = 10_000_001;
    rejects(p.build(), "max_gap_intervals", "10000001 (allowed 0..=10000000)");
}

#[test]
fn strike_policy_params() {
    let p = StrikePolicyParams::default;
    rejects(p().levels(0.0, 0.0).build(), "enter", "0");
    rejects(p().levels(1.0, 0.5).build(), "enter", "1");
    rejects(p().levels(f64::NAN, 0.4).build(), "enter", "NaN");
    rejects(p().levels(0.5, -0.1).build(), "exit", "-0.1");
    rejects(p().levels(0.5, 0.7).build(), "exit", "0.7");
    rejects(p().levels(0.5, f64::NAN).build(), "exit", "NaN");
    rejects(StrikePolicyParams::strikes(0).build(), "trigger.k", "0 (allowed 1..=10000)");
    rejects(StrikePolicyParams::strikes(10_001).build(), "trigger.k", "10001 (allowed 1..=10000)");
    rejects(StrikePolicyParams::k_of_n(5, 3).build(), "trigger.n", "3 (allowed 5..=10000)");
    rejects(StrikePolicyParams::k_of_n(0, 3).build(), "trigger.k", "0 (allowed 1..=10000)");
    rejects(StrikePolicyParams::k_of_n(2, 10_001).build(), "trigger.n", "10001 (allowed 2..=10000)");
    rejects(p().min_duration_ms(-1).build(), "min_duration_ms", "-1");
    rejects(p().recovery(0).build(), "recovery", "0 (allowed 1..=1000000)");
    rejects(p().cooldown_ms(-1).build(), "cooldown_ms", "-1");
    rejects(p().rebaseline(Some(ShiftRule::new(0, 0))).build(), "rebaseline.min_points", "0 (allowed 1..=10000000)");
    rejects(p().rebaseline(Some(ShiftRule::new(5, -1))).build(), "rebaseline.min_duration_ms", "-1");
    rejects(p().max_verdicts(0).build(), "max_verdicts", "0 (allowed 1..=1000000)");
    let mut q = p();
    q.trigger = Trigger::KOfN { k: 3, n: 3 };
    q.build().unwrap();
    StrikePolicyParams::threshold(0.5).rebaseline(None).build().unwrap();
}

#[test]
fn detector_params_and_scorers() {
    let make = |p: DetectorParams| oddsight_core::BaselineDetector::new(common::ewma(), ZScore, p);
    for t in [0.0, 1.0, -0.5, f64::NAN] {
        rejects(make(DetectorParams::default().threshold(t)), "threshold", &t.to_string());
    }
    for b in [0.0, -1.0, f64::INFINITY, f64::NAN] {
        rejects(make(DetectorParams::default().band_z(b)), "band_z", &b.to_string());
    }
    rejects(make(DetectorParams::default().max_gap_ms(Some(0))), "max_gap_ms", "0");
    rejects(make(DetectorParams::default().max_gap_ms(Some(-60_000))), "max_gap_ms", "-60000");
    for m in [1.0, 0.5, -3.0, f64::INFINITY, f64::NAN] {
        rejects(RatioScorer::new(m), "multiple", &m.to_string());
    }
    assert_eq!(RatioScorer::new(1.5).unwrap().multiple(), 1.5);
}
