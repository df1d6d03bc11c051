//! The `Monitor` under arbitrary operations: targets added, changed, enabled, disabled and
//! removed (with any detector specification and bounded policies), points ingested one by one
//! and in batches, ticks, acknowledgements and manual resolutions, snapshots.
//!
//! Invariants: nothing panics; a refused request leaves the monitor exactly as it was (same
//! snapshot); every reported alert carries a verdict in range, and alert events come out
//! ordered by timestamp; snapshots restore to the same state.
#![no_main]

use arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use oddsight_core::{Severity, Stateful, StrikePolicyParams};
use oddsight_detectors::monitor::{Monitor, MonitorEvent, MonitorOptions, TargetConfig};
use oddsight_fuzz::{check_verdict, next_timestamp, spec, value};

const SERIES: [&str; 6] = [
    "latency{service=\"a\",host=\"h1\"}",
    "latency{service=\"a\",host=\"h2\"}",
    "latency{service=\"b\"}",
    "errors{service=\"a\"}",
    "cpu",
    "bad{",
];
const SELECTORS: [&str; 6] =
    ["latency", "{service=\"a\"}", "latency{host!=\"h2\"}", "cpu", "errors{service=~\"a|b\"}", "{"];
const NAMES: [&str; 3] = ["t1", "t2", "t3"];

fuzz_target!(|data: &[u8]| {
    let _ = run(&mut Unstructured::new(data));
});

fn target(u: &mut Unstructured<'_>) -> Result<TargetConfig> {
    let policy = match u.int_in_range(0..=3u8)? {
        0 => StrikePolicyParams::default(),
        1 => StrikePolicyParams::strikes(u.int_in_range(0..=5u32)?),
        2 => StrikePolicyParams::k_of_n(u.int_in_range(0..=5u32)?, u.int_in_range(0..=6u32)?),
        _ => StrikePolicyParams::threshold(f64::from(u.int_in_range(0..=110u8)?) / 100.0)
            .recovery(u.int_in_range(0..=4u32)?)
            .cooldown_ms(i64::from(u.int_in_range(-1..=600_000i32)?)),
    };
    let severity =
        *u.choose(&[Severity::Normal, Severity::Low, Severity::Medium, Severity::High, Severity::Critical])?;
    Ok(TargetConfig::new(*u.choose(&NAMES)?, *u.choose(&SELECTORS)?, spec(u)?)
        .policy(policy)
        .interval_ms(*u.choose(&[1, 1000, 60_000, 300_000, 0, -5])?)
        .min_severity(severity)
        .enabled(u.ratio(7, 8)?))
}

fn check_events(events: &[MonitorEvent]) {
    let mut last = i64::MIN;
    for e in events {
        if let MonitorEvent::Alert(a) = e {
            check_verdict(&a.verdict, "alert");
            assert!((0.0..=1.0).contains(&a.score), "alert score {}", a.score);
            assert!(a.timestamp >= last, "alert events out of order");
            last = a.timestamp;
        }
    }
}

fn run(u: &mut Unstructured<'_>) -> Result<()> {
    let options = MonitorOptions::default()
        .history(u.int_in_range(0..=4usize)?)
        .closed_incidents(u.int_in_range(0..=2usize)?)
        .incident_label(*u.choose(&["service", "host", "9bad"])?);
    let Ok(mut m) = Monitor::with_options(options) else { return Ok(()) };
    let mut now = 0i64;
    let ops = u.int_in_range(0..=200u8)?;
    for _ in 0..ops {
        if u.is_empty() {
            break;
        }
        let before = m.to_snapshot().expect("serialises");
        let refused = match u.int_in_range(0..=19u8)? {
            0 | 1 => m.add_target(target(u)?).is_err(),
            2 => m.update_target(target(u)?).map(|e| check_events(&e)).is_err(),
            3 => m.remove_target(u.choose(&NAMES)?).map(|e| check_events(&e)).is_err(),
            4 => m.set_enabled(u.choose(&NAMES)?, u.arbitrary()?).is_err(),
            5 => {
                let id = u.int_in_range(0..=6u64)?;
                m.acknowledge(id, now).is_err()
            }
            6 => {
                let id = u.int_in_range(0..=6u64)?;
                m.resolve(id, next_timestamp(u, now)?).map(|e| check_events(&e)).is_err()
            }
            7 | 8 => {
                now = next_timestamp(u, now)?;
                check_events(&m.tick(now));
                false
            }
            9 => {
                let Ok(id) = m.series_id(u.choose(&SERIES)?) else { continue };
                let before = m.to_snapshot().expect("serialises");
                let n = u.int_in_range(0..=30usize)?;
                let (mut ts, mut vs) = (Vec::with_capacity(n), Vec::with_capacity(n));
                let mut t = now;
                for _ in 0..n {
                    t = next_timestamp(u, t)?;
                    ts.push(t);
                    vs.push(value(u)?);
                }
                if u.ratio(1, 20)? {
                    vs.pop();
                }
                match m.ingest_batch(id, &ts, &vs) {
                    Ok(()) => false,
                    Err(_) => {
                        assert_eq!(m.to_snapshot().expect("serialises"), before, "a refused batch changed the monitor");
                        false
                    }
                }
            }
            10 => {
                let snap = m.to_snapshot().expect("serialises");
                let back = Monitor::from_snapshot(&snap).unwrap_or_else(|e| panic!("own snapshot refused: {e}"));
                assert_eq!(back.to_snapshot().expect("serialises"), snap, "snapshot round trip changed the monitor");
                m = back;
                false
            }
            _ => {
                let t = next_timestamp(u, now)?;
                m.ingest(u.choose(&SERIES)?, t, value(u)?).is_err()
            }
        };
        if refused {
            assert_eq!(m.to_snapshot().expect("serialises"), before, "a refused request changed the monitor");
        }
    }
    check_events(&m.tick(now.saturating_add(3_600_000)));
    Ok(())
}
