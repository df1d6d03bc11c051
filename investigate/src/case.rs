//! The case format: a directory describing one incident, and its loader.
//!
//! ```text
//! CASE_DIR/
//!   data.csv          time,<service>_<metric>,…   (Unix seconds, one row per sample)
//!   inject_time.txt   Unix seconds at which the incident began
//!   changes.json      optional: [{time, service, kind: deploy|config|feature_flag, id, summary}]
//!   logs.jsonl        optional: {time, service, level, message} per line
//!   topology.json     optional: {"calls": [[caller, callee], …]}
//!   truth.json        optional (test cases): {service, metric, category}
//! ```
//!
//! A column's service is the text before the first underscore (service names have none;
//! hyphens are allowed) and its metric everything after it: `payments-db_cpu` is metric `cpu`
//! of service `payments-db`. Empty cells, `nan` and non-finite numbers are missing samples.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::fmt;
use std::path::Path;

/// What kind of resource or symptom a metric measures; the `category` of a root cause.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Category {
    /// CPU saturation (`cpu`).
    Cpu,
    /// Memory growth or pressure (`mem`, `memory`).
    Memory,
    /// Disk usage or I/O (`disk`).
    Disk,
    /// Slow responses (`latency_p50`, `latency_p95`, …).
    Latency,
    /// Failing requests (`error_rate`, `errors`).
    Errors,
    /// Query volume (`db_queries`): N+1 queries, a missing cache.
    DbQueries,
    /// Connection pools (`conn_pool`, `connections`).
    Connections,
    /// Request volume (`requests`).
    Traffic,
    /// Anything else.
    Other,
}

impl Category {
    /// Every category, in declaration order.
    pub const ALL: [Category; 9] = [
        Category::Cpu,
        Category::Memory,
        Category::Disk,
        Category::Latency,
        Category::Errors,
        Category::DbQueries,
        Category::Connections,
        Category::Traffic,
        Category::Other,
    ];

    /// The category a metric name belongs to, from the words it contains.
    ///
    /// ```
    /// use oddsight_investigate::Category;
    /// assert_eq!(Category::of_metric("latency_p95"), Category::Latency);
    /// assert_eq!(Category::of_metric("mem"), Category::Memory);
    /// assert_eq!(Category::of_metric("conn_pool"), Category::Connections);
    /// assert_eq!(Category::of_metric("gc_pauses"), Category::Other);
    /// ```
    pub fn of_metric(metric: &str) -> Category {
        let m = metric.to_ascii_lowercase();
        let has = |w: &str| m.contains(w);
        if has("quer") {
            Category::DbQueries
        } else if has("conn") || has("pool") {
            Category::Connections
        } else if has("cpu") {
            Category::Cpu
        } else if has("mem") || has("heap") || has("rss") {
            Category::Memory
        } else if has("disk") || has("iops") || has("fs_") {
            Category::Disk
        } else if has("latency") || has("duration") || has("_p9") || has("_p5") {
            Category::Latency
        } else if has("error") || has("5xx") || has("fail") {
            Category::Errors
        } else if has("request") || has("rps") || has("throughput") || has("traffic") {
            Category::Traffic
        } else {
            Category::Other
        }
    }

    /// The lowercase name, as serialised.
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Cpu => "cpu",
            Category::Memory => "memory",
            Category::Disk => "disk",
            Category::Latency => "latency",
            Category::Errors => "errors",
            Category::DbQueries => "db_queries",
            Category::Connections => "connections",
            Category::Traffic => "traffic",
            Category::Other => "other",
        }
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One metric of one service over the case's time axis.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Series {
    /// The service (`payments-db`).
    pub service: String,
    /// The metric (`latency_p95`).
    pub metric: String,
    /// One value per row of [`Case::times`]; NaN where the sample is missing.
    pub values: Vec<f64>,
}

impl Series {
    /// The column name, `<service>_<metric>`.
    pub fn column(&self) -> String {
        format!("{}_{}", self.service, self.metric)
    }
}

