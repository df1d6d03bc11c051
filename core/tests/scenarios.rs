//! Behaviour scenarios on synthetic per-minute telemetry with a daily and a weekly cycle: the
//! seasonal baseline learns the pattern, a `Watch` with a `StrikePolicy` stays quiet through
//! normal weeks and fires within a few points of a 3x level shift, re-baselines after the shift
//! is sustained and stops alarming, exclusion windows suppress alarms, gaps are flagged when
//! `max_gap_ms` is set, and equal timestamps are accepted.

// clippy's allow-unwrap-in-tests covers `#[test]` functions only, not the helpers here.
#![allow(clippy::unwrap_used)]

mod common;

use common::SplitMix64;
use oddsight_core::{
    AlertEvent, AlertPolicy, Baseline, BaselineDetector, Detector, DetectorParams, Learned, Point, Resolution,
    SeasonalBaseline, SeasonalParams, Step, StrikePolicy, StrikePolicyParams, Watch, ZScore,
};

const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;
const WEEK: i64 = 7 * DAY;
/// Monday 2026-11-23 00:00 UTC.
const MONDAY: i64 = 1_795_392_000_000;

/// The noiseless level at `ts`: 100 × a daily wave peaking at 14:00 UTC (between 50 and 150)
/// × 0.6 on Saturdays and Sundays.
fn level(ts: i64) -> f64 {
    let since = ts - MONDAY;
    let hour = since.rem_euclid(DAY) as f64 / HOUR as f64;
    let weekday = since.rem_euclid(WEEK) / DAY; // 0 = Monday
    let daily = 1.0 + 0.5 * (2.0 * std::f64::consts::PI * (hour - 8.0) / 24.0).sin();
    let weekly = if weekday >= 5 { 0.6 } else { 1.0 };
    100.0 * daily * weekly
}

/// Per-minute samples of [`level`] from `start` for `minutes`, with Gaussian noise of standard
/// deviation 2 + 4 % of the level, from a seeded generator.
fn telemetry(rng: &mut SplitMix64, start: i64, minutes: i64) -> Vec<Point> {
    (0..minutes)
        .map(|i| {
            let t = start + i * MINUTE;
            let l = level(t);
            Point::new(t, l + (2.0 + 0.04 * l) * rng.normal())
        })
        .collect()
}

type SeasonalWatch = Watch<BaselineDetector<SeasonalBaseline, ZScore>, StrikePolicy>;

/// A watch whose detector was backfilled with `history` (learned as is, without the policy).
fn watch(params: SeasonalParams, detector: DetectorParams, history: &[Point]) -> SeasonalWatch {
    let mut d = BaselineDetector::new(params.build().unwrap(), ZScore, detector).unwrap();
    let (ts, vs): (Vec<i64>, Vec<f64>) = history.iter().map(|p| (p.timestamp, p.value)).unzip();
    d.update_batch(&ts, &vs).unwrap();
    Watch::new(d, StrikePolicyParams::strikes(3).build().unwrap())
}

fn push_all(w: &mut SeasonalWatch, points: &[Point]) -> Vec<Step> {
    points.iter().map(|&p| w.push(p).unwrap()).collect()
}

fn fired(steps: &[Step]) -> Vec<usize> {
    steps
        .iter()
        .enumerate()
        .filter(|(_, s)| s.events.iter().any(|e| matches!(e, AlertEvent::Fired { .. })))
        .map(|(i, _)| i)
        .collect()
}

/// Two weeks of history backfilled, as every scenario starts.
fn trained(seed: u64) -> (SeasonalWatch, SplitMix64) {
    let mut rng = SplitMix64::new(seed);
    let history = telemetry(&mut rng, MONDAY, 2 * WEEK / MINUTE);
    (watch(SeasonalParams::default(), DetectorParams::default(), &history), rng)
}

#[test]
fn seasonal_baseline_learns_the_daily_and_weekly_pattern() {
    let (w, _) = trained(1);
    let b = w.detector().baseline();
    let mut worst: f64 = 0.0;
    for hour in 0..168 {
        let t = MONDAY + 2 * WEEK + hour * HOUR;
        let e = b.expect(t + 30 * MINUTE);
        assert!(e.warm && !e.fallback && e.source == "seasonal:bucket", "hour {hour}: {e:?}");
        // The bucket's mean is the hour's average level.
        let truth = (0..60).map(|m| level(t + m * MINUTE)).sum::<f64>() / 60.0;
        worst = worst.max((e.center - truth).abs() / truth);
    }
    assert!(worst < 0.025, "worst relative error of a bucket mean: {worst}"); // measured 0.021
    // And it tells a weekday afternoon from a Sunday night.
    let tue_2pm = b.expect(MONDAY + 2 * WEEK + DAY + 14 * HOUR).center;
    let sun_2am = b.expect(MONDAY + 2 * WEEK + 6 * DAY + 2 * HOUR).center;
    assert!(tue_2pm > 140.0 && sun_2am < 35.0, "{tue_2pm} {sun_2am}");
}

