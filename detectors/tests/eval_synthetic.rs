//! The synthetic efficacy suite: generator shapes, the event-level scoring rules by hand, the
//! exact best-threshold sweep against brute force, and a real detector end to end.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

use oddsight_core::{BaselineDetector, Detector, DetectorParams, EwmaParams, ZScore};
use oddsight_detectors::Result;
use oddsight_detectors::eval::synthetic::{
    Difficulty, EventLabel, LabeledSeries, Metrics, Pattern, SuiteParams, best_metrics, generate, metrics_at,
};

fn mean(xs: &[f64]) -> f64 {
    xs.iter().sum::<f64>() / xs.len() as f64
}

fn std_dev(xs: &[f64]) -> f64 {
    let m = mean(xs);
    (xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / xs.len() as f64).sqrt()
}

fn series(p: Pattern, d: Difficulty, r: usize) -> LabeledSeries {
    generate(p, d, r, &SuiteParams::default())
}

#[test]
fn generators_are_seeded_and_shaped() {
    let params = SuiteParams::default();
    for p in Pattern::ALL {
        for d in Difficulty::ALL {
            let a = generate(p, d, 0, &params);
            assert_eq!(a, generate(p, d, 0, &params), "{p} {d}: same seed, same series");
            assert_ne!(a.values, generate(p, d, 1, &params).values, "{p} {d}: replicates differ");
            let l = a.label;
            assert_eq!((a.values.len(), a.timestamps.len(), l.len), (2880, 2880, 2880));
            assert!(l.onset >= 1440 + 48 && l.window_end == l.onset + p.span() - 1 + 6 && l.window_end < 2880 - 48);
            assert_eq!(a.timestamps[1] - a.timestamps[0], 300_000);
            assert!(a.values.iter().all(|v| v.is_finite()));
        }
    }
    // A different master seed moves everything.
    let other = generate(Pattern::Spike, Difficulty::Easy, 0, &SuiteParams::default().seed(1));
    assert_ne!(other.values, series(Pattern::Spike, Difficulty::Easy, 0).values);

    // Spikes and dips: one point m·σ away from a level of 100 with σ = 1.
    for (p, sign) in [(Pattern::Spike, 1.0), (Pattern::Dip, -1.0)] {
        for (d, m) in [(Difficulty::Easy, 12.0), (Difficulty::Medium, 7.0), (Difficulty::Hard, 4.5)] {
            let s = series(p, d, 2);
            let x = s.values[s.label.onset];
            assert!((sign * (x - 100.0) - m).abs() < 4.0, "{p} {d}: {x}");
            let before = &s.values[..s.label.onset];
            assert!((mean(before) - 100.0).abs() < 0.1 && (std_dev(before) - 1.0).abs() < 0.1);
        }
    }
    // Level shift: the level after the onset differs by ±m.
    let s = series(Pattern::LevelShift, Difficulty::Medium, 0);
    let (before, after) = s.values.split_at(s.label.onset);
    assert!(((mean(after) - mean(before)).abs() - 5.0).abs() < 0.3);
    // Trend drift: ±12 reached after 144 points and held.
    let s = series(Pattern::TrendDrift, Difficulty::Easy, 0);
    let held = &s.values[s.label.onset + 144..];
    assert!(((mean(held) - 100.0).abs() - 12.0).abs() < 0.3);
    // Variance change: noise ×3.5 during the span.
    let s = series(Pattern::VarianceChange, Difficulty::Medium, 0);
    let during = &s.values[s.label.onset..s.label.onset + 144];
    assert!((std_dev(during) / std_dev(&s.values[..s.label.onset]) - 3.5).abs() < 0.7);
    // Seasonality: a daily cycle of amplitude 6 (a day is 288 points), inverted on the break.
    let s = series(Pattern::SeasonalityBreak, Difficulty::Easy, 0);
    let at = |i: usize| s.values[i] - 100.0;
    let quarter = 72; // sin peaks a quarter day in
    assert!((mean(&(0..5).map(|day| at(day * 288 + quarter)).collect::<Vec<_>>()) - 6.0).abs() < 1.0);
    let onset = s.label.onset;
    let peak = (onset..onset + 288).find(|i| i % 288 == quarter).unwrap();
    assert!((at(peak) + 6.0).abs() < 4.0, "{}", at(peak));
    // Count bursts: non-negative integers of mean 4, ×6 in the burst.
    let s = series(Pattern::CountBurst, Difficulty::Easy, 0);
    assert!(s.values.iter().all(|v| *v >= 0.0 && v.fract() == 0.0));
    assert!((mean(&s.values[..s.label.onset]) - 4.0).abs() < 0.2);
    assert!(mean(&s.values[s.label.onset..s.label.onset + 12]) > 12.0);
}

