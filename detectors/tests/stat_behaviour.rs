//! Behaviour of the `stat`, `seasonal` and `counts` detectors on seeded synthetic data: each
//! finds the anomaly it is built for and stays quiet elsewhere.
//!
//! Data shapes (all generated from a fixed seed, so every run sees the same numbers):
//! - `gaussian`: 2,000 points of N(100, 5²), one per minute.
//! - `weekly`: four weeks of hourly points, 1,000 ± 30 on weekday working hours (09–18 UTC),
//!   100 ± 5 otherwise.
//! - `sparse counts`: Poisson(0.05) events per minute (95 % zeros).
//! - `error ratio`: 1,000 requests a minute with Binomial(1000, 0.001) errors, and 2 to 10
//!   requests a minute during a quiet night.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use oddsight_core::{Detector, Direction, Point, SeasonalParams, Severity, Verdict};
use oddsight_detectors::counts::{ErrorRatioParams, PoissonParams};
use oddsight_detectors::seasonal::{RatioToBaselineParams, SeasonalAggregateParams, SeasonalZScoreParams, Statistic};
use oddsight_detectors::stat::{EwmaZScoreParams, IqrParams, MadZScoreParams, RateOfChangeParams, WindowZScoreParams};

const MIN: i64 = 60_000;
const HOUR: i64 = 60 * MIN;
/// Monday 2026-11-23 00:00 UTC.
const MONDAY: i64 = 1_795_392_000_000;

/// splitmix64: small, seedable, good enough for test data.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn uniform(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }
    fn normal(&mut self) -> f64 {
        // Box–Muller.
        let (u, v) = (self.uniform(), self.uniform());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
    fn poisson(&mut self, lambda: f64) -> f64 {
        // Knuth's method; fine for the small rates used here.
        let limit = (-lambda).exp();
        let (mut k, mut p) = (0.0, 1.0);
        loop {
            p *= self.uniform();
            if p <= limit {
                return k;
            }
            k += 1.0;
        }
    }
    fn binomial(&mut self, n: u32, p: f64) -> f64 {
        (0..n).filter(|_| self.uniform() < p).count() as f64
    }
}

/// Runs `observe` over the series and returns the indices flagged anomalous.
fn flagged<D: Detector>(d: &mut D, points: &[Point]) -> Vec<usize> {
    points.iter().enumerate().filter(|(_, p)| d.observe(**p).unwrap().is_anomaly).map(|(i, _)| i).collect()
}

fn gaussian(seed: u64, n: usize) -> Vec<Point> {
    let mut rng = Rng(seed);
    (0..n).map(|i| Point::new(MONDAY + i as i64 * MIN, 100.0 + 5.0 * rng.normal())).collect()
}

/// Asserts that `at` is flagged (in `direction`) and that false alarms stay rare.
fn assert_found<D: Detector>(name: &str, mut d: D, points: &[Point], at: usize, direction: Direction) {
    let mut verdicts: Vec<Verdict> = points.iter().map(|p| d.observe(*p).unwrap()).collect();
    let hit = verdicts.remove(at);
    assert!(hit.is_anomaly && hit.direction == direction, "{name} missed index {at}: {}", hit.explain());
    let false_alarms = verdicts.iter().filter(|v| v.is_anomaly).count();
    // A 3σ rule on Gaussian noise alarms on ~0.27 % of points; allow up to 1 %.
    assert!(false_alarms * 100 <= points.len(), "{name}: {false_alarms} false alarms in {}", points.len());
}

#[test]
fn spike_is_found_by_every_point_detector() {
    let mut points = gaussian(7, 2000);
    points[1500].value = 160.0; // +12σ
    assert_found("ewma", EwmaZScoreParams::default().build().unwrap(), &points, 1500, Direction::Up);
    assert_found("window", WindowZScoreParams::default().build().unwrap(), &points, 1500, Direction::Up);
    assert_found("mad", MadZScoreParams::default().window(500).build().unwrap(), &points, 1500, Direction::Up);
    assert_found("iqr", IqrParams::default().window(500).build().unwrap(), &points, 1500, Direction::Up);
    assert_found(
        "rate-of-change",
        RateOfChangeParams::default().lookback(5).build().unwrap(),
        &points,
        1500,
        Direction::Up,
    );
    assert_found(
        "seasonal",
        SeasonalZScoreParams::daily().min_samples(20).build().unwrap(),
        &points,
        1500,
        Direction::Up,
    );
    let ratio = RatioToBaselineParams::default().multiple(1.4).seasonal(SeasonalParams::default().min_samples(20));
    assert_found("ratio", ratio.build().unwrap(), &points, 1500, Direction::Up);
}

