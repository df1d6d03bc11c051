//! The case-directory loader's parsers (`data.csv`, `inject_time.txt`, `changes.json`,
//! `logs.jsonl`, and `topology.json` as the loader reads it), `Case::validate`, and the
//! deterministic ranking of whatever case they make.
//!
//! The input is the five files separated by NUL bytes. Invariants: nothing panics; parsed
//! times, changes and logs come out sorted, every series as long as the time axis; a case that
//! validates ranks with every score in [0, 1].
#![no_main]

use libfuzzer_sys::fuzz_target;
use oddsight_investigate::case::{parse_changes, parse_data_csv, parse_inject_time, parse_logs};
use oddsight_investigate::{Case, RankingParams, Topology, rank};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.split('\0');
    let mut next = || parts.next().unwrap_or("");
    let (data_csv, inject, changes, logs, topology) = (next(), next(), next(), next(), next());

    let parsed = parse_data_csv(data_csv, "data.csv");
    if let Ok((times, series)) = &parsed {
        assert!(times.is_sorted(), "times not sorted");
        assert!(series.iter().all(|s| s.values.len() == times.len()), "a series of the wrong length");
    }
    let inject_time = parse_inject_time(inject, "inject_time.txt");
    let changes = parse_changes(changes, "changes.json");
    if let Ok(c) = &changes {
        assert!(c.is_sorted_by_key(|c| c.time), "changes not sorted");
    }
    let logs = parse_logs(logs, "logs.jsonl");
    if let Ok(l) = &logs {
        assert!(l.is_sorted_by_key(|l| l.time), "logs not sorted");
    }
    let topology: Option<Topology> = serde_json::from_str(topology).ok();

    let (Ok((times, series)), Ok(inject_time)) = (parsed, inject_time) else { return };
    let case = Case {
        name: "fuzz".into(),
        times,
        series,
        inject_time,
        changes: changes.unwrap_or_default(),
        logs: logs.unwrap_or_default(),
        topology,
        truth: None,
    };
    if case.validate().is_err() {
        return;
    }
    let Ok(ranking) = rank(&case, &RankingParams::default(), &[]) else { return };
    for m in &ranking.metrics {
        assert!((0.0..=1.0).contains(&m.score), "{}_{} scored {}", m.service, m.metric, m.score);
    }
    for s in &ranking.services {
        assert!((0.0..=1.0).contains(&s.score), "{} scored {}", s.service, s.score);
    }
});
