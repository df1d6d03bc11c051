//! Property tests of the streaming contracts, over every stateful type of `oddsight-core`:
//! verdicts are never NaN and stay in range for any finite input (huge, tiny, constant),
//! `score` never mutates, batch forms equal the streaming loop bit for bit, a snapshot restores
//! to an object that gives bit-identical verdicts, and the quantile structures agree with naive
//! implementations.
//!
//! All generation is seeded (see `common::check`), so failures reproduce.

// clippy's allow-unwrap-in-tests covers `#[test]` functions only, not the helpers here.
#![allow(clippy::unwrap_used)]

mod common;

use common::{
    SplitMix64, after, big, check, for_each_detector, moderate, observe_all, same_state, same_verdicts, sane, series,
    split, wild,
};
use ndarray::{Array1, s};
use oddsight_core::{
    Aggregate, AggregatorParams, AlertEvent, AlertPolicy, Baseline, BaselineDetector, CalibratorParams, Detector,
    Direction, EwmaParams, Learn, Point, QuantileSketch, QuantileSketchParams, QuantileWindowParams, ShiftRule,
    Stateful, StrikePolicy, StrikePolicyParams, Trigger, Verdict, Watch, ZScore, scale,
};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

const CASES: u32 = 24;

// ---------------------------------------------------------------------------------------------
// Detectors: every baseline × every scorer

fn verdicts_are_sane<D, F>(name: &str, make: F)
where
    D: Detector,
    F: Fn() -> D,
{
    sane_over(name, wild(), make);
}

fn sane_over<D, F>(name: &str, values: BoxedStrategy<f64>, make: F)
where
    D: Detector,
    F: Fn() -> D,
{
    check(&format!("sane/{name}"), CASES, series(values, 1..120), |points| {
        let mut d = make();
        for &p in &points {
            sane(&d.observe(p).map_err(|e| TestCaseError::fail(format!("{p:?}: {e}")))?)?;
            // A probe far from anything learned, in both directions, must stay sane too.
            let far = -p.value * 1e6 - 1.0;
            sane(&d.score(Point::new(p.timestamp, if far.is_finite() { far } else { -p.value })).unwrap())?;
        }
        Ok(())
    });
}

#[test]
fn detector_verdicts_are_never_nan_and_in_range() {
    for_each_detector!(verdicts_are_sane);
}

fn score_is_pure<D, F>(name: &str, make: F)
where
    D: Detector + Stateful + Clone + PartialEq + std::fmt::Debug,
    F: Fn() -> D,
{
    let probes = prop::collection::vec((0i64..200_000, wild()), 1..8);
    check(&format!("pure/{name}"), CASES, (series(wild(), 0..80), probes), |(history, probes)| {
        let mut d = make();
        observe_all(&mut d, &history);
        let (before, snap) = (d.clone(), d.snapshot().unwrap());
        let last = d.last_timestamp().unwrap_or(0);
        for (dt, v) in probes {
            let _ = d.score(Point::new(last + dt, v)).unwrap();
            let _ = d.score(Point::new(last - 1 - dt, v)); // out of order: an error, still pure
            let _ = d.score(Point::new(last + dt, f64::NAN));
        }
        same_state(&d, &before)?;
        prop_assert_eq!(d.snapshot().unwrap(), snap);
        Ok(())
    });
}

#[test]
fn detector_score_never_mutates() {
    for_each_detector!(score_is_pure);
}

/// Interleaves `xs` with junk so that `.slice(s![..;2])` is a strided view of exactly `xs`.
fn strided<T: Copy>(xs: &[T], junk: T) -> Array1<T> {
    xs.iter().flat_map(|&x| [x, junk]).collect()
}

