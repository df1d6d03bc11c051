//! Incidents: alerts on one service that overlap in time are one incident, with every signal
//! in the order it started.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

use oddsight_core::Direction;
use oddsight_detectors::monitor::{
    AlertEventKind, Incident, IncidentEventKind, IncidentStatus, Monitor, MonitorEvent, MonitorOptions, TargetConfig,
};

const MIN: i64 = 60_000;

fn noise(i: i64) -> f64 {
    ((i * 7919) % 13) as f64 - 6.0
}

fn monitor(intervals: [i64; 3]) -> Monitor {
    let mut m = Monitor::new();
    for (name, metric, every) in
        [("latency", "latency_ms", intervals[0]), ("queries", "queries", intervals[1]), ("cpu", "cpu", intervals[2])]
    {
        m.add_target(TargetConfig::new(name, metric, "ewma(warmup=20)").interval_ms(every * MIN)).unwrap();
    }
    m
}

/// Per-minute points for `minutes`; `bad` minutes read 5x normal.
fn run(m: &mut Monitor, minutes: std::ops::Range<i64>, series: &[(&str, std::ops::Range<i64>)]) -> Vec<MonitorEvent> {
    let mut out = Vec::new();
    for i in minutes {
        for (name, bad) in series {
            let v = if bad.contains(&i) { 500.0 } else { 100.0 + noise(i) };
            m.ingest(name, i * MIN, v).unwrap();
        }
        out.extend(m.tick(i * MIN));
    }
    out
}

fn incident_events(events: &[MonitorEvent]) -> Vec<(IncidentEventKind, u64, usize)> {
    events
        .iter()
        .filter_map(MonitorEvent::as_incident)
        .map(|n| (n.event, n.incident_id, n.incident.signals.len()))
        .collect()
}

const LAT: &str = r#"latency_ms{service="checkout"}"#;
const QRY: &str = r#"queries{service="checkout",db="main"}"#;
const CPU: &str = r#"cpu{service="checkout",host="a"}"#;
const SEARCH: &str = r#"latency_ms{service="search"}"#;