/// Splits a column name into service and metric at the first underscore. A name without one is
/// a service with the metric `value`.
pub fn split_column(name: &str) -> (String, String) {
    match name.split_once('_') {
        Some((s, m)) if !s.is_empty() && !m.is_empty() => (s.to_string(), m.to_string()),
        _ => (name.to_string(), "value".to_string()),
    }
}

/// The kind of a change event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    /// A new build was deployed.
    Deploy,
    /// A configuration change.
    Config,
    /// A feature flag was flipped.
    #[serde(alias = "flag")]
    FeatureFlag,
}

impl ChangeKind {
    /// The lowercase name, as serialised.
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Deploy => "deploy",
            ChangeKind::Config => "config",
            ChangeKind::FeatureFlag => "feature_flag",
        }
    }
}

/// A deploy, configuration change or feature-flag flip (`changes.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangeEvent {
    /// Unix seconds.
    pub time: i64,
    /// The service changed.
    pub service: String,
    /// What kind of change.
    pub kind: ChangeKind,
    /// An identifier (a deploy id, a commit, a flag name).
    #[serde(default)]
    pub id: String,
    /// A human summary.
    #[serde(default)]
    pub summary: String,
}

/// One log line (`logs.jsonl`). Logs are untrusted: they are redacted and scanned before any of
/// their text reaches a model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogLine {
    /// Unix seconds.
    pub time: i64,
    /// The service that logged it.
    pub service: String,
    /// Level (`info`, `warn`, `error`, …).
    #[serde(default = "default_level")]
    pub level: String,
    /// The message.
    pub message: String,
}

fn default_level() -> String {
    "info".to_string()
}

/// The call graph (`topology.json`): `calls` lists `[caller, callee]` pairs.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Topology {
    /// `(caller, callee)` pairs.
    pub calls: Vec<(String, String)>,
}

impl Topology {
    /// The services `service` calls directly.
    pub fn callees<'a>(&'a self, service: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.calls.iter().filter(move |(a, _)| a == service).map(|(_, b)| b.as_str())
    }

    /// The services that call `service` directly.
    pub fn callers<'a>(&'a self, service: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.calls.iter().filter(move |(_, b)| b == service).map(|(a, _)| a.as_str())
    }

    /// Every service `service` reaches through calls (not itself), in name order.
    pub fn downstream(&self, service: &str) -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut stack = vec![service.to_string()];
        while let Some(s) = stack.pop() {
            for c in self.callees(&s) {
                if c != service && seen.insert(c.to_string()) {
                    stack.push(c.to_string());
                }
            }
        }
        seen
    }
}

/// The known answer of a test case (`truth.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Truth {
    /// The root-cause service.
    pub service: String,
    /// The root-cause metric, when known.
    #[serde(default)]
    pub metric: String,
    /// The root-cause category.
    pub category: Category,
}

/// A loaded case: everything in a case directory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Case {
    /// A name (the directory's name when loaded from disk).
    pub name: String,
    /// Row timestamps, Unix seconds, ascending.
    pub times: Vec<i64>,
    /// The columns other than `time`, in file order.
    pub series: Vec<Series>,
    /// When the incident began, Unix seconds.
    pub inject_time: i64,
    /// Change events, ascending by time.
    pub changes: Vec<ChangeEvent>,
    /// Log lines, ascending by time.
    pub logs: Vec<LogLine>,
    /// The call graph, when given.
    pub topology: Option<Topology>,
    /// The known answer, for test cases.
    pub truth: Option<Truth>,
}

impl Case {
    /// The services that have at least one metric, in name order.
    pub fn services(&self) -> Vec<String> {
        self.series.iter().map(|s| s.service.clone()).collect::<BTreeSet<_>>().into_iter().collect()
    }

    /// The series `service_metric`, if present.
    pub fn series(&self, service: &str, metric: &str) -> Option<&Series> {
        self.series.iter().find(|s| s.service == service && s.metric == metric)
    }

