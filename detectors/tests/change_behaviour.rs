//! Behaviour of the change-point, trend, seasonality and ESD detectors on seeded synthetic
//! series generated here.
//!
//! Data: [`Rng`] is SplitMix64; `gauss` is a Box–Muller standard normal. Unless stated, series
//! are one point a minute with N(0, 1) noise, so "σ" is 1.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use oddsight_core::{BaselineDetector, Detector, DetectorParams, Direction, EwmaParams, Fit, Point, ZScore};
use oddsight_detectors::change::{BocpdParams, CusumParams};
use oddsight_detectors::esd::{AnomalyCap, EsdParams, SeasonalEsdParams};
use oddsight_detectors::period::PeriodParams;
use oddsight_detectors::trend::MannKendallParams;

const MIN: i64 = 60_000;
const HOUR: i64 = 60 * MIN;

/// SplitMix64, with a Box–Muller normal.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn uniform(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }
    fn gauss(&mut self) -> f64 {
        let (u, v) = (self.uniform(), self.uniform());
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }
}

/// `n` minutes of N(0, 1) noise plus `signal(i)`.
fn series(seed: u64, n: usize, signal: impl Fn(usize) -> f64) -> Vec<Point> {
    let mut rng = Rng(seed);
    (0..n).map(|i| Point::new(i as i64 * MIN, signal(i) + rng.gauss())).collect()
}

#[test]
fn cusum_confirms_a_two_sigma_shift_quickly_and_dates_it() {
    let shift_at = 300;
    let mut delays = Vec::new();
    for seed in 1..=12 {
        let points = series(seed, 420, |i| if i >= shift_at { 2.0 } else { 0.0 });
        let mut d = CusumParams::default().build().unwrap();
        let (mut first, mut refined) = (None, None);
        for (i, &p) in points.iter().enumerate() {
            let v = d.observe(p).unwrap();
            if v.is_anomaly && i >= shift_at && first.is_none() {
                first = Some((i, d.last_shift().cloned().unwrap(), v));
            }
            // Once the settling points have passed, the size has been re-estimated.
            if matches!(first, Some((at, _, _)) if i == at + d.params().settle) {
                refined = d.last_shift().cloned();
            }
        }
        let (at, shift, verdict) = first.expect("the shift is confirmed");
        let delay = at - shift_at;
        assert!(delay <= 30, "seed {seed}: confirmed {delay} points after the shift");
        let start = shift.start / MIN - shift_at as i64;
        assert!(start.abs() <= 5, "seed {seed}: start off by {start} points: {shift:?}");
        assert_eq!(shift.direction, Direction::Up);
        // Sized from the few points that confirmed it (and biased up by that selection)...
        assert!((shift.size - 2.0).abs() < 1.6, "seed {seed}: size {}", shift.size);
        assert!(verdict.explain().contains("level shift +"), "{}", verdict.explain());
        // ...then re-estimated while the detector settles: close to the truth.
        let refined = refined.expect("settled");
        assert!((refined.size - 2.0).abs() < 0.6, "seed {seed}: refined size {}", refined.size);
        delays.push(delay);
    }
    delays.sort_unstable();
    assert!(delays[delays.len() / 2] <= 10, "median delay {:?}", delays);
}

#[test]
fn cusum_stays_quiet_before_the_shift() {
    let mut false_alarms = 0;
    for seed in 100..110 {
        let mut d = CusumParams::default().build().unwrap();
        for p in series(seed, 1500, |_| 5.0) {
            false_alarms += d.observe(p).unwrap().is_anomaly as u32;
        }
    }
    // Ten runs of 1500 points: the in-control run length is in the thousands.
    assert!(false_alarms <= 6, "{false_alarms} false alarms in 15,000 points");
}