#[test]
fn overlapping_alerts_on_a_service_form_one_incident() {
    let mut m = monitor([1, 1, 1]);
    let series = [(LAT, 40..50), (QRY, 42..52), (CPU, 45..55), (SEARCH, 100..104)];
    let events = run(&mut m, 0..120, &series);
    use IncidentEventKind::*;
    assert_eq!(
        incident_events(&events),
        vec![
            (IncidentOpened, 1, 1),
            (IncidentGrew, 1, 2),
            (IncidentGrew, 1, 3),
            (IncidentClosed, 1, 3),
            (IncidentOpened, 2, 1),
            (IncidentClosed, 2, 1)
        ]
    );
    let checkout = m.incident(1).unwrap();
    assert_eq!(checkout.service, "checkout");
    assert_eq!(checkout.status, IncidentStatus::Closed);
    assert_eq!((checkout.start, checkout.end), (40 * MIN, Some(57 * MIN)));
    let order: Vec<(&str, i64)> = checkout.signals.iter().map(|s| (s.metric.as_str(), s.start / MIN)).collect();
    assert_eq!(order, vec![("latency_ms", 40), ("queries", 42), ("cpu", 45)]);
    let cpu = &checkout.signals[2];
    assert_eq!((cpu.target.as_str(), cpu.series.as_str()), ("cpu", r#"cpu{host="a",service="checkout"}"#));
    assert_eq!(cpu.labels["host"], "a");
    assert_eq!(cpu.direction, Direction::Up);
    assert_eq!(cpu.first_verdict.timestamp, 45 * MIN);
    assert_eq!(cpu.first_verdict.value, 500.0);
    assert!(cpu.end.is_some() && cpu.peak_score > 0.9);
    // Every alert notice names its incident; the history does too.
    for a in events.iter().filter_map(MonitorEvent::as_alert) {
        let want = if a.series.contains("search") { 2 } else { 1 };
        assert_eq!(a.incident_id, Some(want), "{a:?}");
    }
    assert!(m.alerts(&Default::default()).iter().all(|r| r.incident_id.is_some() && r.service.is_some()));
    // A plain serde struct: what the investigate crate reads.
    let json = serde_json::to_string(checkout).unwrap();
    assert_eq!(&serde_json::from_str::<Incident>(&json).unwrap(), checkout);
    // Later trouble on checkout is a new incident.
    let events = run(&mut m, 120..200, &[(LAT, 150..155), (QRY, 0..0), (CPU, 0..0), (SEARCH, 0..0)]);
    assert_eq!(incident_events(&events), vec![(IncidentOpened, 3, 1), (IncidentClosed, 3, 1)]);
    assert_eq!(m.incidents().count(), 3);
}

#[test]
fn a_signal_reported_late_reopens_the_incident_it_overlaps() {
    // CPU reports every 30 minutes: its alert (from 45) is reported after the latency-only
    // incident closed (at 52), and overlaps it, so the incident reopens with CPU as its second
    // signal.
    let mut m = monitor([1, 1, 30]);
    let events = run(&mut m, 0..100, &[(LAT, 40..50), (QRY, 0..0), (CPU, 45..48), (SEARCH, 0..0)]);
    use IncidentEventKind::*;
    assert_eq!(
        incident_events(&events),
        vec![(IncidentOpened, 1, 1), (IncidentClosed, 1, 1), (IncidentReopened, 1, 2), (IncidentClosed, 1, 2)]
    );
    let inc = m.incident(1).unwrap();
    assert_eq!(inc.signals.iter().map(|s| s.metric.as_str()).collect::<Vec<_>>(), ["latency_ms", "cpu"]);
    assert_eq!(inc.end, Some(52 * MIN));
    // A late signal that does not overlap opens a new incident instead.
    let events = run(&mut m, 100..200, &[(LAT, 130..133), (QRY, 0..0), (CPU, 150..153), (SEARCH, 0..0)]);
    assert_eq!(
        incident_events(&events),
        vec![(IncidentOpened, 2, 1), (IncidentClosed, 2, 1), (IncidentOpened, 3, 1), (IncidentClosed, 3, 1)]
    );
}

#[test]
fn open_incidents_and_other_labels() {
    let mut m = Monitor::with_options(MonitorOptions::default().incident_label("team")).unwrap();
    m.add_target(TargetConfig::new("all", "*", "ewma(warmup=20)")).unwrap();
    let events = run(
        &mut m,
        0..60,
        &[(r#"a{team="db"}"#, 40..70), (r#"b{team="db"}"#, 45..70), (r#"c{service="x"}"#, 40..70), ("d", 40..70)],
    );
    // Only the `team` label groups; alerts without it are alerts only.
    let fired = events.iter().filter_map(MonitorEvent::as_alert).filter(|a| a.event == AlertEventKind::Fired).count();
    assert_eq!(fired, 4);
    assert_eq!(
        incident_events(&events),
        vec![(IncidentEventKind::IncidentOpened, 1, 1), (IncidentEventKind::IncidentGrew, 1, 2)]
    );
    let open: Vec<&Incident> = m.incidents().filter(|i| i.is_open()).collect();
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].service, "db");
    // Resolving both by hand closes it.
    let ids: Vec<u64> = open[0].signals.iter().map(|s| s.alert_id).collect();
    assert!(incident_events(&m.resolve(ids[0], 61 * MIN).unwrap()).is_empty());
    let closing = m.resolve(ids[1], 62 * MIN).unwrap();
    assert_eq!(incident_events(&closing), vec![(IncidentEventKind::IncidentClosed, 1, 2)]);
    assert_eq!(m.incident(1).unwrap().end, Some(62 * MIN));
}
