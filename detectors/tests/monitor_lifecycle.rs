//! Time-driven tests of the monitor's alert lifecycle: intervals, strikes, escalation,
//! recovery, minimum severity, acknowledge and resolve, the bounded history, independence from
//! batching, and exact agreement with a plain `Watch`.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

use oddsight_core::{AlertEvent, AlertPolicy, Point, Resolution, Severity, ShiftRule, StrikePolicyParams, Watch};
use oddsight_detectors::AnyDetector;
use oddsight_detectors::monitor::{
    AlertEventKind, AlertNotice, AlertQuery, Monitor, MonitorError, MonitorEvent, MonitorOptions, TargetConfig,
};

const MIN: i64 = 60_000;

/// Deterministic noise in -6..=6.
fn noise(i: i64) -> f64 {
    ((i * 7919) % 13) as f64 - 6.0
}

fn alerts(events: &[MonitorEvent]) -> Vec<&AlertNotice> {
    events.iter().filter_map(MonitorEvent::as_alert).collect()
}

fn kinds(events: &[MonitorEvent]) -> Vec<(AlertEventKind, i64)> {
    alerts(events).iter().map(|a| (a.event, a.timestamp / MIN)).collect()
}

fn monitor_with(target: TargetConfig) -> Monitor {
    let mut m = Monitor::new();
    m.add_target(target).unwrap();
    m
}

/// 100 ± 6 every minute, with `spikes` (minute, value) replacing the baseline.
fn feed(m: &mut Monitor, series: &str, minutes: std::ops::Range<i64>, spikes: &[(i64, f64)]) {
    let id = m.series_id(series).unwrap();
    for i in minutes {
        let v = spikes.iter().find(|(at, _)| *at == i).map_or(100.0 + noise(i), |(_, v)| *v);
        m.ingest_id(id, i * MIN, v).unwrap();
    }
}

#[test]
fn three_strikes_fire_escalate_and_recover() {
    let mut m = monitor_with(TargetConfig::new("lat", "latency", "ewma(warmup=20)"));
    // Two strikes, a calm point, then a run of four (third strike fires), a bigger one
    // (escalates), and calm again (three calm points resolve).
    let spikes = [(40, 125.0), (41, 125.0), (43, 125.0), (44, 125.0), (45, 125.0), (46, 125.0), (47, 400.0)];
    feed(&mut m, "latency", 0..60, &spikes);
    let events = m.tick(60 * MIN);
    assert_eq!(
        kinds(&events),
        vec![(AlertEventKind::Fired, 45), (AlertEventKind::Escalated, 47), (AlertEventKind::Resolved, 50)]
    );
    let a = alerts(&events);
    assert_eq!(a[0].alert_id, 1);
    assert_eq!(a[0].value, 125.0);
    assert!(a[0].expected > 95.0 && a[0].expected < 105.0, "{}", a[0].expected);
    assert_eq!(a[1].severity, Severity::Critical);
    assert_eq!(a[1].previous_severity, Some(a[0].severity));
    assert_eq!(a[2].resolution, Some(Resolution::Recovered));
    let record = m.alert(1).unwrap();
    assert_eq!((record.start, record.fired_at, record.end), (43 * MIN, 45 * MIN, Some(50 * MIN)));
    assert_eq!(record.first_verdict.timestamp, 43 * MIN);
    assert_eq!(record.peak_severity, Severity::Critical);
    // Nothing else is waiting.
    assert!(m.tick(61 * MIN).is_empty());
}

