//! Bugs found by the property tests, pinned as plain tests.
//!
//! The first section holds bugs that were fixed (one-line panic fixes in `core/src`); these
//! tests must keep passing. The second holds bugs still open: each is `#[ignore]`d with the
//! reason, fails today, and should pass (and lose its `#[ignore]`) once fixed. Run them with
//! `cargo test -p oddsight-core --test regressions -- --ignored`.

// clippy's allow-unwrap-in-tests covers `#[test]` functions only, not the helpers here.
#![allow(clippy::unwrap_used)]

mod common;

use common::{check, for_each_detector, observe_all, same_verdicts, series, wild};
use oddsight_core::{
    AggregatorParams, AlertPolicy, Baseline, BaselineDetector, Detector, DetectorParams, Direction, EwmaBaseline,
    EwmaParams, Point, QuantileSketch, QuantileSketchParams, SeasonalBaseline, SeasonalParams, ShiftRule, Stateful,
    StrikePolicyParams, Verdict, Watch, WindowBaseline, WindowParams, ZScore,
};
use proptest::test_runner::TestCaseError;

fn strike_at(t: i64) -> Verdict {
    let mut v = Verdict::neutral(Point::new(t, 1.0), 0.0, "test".into(), true);
    v.anomaly_score = 0.9;
    v.severity = oddsight_core::scale::severity(0.9);
    v.direction = Direction::Up;
    v
}

// ---------------------------------------------------------------------------------------------
// Fixed: timestamp arithmetic that overflowed (a panic in debug builds, a wrong answer in release)

#[test]
fn aggregator_accepts_timestamps_near_i64_min() {
    // aggregate.rs `interval_start`: `rel - rel.rem_euclid(w)` overflowed for rel near i64::MIN.
    for origin in [0, 5, -5] {
        let mut a = AggregatorParams::default().origin_ms(origin).build().unwrap();
        assert!(a.push(i64::MIN, 1.0).unwrap().is_empty());
        assert!(a.push(i64::MIN + 3, 2.0).unwrap().is_empty());
        let closed = a.flush().unwrap();
        assert_eq!(closed.count, 2);
        assert!(closed.start <= i64::MIN + 3 && i64::MIN + 3 < closed.end);
    }
}

#[test]
fn gap_check_does_not_overflow() {
    // detector.rs `score`: `point.timestamp - last > max_gap_ms` overflowed.
    let params = DetectorParams::default().max_gap_ms(Some(1_000));
    let mut d = BaselineDetector::new(EwmaParams::default().warmup(1).build().unwrap(), ZScore, params).unwrap();
    d.observe(Point::new(-10, 1.0)).unwrap();
    let v = d.observe(Point::new(i64::MAX, 1.0)).unwrap();
    assert!(v.notes.gap);
}

#[test]
fn strike_policy_durations_do_not_overflow() {
    // policy.rs `step` (`v.timestamp - start >= min_duration_ms`) and `guard` (the span of a
    // shift) overflowed for runs spanning more than i64::MAX milliseconds.
    let mut p = StrikePolicyParams::strikes(2).min_duration_ms(5).build().unwrap();
    p.step(&strike_at(i64::MIN));
    assert!(!p.step(&strike_at(i64::MAX)).events.is_empty());
    let mut p = StrikePolicyParams::strikes(5).rebaseline(Some(ShiftRule::new(2, 5))).build().unwrap();
    p.step(&strike_at(i64::MIN));
    assert!(matches!(p.step(&strike_at(i64::MAX)).learn, oddsight_core::Learn::Rebaseline { .. }));
    // The same through a Watch, with ordered user timestamps.
    let d = BaselineDetector::new(EwmaParams::default().warmup(1).build().unwrap(), ZScore, DetectorParams::default());
    let mut w = Watch::new(d.unwrap(), StrikePolicyParams::strikes(2).min_duration_ms(5).build().unwrap());
    for (t, v) in [(i64::MIN, 1.0), (i64::MIN, 1.0), (i64::MIN, 1000.0), (i64::MAX, 1000.0)] {
        w.push(Point::new(t, v)).unwrap();
    }
    assert!(w.policy().open_alert().is_some());
}