fn batch_equals_loop<D, F>(name: &str, make: F)
where
    D: Detector + Stateful + Clone + PartialEq + std::fmt::Debug,
    F: Fn() -> D,
{
    check(&format!("batch/{name}"), CASES, (series(wild(), 0..100), series(wild(), 0..30)), |(points, probes)| {
        let (ts, vs) = split(&points);

        let mut looped = make();
        let expected = observe_all(&mut looped, &points);

        let mut batched = make();
        same_verdicts(&batched.observe_batch(&ts, &vs).unwrap(), &expected)?;
        same_state(&batched, &looped)?;

        let (tsa, vsa) = (strided(&ts, -1), strided(&vs, f64::NAN));
        let mut viewed = make();
        same_verdicts(&viewed.observe_view(tsa.slice(s![..;2]), vsa.slice(s![..;2])).unwrap(), &expected)?;
        same_state(&viewed, &looped)?;
        // A reversed view has a negative stride.
        let (tsr, vsr): (Array1<i64>, Array1<f64>) =
            (ts.iter().rev().copied().collect(), vs.iter().rev().copied().collect());
        let mut reversed = make();
        same_verdicts(&reversed.observe_view(tsr.slice(s![..;-1]), vsr.slice(s![..;-1])).unwrap(), &expected)?;
        same_state(&reversed, &looped)?;

        let mut updated = make();
        updated.update_batch(&ts, &vs).unwrap();
        let mut update_loop = make();
        for &p in &points {
            update_loop.update(p).unwrap();
        }
        same_state(&updated, &update_loop)?;
        prop_assert_eq!(updated.snapshot().unwrap(), update_loop.snapshot().unwrap());

        // score_batch judges every point against the same state.
        let probes = after(&points, &probes);
        let (pts, pvs) = split(&probes);
        let one_by_one: Vec<Verdict> = probes.iter().map(|&p| looped.score(p).unwrap()).collect();
        same_verdicts(&looped.score_batch(&pts, &pvs).unwrap(), &one_by_one)?;
        let (ptsa, pvsa) = (strided(&pts, 7), strided(&pvs, 1e9));
        same_verdicts(&looped.score_view(ptsa.slice(s![..;2]), pvsa.slice(s![..;2])).unwrap(), &one_by_one)?;
        Ok(())
    });
}

#[test]
fn detector_batch_equals_streaming_loop() {
    for_each_detector!(batch_equals_loop);
}

fn snapshot_round_trips<D, F>(name: &str, make: F)
where
    D: Detector + Stateful + Clone + PartialEq + std::fmt::Debug,
    F: Fn() -> D,
{
    check(&format!("snapshot/{name}"), CASES, (series(big(), 0..100), series(big(), 1..60)), |(history, more)| {
        let mut original = make();
        observe_all(&mut original, &history);
        let snap = original.snapshot().unwrap();
        let mut restored = D::from_snapshot(&snap).map_err(|e| TestCaseError::fail(format!("restore: {e}")))?;
        prop_assert_eq!(restored.snapshot().unwrap(), snap.clone());
        let more = after(&history, &more);
        same_verdicts(&observe_all(&mut restored, &more), &observe_all(&mut original, &more))?;
        prop_assert_eq!(restored.snapshot().unwrap(), original.snapshot().unwrap());
        Ok(())
    });
}

#[test]
fn detector_snapshot_restores_identical_verdicts() {
    for_each_detector!(snapshot_round_trips);
}

fn restore_is_equal<D, F>(name: &str, make: F)
where
    D: Detector + Stateful + Clone + PartialEq + std::fmt::Debug,
    F: Fn() -> D,
{
    check(&format!("snapshot-eq/{name}"), 16, series(moderate(), 0..60), |history| {
        let mut original = make();
        observe_all(&mut original, &history);
        let restored = D::from_snapshot(&original.snapshot().unwrap()).unwrap();
        prop_assert_eq!(restored, original);
        Ok(())
    });
}

#[test]
fn detector_snapshot_restores_an_equal_value() {
    // The seasonal detectors are left out: see `regressions.rs` (its lookup cache is compared
    // by the derived `PartialEq` but not snapshotted).
    use oddsight_core::{RatioScorer, StudentT};
    restore_is_equal("ewma/z", || common::detector(common::ewma(), ZScore));
    restore_is_equal("ewma/ratio", || common::detector(common::ewma(), RatioScorer::default()));
    restore_is_equal("window/student-t", || common::detector(common::window(), StudentT));
    restore_is_equal("quantile-window/z", || common::detector(common::quantile_window(), ZScore));
}