fn label(len: usize, warmup: usize, onset: usize, window_end: usize) -> EventLabel {
    EventLabel { len, warmup, onset, window_end }
}

#[test]
fn scoring_rules_by_hand() {
    // Two series of 30 points, burn-in 10. Series A: event 15..=18; series B: event 20..=20.
    let labels = [label(30, 10, 15, 18), label(30, 10, 20, 20)];
    let mut a = vec![0.0; 30];
    let mut b = vec![0.0; 30];
    a[3] = 0.9; // burn-in: ignored
    a[12] = 0.6; // an alert 12..=13 starting outside the window: FP
    a[13] = 0.7;
    a[17] = 0.8; // detects A with delay 17 − 15 = 2
    a[19] = 0.6; // right after the window (a[18] is 0): a new alert, FP
    b[21] = 0.9; // B's window is 20..=20: 21 is outside, an FP; B is missed
    b[25] = 0.4; // below 0.5
    let scores = vec![a, b];
    // θ = 0.5: detected 1, alerts starting outside at 12, 19, 21: FP 3;
    // P = 1/4, R = 1/2, F1 = 2·(1/8)/(3/4) = 1/3.
    let m = metrics_at(&labels, &scores, 0.5);
    assert_eq!((m.events, m.detected, m.false_positives), (2, 1, 3));
    assert_eq!((m.precision, m.recall), (0.25, 0.5));
    assert!((m.f1 - 1.0 / 3.0).abs() < 1e-12);
    assert_eq!(m.mean_delay, Some(2.0));
    // θ = 0.65: an alert starts at 13; 12 and 19 drop out; 21 stays. detected 1, FP 2: P = 1/3,
    // R = 1/2, F1 = 0.4. θ = 0.75: FP {21} only: P = 1/2, R = 1/2, F1 = 0.5.
    assert_eq!(metrics_at(&labels, &scores, 0.65).false_positives, 2);
    // θ = 0.85: only b[21] (0.9) alarms: P = 0, F1 = 0. θ = 0.4: b[25] joins: FP 4.
    // Best: θ = 0.8 (the peak of A's window; the tie at 0.75 loses to the higher threshold).
    let best = best_metrics(&labels, &scores);
    assert_eq!(best.threshold, Some(0.8));
    assert_eq!((best.detected, best.false_positives), (1, 1));
    assert_eq!(best.f1, 0.5);
    assert_eq!(best.mean_delay, Some(2.0));

    // An alert that starts before the window and runs into it detects nothing: it is one
    // false positive. A new alert starting inside the window (16) detects, delay 1.
    let labels = [label(30, 10, 15, 18)];
    let mut s = vec![0.0; 30];
    s[14] = 0.7;
    s[15] = 0.7;
    let m = metrics_at(&labels, &[s.clone()], 0.5);
    assert_eq!((m.detected, m.false_positives, m.mean_delay), (0, 1, None));
    s[17] = 0.7;
    let m = metrics_at(&labels, &[s.clone()], 0.5);
    assert_eq!((m.detected, m.false_positives, m.mean_delay), (1, 1, Some(2.0)));
    // An alert that starts in the window and stays on long after costs nothing more.
    let mut s = vec![0.0; 30];
    s[16..].fill(0.7);
    let m = metrics_at(&labels, &[s], 0.5);
    assert_eq!((m.detected, m.false_positives, m.mean_delay), (1, 0, Some(1.0)));
    // Flickering pays per flicker: 22, 24, 26 are three alerts; 22..=26 all on is one.
    let mut f = vec![0.0; 30];
    for i in [22, 24, 26] {
        f[i] = 0.7;
    }
    assert_eq!(metrics_at(&labels, &[f], 0.5).false_positives, 3);
    let mut f = vec![0.0; 30];
    f[22..=26].fill(0.7);
    assert_eq!(metrics_at(&labels, &[f], 0.5).false_positives, 1);

    // Nothing ever alarms: precision 0 by convention, F1 0, best is "no alarms".
    let quiet = vec![vec![0.0; 30]];
    let m = metrics_at(&labels, &quiet, 0.5);
    assert_eq!((m.precision, m.recall, m.f1, m.mean_delay), (0.0, 0.0, 0.0, None));
    let best = best_metrics(&labels, &quiet);
    // θ = 0 alarms everywhere: one alert from the burn-in's end on, which hides the event.
    assert_eq!(metrics_at(&labels, &quiet, 0.0).false_positives, 1);
    assert_eq!(metrics_at(&labels, &quiet, 0.0).detected, 0);
    assert_eq!((best.threshold, best.f1), (None, 0.0));
    // Always on: the same.
    let on = vec![vec![1.0; 30]];
    let m = metrics_at(&labels, &on, 0.5);
    assert_eq!((m.detected, m.false_positives, m.f1), (0, 1, 0.0));
}

