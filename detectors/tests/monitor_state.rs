//! The monitor's state: snapshots taken mid-stream restore to identical behaviour; targets
//! change while it runs; bad input and bad requests are typed errors that change nothing.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

use oddsight_core::{Resolution, Severity, Stateful, StrikePolicyParams};
use oddsight_detectors::monitor::{
    AlertEventKind, AlertQuery, Monitor, MonitorConfig, MonitorError, MonitorEvent, SeriesId, TargetConfig,
};

const MIN: i64 = 60_000;

fn noise(i: i64, s: usize) -> f64 {
    (((i + 3 * s as i64) * 7919) % 13) as f64 - 6.0
}

fn kinds(events: &[MonitorEvent]) -> Vec<(String, AlertEventKind, i64)> {
    events.iter().filter_map(MonitorEvent::as_alert).map(|a| (a.target.clone(), a.event, a.timestamp / MIN)).collect()
}

fn snap(m: &Monitor) -> String {
    m.to_snapshot().unwrap()
}

const SERIES: [&str; 4] = [
    r#"latency_ms{service="checkout",host="a"}"#,
    r#"latency_ms{service="checkout",host="b"}"#,
    r#"queries{service="checkout"}"#,
    r#"errors{service="search"}"#,
];

fn value(s: usize, i: i64) -> f64 {
    let bad = match s {
        0 => (100..110).contains(&i) || (300..303).contains(&i),
        1 => (104..112).contains(&i),
        2 => (200..260).contains(&i),
        _ => i % 97 == 50,
    };
    if bad { 400.0 + s as f64 } else { 100.0 + noise(i, s) }
}

fn busy_monitor() -> Monitor {
    let config = MonitorConfig::from_json(
        r#"{"history": 50, "targets": [
            {"name": "latency", "selector": "latency_ms", "detector": "ewma(warmup=20)"},
            {"name": "latency-daily", "selector": "latency_ms{host=\"a\"}", "detector": "seasonal(period=1d, bucket=1h, min_samples=2)", "interval": "10m"},
            {"name": "robust", "selector": "{service=\"checkout\"}", "detector": "mad(window=60, warmup=20)",
             "policy": {"trigger": {"type": "k_of_n", "k": 3, "n": 5}, "recovery": 5}, "interval": "3m"},
            {"name": "shifts", "selector": "*", "detector": "cusum", "min_severity": "medium", "interval": "7m"},
            {"name": "ensemble", "selector": "errors", "detector": "ensemble(mad(window=30), roc)", "interval": "2m"}
        ]}"#,
    )
    .unwrap();
    Monitor::from_config(&config).unwrap()
}

/// Minutes `from..to` of every series, ticking every minute; acknowledges and resolves a few
/// alerts by hand along the way, the same way in every run.
fn drive(m: &mut Monitor, from: i64, to: i64) -> Vec<MonitorEvent> {
    let mut out = Vec::new();
    for i in from..to {
        for (s, name) in SERIES.iter().enumerate() {
            m.ingest(name, i * MIN, value(s, i)).unwrap();
        }
        let events = m.tick(i * MIN);
        for a in events.iter().filter_map(MonitorEvent::as_alert) {
            if a.event == AlertEventKind::Fired && a.alert_id % 3 == 0 {
                m.acknowledge(a.alert_id, i * MIN).unwrap();
            }
        }
        out.extend(events);
        if i == 230 {
            let open: Vec<u64> = m.alerts(&AlertQuery::all().open_only()).iter().map(|r| r.id).collect();
            for id in open {
                out.extend(m.resolve(id, i * MIN).unwrap());
            }
        }
    }
    out
}

#[test]
fn snapshot_mid_stream_restores_identical_behaviour() {
    let mut waiting = 0;
    for split in [103, 205, 257] {
        let mut a = busy_monitor();
        let first = drive(&mut a, 0, split);
        assert!(kinds(&first).len() >= 4, "{:?}", kinds(&first));
        // Mid-stream: alerts open, events waiting in the slower targets.
        assert!(!a.alerts(&AlertQuery::all().open_only()).is_empty());
        waiting += a.list_targets().iter().map(|t| t.pending_events).sum::<usize>();
        let s = snap(&a);
        let mut b = Monitor::from_snapshot(&s).unwrap();
        assert_eq!(snap(&b), s, "restoring then snapshotting gives the same snapshot");
        assert_eq!(b.list_targets(), a.list_targets());
        let rest_a = drive(&mut a, split, 400);
        let rest_b = drive(&mut b, split, 400);
        assert!(kinds(&rest_a).len() >= 8);
        assert_eq!(serde_json::to_string(&rest_a).unwrap(), serde_json::to_string(&rest_b).unwrap());
        assert_eq!(snap(&a), snap(&b));
        if split < 230 {
            assert!(rest_a.iter().filter_map(MonitorEvent::as_alert).any(|x| x.resolution == Some(Resolution::Manual)));
        }
    }
    assert!(waiting > 0, "no snapshot was taken with events waiting");
}