#[test]
fn dip_is_found_by_every_point_detector() {
    let mut points = gaussian(11, 2000);
    points[1200].value = 40.0; // −12σ
    assert_found("ewma", EwmaZScoreParams::default().build().unwrap(), &points, 1200, Direction::Down);
    assert_found("window", WindowZScoreParams::default().build().unwrap(), &points, 1200, Direction::Down);
    assert_found("mad", MadZScoreParams::default().window(500).build().unwrap(), &points, 1200, Direction::Down);
    assert_found("iqr", IqrParams::default().window(500).build().unwrap(), &points, 1200, Direction::Down);
    assert_found(
        "rate-of-change",
        RateOfChangeParams::default().lookback(5).build().unwrap(),
        &points,
        1200,
        Direction::Down,
    );
    let ratio = RatioToBaselineParams::default().multiple(1.4).seasonal(SeasonalParams::default().min_samples(20));
    assert_found("ratio", ratio.build().unwrap(), &points, 1200, Direction::Down);
}

#[test]
fn robust_detectors_are_not_blinded_by_earlier_outliers() {
    // Heavy contamination: every 20th point is wild. The mean/sd z-score's spread balloons and
    // it misses a moderate spike; median/MAD and the fences do not.
    let mut points = gaussian(3, 1000);
    for (i, p) in points.iter_mut().enumerate() {
        if i % 20 == 0 {
            p.value = 400.0;
        }
    }
    points[901].value = 135.0; // +7σ of the clean noise
    let window = WindowZScoreParams::default().window(200).build().unwrap();
    let mad = MadZScoreParams::default().window(200).build().unwrap();
    let iqr = IqrParams::default().window(200).build().unwrap();
    let (mut w, mut m, mut q) = (window, mad, iqr);
    let fw = flagged(&mut w, &points);
    let fm = flagged(&mut m, &points);
    let fq = flagged(&mut q, &points);
    assert!(!fw.contains(&901));
    assert!(fm.contains(&901) && fq.contains(&901));
}

#[test]
fn seasonal_detector_knows_the_time_of_week() {
    const STEP: i64 = 5 * MIN;
    let per_hour = HOUR / STEP;
    let mut rng = Rng(5);
    let n = 4 * 7 * 24 * per_hour;
    let mut points: Vec<Point> = (0..n)
        .map(|i| {
            let h = i / per_hour;
            let (weekday, hour) = ((h / 24) % 7, h % 24);
            let busy = weekday < 5 && (9..18).contains(&hour);
            let v = if busy { 1000.0 + 30.0 * rng.normal() } else { 100.0 + 5.0 * rng.normal() };
            Point::new(MONDAY + i * STEP, v)
        })
        .collect();
    // Week 4, Sunday 14:00–15:00: weekday-afternoon traffic on a Sunday afternoon.
    let sunday_2pm = ((3 * 7 + 6) * 24 + 14) * per_hour;
    let odd_hour = sunday_2pm..sunday_2pm + per_hour;
    for p in &mut points[odd_hour.start as usize..odd_hour.end as usize] {
        p.value = 1000.0 + 30.0 * rng.normal();
    }
    // Twenty samples per bucket: warm on the second visit (a z-score on fewer would believe a
    // spread measured from a dozen samples).
    let mut d = SeasonalZScoreParams::default().min_samples(20).build().unwrap();
    let verdicts: Vec<Verdict> = points.iter().map(|p| d.observe(*p).unwrap()).collect();
    // Judged from week 3 on.
    let judged = &verdicts[(2 * 7 * 24 * per_hour) as usize..];
    let inside = judged.iter().filter(|v| odd_hour.contains(&((v.timestamp - MONDAY) / STEP))).collect::<Vec<_>>();
    assert!(inside.iter().all(|v| v.is_anomaly && v.component == "seasonal:bucket"));
    let outside = judged.iter().filter(|v| v.is_anomaly).count() - inside.len();
    assert!(outside * 100 <= judged.len(), "{outside} false alarms in {}", judged.len());
    // And 1,000 on a Tuesday at 14:00 is normal.
    let tuesday_2pm = Point::new(MONDAY + (4 * 7 * 24 + 24 + 14) * HOUR, 1000.0);
    assert!(!d.score(tuesday_2pm).unwrap().is_anomaly);
}

#[test]
fn seasonal_aggregate_finds_a_latency_regression_in_one_interval() {
    let mut rng = Rng(17);
    let mut d = SeasonalAggregateParams::default()
        .statistic(Statistic::P95)
        .seasonal(SeasonalParams::default().min_samples(30))
        .build()
        .unwrap();
    let mut verdicts = Vec::new();
    for minute in 0..240i64 {
        for request in 0..40i64 {
            // Log-normal-ish latencies around 50 ms; minute 200's slowest requests take 4×.
            let base = 50.0 * (0.3 * rng.normal()).exp();
            let slow = if minute == 200 && request % 5 == 0 { 4.0 } else { 1.0 };
            verdicts.extend(d.push(MONDAY + minute * MIN + request * 1500, base * slow).unwrap());
        }
    }
    assert_eq!(verdicts.len(), 239);
    let hits: Vec<i64> = verdicts.iter().filter(|v| v.is_anomaly).map(|v| (v.timestamp - MONDAY) / MIN).collect();
    assert!(hits.contains(&200), "{hits:?}");
    assert!(hits.len() <= 3, "{hits:?}"); // the minute itself and at most a nominal 1 %
    let v = verdicts.iter().find(|v| v.timestamp == MONDAY + 200 * MIN).unwrap();
    assert!(v.value > 2.0 * v.expected && v.severity >= Severity::High, "{}", v.explain());
}