    /// Checks the invariants the ranking relies on: at least one row and one metric, every
    /// series as long as the time axis, times ascending.
    ///
    /// # Errors
    /// [`Error::Case`] naming what is wrong.
    pub fn validate(&self) -> Result<()> {
        if self.times.is_empty() {
            return Err(Error::case(&self.name, "data.csv", "no rows"));
        }
        if self.series.is_empty() {
            return Err(Error::case(&self.name, "data.csv", "no metric columns"));
        }
        if self.times.windows(2).any(|w| w[1] < w[0]) {
            return Err(Error::case(&self.name, "data.csv", "times are not ascending"));
        }
        for s in &self.series {
            if s.values.len() != self.times.len() {
                return Err(Error::case(
                    &self.name,
                    format!("column {}", s.column()),
                    format!("{} values for {} rows", s.values.len(), self.times.len()),
                ));
            }
        }
        Ok(())
    }

    /// Loads a case directory.
    ///
    /// # Errors
    /// [`Error::Io`] when `data.csv` or `inject_time.txt` cannot be read (optional files may be
    /// missing), [`Error::Case`] naming the file and row or line when one is malformed.
    pub fn load_dir(dir: impl AsRef<Path>) -> Result<Case> {
        let dir = dir.as_ref();
        let name =
            dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| dir.display().to_string());
        let (times, series) = parse_data_csv(&read(&dir.join("data.csv"))?, &display(&dir.join("data.csv")))?;
        let inject_time =
            parse_inject_time(&read(&dir.join("inject_time.txt"))?, &display(&dir.join("inject_time.txt")))?;
        let changes = match read_optional(&dir.join("changes.json"))? {
            Some(text) => parse_changes(&text, &display(&dir.join("changes.json")))?,
            None => Vec::new(),
        };
        let logs = match read_optional(&dir.join("logs.jsonl"))? {
            Some(text) => parse_logs(&text, &display(&dir.join("logs.jsonl")))?,
            None => Vec::new(),
        };
        let topology = match read_optional(&dir.join("topology.json"))? {
            Some(text) => Some(parse_json::<Topology>(&text, &display(&dir.join("topology.json")))?),
            None => None,
        };
        let truth = match read_optional(&dir.join("truth.json"))? {
            Some(text) => Some(parse_json::<Truth>(&text, &display(&dir.join("truth.json")))?),
            None => None,
        };
        let case = Case { name, times, series, inject_time, changes, logs, topology, truth };
        case.validate()?;
        Ok(case)
    }

    /// Writes the case as a case directory (creating it), in the layout [`Case::load_dir`]
    /// reads. Optional files are written only when they have content.
    ///
    /// # Errors
    /// [`Error::Io`] when a file cannot be written.
    pub fn write_dir(&self, dir: impl AsRef<Path>) -> Result<()> {
        let dir = dir.as_ref();
        std::fs::create_dir_all(dir).map_err(|source| Error::Io { path: display(dir), source })?;
        write(&dir.join("data.csv"), &self.to_csv())?;
        write(&dir.join("inject_time.txt"), &format!("{}\n", self.inject_time))?;
        if !self.changes.is_empty() {
            write(&dir.join("changes.json"), &to_json_pretty(&self.changes)?)?;
        }
        if !self.logs.is_empty() {
            let mut text = String::new();
            for l in &self.logs {
                text.push_str(&serde_json::to_string(l).map_err(|e| Error::json(&e))?);
                text.push('\n');
            }
            write(&dir.join("logs.jsonl"), &text)?;
        }
        if let Some(t) = &self.topology {
            write(&dir.join("topology.json"), &to_json_pretty(t)?)?;
        }
        if let Some(t) = &self.truth {
            write(&dir.join("truth.json"), &to_json_pretty(t)?)?;
        }
        Ok(())
    }

    /// `data.csv` as text.
    pub fn to_csv(&self) -> String {
        let mut out = String::from("time");
        for s in &self.series {
            out.push(',');
            out.push_str(&s.column());
        }
        out.push('\n');
        for (i, t) in self.times.iter().enumerate() {
            out.push_str(&t.to_string());
            for s in &self.series {
                out.push(',');
                match s.values.get(i) {
                    Some(v) if v.is_finite() => out.push_str(&format!("{}", (v * 10_000.0).round() / 10_000.0)),
                    _ => {}
                }
            }
            out.push('\n');
        }
        out
    }
}

fn display(p: &Path) -> String {
    p.display().to_string()
}

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|source| Error::Io { path: display(path), source })
}