#[test]
fn malformed_snapshots_are_typed_errors() {
    let mut m = busy_monitor();
    drive(&mut m, 0, 120);
    let s = snap(&m);
    let code = |text: &str| Monitor::from_snapshot(text).map(|_| ()).unwrap_err().code();
    assert_eq!(code(&s[..s.len() / 2]), "MalformedSnapshot");
    let other = oddsight_detectors::AnyDetector::parse("ewma").unwrap();
    assert_eq!(code(&other.to_snapshot().unwrap()), "IncompatibleSnapshot");
    let edit = |f: &dyn Fn(&mut serde_json::Value)| {
        let mut v: serde_json::Value = serde_json::from_str(&s).unwrap();
        f(&mut v["state"]);
        code(&v.to_string())
    };
    assert_eq!(edit(&|v| v["series"][0]["slots"][0]["target"] = 3.into()), "MalformedSnapshot");
    assert_eq!(edit(&|v| v["series"][0]["slots"].as_array_mut().unwrap().truncate(1)), "MalformedSnapshot");
    assert_eq!(edit(&|v| v["series"][0]["key"]["name"] = 9999.into()), "MalformedSnapshot");
    assert_eq!(edit(&|v| v["symbols"][1] = v["symbols"][0].clone()), "MalformedSnapshot");
    assert_eq!(edit(&|v| v["options"]["history"] = 0.into()), "MalformedSnapshot");
    assert_eq!(edit(&|v| v["targets"][0]["config"]["detector"] = "nope".into()), "MalformedSnapshot");
    assert_eq!(edit(&|v| v["targets"][1]["uid"] = v["targets"][0]["uid"].clone()), "MalformedSnapshot");
    assert_eq!(edit(&|v| v["next_alert_id"] = 1.into()), "MalformedSnapshot");
    assert_eq!(edit(&|v| v["series"][0]["slots"][0]["policy"]["params"]["enter"] = 0.9.into()), "MalformedSnapshot");
    assert_eq!(edit(&|v| v["unexpected"] = 1.into()), "MalformedSnapshot");
}