#[test]
fn zero_heavy_counts_with_one_burst() {
    let mut rng = Rng(23);
    let mut points: Vec<Point> = (0..3000).map(|i| Point::new(MONDAY + i * MIN, rng.poisson(0.05))).collect();
    assert!(points.iter().filter(|p| p.value == 0.0).count() > 2700, "the series is zero-heavy");
    points[2500].value = 7.0;
    let mut d = PoissonParams::default().build().unwrap();
    let verdicts: Vec<Verdict> = points.iter().map(|p| d.observe(*p).unwrap()).collect();
    let hits: Vec<usize> = verdicts.iter().enumerate().filter(|(_, v)| v.is_anomaly).map(|(i, _)| i).collect();
    assert_eq!(hits, vec![2500], "{:?}", hits.iter().map(|&i| verdicts[i].explain()).collect::<Vec<_>>());
    assert!(verdicts[2500].severity >= Severity::High);
    assert!(verdicts.iter().all(|v| v.z.is_finite() && v.expected > 0.0 || !v.warm));
    // A z-score on the same series calls every lone event an anomaly.
    let mut z = EwmaZScoreParams::default().build().unwrap();
    assert!(flagged(&mut z, &points).len() > 20);
}

#[test]
fn count_drop_to_zero_is_found() {
    let mut rng = Rng(29);
    let mut points: Vec<Point> = (0..600).map(|i| Point::new(MONDAY + i * MIN, rng.poisson(40.0))).collect();
    points[500].value = 0.0;
    let mut d = PoissonParams::default().build().unwrap();
    let verdicts: Vec<Verdict> = points.iter().map(|p| d.observe(*p).unwrap()).collect();
    assert!(verdicts[500].is_anomaly && verdicts[500].direction == Direction::Down);
    assert!(verdicts.iter().filter(|v| v.is_anomaly).count() <= 3);
}

#[test]
fn error_ratio_floor_and_incident() {
    let mut rng = Rng(31);
    let mut d = ErrorRatioParams::default().build().unwrap();
    let mut t = MONDAY;
    let mut hits = Vec::new();
    // A busy day: 1,000 requests a minute, 0.1 % errors.
    for _ in 0..600 {
        t += MIN;
        let v = d.observe_counts(t, rng.binomial(1000, 0.001), 1000.0).unwrap();
        hits.extend(v.is_anomaly.then_some(t));
    }
    // 3 am: a handful of requests a minute, and one of the first two fails.
    t += MIN;
    let night = d.observe_counts(t, 1.0, 2.0).unwrap();
    assert!(!night.is_anomaly && night.confidence == 0.0, "{}", night.explain());
    for _ in 0..120 {
        t += MIN;
        let n = 2.0 + (rng.uniform() * 9.0).floor();
        let e = if rng.uniform() < 0.05 { 1.0 } else { 0.0 };
        hits.extend(d.observe_counts(t, e, n).unwrap().is_anomaly.then_some(t));
    }
    // Binomial noise at 3σ alarms on ~0.27 % of minutes; no more than that, and none at night.
    assert!(hits.len() * 100 <= 720, "false alarms at {hits:?}");
    assert!(hits.iter().all(|&h| h <= MONDAY + 600 * MIN), "night-time alarms at {hits:?}");
    // Morning incident: 50 errors in 1,000 requests.
    t += MIN;
    let incident = d.observe_counts(t, 50.0, 1000.0).unwrap();
    assert!(incident.is_anomaly && incident.severity >= Severity::High, "{}", incident.explain());
    assert_eq!(incident.value, 0.05);
    // The quiet night (a few errors in few requests) nudged the learned rate up a little.
    assert!(incident.expected > 0.0005 && incident.expected < 0.003, "{}", incident.explain());
    assert!(incident.lower <= 0.001 && incident.upper < 0.01);
}

#[test]
fn error_ratio_scores_keep_ranking_in_the_far_tail() {
    let mut rng = Rng(37);
    let mut d = ErrorRatioParams::default().build().unwrap();
    for i in 0..300 {
        d.observe_counts(i, rng.binomial(1000, 0.001), 1000.0).unwrap();
    }
    let scores: Vec<f64> =
        [20.0, 50.0, 200.0, 800.0].iter().map(|&e| d.score_counts(300, e, 1000.0).unwrap().anomaly_score).collect();
    assert!(scores.windows(2).all(|w| w[0] < w[1] && w[1] < 1.0), "{scores:?}");
}