// ---------------------------------------------------------------------------------------------
// Baselines on their own

fn baseline_contract<B, F>(name: &str, make: F)
where
    B: Baseline + Stateful + Clone + PartialEq,
    F: Fn() -> B,
{
    check(&format!("baseline/{name}"), CASES, (series(big(), 0..100), series(big(), 1..40)), |(history, more)| {
        let mut b = make();
        for &p in &history {
            b.update(p).unwrap();
            let e = b.expect(p.timestamp);
            prop_assert!(e.center.is_finite(), "center {:?}", e);
            prop_assert!(e.scale > 0.0 && !e.scale.is_nan(), "scale {:?}", e);
            prop_assert_eq!(e.warm, e.count >= e.min_count);
        }
        let snap = b.to_snapshot().unwrap();
        let before = b.clone();
        let _ = b.expect(i64::MIN);
        let _ = b.expect(i64::MAX);
        same_state(&b, &before)?;
        let mut restored = B::from_snapshot(&snap).map_err(|e| TestCaseError::fail(format!("restore: {e}")))?;
        prop_assert_eq!(restored.to_snapshot().unwrap(), snap);
        for &p in &after(&history, &more) {
            b.update(p).unwrap();
            restored.update(p).unwrap();
            let (x, y) = (b.expect(p.timestamp), restored.expect(p.timestamp));
            prop_assert_eq!(
                (x.center.to_bits(), x.scale.to_bits(), x.count),
                (y.center.to_bits(), y.scale.to_bits(), y.count)
            );
        }
        prop_assert_eq!(b.to_snapshot().unwrap(), restored.to_snapshot().unwrap());
        // shift then reset: reset forgets everything.
        b.shift(oddsight_core::LevelShift::Add(1.0));
        b.shift(oddsight_core::LevelShift::Scale(2.0));
        b.reset();
        prop_assert_eq!(b.count(), 0);
        Ok(())
    });
}

#[test]
fn baselines_expect_sanely_and_round_trip() {
    baseline_contract("ewma", common::ewma);
    baseline_contract("window", common::window);
    baseline_contract("quantile-window", common::quantile_window);
    baseline_contract("seasonal", common::seasonal);
}

#[test]
fn ewma_default_and_extreme_alpha_stay_sane() {
    // alpha = 1 (only the last point counts) and a tiny alpha.
    for alpha in [1.0, 1e-6] {
        let make = move || common::detector(EwmaParams::default().alpha(alpha).warmup(2).build().unwrap(), ZScore);
        verdicts_are_sane(&format!("alpha={alpha}"), make);
        snapshot_round_trips(&format!("alpha={alpha}"), make);
    }
}

// ---------------------------------------------------------------------------------------------
// QuantileWindow against a naive sort

fn naive_median(sorted: &[f64]) -> f64 {
    let n = sorted.len();
    if n % 2 == 1 { sorted[n / 2] } else { 0.5 * (sorted[n / 2 - 1] + sorted[n / 2]) }
}

fn naive_quantile(sorted: &[f64], q: f64) -> f64 {
    let h = (sorted.len() - 1) as f64 * q;
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(sorted.len() - 1);
    sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo])
}