#[test]
fn targets_change_while_running() {
    let mut m = Monitor::new();
    m.add_target(TargetConfig::new("lat", "latency", "ewma(warmup=20)")).unwrap();
    let a = m.series_id(r#"latency{host="a"}"#).unwrap();
    let b = m.series_id(r#"latency{host="b"}"#).unwrap();
    let feed = |m: &mut Monitor, from: i64, to: i64, bad: &[i64]| {
        let mut out = Vec::new();
        for i in from..to {
            for (s, id) in [a, b].into_iter().enumerate() {
                let v = if bad.contains(&i) { 300.0 } else { 100.0 + noise(i, s) };
                m.ingest_id(id, i * MIN, v).unwrap();
            }
            out.extend(m.tick(i * MIN));
        }
        out
    };
    let count = |events: &[MonitorEvent], target: &str, kind: AlertEventKind| {
        kinds(events).iter().filter(|k| k.0 == target && k.1 == kind).count()
    };
    // A second target added mid-stream starts cold on the series that already exist.
    feed(&mut m, 0, 40, &[]);
    m.add_target(TargetConfig::new("late", "latency", "ewma(warmup=20)")).unwrap();
    assert_eq!(m.list_targets()[1].series, 2);
    let events = feed(&mut m, 40, 55, &[45, 46, 47]);
    assert_eq!((count(&events, "lat", AlertEventKind::Fired), count(&events, "late", AlertEventKind::Fired)), (2, 0));
    let events = feed(&mut m, 55, 77, &[70, 71, 72, 75, 76]);
    assert_eq!((count(&events, "lat", AlertEventKind::Fired), count(&events, "late", AlertEventKind::Fired)), (2, 2));
    assert_eq!(m.alerts(&AlertQuery::all().open_only()).len(), 4);
    // Changing the detector resets the target: its open alerts are resolved by hand at the
    // series' newest point, and it starts cold again.
    let reset = m.update_target(TargetConfig::new("lat", "latency", "ewma(warmup=25)")).unwrap();
    let resolved: Vec<_> = reset
        .iter()
        .filter_map(MonitorEvent::as_alert)
        .map(|x| (x.target.as_str(), x.timestamp, x.resolution))
        .collect();
    assert_eq!(resolved, vec![("lat", 76 * MIN, Some(Resolution::Manual)); 2]);
    assert_eq!(m.alerts(&AlertQuery::all().open_only()).len(), 2);
    let events = feed(&mut m, 77, 95, &[85, 86, 87]); // "lat" is cold until 102
    assert!(count(&events, "late", AlertEventKind::Fired) == 2 && kinds(&events).iter().all(|k| k.0 == "late"));
    // Interval, minimum severity and enabled flag keep the state.
    let kept = m
        .update_target(
            TargetConfig::new("lat", "latency", "ewma(warmup=25)").interval_ms(2 * MIN).min_severity(Severity::High),
        )
        .unwrap();
    assert!(kept.is_empty());
    assert_eq!(m.target("lat").unwrap().interval_ms, 2 * MIN);
    // A new selector drops host b (and only it) from the target.
    m.update_target(
        TargetConfig::new("lat", r#"latency{host="a"}"#, "ewma(warmup=25)")
            .interval_ms(2 * MIN)
            .min_severity(Severity::High),
    )
    .unwrap();
    assert_eq!(m.list_targets()[0].series, 1);
    // Disabled: judges and reports nothing.
    m.set_enabled("late", false).unwrap();
    // (The spikes "lat" learned while cold have faded by then.)
    let events = feed(&mut m, 95, 170, &[150, 151, 152]);
    assert_eq!(
        kinds(&events),
        vec![("lat".into(), AlertEventKind::Fired, 152), ("lat".into(), AlertEventKind::Resolved, 155)]
    );
    m.set_enabled("late", true).unwrap();
    let events = feed(&mut m, 170, 180, &[173, 174, 175]);
    assert_eq!(count(&events, "late", AlertEventKind::Fired) + count(&events, "late", AlertEventKind::Resolved), 4);
    // Removed: open alerts resolved by hand, nothing more from it.
    feed(&mut m, 180, 185, &[182, 183, 184]);
    assert_eq!(m.alerts(&AlertQuery::all().open_only().target("late")).len(), 2);
    let gone = m.remove_target("late").unwrap();
    assert_eq!(count(&gone, "late", AlertEventKind::Resolved), 2);
    assert_eq!(m.list_targets().len(), 1);
    let events = feed(&mut m, 185, 210, &[200, 201, 202]);
    assert!(!events.is_empty() && kinds(&events).iter().all(|k| k.0 == "lat"));
    // The state is still whole: it round-trips.
    assert_eq!(snap(&Monitor::from_snapshot(&snap(&m)).unwrap()), snap(&m));
}

#[test]
fn bad_requests_change_nothing() {
    let mut m = Monitor::new();
    m.add_target(TargetConfig::new("lat", "latency", "ewma(warmup=20)")).unwrap();
    m.add_target(TargetConfig::new("counts", "requests", "poisson")).unwrap();
    for i in 0..30 {
        m.ingest("latency", i * MIN, 100.0 + noise(i, 0)).unwrap();
        m.ingest("requests", i * MIN, 5.0).unwrap();
    }
    let before = snap(&m);
    let code = |r: Result<(), MonitorError>| r.unwrap_err().code();
    let add = |m: &mut Monitor, t: TargetConfig| m.add_target(t);
    assert_eq!(code(add(&mut m, TargetConfig::new("lat", "x", "ewma"))), "DuplicateTarget");
    assert_eq!(code(add(&mut m, TargetConfig::new("t", "x{a=", "ewma"))), "InvalidSelector");
    assert_eq!(code(add(&mut m, TargetConfig::new("t", "x", "ewma(alpah=0.1)"))), "InvalidSpec");
    assert_eq!(code(add(&mut m, TargetConfig::new("t", "x", "ewma(alpha=2)"))), "InvalidParameter");
    assert_eq!(code(add(&mut m, TargetConfig::new("t", "x", "nope"))), "InvalidSpec");
    let bad_policy = StrikePolicyParams::default().levels(0.5, 0.9);
    assert_eq!(code(add(&mut m, TargetConfig::new("t", "x", "ewma").policy(bad_policy))), "InvalidParameter");
    assert_eq!(code(add(&mut m, TargetConfig::new("t", "x", "ewma").interval_ms(0))), "InvalidParameter");
    assert_eq!(code(add(&mut m, TargetConfig::new(" ", "x", "ewma"))), "InvalidParameter");
    assert_eq!(code(m.update_target(TargetConfig::new("zzz", "x", "ewma")).map(|_| ())), "UnknownTarget");
    assert_eq!(code(m.update_target(TargetConfig::new("lat", "latency", "ewma(x=1)")).map(|_| ())), "InvalidSpec");
    assert_eq!(code(m.remove_target("zzz").map(|_| ())), "UnknownTarget");
    assert_eq!(code(m.set_enabled("zzz", false)), "UnknownTarget");
    // Points: NaN, infinity, out of order (per series), malformed names, refused values,
    // ragged batches, series of another monitor.
    assert_eq!(code(m.ingest("latency", 30 * MIN, f64::NAN)), "NonFiniteValue");
    assert_eq!(code(m.ingest("latency", 30 * MIN, f64::INFINITY)), "NonFiniteValue");
    assert_eq!(code(m.ingest("latency", 10 * MIN, 1.0)), "OutOfOrder");
    assert_eq!(code(m.ingest("latency{", 30 * MIN, 1.0)), "InvalidSeries");
    assert_eq!(code(m.ingest("requests", 30 * MIN, -1.0)), "InvalidParameter"); // a negative count
    assert_eq!(code(m.ingest("new_series", 30 * MIN, f64::NAN)), "NonFiniteValue");
    assert_eq!(code(m.ingest("requests{new=\"1\"}", 30 * MIN, -1.0)), "InvalidParameter");
    let id = m.find_series("latency").unwrap();
    let ts: Vec<i64> = (30..40).map(|i| i * MIN).collect();
    let mut vs: Vec<f64> = (30..40).map(|i| 100.0 + noise(i, 0)).collect();
    vs[7] = f64::NAN;
    match m.ingest_batch(id, &ts, &vs) {
        Err(MonitorError::NonFinite { index: 7, series, .. }) => assert_eq!(series, "latency"),
        other => panic!("{other:?}"),
    }
    let mut shuffled = ts.clone();
    shuffled.swap(3, 4);
    assert_eq!(code(m.ingest_batch(id, &shuffled, &[1.0; 10])), "OutOfOrder");
    assert_eq!(code(m.ingest_batch(id, &ts[..3], &vs[..2])), "ShapeMismatch");
    let mut other = Monitor::new();
    let foreign: SeriesId = (0..5).map(|k| other.series_id(&format!("s{k}")).unwrap()).last().unwrap();
    assert_eq!(code(m.ingest_batch(foreign, &[0], &[0.0])), "UnknownSeries");
    // Alerts that do not exist.
    assert_eq!(code(m.acknowledge(5, 0).map(|_| ())), "UnknownAlert");
    assert_eq!(code(m.resolve(5, 0).map(|_| ())), "UnknownAlert");
    assert_eq!(snap(&m), before, "a refused request changed the monitor");
    assert_eq!(m.series_count(), 2);
    // Equal timestamps are fine; an empty batch is a no-op.
    m.ingest_batch(id, &[40 * MIN, 40 * MIN], &[100.0, 101.0]).unwrap();
    m.ingest_batch(id, &[], &[]).unwrap();
    // Bad configurations.
    assert_eq!(MonitorConfig::from_json("{").unwrap_err().code(), "InvalidConfig");
    assert_eq!(MonitorConfig::from_json(r#"{"targets": [{"name": "a"}]}"#).unwrap_err().code(), "InvalidConfig");
    let dup = MonitorConfig::new(vec![TargetConfig::new("a", "x", "ewma"), TargetConfig::new("a", "y", "ewma")]);
    assert_eq!(Monitor::from_config(&dup).unwrap_err().code(), "DuplicateTarget");
    assert_eq!(
        MonitorConfig::from_json(r#"{"targets": [], "incident_label": "9x"}"#)
            .map(|c| Monitor::from_config(&c).map(|_| ()))
            .unwrap()
            .unwrap_err()
            .code(),
        "InvalidConfig"
    );
}

mod random_operations {
    //! Arbitrary sequences of operations, good and bad, never panic; every refused one leaves
    //! the monitor as it was; and the state always round-trips through a snapshot.

    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    enum Op {
        Ingest { series: usize, minute: i64, value: f64 },
        Batch { series: usize, from: i64, len: usize, value: f64 },
        Tick { minute: i64 },
        Acknowledge { id: u64 },
        Resolve { id: u64 },
        Toggle { target: usize },
        Retarget { target: usize, spec: usize },
    }

    const NAMES: [&str; 4] = [r#"lat{service="a"}"#, r#"lat{service="b"}"#, r#"cpu{service="a"}"#, "bad{"];
    const SPECS: [&str; 4] = ["ewma(warmup=5)", "mad(window=20, warmup=5)", "cusum", "poisson"];

    fn op() -> impl Strategy<Value = Op> {
        let value = prop_oneof![8 => 90.0..110.0f64, 2 => 300.0..400.0f64, 1 => Just(f64::NAN), 1 => Just(-5.0)];
        prop_oneof![
            6 => (0..4usize, 0..200i64, value.clone()).prop_map(|(series, minute, value)| Op::Ingest { series, minute, value }),
            3 => (0..4usize, 0..200i64, 0..30usize, value).prop_map(|(series, from, len, value)| Op::Batch { series, from, len, value }),
            2 => (0..220i64).prop_map(|minute| Op::Tick { minute }),
            1 => (0..6u64).prop_map(|id| Op::Acknowledge { id }),
            1 => (0..6u64).prop_map(|id| Op::Resolve { id }),
            1 => (0..3usize).prop_map(|target| Op::Toggle { target }),
            1 => (0..3usize, 0..4usize).prop_map(|(target, spec)| Op::Retarget { target, spec }),
        ]
    }

    fn apply(m: &mut Monitor, op: &Op) -> Result<(), MonitorError> {
        let targets = ["lat", "all", "counts"];
        match *op {
            Op::Ingest { series, minute, value } => m.ingest(NAMES[series], minute * MIN, value),
            Op::Batch { series, from, len, value } => {
                let id = m.series_id(NAMES[series])?;
                let ts: Vec<i64> = (0..len as i64).map(|k| (from + k) * MIN).collect();
                let vs: Vec<f64> = (0..len).map(|k| if k % 7 == 3 { value } else { 100.0 + k as f64 % 5.0 }).collect();
                m.ingest_batch(id, &ts, &vs)
            }
            Op::Tick { minute } => {
                m.tick(minute * MIN);
                Ok(())
            }
            Op::Acknowledge { id } => m.acknowledge(id, 0).map(|_| ()),
            Op::Resolve { id } => m.resolve(id, 250 * MIN).map(|_| ()),
            Op::Toggle { target } => {
                let on = m.target(targets[target]).is_some_and(|t| t.enabled);
                m.set_enabled(targets[target], !on)
            }
            Op::Retarget { target, spec } => {
                let mut t =
                    m.target(targets[target]).cloned().ok_or(MonitorError::UnknownTarget { name: String::new() })?;
                t.detector = SPECS[spec].to_string();
                m.update_target(t).map(|_| ())
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]
        #[test]
        fn never_panics_refusals_change_nothing_snapshots_round_trip(ops in proptest::collection::vec(op(), 1..60)) {
            let mut m = Monitor::new();
            m.add_target(TargetConfig::new("lat", "lat", "ewma(warmup=5)")).unwrap();
            m.add_target(TargetConfig::new("all", "*", "mad(window=20, warmup=5)").interval_ms(5 * MIN)).unwrap();
            m.add_target(TargetConfig::new("counts", "cpu", "poisson")).unwrap();
            for op in &ops {
                if let Op::Batch { series, .. } = op {
                    // Registering the series is a call of its own, which may succeed.
                    let _ = m.series_id(NAMES[*series]);
                }
                let before = snap(&m);
                if apply(&mut m, op).is_err() {
                    prop_assert_eq!(snap(&m), before, "{:?} was refused but changed the monitor", op);
                }
            }
            let s = snap(&m);
            prop_assert_eq!(snap(&Monitor::from_snapshot(&s).unwrap()), s);
        }
    }
}