#[test]
fn bocpd_change_probability_spikes_at_a_mean_change() {
    for seed in 1..=8 {
        let change_at = 400;
        let points = series(seed, 520, |i| if i >= change_at { -2.5 } else { 0.0 });
        let mut d = BocpdParams::default().build().unwrap();
        let (mut before, mut high_before) = (Vec::new(), 0);
        let mut peak = (0.0f64, 0usize);
        for (i, &p) in points.iter().enumerate() {
            d.observe(p).unwrap();
            let cp = d.change_probability();
            if (100..change_at).contains(&i) {
                before.push(cp);
                high_before += (cp >= d.params().threshold) as u32;
            } else if (change_at..change_at + 15).contains(&i) && cp > peak.0 {
                peak = (cp, i);
            }
        }
        before.sort_by(f64::total_cmp);
        let typical = before[before.len() / 2];
        assert!(peak.0 > 0.95, "seed {seed}: peak change probability {peak:?}");
        // Before: a low background (young runs always hold a little mass), no declaration.
        assert!(typical < 0.2 && high_before <= 3, "seed {seed}: before the change {typical}, {high_before} high");
        let shift = d.last_shift().unwrap();
        assert!((shift.start / MIN - change_at as i64).abs() <= 3, "seed {seed}: {shift:?}");
        assert_eq!(shift.direction, Direction::Down);
        assert!((shift.size + 2.5).abs() < 1.2, "seed {seed}: {shift:?}");
        // The new run has grown: the most likely run length counts from the change.
        assert!((d.run_length() as i64 - (520 - change_at) as i64).abs() <= 5, "run {}", d.run_length());
    }
}

#[test]
fn bocpd_ignores_a_lone_spike_but_not_a_step() {
    let mut d = BocpdParams::default().build().unwrap();
    let points = series(77, 600, |i| match i {
        300 => 12.0,
        i if i >= 450 => 6.0,
        _ => 0.0,
    });
    let mut alarms = Vec::new();
    for (i, &p) in points.iter().enumerate() {
        if d.observe(p).unwrap().is_anomaly {
            alarms.push(i);
        }
    }
    assert!(!alarms.iter().any(|&i| (300..310).contains(&i)), "spike taken for a change: {alarms:?}");
    assert!(alarms.iter().any(|&i| (450..453).contains(&i)), "step missed: {alarms:?}");
}

#[test]
fn mann_kendall_flags_a_slow_drift_that_a_point_detector_misses() {
    // 300 quiet minutes, then a drift of 0.02σ a minute (1.2σ an hour) for 600 minutes.
    let points = series(2024, 900, |i| if i >= 300 { 0.02 * (i - 300) as f64 } else { 0.0 });
    let mut trend = MannKendallParams::default().build().unwrap();
    let baseline = EwmaParams::default().build().unwrap();
    let mut point = BaselineDetector::new(baseline, ZScore, DetectorParams::default()).unwrap();
    let (mut trend_hits, mut point_hits, mut trend_early) = (0, 0, 0);
    for (i, &p) in points.iter().enumerate() {
        let t = trend.observe(p).unwrap();
        let z = point.observe(p).unwrap();
        if i >= 300 {
            trend_hits += t.is_anomaly as u32;
            point_hits += z.is_anomaly as u32;
        } else {
            trend_early += t.is_anomaly as u32;
        }
    }
    assert!(trend_early == 0, "{trend_early} trend alarms before the drift");
    assert!(trend_hits > 400, "only {trend_hits} of 600 drifting points flagged");
    assert!(point_hits <= 6, "the point detector saw {point_hits}");
    let report = trend.current_trend().unwrap();
    assert!(report.significant && report.direction == Direction::Up);
    assert!((report.slope_per_hour.unwrap() - 1.2).abs() < 0.3, "{report:?}");
    assert!(report.describe().starts_with("gradual increase +"), "{}", report.describe());
}