fn brute_best(labels: &[EventLabel], scores: &[Vec<f64>]) -> Metrics {
    let mut candidates: Vec<f64> = scores.iter().flatten().copied().collect();
    candidates.sort_by(|a, b| b.total_cmp(a));
    candidates.dedup();
    let mut best: Option<Metrics> = None;
    for c in candidates {
        let m = metrics_at(labels, scores, c);
        if m.f1 > best.as_ref().map_or(0.0, |b| b.f1) {
            best = Some(m);
        }
    }
    best.unwrap_or_else(|| {
        let mut m = metrics_at(labels, scores, f64::INFINITY);
        m.threshold = None;
        m
    })
}

#[test]
fn best_threshold_matches_brute_force() {
    let mut state = 5u64;
    let mut next = || {
        state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        state >> 33
    };
    for case in 0..300 {
        let k = 1 + (next() % 4) as usize;
        let levels = 1 + next() % 5;
        let mut labels = Vec::new();
        let mut scores = Vec::new();
        for _ in 0..k {
            let len = 20 + (next() % 30) as usize;
            let warmup = (next() % 8) as usize;
            let onset = warmup + (next() % (len - warmup - 2) as u64) as usize;
            let end = (onset + (next() % 5) as usize).min(len - 1);
            labels.push(label(len, warmup, onset, end));
            scores.push((0..len).map(|_| (next() % (levels + 1)) as f64 / levels as f64).collect::<Vec<f64>>());
        }
        let fast = best_metrics(&labels, &scores);
        let slow = brute_best(&labels, &scores);
        assert_eq!(fast.threshold, slow.threshold, "case {case}");
        assert_eq!((fast.detected, fast.false_positives), (slow.detected, slow.false_positives), "case {case}");
        assert!((fast.f1 - slow.f1).abs() < 1e-12, "case {case}");
        assert_eq!(fast.mean_delay, slow.mean_delay, "case {case}");
    }
}

fn ewma() -> Result<Box<dyn Detector>> {
    let b = EwmaParams::default().build()?;
    Ok(Box::new(BaselineDetector::new(b, ZScore, DetectorParams::default())?))
}