#[test]
fn intervals_decide_when_events_are_reported() {
    let mut m = monitor_with(TargetConfig::new("lat", "latency", "ewma(warmup=20)").interval_ms(5 * MIN));
    feed(&mut m, "latency", 0..30, &[]);
    assert!(m.tick(30 * MIN).is_empty()); // the first tick reports (nothing); the next is due at 35
    // Fires at 33 (third strike), resolves at 36 (third calm point).
    feed(&mut m, "latency", 30..37, &[(31, 300.0), (32, 300.0), (33, 300.0)]);
    assert_eq!(m.list_targets()[0].pending_events, 2); // judged already…
    assert!(m.tick(33 * MIN).is_empty()); // …but not due until 35
    assert!(m.tick(34 * MIN).is_empty());
    // Due: events stamped at or before now are reported, the resolution at 36 waits.
    assert_eq!(kinds(&m.tick(35 * MIN)), vec![(AlertEventKind::Fired, 33)]);
    assert_eq!(m.list_targets()[0].last_check, Some(35 * MIN));
    assert_eq!(m.list_targets()[0].pending_events, 1);
    assert!(m.tick(39 * MIN).is_empty()); // not due
    assert_eq!(kinds(&m.tick(40 * MIN)), vec![(AlertEventKind::Resolved, 36)]);
    // Data ahead of the clock waits for a tick that has reached it.
    feed(&mut m, "latency", 37..52, &[(45, 300.0), (46, 300.0), (47, 300.0)]);
    assert!(m.tick(45 * MIN).is_empty()); // due, nothing stamped before 47
    assert!(m.tick(49 * MIN).is_empty()); // not due (45 + 5)
    assert_eq!(kinds(&m.tick(50 * MIN)), vec![(AlertEventKind::Fired, 47), (AlertEventKind::Resolved, 50)]);
}

#[test]
fn k_of_n_min_duration_and_cooldown() {
    let policy = StrikePolicyParams::k_of_n(3, 5).recovery(2).cooldown_ms(10 * MIN).rebaseline(None);
    let mut m = monitor_with(TargetConfig::new("lat", "latency", "ewma(warmup=20)").policy(policy));
    // Three strikes among five fire; two calm points resolve; within the cooldown a second
    // burst is suppressed; after it a third fires.
    let spikes = [(30, 150.0), (32, 150.0), (34, 150.0), (40, 150.0), (41, 150.0), (42, 150.0), (60, 150.0)];
    let spikes = [&spikes[..], &[(61, 150.0), (62, 150.0)]].concat();
    feed(&mut m, "latency", 0..70, &spikes);
    assert_eq!(
        kinds(&m.tick(70 * MIN)),
        vec![
            (AlertEventKind::Fired, 34),
            (AlertEventKind::Resolved, 36),
            (AlertEventKind::Fired, 62),
            (AlertEventKind::Resolved, 64),
        ]
    );
}

#[test]
fn min_severity_reports_from_the_moment_it_is_reached() {
    let target = TargetConfig::new("lat", "latency", "ewma(warmup=20)").min_severity(Severity::High);
    let mut m = monitor_with(target);
    // A low/medium run (z ≈ 4) that never gets high is not reported at all…
    feed(&mut m, "latency", 0..40, &[(30, 114.0), (31, 114.0), (32, 114.0), (33, 114.0)]);
    assert!(m.tick(40 * MIN).is_empty());
    // …one that escalates to critical is reported as fired at the escalation, then resolves.
    feed(&mut m, "latency", 40..60, &[(45, 114.0), (46, 114.0), (47, 114.0), (48, 400.0)]);
    let events = m.tick(60 * MIN);
    assert_eq!(kinds(&events), vec![(AlertEventKind::Fired, 48), (AlertEventKind::Resolved, 51)]);
    let fired = alerts(&events)[0];
    assert_eq!(fired.severity, Severity::Critical);
    assert_eq!(fired.alert_id, 1); // the unreported alert took no id
    assert_eq!(m.alert(1).unwrap().start, 45 * MIN);
    assert_eq!(m.alerts(&AlertQuery::all()).len(), 1);
}