#[test]
fn seasonal_cycles_do_not_overflow() {
    // seasonal.rs `BucketStats::learn`: `cycle - self.cycle` overflowed with a 1 ms period and
    // timestamps far apart (baselines accept any time order).
    let mut b = SeasonalParams::default().period_ms(1).bucket_ms(1).coarse_period_ms(None).build().unwrap();
    b.update(Point::new(i64::MIN, 1.0)).unwrap();
    b.update(Point::new(i64::MAX, 1.0)).unwrap();
    assert_eq!(b.count(), 2);
}

#[test]
fn seasonal_learning_after_a_non_finite_level_does_not_panic() {
    // seasonal.rs `BucketStats::learn` winsorised with `f64::clamp`, which panics on a NaN
    // bound: a bucket whose squared deviations overflowed (sd = inf) and whose mean a large
    // re-baselining factor pushed to -inf has bounds (-inf, NaN). Found through a Watch
    // re-baselining a huge series; fixed with `x.max(lo).min(hi)`. The state is still
    // non-finite (see the open bugs below), but nothing panics.
    let mut b = SeasonalParams::default().build().unwrap();
    for v in [-1e300, 1e300, -1e300] {
        b.update(Point::new(0, v)).unwrap();
    }
    b.shift(oddsight_core::LevelShift::Scale(1e10));
    b.update(Point::new(0, 1.0)).unwrap();
    let _ = b.expect(0);
}

// ---------------------------------------------------------------------------------------------
// Open: variance overflow with huge (but finite) values

#[test]
#[ignore = "BUG ewma.rs EwmaBaseline::learn: the first value >= ~1.4e154 makes var = 0 * inf = NaN"]
fn ewma_variance_stays_finite_after_a_huge_first_value() {
    let mut b = EwmaParams::default().build().unwrap();
    b.update(Point::new(0, 1e300)).unwrap();
    assert!(!b.std_dev().is_nan(), "var is NaN");
    EwmaBaseline::from_snapshot(&b.to_snapshot().unwrap()).unwrap();
}

#[test]
#[ignore = "BUG window.rs / seasonal.rs: squared deviations overflow to inf for values ~1e300, and the snapshot then cannot be restored"]
fn window_and_seasonal_snapshots_restore_after_huge_values() {
    let mut w = WindowParams::default().build().unwrap();
    let mut s = SeasonalParams::default().build().unwrap();
    for (i, v) in [1e300, -1e300, 1e300, -1e300].into_iter().enumerate() {
        w.update(Point::new(i as i64, v)).unwrap();
        s.update(Point::new(i as i64, v)).unwrap();
    }
    let ws = WindowBaseline::from_snapshot(&w.to_snapshot().unwrap());
    let ss = SeasonalBaseline::from_snapshot(&s.to_snapshot().unwrap());
    assert!(ws.is_ok() && ss.is_ok(), "{ws:?} {ss:?}");
}

fn snapshot_round_trips_with_huge_values<D, F>(name: &str, make: F)
where
    D: Detector + Stateful,
    F: Fn() -> D,
{
    check(&format!("huge-snapshot/{name}"), 32, (series(wild(), 0..60), series(wild(), 1..30)), |(history, more)| {
        let mut original = make();
        observe_all(&mut original, &history);
        let mut restored = D::from_snapshot(&original.snapshot().unwrap())
            .map_err(|e| TestCaseError::fail(format!("restore: {e}")))?;
        let more = common::after(&history, &more);
        same_verdicts(&observe_all(&mut restored, &more), &observe_all(&mut original, &more))
    });
}