#[test]
fn mann_kendall_is_quiet_on_white_noise() {
    let mut flagged = 0;
    let mut total = 0;
    for seed in 10..16 {
        let mut d = MannKendallParams::default().build().unwrap();
        for p in series(seed, 2000, |_| 0.0) {
            flagged += d.observe(p).unwrap().is_anomaly as u32;
            total += 1;
        }
    }
    // alpha = 0.001 per window; windows overlap, so alarms come in clusters.
    assert!(flagged * 100 < total, "{flagged} of {total} points flagged");
}

/// After `rebaseline` onto the points of a new level, none of the streaming detectors keeps
/// alarming on that level.
#[test]
fn rebaseline_moves_each_detector_onto_the_new_level() {
    fn check<D: Detector>(mut d: D) {
        let before = series(8, 400, |_| 0.0);
        let after = series(9, 300, |_| 8.0);
        let shifted: Vec<Point> = after.iter().map(|p| Point::new(p.timestamp + 400 * MIN, p.value)).collect();
        for &p in &before {
            d.observe(p).unwrap();
        }
        d.rebaseline(&shifted[..60]).unwrap();
        assert_eq!(d.last_timestamp(), Some(shifted[59].timestamp));
        let alarms = shifted[60..].iter().filter(|&&p| d.observe(p).unwrap().is_anomaly).count();
        assert!(alarms <= 2, "{}: {alarms} alarms after re-baselining", d.name());
        assert!(d.rebaseline(&[]).is_ok());
    }
    check(CusumParams::default().build().unwrap());
    check(BocpdParams::default().build().unwrap());
    check(MannKendallParams::default().build().unwrap());
}

#[test]
fn gesd_finds_exactly_the_injected_outliers() {
    let mut rng = Rng(31337);
    let mut x: Vec<f64> = (0..200).map(|_| 50.0 + 2.0 * rng.gauss()).collect();
    let injected = [17usize, 88, 89, 150];
    for (k, &i) in injected.iter().enumerate() {
        x[i] = 50.0 + if k % 2 == 0 { 14.0 } else { -13.0 } + 0.5 * k as f64; // ~7σ
    }
    for robust in [false, true] {
        let out = EsdParams::default().robust(robust).max_anomalies(AnomalyCap::Count(10)).fit(&x[..]).unwrap();
        assert_eq!(out.anomalies, injected, "robust = {robust}");
        assert!((out.center - 50.0).abs() < 0.5 && (out.scale - 2.0).abs() < 0.4, "{} {}", out.center, out.scale);
        assert!(out.verdicts.iter().filter(|v| v.is_anomaly).all(|v| v.anomaly_score >= 0.5 && v.z.abs() > 3.0));
    }
}

#[test]
fn seasonal_esd_finds_spikes_in_a_seasonal_series() {
    // Three weeks of 5-minute points: a daily cycle of ±20 around 100 (trough at midnight),
    // noise σ = 2, and five spikes of +15 (7.5σ): two at the night-time trough, where they stay
    // below the daily mean, so only the seasonal decomposition can see them.
    let step = 5 * MIN;
    let per_day = (24 * HOUR / step) as usize;
    let n = 21 * per_day;
    let mut rng = Rng(99);
    let spikes = [581usize, 1300, 2222, 3460, 5555];
    let t: Vec<i64> = (0..n as i64).map(|i| i * step).collect();
    let v: Vec<f64> = (0..n)
        .map(|i| {
            let phase = 2.0 * std::f64::consts::PI * (i % per_day) as f64 / per_day as f64;
            let spike = if spikes.contains(&i) { 15.0 } else { 0.0 };
            100.0 - 20.0 * phase.cos() + 2.0 * rng.gauss() + spike
        })
        .collect();
    let out = SeasonalEsdParams::default().detect(&t, &v).unwrap();
    assert_eq!(out.period, Some(per_day), "the daily period is discovered");
    assert_eq!(out.esd.anomalies, spikes);
    let night = &out.esd.verdicts[spikes[0]];
    assert!(night.value < 100.0 && night.is_anomaly, "{}", night.explain());
    assert!((night.expected - 80.0).abs() < 3.0, "expected {}", night.expected);
    // A plain test on the raw values cannot see the night-time spikes.
    let plain = EsdParams::default().detect(&t, &v).unwrap();
    assert!(!plain.anomalies.contains(&spikes[0]));
}