#[test]
fn acknowledge_and_resolve_by_id() {
    let policy = StrikePolicyParams::default().rebaseline(None);
    let mut m = monitor_with(TargetConfig::new("lat", "latency", "ewma(warmup=20)").policy(policy));
    // A sustained problem: fires at 32 and stays open.
    let spikes: Vec<(i64, f64)> = (30..50).map(|i| (i, 300.0)).collect();
    feed(&mut m, "latency", 0..50, &spikes);
    let events = m.tick(50 * MIN);
    assert_eq!(kinds(&events), vec![(AlertEventKind::Fired, 32)]);
    assert!(matches!(m.acknowledge(9, 0), Err(MonitorError::UnknownAlert { id: 9 })));
    assert_eq!(m.acknowledge(1, 51 * MIN).unwrap().acknowledged_at, Some(51 * MIN));
    assert_eq!(m.acknowledge(1, 52 * MIN).unwrap().acknowledged_at, Some(51 * MIN)); // first one kept
    assert!(m.alerts(&AlertQuery::all().unacknowledged_only()).is_empty());
    assert_eq!(m.alerts(&AlertQuery::all().open_only()).len(), 1);
    // Acknowledging does not close it.
    feed(&mut m, "latency", 50..55, &(50..55).map(|i| (i, 300.0)).collect::<Vec<_>>());
    assert!(m.tick(55 * MIN).is_empty());
    // Resolving does, at once, by hand.
    let events = m.resolve(1, 56 * MIN).unwrap();
    let r = alerts(&events);
    assert_eq!(
        (r[0].event, r[0].timestamp, r[0].resolution),
        (AlertEventKind::Resolved, 56 * MIN, Some(Resolution::Manual))
    );
    assert!(matches!(m.resolve(1, 57 * MIN), Err(MonitorError::AlertClosed { id: 1 })));
    assert!(matches!(m.resolve(77, 57 * MIN), Err(MonitorError::UnknownAlert { id: 77 })));
    assert_eq!(m.alert(1).unwrap().end, Some(56 * MIN));
    // The policy closed it too, but the run of strikes goes on: the next strike fires a new
    // alert (a cooldown would hold it back).
    feed(&mut m, "latency", 56..60, &(56..60).map(|i| (i, 300.0)).collect::<Vec<_>>());
    let events = m.tick(60 * MIN);
    assert_eq!(kinds(&events), vec![(AlertEventKind::Fired, 56)]);
    assert_eq!(alerts(&events)[0].alert_id, 2);
}

#[test]
fn resolving_drops_events_still_waiting() {
    let policy = StrikePolicyParams::default().rebaseline(None);
    let target = TargetConfig::new("lat", "latency", "ewma(warmup=20)").policy(policy).interval_ms(10 * MIN);
    let mut m = monitor_with(target);
    feed(&mut m, "latency", 0..35, &(30..35).map(|i| (i, 114.0)).collect::<Vec<_>>());
    assert_eq!(kinds(&m.tick(35 * MIN)), vec![(AlertEventKind::Fired, 32)]);
    // An escalation and a recovery are judged but wait for the next report at 45…
    feed(&mut m, "latency", 35..42, &[(35, 400.0)]);
    assert_eq!(m.list_targets()[0].pending_events, 2);
    // …and a resolution by hand makes them moot.
    assert_eq!(kinds(&m.resolve(1, 42 * MIN).unwrap()), vec![(AlertEventKind::Resolved, 42)]);
    assert_eq!(m.list_targets()[0].pending_events, 0);
    assert!(m.tick(45 * MIN).is_empty());
}