#[test]
fn quantile_window_matches_a_naive_sort() {
    // Few distinct values too, so that ties and zero MADs come up.
    let value = prop_oneof![wild(), (-3i32..=3).prop_map(f64::from)];
    let qs = prop::collection::vec(0.0..=1.0f64, 1..4);
    check("quantile-window/naive", 64, (1usize..40, prop::collection::vec(value, 1..150), qs), |(w, xs, qs)| {
        let mut q = QuantileWindowParams::default().window(w).build().unwrap();
        for (i, &x) in xs.iter().enumerate() {
            q.learn(x);
            let mut tail = xs[(i + 1).saturating_sub(w)..=i].to_vec();
            tail.sort_by(f64::total_cmp);
            prop_assert_eq!(q.len(), tail.len());
            prop_assert!(q.sorted() == &tail[..], "sorted copy {:?} vs {:?}", q.sorted(), tail);
            let m = naive_median(&tail);
            prop_assert_eq!(q.median(), Some(m));
            let mut dev: Vec<f64> = tail.iter().map(|x| (x - m).abs()).collect();
            dev.sort_by(f64::total_cmp);
            prop_assert_eq!(q.mad(), Some(naive_median(&dev)), "window {:?}", tail);
            for &p in qs.iter().chain(&[0.0, 0.25, 0.5, 0.75, 1.0]) {
                prop_assert_eq!(q.quantile(p).unwrap(), Some(naive_quantile(&tail, p)));
            }
            prop_assert_eq!(q.iqr(), Some(naive_quantile(&tail, 0.75) - naive_quantile(&tail, 0.25)));
        }
        Ok(())
    });
}

// ---------------------------------------------------------------------------------------------
// QuantileSketch

/// Values the sketch resolves (magnitude at least `min_magnitude`, or exactly zero), spanning
/// fewer orders of magnitude than `max_bins` covers, so no bins merge.
fn resolvable() -> impl Strategy<Value = f64> {
    prop_oneof![
        4 => (-6i32..9, 1.0..10.0f64, any::<bool>()).prop_map(|(e, m, neg)| if neg { -m * 10f64.powi(e) } else { m * 10f64.powi(e) }),
        1 => Just(0.0),
        1 => (1i32..2000).prop_map(f64::from),
    ]
}

fn exact_rank(sorted: &[f64], q: f64) -> f64 {
    sorted[(q * (sorted.len() - 1) as f64).floor() as usize]
}

#[test]
fn sketch_quantiles_are_within_the_relative_accuracy() {
    let alpha = prop_oneof![Just(0.01), Just(0.05), 0.001..0.2f64];
    let qs = prop::collection::vec(0.0..=1.0f64, 1..6);
    check("sketch/accuracy", 32, (alpha, prop::collection::vec(resolvable(), 1..400), qs), |(alpha, xs, qs)| {
        let mut s = QuantileSketchParams::default().relative_accuracy(alpha).max_bins(65_536).build().unwrap();
        for &x in &xs {
            s.add(x).unwrap();
        }
        let mut sorted = xs.clone();
        sorted.sort_by(f64::total_cmp);
        prop_assert_eq!(s.count(), xs.len() as u64);
        prop_assert_eq!(s.min(), Some(sorted[0]));
        prop_assert_eq!(s.max(), Some(sorted[sorted.len() - 1]));
        for &q in qs.iter().chain(&[0.0, 0.5, 0.95, 0.99, 1.0]) {
            let truth = exact_rank(&sorted, q);
            let got = s.quantile(q).unwrap().unwrap();
            prop_assert!(
                (got - truth).abs() <= alpha * truth.abs() * (1.0 + 1e-9),
                "q={} alpha={}: got {} for {}",
                q,
                alpha,
                got,
                truth
            );
        }
        // cdf and exceedance are fractions, and cover everything at the extremes.
        prop_assert_eq!(s.cdf(sorted[sorted.len() - 1]), 1.0);
        prop_assert_eq!(s.exceedance(sorted[0]), 1.0);
        for &x in &xs {
            prop_assert!((0.0..=1.0).contains(&s.cdf(x)) && (0.0..=1.0).contains(&s.exceedance(x)));
        }
        Ok(())
    });
}

