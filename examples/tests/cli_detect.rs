//! `oddsight detect`, run as a user would: the table, JSON lines and the SVG chart on a seeded
//! series with a known injected incident, errors that say what to do, and the Examples
//! section of every command's `--help`.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn oddsight(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_oddsight")).args(args).output().expect("the oddsight binary runs")
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("oddsight-detect-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// 2024-03-04 00:00:00 UTC, in seconds.
const START: i64 = 1_709_510_400;
/// Rows of the seeded series, one a minute.
const ROWS: i64 = 600;
/// The injected incident: rows 420..425 jump from ~100 to ~190.
const INCIDENT: std::ops::Range<i64> = 420..425;

/// A seeded series: 100 ± 3 (uniform), with the incident. Written as `YYYY-MM-DD HH:MM:SS`.
fn series_csv() -> String {
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let mut text = String::from("timestamp,value\n");
    for i in 0..ROWS {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let noise = ((state >> 11) as f64 / (1u64 << 53) as f64 - 0.5) * 6.0;
        let value = 100.0 + noise + if INCIDENT.contains(&i) { 90.0 } else { 0.0 };
        text.push_str(&format!("{},{value:.3}\n", time_text(START + 60 * i)));
    }
    text
}

fn time_text(secs: i64) -> String {
    // The series stays within 2024-03-04.
    let rem = secs - START;
    format!("2024-03-04 {:02}:{:02}:{:02}", rem / 3600, rem % 3600 / 60, rem % 60)
}

fn write_series(dir: &Path) -> PathBuf {
    let input = dir.join("series.csv");
    std::fs::write(&input, series_csv()).unwrap();
    input
}

fn json_lines(out: &Output) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object a line"))
        .collect()
}

#[test]
fn table_lists_the_injected_incident_and_its_alert() {
    let dir = temp_dir("table");
    let input = write_series(&dir);
    let out = oddsight(&["detect", "--detector", "mad", s(&input)]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains(&format!("{ROWS} rows, detector mad; 5 anomalies, 1 alerts")), "{stdout}");
    let lines: Vec<&str> = stdout.lines().collect();
    let header = lines.iter().position(|l| l.starts_with("time (UTC)")).expect("a table header");
    for column in ["value", "expected", "band", "score", "severity", "why"] {
        assert!(lines[header].contains(column), "{}", lines[header]);
    }
    // One row per incident point, in order, each aligned under the header.
    let rows = &lines[header + 1..header + 6];
    let score_at = lines[header].find("score").unwrap();
    for (row, i) in rows.iter().zip(INCIDENT) {
        assert!(row.starts_with(&time_text(START + 60 * i)), "{row}");
        assert_eq!(&row[score_at + 1..score_at + 2], ".", "{row}");
        assert!(row.contains("x expected, +") && row.contains("above the band (median-mad)"), "{row}");
    }
    assert!(lines[header + 6].is_empty());
    let alerts = lines.iter().position(|l| *l == "alerts (1):").expect("an alert table");
    let alert = lines[alerts + 2];
    assert!(alert.contains(&time_text(START + 60 * INCIDENT.start)), "{alert}");
    // Resolved after three calm points: the third one after the incident.
    assert!(alert.contains(&time_text(START + 60 * (INCIDENT.end + 2))), "{alert}");
}