#[test]
fn history_is_bounded_and_queryable() {
    let mut m = Monitor::with_options(MonitorOptions::default().history(3)).unwrap();
    m.add_target(TargetConfig::new("lat", "latency", "ewma(warmup=20)")).unwrap();
    m.add_target(TargetConfig::new("cpu", "cpu", "ewma(warmup=20)")).unwrap();
    // Five alerts: latency on hosts a and b (critical), cpu on a (low), twice on a.
    let burst = |at: i64, v: f64| (at..at + 3).map(|i| (i, v)).collect::<Vec<_>>();
    feed(&mut m, r#"latency{host="a"}"#, 0..80, &[burst(30, 400.0), burst(60, 400.0)].concat());
    feed(&mut m, r#"latency{host="b"}"#, 0..80, &burst(40, 400.0));
    feed(&mut m, r#"cpu{host="a"}"#, 0..80, &[burst(35, 125.0), burst(70, 125.0)].concat());
    let events = m.tick(80 * MIN);
    assert_eq!(alerts(&events).iter().filter(|a| a.event == AlertEventKind::Fired).count(), 5);
    let all = m.alerts(&AlertQuery::all());
    assert_eq!(all.iter().map(|r| r.id).collect::<Vec<_>>(), vec![3, 4, 5]); // the oldest two dropped
    assert!(m.alert(1).is_none());
    assert!(matches!(m.acknowledge(1, 0), Err(MonitorError::UnknownAlert { .. })));
    assert_eq!(m.alerts(&AlertQuery::all().target("cpu")).len(), 1);
    assert_eq!(m.alerts(&AlertQuery::all().series(r#"latency{ host = a }"#)).len(), 1);
    assert_eq!(m.alerts(&AlertQuery::all().min_severity(Severity::Critical)).len(), 2);
    assert!(m.alerts(&AlertQuery::all().open_only()).is_empty());
}

/// Same points, split differently into ingest calls and interleaved differently across
/// series: the same events, the same snapshot.
#[test]
fn events_do_not_depend_on_batching() {
    let targets = || {
        let mut m = Monitor::new();
        m.add_target(TargetConfig::new("lat", "latency", "ewma(warmup=20)").interval_ms(7 * MIN)).unwrap();
        m.add_target(TargetConfig::new("any", "*", "mad(window=30, warmup=10)").interval_ms(3 * MIN)).unwrap();
        m
    };
    let series = [r#"latency{host="a"}"#, r#"latency{host="b"}"#, r#"cpu{host="a"}"#];
    let value = |s: usize, i: i64| match (s, i) {
        (0, 40..=44) | (1, 42..=50) | (2, 70..=72) => 300.0 + s as f64,
        _ => 100.0 + noise(i + s as i64),
    };
    let ticks = [20, 41, 47, 50, 66, 71, 90];
    // One point per call, series interleaved, ticking along.
    let mut a = targets();
    let ids: Vec<_> = series.iter().map(|s| a.series_id(s).unwrap()).collect();
    let mut out_a = Vec::new();
    for i in 0..90 {
        for (s, &id) in ids.iter().enumerate().rev() {
            a.ingest_id(id, i * MIN, value(s, i)).unwrap();
        }
        if ticks.contains(&(i + 1)) {
            out_a.extend(a.tick((i + 1) * MIN));
        }
    }
    // Each series in uneven batches between ticks, series registered in another order.
    let mut b = targets();
    let mut out_b = Vec::new();
    let mut from = 0;
    for &t in &ticks {
        for (s, name) in series.iter().enumerate() {
            let id = b.series_id(name).unwrap();
            let (mut lo, hi) = (from, t);
            let mut k = 1;
            while lo < hi {
                let end = (lo + k).min(hi);
                let ts: Vec<i64> = (lo..end).map(|i| i * MIN).collect();
                let vs: Vec<f64> = (lo..end).map(|i| value(s, i)).collect();
                b.ingest_batch(id, &ts, &vs).unwrap();
                lo = end;
                k += 3;
            }
        }
        out_b.extend(b.tick(t * MIN));
        from = t;
    }
    assert!(out_a.len() >= 6, "{}", out_a.len());
    assert_eq!(serde_json::to_string(&out_a).unwrap(), serde_json::to_string(&out_b).unwrap());
    // The states agree too, series for series (the registration order differs, so compare
    // each series' slots by name).
    let state = |m: &Monitor| {
        let v: serde_json::Value = serde_json::from_str(&oddsight_core::Stateful::to_snapshot(m).unwrap()).unwrap();
        let mut by_name: Vec<(String, String)> = series
            .iter()
            .map(|s| {
                let i = m.find_series(s).unwrap().index() as usize;
                (s.to_string(), v["state"]["series"][i]["slots"].to_string())
            })
            .collect();
        by_name.sort();
        by_name
    };
    assert_eq!(state(&a), state(&b));
}

/// A tiny deterministic generator.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Noise with spikes up and down, bursts at every level, and a lasting level shift (a deploy).
fn stream(seed: u64, n: usize) -> Vec<Point> {
    let mut rng = Rng(seed);
    let mut level = 100.0;
    (0..n)
        .map(|i| {
            if i == n / 2 {
                level = 160.0;
            }
            let hour = ((i / 60) % 24) as f64;
            let daily = 20.0 * (hour / 24.0 * std::f64::consts::TAU).sin();
            let u = rng.next();
            let bump = if u < 0.01 {
                80.0
            } else if u < 0.016 {
                -60.0
            } else if u < 0.03 {
                18.0
            } else if u < 0.05 {
                12.0
            } else {
                0.0
            };
            Point::new(i as i64 * MIN, level + daily + 8.0 * (rng.next() - 0.5) + bump)
        })
        .collect()
}

/// The monitor's events and final state for one target and one series are exactly those of a
/// `Watch` pushing every point, for detectors on the fast path and off it, with consecutive
/// and k-of-n triggers, cooldowns and re-baselining.
#[test]
fn agrees_with_a_plain_watch_point_for_point() {
    let specs =
        ["ewma(warmup=20)", "seasonal(period=1d, bucket=1h, min_samples=3)", "mad(window=60, warmup=20)", "cusum"];
    let policies = [
        StrikePolicyParams::default(),
        StrikePolicyParams::k_of_n(3, 6).recovery(4).rebaseline(Some(ShiftRule::new(20, 0))),
        StrikePolicyParams::threshold(0.6).levels(0.6, 0.3).cooldown_ms(30 * MIN).rebaseline(None),
        StrikePolicyParams::strikes(2).protect_baseline(false),
    ];
    for (si, spec) in specs.iter().enumerate() {
        let mut events = 0;
        for (pi, policy) in policies.iter().enumerate() {
            let points = stream(1 + si as u64 * 10 + pi as u64, 4_000);
            let mut watch = Watch::new(AnyDetector::parse(spec).unwrap(), policy.clone().build().unwrap());
            let mut want = Vec::new();
            for p in &points {
                for e in watch.push(*p).unwrap().events {
                    want.push(match e {
                        AlertEvent::Fired { alert } => (AlertEventKind::Fired, p.timestamp, alert.peak_severity),
                        AlertEvent::Escalated { to, .. } => (AlertEventKind::Escalated, p.timestamp, to),
                        AlertEvent::Resolved { alert } => (AlertEventKind::Resolved, p.timestamp, alert.peak_severity),
                    });
                }
            }
            let mut m = monitor_with(TargetConfig::new("t", "x", *spec).policy(policy.clone()));
            let id = m.series_id("x").unwrap();
            let mut got = Vec::new();
            for chunk in points.chunks(97) {
                let ts: Vec<i64> = chunk.iter().map(|p| p.timestamp).collect();
                let vs: Vec<f64> = chunk.iter().map(|p| p.value).collect();
                m.ingest_batch(id, &ts, &vs).unwrap();
                got.extend(m.tick(ts[ts.len() - 1]));
            }
            let got: Vec<_> = alerts(&got).iter().map(|a| (a.event, a.timestamp, a.severity)).collect();
            events += want.len();
            assert_eq!(got, want, "{spec} / policy {pi}");
            // The states agree too: detector and policy, field for field.
            let snap: serde_json::Value =
                serde_json::from_str(&oddsight_core::Stateful::to_snapshot(&m).unwrap()).unwrap();
            let slot = &snap["state"]["series"][0]["slots"][0];
            // An inline EWMA is the bare detector; a boxed one is an AnyDetector, with its tag.
            let mine = match slot["model"].get("ewma") {
                Some(bare) => {
                    let mut v = bare.clone();
                    v["type"] = "ewma".into();
                    v
                }
                None => slot["model"]["boxed"].clone(),
            };
            assert_eq!(mine, serde_json::to_value(watch.detector()).unwrap(), "{spec} / policy {pi}: detector");
            assert_eq!(slot["policy"], serde_json::to_value(watch.policy()).unwrap(), "{spec} / policy {pi}: policy");
            assert_eq!(watch.policy().open_alert().is_some(), !m.alerts(&AlertQuery::all().open_only()).is_empty());
        }
        assert!(events >= 8, "{spec}: only {events} events");
    }
}