#[test]
fn sketch_merge_equals_one_sketch_and_round_trips() {
    let xs = prop::collection::vec(wild(), 0..200);
    check("sketch/merge", CASES, (xs.clone(), xs), |(a, b)| {
        let params = QuantileSketchParams::default();
        let (mut left, mut right, mut all) =
            (params.clone().build().unwrap(), params.clone().build().unwrap(), params.build().unwrap());
        for &x in &a {
            left.add(x).unwrap();
            all.add(x).unwrap();
        }
        for &x in &b {
            right.add(x).unwrap();
            all.add(x).unwrap();
        }
        let snap = left.to_snapshot().unwrap();
        let restored = QuantileSketch::from_snapshot(&snap).map_err(|e| TestCaseError::fail(format!("{e}")))?;
        prop_assert_eq!(&restored, &left);
        left.merge(&right).unwrap();
        prop_assert_eq!(left.count(), all.count());
        prop_assert_eq!((left.min(), left.max()), (all.min(), all.max()));
        for q in [0.0, 0.1, 0.5, 0.9, 0.99, 1.0] {
            let (x, y) = (left.quantile(q).unwrap(), all.quantile(q).unwrap());
            prop_assert_eq!(x.map(f64::to_bits), y.map(f64::to_bits), "q={}", q);
            prop_assert!(x.is_none_or(|v| !v.is_nan()));
        }
        Ok(())
    });
}

// ---------------------------------------------------------------------------------------------
// Aggregator

fn events() -> impl Strategy<Value = Vec<(i64, f64)>> {
    prop::collection::vec((prop_oneof![4 => 0i64..20_000, 1 => 20_000i64..400_000], wild()), 0..200).prop_map(|steps| {
        let mut t = -100_000i64;
        steps
            .into_iter()
            .map(|(dt, v)| {
                t += dt;
                (t, v)
            })
            .collect()
    })
}

#[test]
fn aggregator_intervals_are_contiguous_sane_and_round_trip() {
    let params = (100i64..120_000, -50_000i64..50_000, 1usize..20);
    check("aggregator", CASES, (params, events(), 0usize..200), |((width, origin, limit), events, cut)| {
        let mut agg = AggregatorParams::default().width_ms(width).origin_ms(origin).exact_limit(limit).build().unwrap();
        let mut out: Vec<Aggregate> = Vec::new();
        let mut restored = None;
        let cut = cut.min(events.len());
        for (i, &(t, v)) in events.iter().enumerate() {
            if i == cut {
                let snap = agg.to_snapshot().unwrap();
                let r =
                    oddsight_core::Aggregator::from_snapshot(&snap).map_err(|e| TestCaseError::fail(format!("{e}")))?;
                prop_assert_eq!(&r, &agg);
                restored = Some(r);
            }
            let closed = agg.push(t, v).unwrap();
            if let Some(r) = &mut restored {
                let again = r.push(t, v).unwrap();
                prop_assert_eq!(serde_json::to_string(&again).unwrap(), serde_json::to_string(&closed).unwrap());
            }
            out.extend(closed);
        }
        let last = agg.flush();
        if let Some(r) = &mut restored {
            prop_assert_eq!(serde_json::to_string(&r.flush()).unwrap(), serde_json::to_string(&last).unwrap());
            prop_assert_eq!(&*r, &agg);
        }
        out.extend(last);
        let mut in_windows = 0;
        for w in out.windows(2) {
            prop_assert_eq!(w[0].end, w[1].start, "intervals are contiguous");
        }
        for a in &out {
            prop_assert_eq!(a.end - a.start, width);
            prop_assert_eq!((a.start - origin).rem_euclid(width), 0);
            in_windows += a.count;
            if a.count == 0 {
                prop_assert!(a.mean.is_none() && a.p95.is_none() && a.min.is_none() && a.max.is_none());
                continue;
            }
            let inside: Vec<f64> =
                events.iter().filter(|(t, _)| (a.start..a.end).contains(t)).map(|&(_, v)| v).collect();
            prop_assert_eq!(inside.len() as u64, a.count);
            let (min, max) = (a.min.unwrap(), a.max.unwrap());
            let mut sorted = inside.clone();
            sorted.sort_by(f64::total_cmp);
            prop_assert_eq!((min, max), (sorted[0], sorted[sorted.len() - 1]));
            let p95 = a.p95.unwrap();
            prop_assert!(min <= p95 && p95 <= max, "p95 {} outside [{}, {}]", p95, min, max);
            if inside.len() <= limit {
                prop_assert_eq!(p95, naive_quantile(&sorted, 0.95));
            }
            let mean = a.mean.unwrap();
            prop_assert!(!mean.is_nan());
            let slack = 1e-12 * min.abs().max(max.abs());
            prop_assert!(min - slack <= mean && mean <= max + slack, "mean {} outside [{}, {}]", mean, min, max);
        }
        prop_assert_eq!(in_windows, events.len() as u64);
        Ok(())
    });
}

