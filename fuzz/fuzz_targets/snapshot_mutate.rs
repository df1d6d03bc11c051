//! Snapshot restore from snapshots that are almost right: a real detector (any specification)
//! or a real monitor is run for a while, snapshotted, and a few values deep in the state are
//! changed (a number out of range, a field removed, an array cut short or grown, a type
//! swapped) before restoring.
//!
//! Invariants: nothing panics; a snapshot that restores gives an object that works: verdicts
//! in range, refused points change nothing, its own snapshot restores to the same state.
#![no_main]

use arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use oddsight_core::{Detector, Stateful};
use oddsight_detectors::AnyDetector;
use oddsight_detectors::monitor::{Monitor, MonitorConfig};
use oddsight_fuzz::{observe_all, points, same_state, spec};
use serde_json::{Value, json};

fuzz_target!(|data: &[u8]| {
    let _ = run(&mut Unstructured::new(data));
});

fn run(u: &mut Unstructured<'_>) -> Result<()> {
    if u.ratio(1, 3)? { monitor(u) } else { detector(u) }
}

fn detector(u: &mut Unstructured<'_>) -> Result<()> {
    let text = spec(u)?;
    let Ok(mut d) = AnyDetector::parse(&text) else { return Ok(()) };
    let mut last = 0;
    let warm = points(u, &mut last, 120)?;
    observe_all(&mut d, &warm, &text);
    let mut state: Value = serde_json::from_str(&d.snapshot().expect("serialises")).expect("a snapshot is JSON");
    mutate(u, &mut state)?;
    let Ok(mut back) = AnyDetector::restore(&state.to_string()) else { return Ok(()) };
    let mut last = back.last_timestamp().unwrap_or(0);
    let more = points(u, &mut last, 40)?;
    observe_all(&mut back, &more, &format!("{text} restored from {state}"));
    let again = AnyDetector::restore(&back.snapshot().expect("serialises")).expect("own snapshot restores");
    assert!(same_state(&again, &back), "{text}: round trip of a restored detector changed it");
    Ok(())
}

fn monitor(u: &mut Unstructured<'_>) -> Result<()> {
    let detectors =
        [spec(u)?, "ewma(warmup=3)".to_string(), "seasonal(bucket=1h, period=1d, min_samples=1)".to_string()];
    let config = json!({
        "history": u.int_in_range(1..=5u32)?,
        "closed_incidents": u.int_in_range(0..=3u32)?,
        "targets": [
            {"name": "a", "selector": "m", "detector": detectors[0], "interval": "1m",
             "policy": {"trigger": {"type": "k_of_n", "k": 1, "n": 1}, "recovery": 1}},
            {"name": "b", "selector": "{service=\"s\"}", "detector": detectors[1], "interval": "5m"},
            {"name": "c", "selector": "n", "detector": detectors[2], "min_severity": "medium"}
        ]
    });
    let Ok(config) = MonitorConfig::from_json(&config.to_string()) else { return Ok(()) };
    let Ok(mut m) = Monitor::from_config(&config) else { return Ok(()) };
    let series = ["m{service=\"s\"}", "m{service=\"t\"}", "n{service=\"s\"}", "other"];
    let mut last = 0;
    for p in points(u, &mut last, 150)? {
        let s = *u.choose(&series)?;
        let _ = m.ingest(s, p.timestamp, p.value);
        if u.ratio(1, 10)? {
            let _ = m.tick(p.timestamp);
        }
    }
    let mut state: Value = serde_json::from_str(&m.to_snapshot().expect("serialises")).expect("a snapshot is JSON");
    mutate(u, &mut state)?;
    let Ok(mut back) = Monitor::from_snapshot(&state.to_string()) else { return Ok(()) };
    let mut t = last;
    for p in points(u, &mut t, 40)? {
        let s = *u.choose(&series)?;
        let before = back.to_snapshot().expect("serialises");
        if back.ingest(s, p.timestamp, p.value).is_err() {
            assert_eq!(back.to_snapshot().expect("serialises"), before, "a refused point changed the monitor");
        }
        if u.ratio(1, 4)? {
            let _ = back.tick(p.timestamp);
        }
    }
    let snap = back.to_snapshot().expect("serialises");
    let again = Monitor::from_snapshot(&snap).expect("own snapshot restores");
    assert_eq!(again.to_snapshot().expect("serialises"), snap, "round trip of a restored monitor changed it");
    Ok(())
}

/// Paths (JSON pointers) of every node under `v`.
fn paths(v: &Value, at: String, out: &mut Vec<String>) {
    match v {
        Value::Object(o) => {
            for (k, x) in o {
                paths(x, format!("{at}/{}", k.replace('~', "~0").replace('/', "~1")), out);
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                paths(x, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
    out.push(at);
}

/// One to four changes somewhere in the state.
fn mutate(u: &mut Unstructured<'_>, root: &mut Value) -> Result<()> {
    for _ in 0..u.int_in_range(1..=4u8)? {
        let mut all = Vec::new();
        paths(root, String::new(), &mut all);
        // Leave the envelope alone most of the time: the state is the interesting part.
        let inner: Vec<&String> = all.iter().filter(|p| p.starts_with("/state/")).collect();
        let Some(path) =
            (if inner.is_empty() || u.ratio(1, 20)? { u.choose(&all).ok() } else { u.choose(&inner).ok().copied() })
        else {
            return Ok(());
        };
        let path = path.clone();
        let replacement = match u.int_in_range(0..=14u8)? {
            0 => json!(0),
            1 => json!(-1),
            2 => json!(oddsight_fuzz::MAX_MAGNITUDE),
            3 => json!(-oddsight_fuzz::MAX_MAGNITUDE),
            4 => json!(u64::MAX),
            5 => json!(i64::MIN),
            6 => json!(0.5),
            7 => json!(u.int_in_range(0..=100_000u32)?),
            8 => Value::Null,
            9 => json!(""),
            10 => json!([]),
            11 => json!({}),
            12 => json!(f64::from(u.arbitrary::<i16>()?) / 7.0),
            13 => {
                // Grow or shrink an array, or drop a field.
                remove_or_grow(u, root, &path)?;
                continue;
            }
            _ => {
                // Another node's value, from elsewhere in the state.
                let other = u.choose(&all)?.clone();
                root.pointer(&other).cloned().unwrap_or(Value::Null)
            }
        };
        if let Some(slot) = root.pointer_mut(&path) {
            *slot = replacement;
        }
    }
    Ok(())
}

fn remove_or_grow(u: &mut Unstructured<'_>, root: &mut Value, path: &str) -> Result<()> {
    let (parent, key) = path.rsplit_once('/').unwrap_or(("", path));
    let grow = u.ratio(1, 2)?;
    match root.pointer_mut(parent) {
        Some(Value::Object(o)) => {
            o.remove(&key.replace("~1", "/").replace("~0", "~"));
        }
        Some(Value::Array(a)) => {
            if let Ok(i) = key.parse::<usize>()
                && i < a.len()
            {
                if grow {
                    let x = a[i].clone();
                    a.insert(i, x);
                } else {
                    a.remove(i);
                }
            }
        }
        _ => {}
    }
    Ok(())
}