#[test]
#[ignore = "BUG: a detector that has seen values ~1e300 writes a snapshot it cannot restore (ewma, window, seasonal)"]
fn detector_snapshots_restore_after_values_up_to_1e300() {
    for_each_detector!(snapshot_round_trips_with_huge_values);
}

fn verdicts_stay_finite_near_f64_max<D, F>(name: &str, make: F)
where
    D: Detector,
    F: Fn() -> D,
{
    check(&format!("f64-max/{name}"), 32, series(common::any_finite(), 1..60), |points| {
        let mut d = make();
        for &p in &points {
            common::sane(&d.observe(p).map_err(|e| TestCaseError::fail(format!("{p:?}: {e}")))?)?;
        }
        Ok(())
    });
}

#[test]
#[ignore = "BUG: values near f64::MAX give expected = ±inf and NaN bands (means, medians 0.5*(a+b) and variances overflow)"]
fn detector_verdicts_stay_finite_up_to_f64_max() {
    for_each_detector!(verdicts_stay_finite_near_f64_max);
}

#[test]
#[ignore = "BUG detector.rs rebaseline / seasonal.rs shift: a LevelShift::Scale factor measured on one bucket is applied to every bucket without checking they stay finite; expected becomes inf and bands NaN"]
fn seasonal_rebaseline_by_a_large_factor_keeps_every_bucket_finite() {
    // Bucket 0 is at 1e200, bucket 1 at 1e-200; a shift seen in bucket 1 (to 1e100) scales
    // everything by 1e300, and bucket 0 overflows.
    let mut d = common::detector(common::seasonal(), ZScore);
    for t in [0, 1, 2] {
        d.update(Point::new(t, 1e200)).unwrap();
    }
    for t in [60_000, 60_001, 60_002] {
        d.update(Point::new(t, 1e-200)).unwrap();
    }
    d.rebaseline(&[Point::new(60_003, 1e100)]).unwrap();
    let v = d.score(Point::new(600_000, 1.0)).unwrap(); // bucket 0 of the next cycle
    common::sane(&v).unwrap();
    // The same through a Watch, with random huge series and shifts.
    common::watch_over("seasonal", wild(), 300, common::seasonal);
}

// ---------------------------------------------------------------------------------------------
// Open: snapshots

#[test]
fn seasonal_restore_equals_the_original() {
    let mut b = common::seasonal();
    b.update(Point::new(0, 1.0)).unwrap();
    assert_eq!(SeasonalBaseline::from_snapshot(&b.to_snapshot().unwrap()).unwrap(), b);
}

/// Restores `snapshot` and uses the result; `Ok(Err)` is a typed rejection, `Err` a panic.
fn restore_and_use<T: Stateful>(snapshot: &str, use_it: impl FnOnce(T)) -> Result<oddsight_core::Result<()>, String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| T::from_snapshot(snapshot).map(use_it))).map_err(|p| {
        p.downcast_ref::<String>().cloned().or(p.downcast_ref::<&str>().map(|s| s.to_string())).unwrap_or_default()
    })
}

#[test]
#[ignore = "BUG sketch.rs QuantileSketch::validate: min > max is accepted, then quantile() panics in f64::clamp"]
fn sketch_snapshot_with_min_above_max_is_rejected() {
    let mut k = QuantileSketchParams::default().build().unwrap();
    k.add(1.0).unwrap();
    k.add(2.0).unwrap();
    let s = k.to_snapshot().unwrap().replace("\"min\":1.0", "\"min\":5.0");
    let r = restore_and_use::<QuantileSketch>(&s, |k| drop(k.quantile(0.5)));
    assert!(matches!(r, Ok(Err(oddsight_core::Error::Snapshot { .. }))), "{r:?}");
}

#[test]
#[ignore = "BUG sketch.rs QuantileSketch::validate: summing bin counts overflows (panic) instead of rejecting"]
fn sketch_snapshot_with_overflowing_bins_is_rejected() {
    let mut k = QuantileSketchParams::default().build().unwrap();
    k.add(1.0).unwrap();
    k.add(2.0).unwrap();
    let s = k.to_snapshot().unwrap().replacen("[1,", "[18446744073709551615,", 1);
    let r = restore_and_use::<QuantileSketch>(&s, drop);
    assert!(matches!(r, Ok(Err(oddsight_core::Error::Snapshot { .. }))), "{r:?}");
}