// ---------------------------------------------------------------------------------------------
// Calibrator

#[test]
fn calibrator_is_sane_pure_and_round_trips() {
    let raw = prop_oneof![4 => wild(), 1 => prop::sample::select(vec![f64::NAN, f64::INFINITY, f64::NEG_INFINITY])];
    check(
        "calibrator",
        CASES,
        (prop::collection::vec(wild(), 0..300), prop::collection::vec(raw, 1..20)),
        |(xs, probes)| {
            let mut c = CalibratorParams::default().min_samples(10).build().unwrap();
            let mut twin = c.clone();
            for &x in &xs {
                let via_observe = c.observe(x).unwrap();
                let via_parts = twin.calibrate(x);
                twin.update(x).unwrap();
                prop_assert_eq!(via_observe, via_parts);
            }
            prop_assert_eq!(&c, &twin);
            let snap = c.to_snapshot().unwrap();
            let restored =
                oddsight_core::Calibrator::from_snapshot(&snap).map_err(|e| TestCaseError::fail(format!("{e}")))?;
            for &r in &probes {
                let k = c.calibrate(r);
                for x in [k.p_value, k.z, k.anomaly_score] {
                    prop_assert!(!x.is_nan(), "{:?} for {}", k, r);
                }
                prop_assert!((0.0..=1.0).contains(&k.anomaly_score) && (0.0..=1.0).contains(&k.p_value), "{:?}", k);
                prop_assert!(k.z >= 0.0, "{:?}", k);
                let j = restored.calibrate(r);
                prop_assert_eq!(
                    [k.p_value, k.z, k.anomaly_score].map(f64::to_bits),
                    [j.p_value, j.z, j.anomaly_score].map(f64::to_bits)
                );
            }
            // More extreme raw scores are never less anomalous.
            let mut finite: Vec<f64> =
                probes.iter().copied().chain(xs.iter().copied()).filter(|r| r.is_finite()).collect();
            finite.sort_by(f64::total_cmp);
            for pair in finite.windows(2) {
                let (lo, hi) = (c.calibrate(pair[0]), c.calibrate(pair[1]));
                prop_assert!(
                    lo.anomaly_score <= hi.anomaly_score,
                    "{} -> {:?} but {} -> {:?}",
                    pair[0],
                    lo,
                    pair[1],
                    hi
                );
            }
            prop_assert_eq!(c.to_snapshot().unwrap(), snap);
            Ok(())
        },
    );
}

// ---------------------------------------------------------------------------------------------
// StrikePolicy

fn policy_params() -> impl Strategy<Value = StrikePolicyParams> {
    let trigger = prop_oneof![
        (1u32..5).prop_map(|k| Trigger::Consecutive { k }),
        (1u32..4, 0u32..4).prop_map(|(k, extra)| Trigger::KOfN { k, n: k + extra }),
    ];
    (
        trigger,
        (0.3..0.9f64, 0.0..1.0f64),
        (0i64..5_000, 1u32..4, 0i64..10_000, any::<bool>()),
        prop::option::of((1u32..20, 0i64..5_000)),
        1usize..6,
    )
        .prop_map(|(trigger, (enter, exit_frac), (min_dur, recovery, cooldown, protect), shift, max_verdicts)| {
            let mut p = StrikePolicyParams::default()
                .levels(enter, enter * exit_frac)
                .min_duration_ms(min_dur)
                .recovery(recovery)
                .cooldown_ms(cooldown)
                .protect_baseline(protect)
                .rebaseline(shift.map(|(n, d)| ShiftRule::new(n, d)))
                .max_verdicts(max_verdicts);
            p.trigger = trigger;
            p
        })
}