#[test]
fn json_lines_name_the_spike_and_the_alert() {
    let dir = temp_dir("json");
    let input = write_series(&dir);
    for detector in ["mad", "default"] {
        let out = oddsight(&["detect", "--json", "--detector", detector, s(&input)]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let objects = json_lines(&out);
        let anomalies: Vec<&serde_json::Value> = objects.iter().filter(|o| o["kind"] == "anomaly").collect();
        let alerts: Vec<&serde_json::Value> = objects.iter().filter(|o| o["kind"] == "alert").collect();
        assert_eq!(anomalies.len() + alerts.len(), objects.len());
        // The incident's first point is an anomaly, judged far above what was expected.
        let first = (START + 60 * INCIDENT.start) * 1000;
        let spike =
            anomalies.iter().find(|a| a["timestamp"] == first).unwrap_or_else(|| panic!("{detector}: {objects:?}"));
        assert_eq!(spike["time"], time_text(START + 60 * INCIDENT.start));
        assert_eq!(spike["direction"], "up");
        assert!(spike["value"].as_f64().unwrap() > 180.0);
        let expected = spike["expected"].as_f64().unwrap();
        assert!((95.0..105.0).contains(&expected), "{detector}: {spike}");
        assert!(spike["upper"].as_f64().unwrap() < spike["value"].as_f64().unwrap());
        assert!(spike["score"].as_f64().unwrap() >= 0.5);
        assert!(spike["severity_score"].as_f64().unwrap() > 0.0);
        // The alert starts with the incident.
        let alert = alerts.iter().find(|a| a["start"] == first).unwrap_or_else(|| panic!("{detector}: {objects:?}"));
        assert!(alert["anomalous_points"].as_u64().unwrap() >= 3, "{alert}");
        assert_ne!(alert["peak_severity"], "normal");
        if detector == "mad" {
            assert_eq!(anomalies.len(), 5, "{objects:?}");
            assert_eq!(alerts.len(), 1);
            assert_eq!(alert["resolution"], "recovered");
        }
    }
}

#[test]
fn the_policy_flags_shape_the_alerts() {
    let dir = temp_dir("policy");
    let input = write_series(&dir);
    let run = |args: &[&str]| {
        let mut all = vec!["detect", "--json", "--detector", "mad"];
        all.extend_from_slice(args);
        all.push(s(&input));
        let out = oddsight(&all);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let objects = json_lines(&out);
        let count = |kind: &str| objects.iter().filter(|o| o["kind"] == kind).count();
        (count("anomaly"), count("alert"))
    };
    assert_eq!(run(&[]), (5, 1));
    // Six strikes in a row never happen: five anomalies, no alert.
    assert_eq!(run(&["--strikes", "6"]), (5, 0));
    // A score of 0.999 is past what a 90-point jump reaches against a spread of ~3.
    assert_eq!(run(&["--threshold", "0.9999"]).1, 0);
    // 3 of 5 is reached where 3 in a row is.
    assert_eq!(run(&["--strikes", "3", "--within", "5"]), (5, 1));
}

/// Checks that every tag opened is closed, in order; returns the element names seen.
fn well_formed(svg: &str) -> Vec<String> {
    let mut stack: Vec<String> = Vec::new();
    let mut names = Vec::new();
    let mut rest = svg;
    while let Some(open) = rest.find('<') {
        let close = rest[open..].find('>').expect("a tag is closed") + open;
        let tag = &rest[open + 1..close];
        if let Some(name) = tag.strip_prefix('/') {
            assert_eq!(stack.pop().as_deref(), Some(name), "mismatched </{name}>");
        } else {
            let name = tag.split_whitespace().next().unwrap().trim_end_matches('/').to_string();
            assert!(!tag.contains('<'), "stray < in {tag}");
            names.push(name.clone());
            if !tag.ends_with('/') {
                stack.push(name);
            }
        }
        rest = &rest[close + 1..];
    }
    assert!(stack.is_empty(), "unclosed: {stack:?}");
    names
}

#[test]
fn plot_draws_the_band_the_anomalies_and_the_alert() {
    let dir = temp_dir("plot");
    let input = write_series(&dir);
    let svg_path = dir.join("chart.svg");
    let out = oddsight(&["detect", "--json", "--detector", "mad", "--plot", s(&svg_path), s(&input)]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("chart written to"));
    let objects = json_lines(&out);
    let svg = std::fs::read_to_string(&svg_path).unwrap();
    assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""), "{}", &svg[..80]);
    let names = well_formed(&svg);
    assert_eq!(names[0], "svg");
    assert_eq!(svg.matches(r#"class="band""#).count(), 1, "one band: the detector is warm after its first points");
    assert_eq!(svg.matches(r#"class="values""#).count(), 1);
    assert_eq!(svg.matches(r#"class="expected""#).count(), 1);
    let anomalies = objects.iter().filter(|o| o["kind"] == "anomaly").count();
    assert_eq!(svg.matches(r#"class="anomaly""#).count(), anomalies);
    assert_eq!(svg.matches(r#"class="alert""#).count(), 1);
    assert!(svg.contains("alert #1"));
    // The time axis is labelled with times: the first at the start of the series.
    assert!(svg.contains(">2024-03-04 00:00</text>"), "x labels");
    assert_eq!(svg.matches(r#"class="x-label""#).count(), 6);
    assert_eq!(svg.matches(r#"class="y-label""#).count(), 5);
}

#[test]
fn reads_standard_input() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_oddsight"))
        .args(["detect", "--json", "--detector", "mad", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(series_csv().as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(json_lines(&out).len(), 6);
}

#[test]
fn bad_input_says_what_to_do() {
    let dir = temp_dir("bad");
    let fail = |args: &[&str]| -> String {
        let out = oddsight(args);
        assert_eq!(out.status.code(), Some(1), "{args:?} should fail");
        assert!(out.stdout.is_empty(), "{args:?}: nothing on stdout");
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(stderr.starts_with("oddsight: error: "), "{stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        stderr
    };
    let missing = dir.join("missing.csv");
    let e = fail(&["detect", s(&missing)]);
    assert!(e.contains("missing.csv: cannot open") && e.contains("check the path"), "{e}");

    let header = dir.join("header.csv");
    std::fs::write(&header, "time,val\n2024-03-04 00:00:00,1\n").unwrap();
    let e = fail(&["detect", s(&header)]);
    assert!(e.contains("line 1") && e.contains("timestamp and value") && e.contains("--help"), "{e}");

    let row = dir.join("row.csv");
    std::fs::write(&row, "timestamp,value\n2024-03-04 00:00:00,1\n2024-03-04 00:01:00,2\n2024-03-04 00:02:00,oops\n")
        .unwrap();
    let e = fail(&["detect", s(&row)]);
    assert!(e.contains("line 4") && e.contains("\"oops\" is not a finite number"), "{e}");

    let time = dir.join("time.csv");
    std::fs::write(&time, "timestamp,value\n2024-03-04 00:00:00,1\nyesterday,2\n").unwrap();
    let e = fail(&["detect", s(&time)]);
    assert!(e.contains("line 3"), "{e}");

    let input = write_series(&dir);
    let e = fail(&["detect", "--detector", "nope", s(&input)]);
    assert!(e.contains("nope") && e.contains("mad") && e.contains("oddsight detect --help"), "{e}");
    let e = fail(&["detect", "--detector", "mad(window=0)", s(&input)]);
    assert!(e.contains("window"), "{e}");
    let e = fail(&["detect", "--threshold", "1.5", s(&input)]);
    assert!(e.contains("enter") && e.contains("--threshold"), "{e}");
    let e = fail(&["detect", "--strikes", "0", s(&input)]);
    assert!(e.contains("trigger.k") && e.contains("--strikes"), "{e}");
    let e = fail(&["detect", "--strikes", "4", "--within", "2", s(&input)]);
    assert!(e.contains("trigger.n"), "{e}");

    // A failed run leaves no chart behind; an input without rows has nothing to plot.
    let svg = dir.join("never.svg");
    fail(&["detect", "--plot", s(&svg), s(&row)]);
    assert!(!svg.exists());
    let empty = dir.join("empty.csv");
    std::fs::write(&empty, "timestamp,value\n").unwrap();
    let e = fail(&["detect", "--plot", s(&svg), s(&empty)]);
    assert!(e.contains("nothing to plot"), "{e}");
}

#[test]
fn no_progress_bar_unless_standard_error_is_a_terminal() {
    // Long enough for a bar on a terminal (over 4 MiB); here standard error is a pipe.
    let dir = temp_dir("long");
    let input = dir.join("long.csv");
    let mut text = String::with_capacity(5 << 20);
    text.push_str("timestamp,value\n");
    let mut i = 0i64;
    while text.len() < (4 << 20) + 4096 {
        text.push_str(&format!("{},{}.25\n", START + 60 * i, 100 + i % 7));
        i += 1;
    }
    std::fs::write(&input, &text).unwrap();
    let out = oddsight(&["detect", "--json", "--detector", "ewma", s(&input)]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.stderr.is_empty(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn every_command_help_has_examples() {
    let out = oddsight(&["--help"]);
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.contains("Examples:") && help.contains("oddsight detect"), "{help}");
    for command in ["score", "detect", "eval-nab", "eval-synthetic", "investigate", "monitor", "gen-cases"] {
        let out = oddsight(&[command, "--help"]);
        assert!(out.status.success(), "{command}");
        let help = String::from_utf8_lossy(&out.stdout);
        let examples = help.split("Examples:").nth(1).unwrap_or_else(|| panic!("{command} --help has no Examples"));
        assert!(examples.contains(&format!("oddsight {command}")), "{command}: {examples}");
    }
}