#[test]
fn quiet_through_two_normal_weeks() {
    // Measured over the seeds below: no alert in two normal weeks (20,160 points each), and
    // 57, 91 and 61 single anomalous verdicts (0.28-0.45 %, near the Gaussian 0.27 %).
    for seed in 1..=3 {
        let (mut w, mut rng) = trained(seed);
        let steps = push_all(&mut w, &telemetry(&mut rng, MONDAY + 2 * WEEK, 2 * WEEK / MINUTE));
        let alarms = fired(&steps);
        let strikes = steps.iter().filter(|s| s.verdict.is_anomaly).count();
        assert!(alarms.is_empty(), "seed {seed}: alerts at {alarms:?}");
        assert!(strikes <= 110, "seed {seed}: {strikes} anomalous verdicts");
        assert!(steps.iter().all(|s| s.verdict.warm));
    }
}

#[test]
fn fires_within_a_few_points_of_a_3x_level_shift_then_rebaselines_and_stops() {
    let (mut w, mut rng) = trained(7);
    // One normal day, then from Wednesday 10:00 of the third week everything triples.
    let start = MONDAY + 2 * WEEK;
    let shift_at = start + 2 * DAY + 10 * HOUR;
    let mut points = telemetry(&mut rng, start, 4 * DAY / MINUTE);
    for p in &mut points {
        if p.timestamp >= shift_at {
            p.value *= 3.0;
        }
    }
    let steps = push_all(&mut w, &points);
    let first = points.iter().position(|p| p.timestamp == shift_at).unwrap();
    let alarms = fired(&steps);
    assert_eq!(alarms.first().map(|&i| i - first), Some(2), "the third strike fires: {alarms:?}");
    assert!(steps[first].verdict.is_anomaly && steps[first].verdict.z > 10.0);
    assert_eq!(steps[first].learned, Learned::Skipped, "strikes stay out of the baseline");

    // Sixty same-direction strikes confirm the shift: the alert resolves as re-baselined.
    let rebaselined: Vec<usize> = (0..steps.len()).filter(|&i| steps[i].learned == Learned::Rebaselined).collect();
    assert_eq!(rebaselined, vec![first + 59]);
    let resolved = steps[first + 59].events.iter().find_map(|e| match e {
        AlertEvent::Resolved { alert } => Some(alert),
        _ => None,
    });
    let alert = resolved.expect("the open alert is resolved");
    assert_eq!((alert.resolution, alert.start), (Some(Resolution::Rebaselined), shift_at));
    assert!(w.policy().open_alert().is_none());

    // Afterwards the new level (with its daily shape) is normal: no more alerts for the
    // remaining one and a half days, and the expectation has tripled.
    assert_eq!(alarms.len(), 1, "alerts after the re-baseline at {:?}", &alarms[1..]);
    let after = &steps[first + 60..];
    assert!(after.len() > 2_000);
    let strikes = after.iter().filter(|s| s.verdict.is_anomaly).count();
    assert!(strikes < after.len() / 50, "{strikes} anomalous of {}", after.len());
    let last = points[points.len() - 1];
    let e = w.detector().baseline().expect(last.timestamp);
    assert!(
        (e.center / (3.0 * level(last.timestamp)) - 1.0).abs() < 0.1,
        "{} vs {}",
        e.center,
        3.0 * level(last.timestamp)
    );
}

#[test]
fn exclusion_windows_suppress_alarms_and_learning() {
    // A maintenance window on Tuesday of the third week, 09:00–12:00, during which the metric
    // goes wild (10x, then 0).
    let from = MONDAY + 2 * WEEK + DAY + 9 * HOUR;
    let to = from + 3 * HOUR;
    let mut rng = SplitMix64::new(11);
    let history = telemetry(&mut rng, MONDAY, 2 * WEEK / MINUTE);
    let mut w = watch(SeasonalParams::default().exclude(from, to), DetectorParams::default(), &history);
    let mut points = telemetry(&mut rng, MONDAY + 2 * WEEK, 3 * DAY / MINUTE);
    for p in &mut points {
        if (from..to).contains(&p.timestamp) {
            p.value = if p.timestamp < from + 90 * MINUTE { p.value * 10.0 } else { 0.0 };
        }
    }
    let count_before = w.detector().baseline().count();
    let steps = push_all(&mut w, &points);
    assert!(fired(&steps).is_empty(), "alerts at {:?}", fired(&steps));
    let inside: Vec<&Step> = steps.iter().filter(|s| (from..to).contains(&s.verdict.timestamp)).collect();
    assert_eq!(inside.len(), 180);
    for s in &inside {
        assert!(s.verdict.notes.excluded && !s.verdict.is_anomaly && s.verdict.anomaly_score == 0.0);
        assert_eq!(s.learned, Learned::Skipped);
    }
    assert!(inside[0].verdict.explain().contains("exclusion window"));
    // Nothing inside the window was learned; outside, everything but the odd strike was.
    let learned = steps.iter().filter(|s| s.learned == Learned::Learned).count() as u64;
    assert_eq!(w.detector().baseline().count(), count_before + learned);
    for s in steps.iter().filter(|s| !(from..to).contains(&s.verdict.timestamp)) {
        assert_eq!(s.learned == Learned::Learned, s.verdict.anomaly_score < 0.5, "{:?}", s.verdict);
    }

    // The same spike without the exclusion window alarms.
    let mut plain = watch(SeasonalParams::default(), DetectorParams::default(), &history);
    assert!(!fired(&push_all(&mut plain, &points)).is_empty());
}

