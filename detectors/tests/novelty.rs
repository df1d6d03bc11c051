//! The default streaming detector ([`NoveltyDetector`]): behaviour on seeded synthetic series,
//! snapshots, bad input, parameters, and its score on the NAB development split in
//! `../shared/nab`.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

use oddsight_core::{Detector, Error, Point, Stateful, Verdict};
use oddsight_detectors::eval::nab::{NabCorpus, Profile};
use oddsight_detectors::novelty::{NoveltyDetector, NoveltyParams, SubsequenceScale};
use std::path::PathBuf;

/// xorshift64* with Box–Muller: a seeded standard normal stream, no dependency.
struct Gauss(u64);

impl Gauss {
    fn uniform(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        ((self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }
    fn next(&mut self) -> f64 {
        let (u, v) = (self.uniform(), self.uniform());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
}

const STEP_MS: i64 = 300_000;

/// A daily cycle at 5-minute sampling (288 points a day): 20 at night, 80 by day (a smoothed
/// square wave, like NAB's `art_daily_*`), plus Gaussian noise of σ = 2. If `skip_day` is
/// given, the day phase of that day never comes: the series stays at its night level, every
/// value ordinary, only the pattern broken.
fn daily(n: usize, seed: u64, skip_day: Option<usize>) -> Vec<f64> {
    let mut g = Gauss(seed);
    (0..n)
        .map(|i| {
            let phase = (i % 288) as f64 / 288.0;
            let day = 1.0 / (1.0 + (-40.0 * (phase - 0.3)).exp()) - 1.0 / (1.0 + (-40.0 * (phase - 0.8)).exp());
            let day = if skip_day == Some(i / 288) { 0.0 } else { day };
            20.0 + 60.0 * day + 2.0 * g.next()
        })
        .collect()
}

fn run(d: &mut NoveltyDetector, values: &[f64]) -> Vec<Verdict> {
    values.iter().enumerate().map(|(i, &v)| d.observe(Point::new(i as i64 * STEP_MS, v)).unwrap()).collect()
}

fn alarms(verdicts: &[Verdict], range: std::ops::Range<usize>) -> usize {
    verdicts[range].iter().filter(|v| v.is_anomaly).count()
}

#[test]
fn a_skipped_day_in_a_daily_cycle_is_flagged() {
    // Ten normal days, then day 10 stays at its night level, then three normal days.
    let values = daily(14 * 288, 7, Some(10));
    let mut d = NoveltyParams::default().build().unwrap();
    let verdicts = run(&mut d, &values);
    // The break starts where the day phase should rise (phase 0.3 of day 10).
    let onset = 10 * 288 + 86;
    let hit = verdicts[onset..onset + 288].iter().position(|v| v.is_anomaly);
    assert!(hit.is_some(), "the skipped day was not flagged");
    let first = &verdicts[onset + hit.unwrap()];
    assert!(first.anomaly_score < 1.0 && first.warm);
    // Quiet before it: after a week of learning, at most a couple of alarms in three days.
    let before = alarms(&verdicts, 7 * 288..onset);
    assert!(before <= 2, "{before} alarms on normal days");
}

#[test]
fn a_spike_and_a_level_shift_are_flagged_and_the_onset_stands_out() {
    let mut values = daily(8 * 288, 11, None);
    // A night-time spike to the day level: ordinary as a value, so only the subsequence
    // evidence sees it, when a block holding it completes (within 8 points).
    values[5 * 288 + 40] += 60.0;
    let mut d = NoveltyParams::default().build().unwrap();
    let verdicts = run(&mut d, &values);
    let at = 5 * 288 + 40;
    let k = (at..at + 8).find(|&i| verdicts[i].is_anomaly).expect("in-range spike missed");
    let alarm = &verdicts[k];
    assert!(alarm.warm && alarm.anomaly_score < 1.0);
    assert_eq!(alarm.component, "novelty/subsequence");
    // The refractory period damps what follows the alarm.
    assert!(verdicts[k + 1..k + 100].iter().all(|v| v.anomaly_score < alarm.anomaly_score));

    // In white noise a 20σ spike is a point anomaly, flagged at once.
    let mut g = Gauss(9);
    let mut values: Vec<f64> = (0..2000).map(|_| 10.0 + g.next()).collect();
    values[1500] += 20.0;
    let mut d = NoveltyParams::default().build().unwrap();
    let spike = &run(&mut d, &values)[1500];
    assert!(spike.is_anomaly && spike.component == "novelty/point", "{spike:?}");
    assert_eq!(spike.direction, oddsight_core::Direction::Up);
    assert!(spike.lower < 10.0 && spike.upper > 10.0 && (spike.expected - 10.0).abs() < 0.5);

    let mut g = Gauss(5);
    let mut values: Vec<f64> = (0..3000).map(|_| 50.0 + g.next()).collect();
    for v in &mut values[2500..] {
        *v += 6.0;
    }
    let mut d = NoveltyParams::default().build().unwrap();
    let verdicts = run(&mut d, &values);
    assert!(alarms(&verdicts, 2500..2520) >= 1, "level shift missed");
}

#[test]
fn white_noise_raises_few_alarms() {
    for seed in [1, 2, 3] {
        let mut g = Gauss(seed);
        let values: Vec<f64> = (0..6000).map(|_| 10.0 + g.next()).collect();
        let mut d = NoveltyParams::default().build().unwrap();
        let verdicts = run(&mut d, &values);
        let n = alarms(&verdicts, 1000..6000);
        // 5,000 judged points: the combined tail rate is about 0.0027 before the refractory
        // period; with it, alarms are rarer still.
        assert!(n <= 15, "seed {seed}: {n} alarms in 5000 points of white noise");
        assert!(verdicts.iter().all(|v| v.anomaly_score.is_finite() && v.anomaly_score < 1.0));
    }
}

#[test]
fn a_constant_series_never_alarms() {
    let mut d = NoveltyParams::default().build().unwrap();
    let verdicts = run(&mut d, &vec![42.0; 3000]);
    assert_eq!(alarms(&verdicts, 0..3000), 0);
}

#[test]
fn warmup_verdicts_are_neutral() {
    let mut d = NoveltyParams::default().warmup(200).build().unwrap();
    let verdicts = run(&mut d, &daily(300, 3, None));
    assert!(verdicts[..200].iter().all(|v| !v.warm && v.anomaly_score == 0.0));
    assert!(verdicts[200..].iter().all(|v| v.warm));
}

#[test]
fn snapshot_round_trips_bit_identically() {
    let values = daily(12 * 288, 21, Some(9));
    let mut a = NoveltyParams::default().build().unwrap();
    run(&mut a, &values[..2500]);
    let snap = a.snapshot().unwrap();
    let mut b = NoveltyDetector::from_snapshot(&snap).unwrap();
    assert_eq!(a, b);
    assert_eq!(b.snapshot().unwrap(), snap);
    for (i, &v) in values.iter().enumerate().skip(2500) {
        let p = Point::new(i as i64 * STEP_MS, v);
        let (va, vb) = (a.observe(p).unwrap(), b.observe(p).unwrap());
        assert_eq!(va.anomaly_score.to_bits(), vb.anomaly_score.to_bits(), "row {i}");
        assert_eq!(va, vb);
    }
    assert_eq!(a.snapshot().unwrap(), b.snapshot().unwrap());
    // Another kind's snapshot, or a tampered one, is a typed error.
    assert!(matches!(NoveltyDetector::from_snapshot("{}"), Err(Error::Snapshot { .. })));
    let tampered = snap.replace("\"level_span\":10", "\"level_span\":0");
    assert!(NoveltyDetector::from_snapshot(&tampered).is_err());
}

#[test]
fn bad_input_leaves_state_unchanged() {
    let mut d = NoveltyParams::default().build().unwrap();
    run(&mut d, &daily(1000, 4, None));
    let before = d.snapshot().unwrap();
    let last = d.last_timestamp().unwrap();
    for v in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 1e200] {
        assert!(matches!(d.observe(Point::new(last + 1, v)), Err(Error::NonFinite { .. })));
        assert!(matches!(d.update(Point::new(last + 1, v)), Err(Error::NonFinite { .. })));
        assert!(matches!(d.score(Point::new(last + 1, v)), Err(Error::NonFinite { .. })));
    }
    assert!(matches!(d.observe(Point::new(last - 1, 1.0)), Err(Error::OutOfOrder { .. })));
    assert!(matches!(d.update(Point::new(last - 1, 1.0)), Err(Error::OutOfOrder { .. })));
    assert!(d.observe_batch(&[last + 1, last + 2], &[1.0, f64::NAN]).is_err());
    assert_eq!(d.snapshot().unwrap(), before);
    // Equal timestamps are accepted.
    assert!(d.observe(Point::new(last, 20.0)).is_ok());
}

#[test]
fn score_is_pure_and_observe_is_score_then_update() {
    let values = daily(3000, 8, None);
    let mut a = NoveltyParams::default().build().unwrap();
    let mut b = a.clone();
    for (i, &v) in values.iter().enumerate() {
        let p = Point::new(i as i64 * STEP_MS, v);
        let before = a.clone();
        let scored = a.score(p).unwrap();
        assert_eq!(a, before);
        a.update(p).unwrap();
        assert_eq!(b.observe(p).unwrap(), scored);
    }
    assert_eq!(a, b);
}

#[test]
fn reset_and_rebaseline() {
    let mut d = NoveltyParams::default().build().unwrap();
    run(&mut d, &daily(1000, 9, None));
    d.reset();
    assert_eq!(d, NoveltyParams::default().build().unwrap());
    let mut g = Gauss(3);
    let base: Vec<f64> = (0..1000).map(|_| 10.0 + g.next()).collect();
    run(&mut d, &base);
    let shifted: Vec<Point> = (0..50).map(|i| Point::new((1000 + i) * STEP_MS, 40.0 + g.next())).collect();
    d.rebaseline(&shifted).unwrap();
    let v = d.score(Point::new(1050 * STEP_MS, 40.0)).unwrap();
    assert!((v.expected - 40.0).abs() < 1.0, "expected {}", v.expected);
    assert!(d.rebaseline(&[Point::new(0, f64::NAN)]).is_err());
}

#[test]
fn parameters_are_validated_once_in_build() {
    let bad = [
        NoveltyParams::default().window(5),
        NoveltyParams::default().level_span(0),
        NoveltyParams::default().z_clip(0.0),
        NoveltyParams::default().damping(1.5),
        NoveltyParams::default().threshold(1.0),
        NoveltyParams::default().min_samples(3),
        NoveltyParams::default().history(100),
        NoveltyParams::default().scales(vec![SubsequenceScale::new(1, 4); 5]),
        NoveltyParams::default().scales(vec![SubsequenceScale::new(0, 4)]),
    ];
    for p in bad {
        assert!(matches!(p.clone().build(), Err(Error::InvalidParameter { .. })), "{p:?}");
    }
    // No subsequence scales is allowed: point and level evidence only.
    let mut d = NoveltyParams::default().scales(vec![]).build().unwrap();
    let mut g = Gauss(5);
    let mut values: Vec<f64> = (0..2000).map(|_| 10.0 + g.next()).collect();
    values[1900] += 20.0;
    assert!(run(&mut d, &values)[1900].is_anomaly);
    let json = serde_json::to_string(&NoveltyParams::default()).unwrap();
    assert_eq!(serde_json::from_str::<NoveltyParams>(&json).unwrap(), NoveltyParams::default());
}

/// The standard-profile score measured with the defaults (`nab_lab`); the test fails if a
/// change loses more than half a point.
const MEASURED_STANDARD: f64 = 64.75;

#[test]
fn nab_development_split_score_does_not_regress() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/nab");
    if !dir.join("labels/windows.json").exists() {
        eprintln!("skipped: no NAB corpus at {}", dir.display());
        return;
    }
    // ~190 k points: about 1 s of CPU in release, 9 s unoptimised.
    let corpus = NabCorpus::load(dir.join("data"), dir.join("labels/windows.json")).unwrap();
    let report =
        corpus.score_detector(|| Ok(Box::new(NoveltyParams::default().build()?) as Box<dyn Detector>)).unwrap();
    let standard = report.profile(Profile::STANDARD.name).unwrap().score;
    assert!(standard >= MEASURED_STANDARD - 0.5, "NAB standard {standard:.2} < {MEASURED_STANDARD} - 0.5\n{report}");
}