#[test]
#[ignore = "BUG sketch.rs QuantileSketch::validate: bin offsets are not range-checked; offset + len overflows i32 on the next add"]
fn sketch_snapshot_with_an_extreme_offset_is_rejected() {
    let mut k = QuantileSketchParams::default().build().unwrap();
    k.add(1.0).unwrap();
    let s = k.to_snapshot().unwrap().replacen("\"offset\":0", "\"offset\":2147483647", 1);
    let r = restore_and_use::<QuantileSketch>(&s, |mut k| {
        k.add(1.0).unwrap();
        drop(k.quantile(0.5));
    });
    assert!(matches!(r, Ok(Err(oddsight_core::Error::Snapshot { .. }))), "{r:?}");
}

#[test]
#[ignore = "BUG window.rs WindowBaseline::validate: since_exact is not checked against window; usize::MAX overflows on the next update"]
fn window_snapshot_with_a_huge_counter_is_rejected() {
    let w = WindowParams::default().build().unwrap();
    let s = w.to_snapshot().unwrap().replace("\"since_exact\":0", "\"since_exact\":18446744073709551615");
    let r = restore_and_use::<WindowBaseline>(&s, |mut w| w.update(Point::new(0, 1.0)).unwrap());
    assert!(matches!(r, Ok(Err(oddsight_core::Error::Snapshot { .. }))), "{r:?}");
}

#[test]
#[ignore = "BUG ewma.rs EwmaBaseline::learn: `n += 1` overflows for a snapshot holding n = u64::MAX (use saturating_add)"]
fn ewma_snapshot_with_a_maximal_count_keeps_working() {
    let b = EwmaParams::default().build().unwrap();
    let s = b.to_snapshot().unwrap().replace("\"n\":0", "\"n\":18446744073709551615");
    let r = restore_and_use::<EwmaBaseline>(&s, |mut b| b.update(Point::new(0, 1.0)).unwrap());
    assert!(matches!(r, Ok(Ok(())) | Ok(Err(oddsight_core::Error::Snapshot { .. }))), "{r:?}");
}

#[test]
#[ignore = "BUG window.rs WindowBaseline::validate: mean and m2 are not checked against the ring; a negative m2 or a wrong mean is accepted and skews verdicts until the next recompute"]
fn window_snapshot_with_an_inconsistent_mean_or_negative_variance_is_rejected() {
    let mut w = WindowParams::default().window(10).build().unwrap();
    for i in 0..5 {
        w.update(Point::new(i, 100.0 + i as f64)).unwrap();
    }
    let v: serde_json::Value = serde_json::from_str(&w.to_snapshot().unwrap()).unwrap();
    for (field, value) in [("m2", -5.0), ("mean", 1e6)] {
        let mut edited = v.clone();
        edited["state"][field] = serde_json::json!(value);
        let r = WindowBaseline::from_snapshot(&edited.to_string());
        assert!(matches!(r, Err(oddsight_core::Error::Snapshot { .. })), "{field} = {value}: {r:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// Open: parameters

#[test]
#[ignore = "BUG sketch.rs: relative_accuracy below ~1.7e-7 is accepted, bin indices saturate at i32::MAX and Store::add overflows"]
fn sketch_with_a_tiny_relative_accuracy_does_not_panic() {
    let r = std::panic::catch_unwind(|| {
        let Ok(mut s) = QuantileSketchParams::default().relative_accuracy(1e-10).build() else { return };
        s.add(1e300).unwrap();
        s.add(1e300).unwrap();
        s.add(1e-9).unwrap();
        drop(s.quantile(0.5));
    });
    assert!(r.is_ok());
}