#[test]
fn period_discovery_finds_daily_hourly_and_weekly_cycles() {
    // One point a minute for five days with a daily cycle, 10 % missing.
    let mut rng = Rng(5);
    let n = 5 * 1440;
    let t: Vec<i64> = (0..n as i64).map(|i| i * MIN).collect();
    let v: Vec<f64> = (0..n)
        .map(|i| {
            if rng.uniform() < 0.1 {
                return f64::NAN;
            }
            let phase = 2.0 * std::f64::consts::PI * (i % 1440) as f64 / 1440.0;
            200.0 + 30.0 * phase.sin() + 10.0 * rng.gauss()
        })
        .collect();
    let s = PeriodParams::default().find_timed(&t, &v).unwrap();
    let d = s.dominant().unwrap();
    assert_eq!((d.period, d.period_ms), (1440, Some(24 * HOUR)), "{s:?}");
    assert!(s.missing > 600 && s.step_ms == Some(MIN));

    // Hourly points for three weeks: a daily cycle only.
    let hourly: Vec<f64> = (0..24 * 21)
        .map(|h| 10.0 + 3.0 * (2.0 * std::f64::consts::PI * (h % 24) as f64 / 24.0).sin() + rng.gauss())
        .collect();
    let s = PeriodParams::default().find(&hourly).unwrap();
    assert_eq!(s.candidates.iter().map(|c| c.period).collect::<Vec<_>>(), vec![24], "{s:?}");

    // Hourly points for eight weeks: a daily cycle and quiet weekends.
    let weekly: Vec<f64> = (0..24 * 56)
        .map(|h| {
            let daily = 3.0 * (2.0 * std::f64::consts::PI * (h % 24) as f64 / 24.0).sin();
            let weekend = if (h / 24) % 7 >= 5 { -4.0 } else { 0.0 };
            10.0 + daily + weekend + rng.gauss()
        })
        .collect();
    let hours: Vec<i64> = (0..weekly.len() as i64).map(|h| h * HOUR).collect();
    let s = PeriodParams::default().find_timed(&hours, &weekly).unwrap();
    let mut periods: Vec<usize> = s.candidates.iter().map(|c| c.period).collect();
    periods.sort_unstable();
    assert_eq!(periods, vec![24, 168], "{s:?}");
    assert_eq!(s.candidates.iter().find(|c| c.period == 168).unwrap().period_ms, Some(7 * 24 * HOUR));
}

#[test]
fn period_discovery_finds_nothing_in_noise_or_wandering() {
    for seed in 0..8 {
        let mut rng = Rng(seed);
        let noise: Vec<f64> = (0..3000).map(|_| rng.gauss()).collect();
        assert!(!PeriodParams::default().find(&noise).unwrap().is_seasonal(), "white noise, seed {seed}");
        let mut level = 0.0;
        let walk: Vec<f64> = (0..3000)
            .map(|_| {
                level += rng.gauss();
                level
            })
            .collect();
        assert!(!PeriodParams::default().find(&walk).unwrap().is_seasonal(), "random walk, seed {seed}");
        let mut ar = 0.0;
        let red: Vec<f64> = (0..3000)
            .map(|_| {
                ar = 0.9 * ar + rng.gauss();
                ar
            })
            .collect();
        assert!(!PeriodParams::default().find(&red).unwrap().is_seasonal(), "AR(1), seed {seed}");
    }
    let short = [1.0, 2.0, 1.0, 2.0, 1.0];
    assert!(matches!(PeriodParams::default().find(&short), Err(oddsight_core::Error::Shape { .. })));
}