fn read_optional(path: &Path) -> Result<Option<String>> {
    match std::fs::read_to_string(path) {
        Ok(t) => Ok(Some(t)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(Error::Io { path: display(path), source }),
    }
}

fn write(path: &Path, text: &str) -> Result<()> {
    std::fs::write(path, text).map_err(|source| Error::Io { path: display(path), source })
}

fn to_json_pretty<T: Serialize>(v: &T) -> Result<String> {
    serde_json::to_string_pretty(v).map(|s| s + "\n").map_err(|e| Error::json(&e))
}

fn parse_json<T: serde::de::DeserializeOwned>(text: &str, path: &str) -> Result<T> {
    serde_json::from_str(text).map_err(|e| Error::case(path, format!("line {}", e.line()), e.to_string()))
}

/// Parses a time in Unix seconds, integer or decimal.
fn parse_time(s: &str) -> Option<i64> {
    let s = s.trim();
    if let Ok(t) = s.parse::<i64>() {
        return Some(t);
    }
    match s.parse::<f64>() {
        Ok(t) if t.is_finite() && t.abs() < 1e15 => Some(t.round() as i64),
        _ => None,
    }
}

/// Parses the text of `data.csv` into row times (sorted ascending) and series.
///
/// # Errors
/// [`Error::Case`] for a missing `time` column, a row of the wrong width, an unparseable time
/// or value.
pub fn parse_data_csv(text: &str, path: &str) -> Result<(Vec<i64>, Vec<Series>)> {
    let mut reader =
        csv::ReaderBuilder::new().has_headers(true).flexible(true).trim(csv::Trim::All).from_reader(text.as_bytes());
    let header = reader.headers().map_err(|e| Error::case(path, "header", e.to_string()))?.clone();
    if header.is_empty() || !header.get(0).is_some_and(|h| h.eq_ignore_ascii_case("time")) {
        return Err(Error::case(path, "header", "the first column must be `time`"));
    }
    let mut series: Vec<Series> = header
        .iter()
        .skip(1)
        .map(|name| {
            let (service, metric) = split_column(name);
            Series { service, metric, values: Vec::new() }
        })
        .collect();
    let mut seen = BTreeSet::new();
    for s in &series {
        if s.service.is_empty() {
            return Err(Error::case(path, "header", "empty column name"));
        }
        if !seen.insert(s.column()) {
            return Err(Error::case(path, "header", format!("duplicate column {}", s.column())));
        }
    }
    let mut rows: Vec<(i64, Vec<f64>)> = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let row = i + 2;
        let record = record.map_err(|e| Error::case(path, format!("row {row}"), e.to_string()))?;
        if record.len() == 1 && record.get(0).is_some_and(str::is_empty) {
            continue;
        }
        if record.len() != header.len() {
            return Err(Error::case(
                path,
                format!("row {row}"),
                format!("{} fields, the header has {}", record.len(), header.len()),
            ));
        }
        let t = record.get(0).unwrap_or_default();
        let time = parse_time(t).ok_or_else(|| Error::case(path, format!("row {row}"), format!("bad time {t:?}")))?;
        let mut values = Vec::with_capacity(series.len());
        for field in record.iter().skip(1) {
            let v = if field.is_empty() || field.eq_ignore_ascii_case("nan") || field.eq_ignore_ascii_case("null") {
                f64::NAN
            } else {
                match field.parse::<f64>() {
                    Ok(v) if v.is_finite() => v,
                    Ok(_) => f64::NAN,
                    Err(_) => return Err(Error::case(path, format!("row {row}"), format!("bad value {field:?}"))),
                }
            };
            values.push(v);
        }
        rows.push((time, values));
    }
    if rows.is_empty() {
        return Err(Error::case(path, "whole file", "no rows"));
    }
    // Rows out of order are sorted rather than rejected: exports from several sources often are.
    rows.sort_by_key(|r| r.0);
    let times = rows.iter().map(|r| r.0).collect();
    for (j, s) in series.iter_mut().enumerate() {
        s.values = rows.iter().map(|r| r.1[j]).collect();
    }
    Ok((times, series))
}