#[test]
fn gaps_are_flagged_only_when_max_gap_ms_is_set() {
    let mut rng = SplitMix64::new(3);
    let mut points = telemetry(&mut rng, MONDAY, 3 * DAY / MINUTE);
    // Drop 30 minutes on the second day, and 4 minutes later on.
    let gap_end = MONDAY + DAY + 10 * HOUR;
    let short_end = MONDAY + 2 * DAY + 5 * HOUR;
    points.retain(|p| !(gap_end - 30 * MINUTE < p.timestamp && p.timestamp < gap_end));
    points.retain(|p| !(short_end - 4 * MINUTE < p.timestamp && p.timestamp < short_end));

    let mut with = watch(SeasonalParams::default(), DetectorParams::default().max_gap_ms(Some(5 * MINUTE)), &[]);
    let flagged: Vec<i64> =
        push_all(&mut with, &points).iter().filter(|s| s.verdict.notes.gap).map(|s| s.verdict.timestamp).collect();
    assert_eq!(flagged, vec![gap_end], "only the first point after the 30-minute gap");

    let mut without = watch(SeasonalParams::default(), DetectorParams::default(), &[]);
    assert!(push_all(&mut without, &points).iter().all(|s| !s.verdict.notes.gap));

    // A gap is noted, not judged: the point itself is normal.
    let mut d = BaselineDetector::new(
        SeasonalParams::default().build().unwrap(),
        ZScore,
        DetectorParams::default().max_gap_ms(Some(MINUTE)),
    )
    .unwrap();
    for p in &points[..3 * 60] {
        d.observe(*p).unwrap();
    }
    let v = d.score(Point::new(points[3 * 60].timestamp + HOUR, points[3 * 60].value)).unwrap();
    assert!(v.notes.gap && v.explain().contains("gap"));
}

#[test]
fn equal_timestamps_are_accepted() {
    let (mut w, mut rng) = trained(5);
    let t = MONDAY + 2 * WEEK + 3 * HOUR;
    let burst: Vec<Point> = (0..5).map(|_| Point::new(t, level(t) + rng.normal())).collect();
    for p in &burst {
        let s = w.push(*p).unwrap();
        assert!(!s.verdict.is_anomaly && s.learned == Learned::Learned);
    }
    let (ts, vs): (Vec<i64>, Vec<f64>) = burst.iter().map(|p| (p.timestamp, p.value)).unzip();
    w.push_batch(&ts, &vs).unwrap();
    let mut d = common::detector(common::ewma(), ZScore);
    d.observe_batch(&[5, 5, 5], &[1.0, 2.0, 3.0]).unwrap();
    d.observe(Point::new(5, 4.0)).unwrap();
    assert_eq!(d.last_timestamp(), Some(5));
}

#[test]
fn a_single_spike_does_not_alert_and_is_not_learned() {
    // Three strikes are needed: a one-minute spike is anomalous but raises no alert, and it is
    // kept out of the bucket it falls in.
    let (mut w, mut rng) = trained(9);
    let t = MONDAY + 2 * WEEK + DAY + 15 * HOUR;
    let mut points = telemetry(&mut rng, MONDAY + 2 * WEEK, 2 * DAY / MINUTE);
    let i = points.iter().position(|p| p.timestamp == t).unwrap();
    points[i].value *= 5.0;
    let steps = push_all(&mut w, &points);
    assert!(steps[i].verdict.is_anomaly && steps[i].learned == Learned::Skipped);
    assert!(steps[i].verdict.severity >= oddsight_core::Severity::High, "{:?}", steps[i].verdict.severity);
    assert!(fired(&steps).is_empty());
}

#[test]
fn a_watch_learning_from_scratch_settles_after_the_first_week() {
    // Measured today (seed 1): weeks 1 to 5 each fire at Monday 00:02 and Saturday 00:02, and
    // re-baseline 57 minutes later.
    let mut rng = SplitMix64::new(1);
    let mut w = watch(SeasonalParams::default(), DetectorParams::default(), &[]);
    let steps = push_all(&mut w, &telemetry(&mut rng, MONDAY, 4 * WEEK / MINUTE));
    let later = &steps[(2 * WEEK / MINUTE) as usize..];
    assert!(fired(later).is_empty(), "alerts in weeks 3 and 4 at {:?}", fired(later));
    assert!(later.iter().all(|s| s.learned != Learned::Rebaselined));
}
