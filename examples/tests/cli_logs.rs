//! `oddsight logs`, run as a user would: every format, standard input, the output contract,
//! malformed-line accounting, and refusals.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

use oddsight_detectors::logs::LogFormat;
use oddsight_detectors::logs::synth::IncidentLogParams;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

fn oddsight(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_oddsight"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the oddsight binary runs");
    let mut pipe = child.stdin.take().unwrap();
    pipe.write_all(stdin.unwrap_or_default()).unwrap();
    drop(pipe);
    child.wait_with_output().unwrap()
}

fn write_temp(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("oddsight-cli-logs-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn objects(out: &Output) -> Vec<serde_json::Value> {
    String::from_utf8(out.stdout.clone()).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

#[test]
fn reports_the_incident_in_every_format() {
    for format in [LogFormat::Jsonl, LogFormat::Logfmt, LogFormat::Plain] {
        let logs = IncidentLogParams::default().lines(3000).format(format).generate().unwrap();
        let path = write_temp(&format!("incident.{format}"), &logs.text);
        let out = oddsight(&["logs", path.to_str().unwrap()], None);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{format}: {stderr}");
        assert!(stderr.contains(&format!("3000 lines ({format})")), "{stderr}");
        assert!(stderr.contains("0 malformed"), "{stderr}");
        let found = objects(&out);
        assert!(stderr.contains(&format!(": {} anomalies", found.len())), "{stderr}");
        assert!((40..=150).contains(&found.len()), "{format}: {}", found.len());
        let mut types = std::collections::BTreeSet::new();
        let mut labelled = 0;
        for o in &found {
            for key in
                ["log_index", "timestamp", "level", "message", "service", "confidence", "anomaly_type", "features"]
            {
                assert!(o.get(key).is_some(), "{key} missing in {o}");
            }
            let i = o["log_index"].as_u64().unwrap() as usize;
            let confidence = o["confidence"].as_f64().unwrap();
            assert!((0.7..=1.0).contains(&confidence), "{o}");
            assert_eq!(o["features"].as_object().unwrap().len(), 6, "{o}");
            let t = o["anomaly_type"].as_str().unwrap().to_string();
            if let Some(label) = logs.labels[i] {
                labelled += 1;
                assert_eq!(label.as_str(), t, "line {i}: {o}");
            }
            types.insert(t);
        }
        assert_eq!(types.len(), 4, "{format}: {types:?}");
        assert!(labelled * 10 >= found.len() * 6, "{format}: {labelled} of {}", found.len());
    }
}

#[test]
fn reads_standard_input_and_honours_options() {
    let logs = IncidentLogParams::default().lines(2000).format(LogFormat::Logfmt).generate().unwrap();
    let default = oddsight(&["logs", "-"], Some(logs.text.as_bytes()));
    assert!(default.status.success(), "{}", String::from_utf8_lossy(&default.stderr));
    let strict = oddsight(&["logs", "--format", "logfmt", "--threshold", "0.95", "-"], Some(logs.text.as_bytes()));
    assert!(strict.status.success());
    let loose = oddsight(&["logs", "--contamination", "0.2", "--threshold", "0.5", "-"], Some(logs.text.as_bytes()));
    assert!(loose.status.success());
    let (d, s, l) = (objects(&default).len(), objects(&strict).len(), objects(&loose).len());
    assert!(s < d && d < l, "{s} {d} {l}");
    // Read as the wrong format, every line is malformed and there is nothing to learn from.
    let wrong = oddsight(&["logs", "--format", "jsonl", "-"], Some(logs.text.as_bytes()));
    assert!(!wrong.status.success());
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("0 parseable jsonl line(s) of 2000"));
}

#[test]
fn malformed_lines_are_counted_with_their_index() {
    let logs = IncidentLogParams::default().lines(500).generate().unwrap();
    let mut text = String::new();
    for (i, line) in logs.text.lines().enumerate() {
        text.push_str(line);
        text.push('\n');
        if i == 9 || i == 99 {
            text.push_str("{\"msg\": broken\n");
        }
    }
    let out = oddsight(&["logs", "-"], Some(text.as_bytes()));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("502 lines (jsonl)"), "{stderr}");
    assert!(stderr.contains("2 malformed at log_index 10 (not a JSON object), 101 (not a JSON object)"), "{stderr}");
    // Line indices count the malformed lines: every reported index points at its own line.
    let lines: Vec<&str> = text.lines().collect();
    for o in objects(&out) {
        let i = o["log_index"].as_u64().unwrap() as usize;
        assert!(lines[i].contains(o["message"].as_str().unwrap().split(' ').next().unwrap()), "{o}");
    }
}

#[test]
fn refuses_bad_options_and_inputs() {
    let logs = IncidentLogParams::default().lines(100).generate().unwrap();
    for (args, needle) in [
        (vec!["logs", "--contamination", "0.7", "-"], "contamination"),
        (vec!["logs", "--threshold", "2", "-"], "confidence_threshold"),
        (vec!["logs", "--format", "yaml", "-"], "yaml"),
        (vec!["logs", "/nonexistent/oddsight.log"], "cannot read"),
    ] {
        let out = oddsight(&args, Some(logs.text.as_bytes()));
        assert!(!out.status.success(), "{args:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(needle),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.stdout.is_empty());
    }
    let empty = oddsight(&["logs", "-"], Some(b""));
    assert!(!empty.status.success());
    let garbage = oddsight(&["logs", "-"], Some(b"\x00\x01\x02\n\xff\xfe\n"));
    assert!(!garbage.status.success());
    assert!(String::from_utf8_lossy(&garbage.stderr).contains("--format"));
    let help = oddsight(&["logs", "--help"], None);
    let text = String::from_utf8_lossy(&help.stdout);
    assert!(text.contains("Examples:") && text.contains("--contamination") && text.contains("anomaly_type"));
}