#[test]
fn evaluates_a_detector_end_to_end() {
    let suite = SuiteParams::default().replicates(4).build().unwrap();
    assert_eq!(suite.series().len(), 7 * 3 * 4);
    let report = suite.evaluate(ewma).unwrap();
    assert_eq!(report.cells.len(), 21);
    println!("{report}");
    // Deterministic: the same suite and detector give the same report.
    assert_eq!(report, suite.evaluate(ewma).unwrap());
    for c in &report.cells {
        assert_eq!(c.series, 4);
        assert!(c.best.f1 >= c.fixed.f1 - 1e-12, "{} {}: best is at least the fixed", c.pattern, c.difficulty);
        for m in [&c.fixed, &c.best] {
            assert!((0.0..=1.0).contains(&m.precision) && (0.0..=1.0).contains(&m.recall));
        }
    }
    // A plain EWMA z-score sees an easy spike at once, and misses few at the fixed threshold.
    let spike = report.cell(Pattern::Spike, Difficulty::Easy).unwrap();
    assert_eq!(spike.fixed.detected, 4);
    assert_eq!(spike.fixed.mean_delay, Some(0.0));
    assert_eq!(spike.best.f1, 1.0);
    let dip = report.cell(Pattern::Dip, Difficulty::Easy).unwrap();
    assert_eq!(dip.best.f1, 1.0);
    // Harder is not easier: the best F1 of spikes falls (weakly) with difficulty.
    let f1 = |d| report.cell(Pattern::Spike, d).unwrap().best.f1;
    assert!(f1(Difficulty::Easy) >= f1(Difficulty::Hard));
    // The overall rows add the cells up.
    assert_eq!(report.overall_fixed.events, 84);
    assert_eq!(report.overall_fixed.detected, report.cells.iter().map(|c| c.fixed.detected).sum::<usize>());
    let text = report.to_string();
    assert!(text.starts_with("| pattern | difficulty |") && text.contains("| seasonality_break | hard |"));
    // JSON round trip.
    let json = serde_json::to_string(&report).unwrap();
    let back: oddsight_detectors::eval::synthetic::SuiteReport = serde_json::from_str(&json).unwrap();
    assert_eq!(back.cells.len(), 21);
}

#[test]
fn bad_inputs_are_errors() {
    assert!(SuiteParams::default().length(100).build().is_err());
    assert!(SuiteParams::default().replicates(0).build().is_err());
    assert!(SuiteParams::default().patterns(vec![]).build().is_err());
    assert!(SuiteParams::default().fixed_threshold(1.5).build().is_err());
    assert!(SuiteParams::default().step_ms(0).build().is_err());
    // Short series are fine when the selected patterns fit.
    let suite = SuiteParams::default()
        .length(400)
        .warmup(100)
        .patterns(vec![Pattern::Spike])
        .difficulties(vec![Difficulty::Hard])
        .replicates(2)
        .build()
        .unwrap();
    assert!(suite.evaluate_scores(&[vec![0.0; 400]]).is_err());
    assert!(suite.evaluate_scores(&[vec![0.0; 400], vec![0.0; 399]]).is_err());
    assert!(suite.evaluate_scores(&[vec![0.0; 400], vec![f64::NAN; 400]]).is_err());
    // An oracle that alarms exactly at each onset is perfect.
    let oracle: Vec<Vec<f64>> =
        suite.series().iter().map(|s| (0..400).map(|i| if i == s.label.onset { 0.9 } else { 0.1 }).collect()).collect();
    let r = suite.evaluate_scores(&oracle).unwrap();
    assert_eq!((r.overall_fixed.f1, r.overall_fixed.mean_delay), (1.0, Some(0.0)));
    assert_eq!(r.overall_best.threshold, Some(0.9));
    // A detector that fails is reported with the series and point.
    let err = suite.evaluate(|| Err(oddsight_detectors::Error::Core(oddsight_core::Error::Empty { what: "test" })));
    assert!(err.is_err());
}