fn verdict_stream() -> impl Strategy<Value = Vec<Verdict>> {
    let one = (
        prop_oneof![2 => 0i64..1, 6 => 1i64..2_000],
        prop_oneof![3 => 0.0..0.4f64, 1 => 0.4..0.5f64, 4 => 0.5..1.0f64],
        prop_oneof![4 => Just(Direction::Up), 2 => Just(Direction::Down), 1 => Just(Direction::Neutral)],
        prop_oneof![12 => Just((true, false)), 1 => Just((false, false)), 1 => Just((true, true))],
    );
    prop::collection::vec(one, 0..150).prop_map(|steps| {
        let mut t = 0;
        steps
            .into_iter()
            .map(|(dt, score, dir, (warm, excluded))| {
                t += dt;
                let mut v = Verdict::neutral(Point::new(t, t as f64), 0.0, "test".into(), warm);
                v.anomaly_score = score;
                v.severity = scale::severity(score);
                v.is_anomaly = score >= 0.5;
                v.direction = dir;
                v.notes.excluded = excluded;
                v
            })
            .collect()
    })
}

/// Follows the events of one step against a model of the open alert.
fn track(open: &mut Option<u64>, last_id: &mut u64, events: &[AlertEvent]) -> Result<(), TestCaseError> {
    for e in events {
        match e {
            AlertEvent::Fired { alert } => {
                prop_assert!(open.is_none(), "fired while {:?} is open", open);
                prop_assert!(alert.id > *last_id, "ids must increase");
                prop_assert!(alert.end.is_none() && alert.resolution.is_none());
                prop_assert!(alert.anomalous_points >= 1 && !alert.verdicts.is_empty());
                *last_id = alert.id;
                *open = Some(alert.id);
            }
            AlertEvent::Escalated { id, from, to, .. } => {
                prop_assert_eq!(Some(*id), *open);
                prop_assert!(to > from);
            }
            AlertEvent::Resolved { alert } => {
                prop_assert_eq!(Some(alert.id), *open);
                prop_assert!(alert.end.is_some() && alert.resolution.is_some());
                *open = None;
            }
        }
    }
    Ok(())
}

#[test]
fn strike_policy_keeps_one_alert_at_a_time_and_round_trips() {
    check("policy", 64, (policy_params(), verdict_stream(), 0usize..150), |(params, verdicts, cut)| {
        let mut p: StrikePolicy = params.clone().build().unwrap();
        let (mut open, mut last_id) = (None, 0);
        let cut = cut.min(verdicts.len());
        let mut restored: Option<StrikePolicy> = None;
        for (i, v) in verdicts.iter().enumerate() {
            if i == cut {
                let snap = p.snapshot().unwrap();
                let r = StrikePolicy::from_snapshot(&snap).map_err(|e| TestCaseError::fail(format!("{e}")))?;
                prop_assert_eq!(&r, &p);
                restored = Some(r);
            }
            let d = p.step(v);
            if let Some(r) = &mut restored {
                prop_assert_eq!(&r.step(v), &d);
            }
            track(&mut open, &mut last_id, &d.events)?;
            prop_assert_eq!(p.open_alert().map(|a| a.id), open);
            if let Some(a) = p.open_alert() {
                prop_assert!(a.verdicts.len() <= params.max_verdicts);
            }
            if v.notes.excluded {
                prop_assert_eq!(&d.learn, &Learn::Skip);
            } else if !params.protect_baseline || !v.warm {
                prop_assert_eq!(&d.learn, &Learn::Learn);
            } else if v.anomaly_score < params.enter {
                prop_assert_eq!(&d.learn, &Learn::Learn);
            } else if let Learn::Rebaseline { points } = &d.learn {
                prop_assert!(!points.is_empty() && points.iter().all(|q| q.timestamp <= v.timestamp));
                prop_assert!(params.rebaseline.is_some_and(|r| points.len() >= r.min_points as usize));
            }
        }
        if let Some(r) = &restored {
            prop_assert_eq!(r, &p);
            prop_assert_eq!(r.snapshot().unwrap(), p.snapshot().unwrap());
        }
        p.reset();
        prop_assert!(p.open_alert().is_none());
        Ok(())
    });
}

