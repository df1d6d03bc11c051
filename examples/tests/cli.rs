//! The `oddsight` binary, run as a user would: every timestamp format, the output contract,
//! errors on bad rows, and `eval-nab` on a small generated corpus.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn oddsight(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_oddsight")).args(args).output().expect("the oddsight binary runs")
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("oddsight-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

const START: i64 = 1_397_146_500; // 2014-04-10 16:15:00 UTC, in seconds

/// The same 80 instants in every supported notation.
fn format_time(fmt: &str, secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // 2014-04-10 is day 16170 since the epoch; the series stays within April 2014.
    let day = 10 + (days - 16_170);
    let (h, m, sec) = (rem / 3600, rem % 3600 / 60, rem % 60);
    match fmt {
        "nab" => format!("2014-04-{day:02} {h:02}:{m:02}:{sec:02}"),
        "iso-t" => format!("2014-04-{day:02}T{h:02}:{m:02}:{sec:02}"),
        "iso-z" => format!("2014-04-{day:02}T{h:02}:{m:02}:{sec:02}.000Z"),
        // The same instant written at −02:00.
        "iso-offset" => format!("2014-04-{day:02}T{:02}:{m:02}:{sec:02}-02:00", h - 2),
        "unix-s" => secs.to_string(),
        "unix-ms" => (secs * 1000).to_string(),
        _ => unreachable!(),
    }
}

fn series() -> Vec<(i64, String)> {
    // 80 rows five minutes apart; row 40 steps back one interval (out of order); the last
    // row is a spike. Values are written in several notations, echoed as they are.
    (0..80)
        .map(|i| {
            let t = START + 300 * if i == 40 { 38 } else { i };
            let v = match i {
                79 => "250".to_string(),
                i if i % 3 == 0 => format!("{}.50", 100 + i % 5),
                i => format!("{}", 100 + i % 5),
            };
            (t, v)
        })
        .collect()
}

#[test]
fn scores_every_timestamp_format() {
    let dir = temp_dir("formats");
    let rows = series();
    let mut outputs = Vec::new();
    for fmt in ["nab", "iso-t", "iso-z", "iso-offset", "unix-s", "unix-ms"] {
        let input = dir.join(format!("{fmt}.csv"));
        let output = dir.join(format!("{fmt}.out.csv"));
        let mut text = String::from("timestamp,value\n");
        for (t, v) in &rows {
            text.push_str(&format!("{},{v}\n", format_time(fmt, *t)));
        }
        std::fs::write(&input, &text).unwrap();
        let out = oddsight(&["score", "--detector", "ewma", s(&input), s(&output)]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{fmt}: {stderr}");
        assert!(stderr.contains("scored 80 rows"), "{fmt}: {stderr}");
        // Row 40 went back in time: parsed correctly, it is the one clamped timestamp.
        assert!(stderr.contains("1 out-of-order timestamps clamped"), "{fmt}: {stderr}");

        let written = std::fs::read_to_string(&output).unwrap();
        let lines: Vec<&str> = written.lines().collect();
        assert_eq!(lines[0], "timestamp,value,anomaly_score");
        assert_eq!(lines.len(), 81);
        let mut scores = Vec::new();
        for (line, input_line) in lines[1..].iter().zip(text.lines().skip(1)) {
            let (echo, score) = line.rsplit_once(',').unwrap();
            assert_eq!(echo, input_line, "{fmt}: timestamp and value are copied as written");
            let score: f64 = score.parse().unwrap();
            assert!((0.0..=1.0).contains(&score), "{fmt}: {line}");
            scores.push(score);
        }
        assert!(scores[..30].iter().all(|&x| x == 0.0), "{fmt}: warming up");
        assert!(scores[79] > 0.9, "{fmt}: the spike scores {}", scores[79]);
        assert!(scores[31..79].iter().all(|&x| x < 0.5), "{fmt}: {scores:?}");
        outputs.push(scores);
    }
    // The detector saw the same series whatever the notation.
    assert!(outputs.windows(2).all(|w| w[0] == w[1]));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn streaming_scores_do_not_depend_on_later_rows() {
    let dir = temp_dir("streaming");
    let rows = series();
    let write = |name: &str, n: usize| {
        let path = dir.join(name);
        let mut text = String::from("timestamp,value\n");
        for (t, v) in &rows[..n] {
            text.push_str(&format!("{t},{v}\n"));
        }
        std::fs::write(&path, text).unwrap();
        path
    };
    let (short, long) = (write("short.csv", 50), write("long.csv", 80));
    let (a, b) = (dir.join("a.out"), dir.join("b.out"));
    assert!(oddsight(&["score", "-q", s(&short), s(&a)]).status.success());
    assert!(oddsight(&["score", "-q", s(&long), s(&b)]).status.success());
    let (a, b) = (std::fs::read_to_string(a).unwrap(), std::fs::read_to_string(b).unwrap());
    assert!(b.starts_with(&a), "the first 50 rows score the same with or without the rest");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_bad_row_is_a_one_line_error() {
    let dir = temp_dir("errors");
    let cases = [
        ("timestamp,value\n2014-04-10 16:15:00,1\n2014-04-10 16:20:00,1\n2014-04-10 16:25:00,oops\n", "line 4", "oops"),
        ("timestamp,value\n2014-04-10 16:15:00,1\n2014-04-32 16:20:00,1\n", "line 3", "day 32"),
        ("timestamp,value\n2014-04-10 16:15:00,1,2\n", "line 2", "fields"),
        ("time,value\n1,2\n", "line 1", "timestamp and value"),
        ("timestamp,value\nyesterday,1\n", "line 2", "yesterday"),
    ];
    for (k, (text, line, what)) in cases.iter().enumerate() {
        let input = dir.join(format!("bad{k}.csv"));
        let output = dir.join(format!("bad{k}.out.csv"));
        std::fs::write(&input, text).unwrap();
        let out = oddsight(&["score", s(&input), s(&output)]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{text}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
        assert!(stderr.contains(s(&input)) && stderr.contains(line) && stderr.contains(what), "{stderr}");
        assert!(!output.exists(), "no half-written output is left behind");
    }
    // Missing input, unknown detector, output over input.
    let out = oddsight(&["score", s(&dir.join("none.csv")), s(&dir.join("x.csv"))]);
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("cannot open"));
    let out = oddsight(&["score", "--detector", "nope", s(&dir.join("bad0.csv")), s(&dir.join("x.csv"))]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown detector"));
    let same = dir.join("bad0.csv");
    let out = oddsight(&["score", s(&same), s(&same)]);
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("overwrite"));
    assert!(same.exists());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn reads_stdin_and_writes_stdout() {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_oddsight"))
        .args(["score", "-q", "-", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"timestamp,value\n1,2\n2,3\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8(out.stdout).unwrap(), "timestamp,value,anomaly_score\n1,2,0\n2,3,0\n");
}

#[test]
fn help_has_examples() {
    for args in [&["--help"][..], &["score", "--help"], &["eval-nab", "--help"], &["eval-synthetic", "--help"]] {
        let out = oddsight(args);
        assert!(out.status.success());
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("Examples:"), "{args:?}: {text}");
    }
    assert!(!oddsight(&["score"]).status.success());
}

#[test]
fn eval_nab_on_a_generated_corpus() {
    let dir = temp_dir("nab");
    let data = dir.join("data");
    std::fs::create_dir_all(data.join("synthetic")).unwrap();
    // Two files of 600 rows, 5 minutes apart; file `a` has a level jump at row 400 inside
    // the window 380..=440, file `b` is clean noise.
    let mut windows = serde_json::Map::new();
    for (name, jump) in [("a", true), ("b", false)] {
        let mut text = String::from("timestamp,value\n");
        let mut times = Vec::new();
        for i in 0..600i64 {
            let t = format_time("nab", START + 300 * i);
            let noise = ((i * 7919) % 13) as f64 / 13.0;
            let v = 10.0 + noise + if jump && i >= 400 { 25.0 } else { 0.0 };
            text.push_str(&format!("{t},{v}\n"));
            times.push(t);
        }
        std::fs::write(data.join(format!("synthetic/{name}.csv")), text).unwrap();
        let w = if jump {
            serde_json::json!([[format!("{}.000000", times[380]), format!("{}.000000", times[440])]])
        } else {
            serde_json::json!([])
        };
        windows.insert(format!("synthetic/{name}.csv"), w);
    }
    let windows_path = dir.join("windows.json");
    std::fs::write(&windows_path, serde_json::Value::Object(windows).to_string()).unwrap();

    let out = oddsight(&["eval-nab", "--detector", "ewma", "--per-file", s(&data), s(&windows_path)]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for needle in ["standard", "reward_low_FP_rate", "reward_low_FN_rate", "synthetic/a.csv", "2 files"] {
        assert!(stdout.contains(needle), "{needle}: {stdout}");
    }

    let out = oddsight(&["eval-nab", "--json", "--detector", "mad", s(&data), s(&windows_path)]);
    assert!(out.status.success());
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["files"], 2);
    assert_eq!(report["windows"], 1);
    let profiles = report["profiles"].as_array().unwrap();
    assert_eq!(profiles.len(), 3);
    // A 25-unit jump on noise of spread ~0.3 is caught at once: near-perfect scores.
    let standard = profiles[0]["score"].as_f64().unwrap();
    assert!(standard > 90.0, "{standard}");
    assert_eq!(profiles[0]["detected_windows"], 1);

    // A corpus error is one line too.
    std::fs::write(&windows_path, "{}").unwrap();
    let out = oddsight(&["eval-nab", s(&data), s(&windows_path)]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.trim_end().lines().count() == 1, "{stderr}");
    assert!(stderr.contains("no entry for synthetic/a.csv"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn eval_synthetic_prints_a_table_and_json() {
    let out = oddsight(&["eval-synthetic", "--detector", "ewma", "--replicates", "2"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("| spike | easy |") && text.contains("| count_burst | hard |"), "{text}");
    let out = oddsight(&["eval-synthetic", "--json", "--replicates", "1", "--seed", "3"]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["cells"].as_array().unwrap().len(), 21);
    assert_eq!(report["overall_fixed"]["events"], 21);
}

#[test]
fn investigates_generated_cases_offline() {
    let dir = temp_dir("cases");
    let out = oddsight(&["gen-cases", "--count", "3", "--seed", "5", s(&dir)]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for i in 0..3 {
        let case = dir.join(format!("case-{i:03}"));
        let out = oddsight(&["investigate", "--json", s(&case)]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        for key in ["ranking", "root_cause", "confidence", "decision", "hypotheses", "proposed_actions", "journal"] {
            assert!(report.get(key).is_some(), "missing {key}");
        }
        let truth: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(case.join("truth.json")).unwrap()).unwrap();
        assert_eq!(report["root_cause"]["service"], truth["service"], "case {i}");
        assert_ne!(report["decision"], "auto_remediate", "dry run never acts");
    }
    let human = oddsight(&["investigate", s(&dir.join("case-000"))]);
    assert!(String::from_utf8_lossy(&human.stdout).contains("ranking (best first)"));
    let missing = oddsight(&["investigate", s(&dir.join("nope"))]);
    assert!(!missing.status.success());
    assert_eq!(String::from_utf8_lossy(&missing.stderr).lines().count(), 1);
}

#[test]
fn monitor_prints_alert_and_incident_events_as_json_lines() {
    let dir = temp_dir("monitor");
    let mut csv = String::from("timestamp,series,value\n");
    for m in 0..120i64 {
        let t = 1_793_577_600_000 + m * 60_000;
        let latency = if (80..95).contains(&m) { 600 } else { 200 } + m % 5;
        let queries = if (81..95).contains(&m) { 48.0 } else { 6.0 } + (m % 3) as f64 * 0.1;
        csv.push_str(&format!("{t},latency_p95{{service=\"checkout\",host=\"a\"}},{latency}\n"));
        csv.push_str(&format!("{t},\"db_queries{{service=\"\"checkout\"\"}}\",{queries}\n"));
    }
    let input = dir.join("metrics.csv");
    std::fs::write(&input, csv).unwrap();
    let targets = dir.join("targets.json");
    std::fs::write(
        &targets,
        r#"{"targets": [{"name": "latency", "selector": "latency_p95", "detector": "ewma(warmup=30)"},
            {"name": "queries", "selector": "db_queries", "detector": "ewma(warmup=30)", "interval": "5m"}]}"#,
    )
    .unwrap();
    let out = oddsight(&["monitor", "--config", s(&targets), s(&input)]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let lines: Vec<serde_json::Value> =
        String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let events: Vec<(&str, &str)> = lines
        .iter()
        .map(|l| (l["event"].as_str().unwrap(), l.get("target").and_then(|t| t.as_str()).unwrap_or("")))
        .collect();
    assert_eq!(
        events,
        [
            ("fired", "latency"),
            ("incident_opened", ""),
            ("fired", "queries"),
            ("incident_grew", ""),
            ("resolved", "latency"),
            ("resolved", "queries"),
            ("incident_closed", ""),
        ]
    );
    let fired = &lines[0];
    for key in ["series", "timestamp", "severity", "score", "value", "expected"] {
        assert!(fired.get(key).is_some(), "{key} missing from {fired}");
    }
    assert_eq!(fired["series"], r#"latency_p95{host="a",service="checkout"}"#);
    assert!(fired["timestamp"].as_i64().unwrap() >= 1_793_577_600_000 + 80 * 60_000);
    let incident = &lines[3];
    assert_eq!(incident["service"], "checkout");
    assert_eq!(incident["signals"].as_array().unwrap().len(), 2);

    // The targets file shown in --help is valid, and a bad one says what is wrong.
    oddsight_detectors::monitor::MonitorConfig::from_json(oddsight_examples::monitor_csv::EXAMPLE_TARGETS).unwrap();
    let help = oddsight(&["monitor", "--help"]);
    assert!(String::from_utf8_lossy(&help.stdout).contains("\"targets\""));
    std::fs::write(&targets, "{\"targets\": [{\"name\": \"x\"}]}").unwrap();
    let bad = oddsight(&["monitor", "--config", s(&targets), s(&input)]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("targets file"));
}