/// Parses `inject_time.txt`: one number, Unix seconds.
///
/// # Errors
/// [`Error::Case`] when the text is not a time.
pub fn parse_inject_time(text: &str, path: &str) -> Result<i64> {
    parse_time(text).ok_or_else(|| Error::case(path, "whole file", format!("not a Unix time: {:?}", text.trim())))
}

/// Parses `changes.json`, sorting the events by time.
///
/// # Errors
/// [`Error::Case`] with the JSON error's line.
pub fn parse_changes(text: &str, path: &str) -> Result<Vec<ChangeEvent>> {
    let mut v: Vec<ChangeEvent> = parse_json(text, path)?;
    v.sort_by_key(|c| c.time);
    Ok(v)
}

/// Parses `logs.jsonl` (blank lines skipped), sorting the lines by time.
///
/// # Errors
/// [`Error::Case`] naming the first bad line.
pub fn parse_logs(text: &str, path: &str) -> Result<Vec<LogLine>> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let l: LogLine =
            serde_json::from_str(line).map_err(|e| Error::case(path, format!("line {}", i + 1), e.to_string()))?;
        out.push(l);
    }
    out.sort_by_key(|l| l.time);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_parses_columns_and_missing_values() {
        let (t, s) = parse_data_csv("time,payments-db_cpu,checkout_latency_p95\n10,1.5,\n0,2,3\n", "d").unwrap();
        assert_eq!(t, vec![0, 10]);
        assert_eq!(s[0].service, "payments-db");
        assert_eq!(s[0].metric, "cpu");
        assert_eq!(s[1].metric, "latency_p95");
        assert_eq!(s[0].values, vec![2.0, 1.5]);
        assert!(s[1].values[1].is_nan());
    }

    #[test]
    fn csv_errors_name_the_row() {
        let e = parse_data_csv("time,a_cpu\n1,2\n2,x\n", "d.csv").unwrap_err();
        assert_eq!(e.code(), "InvalidCase");
        assert!(e.to_string().contains("row 3"), "{e}");
        assert!(parse_data_csv("t,a_cpu\n1,2\n", "d").is_err());
        assert!(parse_data_csv("time,a_cpu\n1,2,3\n", "d").unwrap_err().to_string().contains("fields"));
        assert!(parse_data_csv("time,a_cpu\n", "d").is_err());
        assert!(parse_data_csv("time,a_cpu,a_cpu\n1,2,3\n", "d").unwrap_err().to_string().contains("duplicate"));
        assert!(parse_data_csv("", "d").is_err());
    }

    #[test]
    fn other_files() {
        assert_eq!(parse_inject_time(" 1700000000\n", "i").unwrap(), 1_700_000_000);
        assert_eq!(parse_inject_time("1700000000.4", "i").unwrap(), 1_700_000_000);
        assert!(parse_inject_time("soon", "i").is_err());
        let c = parse_changes(r#"[{"time":5,"service":"a","kind":"feature_flag","id":"x","summary":"s"},{"time":1,"service":"b","kind":"deploy"}]"#, "c").unwrap();
        assert_eq!(c[0].service, "b");
        assert!(parse_changes(r#"[{"time":5,"service":"a","kind":"reboot"}]"#, "c").is_err());
        let l = parse_logs("{\"time\":3,\"service\":\"a\",\"message\":\"m\"}\n\n", "l").unwrap();
        assert_eq!(l[0].level, "info");
        assert!(parse_logs("{\"time\":3}\n", "l").unwrap_err().to_string().contains("line 1"));
        let t: Truth = parse_json(r#"{"service":"a","metric":"cpu","category":"db_queries"}"#, "t").unwrap();
        assert_eq!(t.category, Category::DbQueries);
        assert!(parse_json::<Truth>(r#"{"service":"a","category":"gpu"}"#, "t").is_err());
    }

    #[test]
    fn topology_walks() {
        let t = Topology { calls: vec![("a".into(), "b".into()), ("b".into(), "c".into()), ("c".into(), "a".into())] };
        assert_eq!(t.downstream("a").into_iter().collect::<Vec<_>>(), vec!["b", "c"]);
        assert_eq!(t.callers("b").collect::<Vec<_>>(), vec!["a"]);
    }
}