// ---------------------------------------------------------------------------------------------
// Watch

type SeasonalWatch = Watch<BaselineDetector<oddsight_core::SeasonalBaseline, ZScore>, StrikePolicy>;

fn watch() -> SeasonalWatch {
    Watch::new(
        common::detector(common::seasonal(), ZScore),
        StrikePolicyParams::strikes(2).rebaseline(Some(ShiftRule::new(5, 0))).build().unwrap(),
    )
}

/// Level shifts and spikes, so that the policy fires, skips, resolves and re-baselines.
fn eventful() -> impl Strategy<Value = Vec<Point>> {
    (series(moderate(), 10..150), prop::collection::vec((0usize..150, -1e4..1e4f64), 0..4)).prop_map(
        |(mut pts, shifts)| {
            for (at, by) in shifts {
                for p in pts.iter_mut().skip(at) {
                    p.value += by;
                }
            }
            pts
        },
    )
}

#[test]
fn watch_batch_equals_loop_and_snapshot_round_trips() {
    let wild_or_eventful = prop_oneof![eventful(), series(big(), 0..100)];
    check("watch", CASES, (wild_or_eventful, series(moderate(), 1..60)), |(history, more)| {
        let (ts, vs) = split(&history);
        let mut looped = watch();
        let steps: Vec<_> = history.iter().map(|&p| looped.push(p).unwrap()).collect();
        for s in &steps {
            sane(&s.verdict)?;
        }
        let mut batched = watch();
        let batch = batched.push_batch(&ts, &vs).unwrap();
        prop_assert_eq!(serde_json::to_string(&batch).unwrap(), serde_json::to_string(&steps).unwrap());
        same_state(&batched, &looped)?;

        let snap = looped.to_snapshot().unwrap();
        let mut restored = SeasonalWatch::from_snapshot(&snap).map_err(|e| TestCaseError::fail(format!("{e}")))?;
        prop_assert_eq!(restored.to_snapshot().unwrap(), snap);
        for &p in &after(&history, &more) {
            let (a, b) = (looped.push(p).unwrap(), restored.push(p).unwrap());
            prop_assert_eq!(serde_json::to_string(&a).unwrap(), serde_json::to_string(&b).unwrap());
            sane(&a.verdict)?;
        }
        prop_assert_eq!(looped.to_snapshot().unwrap(), restored.to_snapshot().unwrap());
        Ok(())
    });
}

// ---------------------------------------------------------------------------------------------
// Seeded sanity of the generator itself: the scenarios rely on it.

#[test]
fn splitmix_is_deterministic_and_roughly_normal() {
    let (mut a, mut b) = (SplitMix64::new(7), SplitMix64::new(7));
    let xs: Vec<f64> = (0..20_000).map(|_| a.normal()).collect();
    assert!(xs.iter().zip((0..).map(|_| b.normal())).all(|(x, y)| x.to_bits() == y.to_bits()));
    let mean = xs.iter().sum::<f64>() / xs.len() as f64;
    let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / xs.len() as f64;
    assert!(mean.abs() < 0.05 && (var - 1.0).abs() < 0.05, "{mean} {var}");
}

#[test]
fn watch_verdicts_stay_sane_through_rebaselines() {
    common::watch_over("ewma", wild(), 300, common::ewma);
    common::watch_over("window", wild(), 300, common::window);
    common::watch_over("quantile-window", wild(), 300, common::quantile_window);
    // Seasonal baselines scale every bucket on a re-baseline, and overflow with huge values and
    // factors: see `regressions.rs`.
    common::watch_over("seasonal", moderate(), 6, common::seasonal);
}
