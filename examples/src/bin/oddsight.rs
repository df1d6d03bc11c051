//! `oddsight`: streaming anomaly detection for telemetry, from the command line.
//!
//! Run `oddsight --help` (or `oddsight <command> --help`) for usage and examples.

use clap::{Parser, Subcommand, ValueEnum};
use oddsight_core::StrikePolicyParams;
use oddsight_detectors::eval::nab::NabCorpus;
use oddsight_detectors::eval::synthetic::SuiteParams;
use oddsight_examples::detect::{DetectOptions, detect_csv, plot, write_json_lines, write_table};
use oddsight_examples::detector_choice::{DEFAULT_SPEC, build_detector};
use oddsight_examples::monitor_csv::monitor_csv;
use oddsight_examples::progress::Progress;
use oddsight_examples::score_csv::{ScoreOptions, score_csv};
use oddsight_examples::timestamp::NumericUnit;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

const ABOUT: &str = "Streaming anomaly detection for telemetry.";

const AFTER: &str = "\
Examples:
  oddsight score latency.csv latency_scored.csv
  oddsight score --detector 'mad(window=720)' - - < in.csv > out.csv
  oddsight detect --plot latency.svg latency.csv
  oddsight eval-nab ../shared/nab/data ../shared/nab/labels/windows.json
  oddsight eval-nab --detector ewma --per-file data/ labels/windows.json
  oddsight eval-synthetic --detector mad
  oddsight logs --threshold 0.9 app.jsonl
  oddsight gen-cases --count 3 /tmp/cases && oddsight investigate /tmp/cases/case-000

Detectors (--detector SPEC): default, ewma, window, mad, iqr, roc, seasonal, ratio, seasonal_agg,
poisson, error_ratio, cusum, bocpd, trend, ensemble(...), each with parameters, e.g.
mad(window=720), seasonal(period=1d, bucket=1h), ensemble(mad, cusum, combine=logp).";

const SCORE_AFTER: &str = "\
INPUT has a header naming the columns `timestamp` and `value` (other columns are ignored).
Timestamps may be `YYYY-MM-DD HH:MM:SS`, ISO 8601 (`T`, a fraction, `Z` or an offset such as
+02:00), or Unix seconds or milliseconds (numbers; see --time-unit). Times without a zone are UTC.

OUTPUT is `timestamp,value,anomaly_score`: the same rows in the same order, timestamp and value
copied as written, the score in [0, 1] (0.5 is |z| = 3; well spread up to 1). Each row is judged
only against the rows before it, then learned (streaming). A timestamp earlier than the previous
row's is clamped to it for the detector; repeated timestamps are fine.

A bad row stops the run with a one-line error naming its line (the header is line 1), exit
status 1, and no output file is left behind.

Examples:
  oddsight score latency.csv latency_scored.csv
  oddsight score --detector ewma --time-unit ms metrics.csv -      # write to standard output
  cat in.csv | oddsight score - out.csv";

const NAB_AFTER: &str = "\
DATA_DIR holds CSV files (`timestamp,value`, `YYYY-MM-DD HH:MM:SS`) in any sub-folders;
WINDOWS.json maps each file's path relative to DATA_DIR to its anomaly windows, as NAB's
labels/combined_windows.json does. Every file is streamed through a fresh detector and the
NAB scores (standard, reward_low_FP_rate, reward_low_FN_rate) are printed, each at the single
threshold that maximises it over the whole corpus.

Examples:
  oddsight eval-nab ../shared/nab/data ../shared/nab/labels/windows.json
  oddsight eval-nab --detector 'ewma(alpha=0.02)' --per-file data/ windows.json
  oddsight eval-nab --json data/ windows.json > report.json";

#[derive(Debug, Parser)]
#[command(name = "oddsight", version, about = ABOUT, after_help = AFTER, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Score a `timestamp,value` CSV row by row and write `timestamp,value,anomaly_score`.
    #[command(after_help = SCORE_AFTER)]
    Score {
        /// Detector specification.
        #[arg(long, short, value_name = "SPEC", default_value = DEFAULT_SPEC)]
        detector: String,
        /// How numeric timestamps are read: `auto` decides from the first one (≥ 1e11 is
        /// milliseconds).
        #[arg(long, value_enum, default_value_t = Unit::Auto)]
        time_unit: Unit,
        /// Print nothing on success.
        #[arg(long, short)]
        quiet: bool,
        /// Input CSV, or `-` for standard input.
        input: PathBuf,
        /// Output CSV, or `-` for standard output.
        output: PathBuf,
    },
    /// Find the anomalies and alerts in a `timestamp,value` CSV: a table, JSON lines or a chart.
    #[command(after_help = DETECT_AFTER)]
    Detect {
        /// Detector specification.
        #[arg(long, short, value_name = "SPEC", default_value = DEFAULT_SPEC)]
        detector: String,
        /// Strikes (points at or above --threshold) in a row that raise an alert.
        #[arg(long, value_name = "K", default_value_t = 3)]
        strikes: u32,
        /// Raise an alert on K strikes among the last N points instead of K in a row.
        #[arg(long, value_name = "N")]
        within: Option<u32>,
        /// Anomaly score at or above which a point is a strike, in (0, 1); 0.5 is |z| = 3.
        #[arg(long, value_name = "SCORE", default_value_t = 0.5)]
        threshold: f64,
        /// How numeric timestamps are read: `auto` decides from the first one (≥ 1e11 is
        /// milliseconds).
        #[arg(long, value_enum, default_value_t = Unit::Auto)]
        time_unit: Unit,
        /// Print one JSON object per anomaly and per alert instead of tables.
        #[arg(long)]
        json: bool,
        /// Also draw the series, its expected band, the anomalies and the alerts as an SVG file.
        #[arg(long, value_name = "OUT.svg")]
        plot: Option<PathBuf>,
        /// Input CSV, or `-` for standard input.
        input: PathBuf,
    },
    /// Find the anomalous lines of a log file (JSON lines, logfmt or plain text); print one
    /// JSON object per anomaly.
    #[command(after_help = oddsight_examples::logs_cmd::LOGS_HELP)]
    Logs {
        /// Expected fraction of outlying lines in INPUT, in (0, 0.5].
        #[arg(long, default_value_t = 0.1)]
        contamination: f64,
        /// Least confidence of a reported line, in [0, 1].
        #[arg(long, default_value_t = 0.7)]
        threshold: f64,
        /// The log format.
        #[arg(long, default_value = "auto", value_parser = ["auto", "jsonl", "logfmt", "plain"])]
        format: String,
        /// The log file, or `-` for standard input.
        input: PathBuf,
    },
    /// Run a detector over a NAB-format corpus and print its NAB scores.
    #[command(name = "eval-nab", after_help = NAB_AFTER)]
    EvalNab {
        /// Detector specification.
        #[arg(long, short, value_name = "SPEC", default_value = DEFAULT_SPEC)]
        detector: String,
        /// Also print each file's figures (at the standard profile's threshold).
        #[arg(long)]
        per_file: bool,
        /// Print the full report as JSON instead of a table.
        #[arg(long)]
        json: bool,
        /// Folder of CSV files.
        data_dir: PathBuf,
        /// Anomaly windows (NAB's combined_windows.json format).
        windows: PathBuf,
    },
    /// Investigate an incident case directory offline: rank root causes, propose a fix (dry run).
    #[command(after_help = INVESTIGATE_AFTER)]
    Investigate {
        /// Print the whole report as one JSON object.
        #[arg(long)]
        json: bool,
        /// Also ask a model: `openai` (Chat Completions; also Ollama, vLLM, llama.cpp through
        /// OPENAI_BASE_URL) or `anthropic` (Messages). Reads OPENAI_API_KEY / ANTHROPIC_API_KEY,
        /// *_BASE_URL and *_MODEL from the environment. The model proposes; the library decides.
        #[arg(long, value_enum)]
        llm: Option<LlmChoice>,
        /// The case directory (data.csv, inject_time.txt, optional changes.json, logs.jsonl,
        /// topology.json).
        case_dir: PathBuf,
    },
    /// Watch a long-format CSV (`timestamp,series,value`) with the targets of a JSON file;
    /// print one JSON object per alert and incident event.
    #[command(after_help = MONITOR_AFTER)]
    Monitor {
        /// The targets file (see below).
        #[arg(long, short, value_name = "TARGETS.json")]
        config: PathBuf,
        /// The CSV, or `-` for standard input.
        input: PathBuf,
    },
    /// Write seeded example incident cases (with truth.json) to a folder.
    #[command(name = "gen-cases", after_help = GEN_CASES_AFTER)]
    GenCases {
        /// How many cases.
        #[arg(long, default_value_t = 5)]
        count: usize,
        /// Seed of the generator.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Folder to write `case-000`, `case-001`, … into (created).
        out_dir: PathBuf,
    },
    /// Run a detector over the seeded synthetic efficacy suite and print its figures.
    #[command(name = "eval-synthetic", after_help = SYNTHETIC_AFTER)]
    EvalSynthetic {
        /// Detector specification.
        #[arg(long, short, value_name = "SPEC", default_value = DEFAULT_SPEC)]
        detector: String,
        /// Series per pattern and difficulty.
        #[arg(long, default_value_t = 10)]
        replicates: usize,
        /// Master seed of the generators.
        #[arg(long, default_value_t = SuiteParams::default().seed)]
        seed: u64,
        /// Print the full report as JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

const INVESTIGATE_AFTER: &str = "\
CASE_DIR holds data.csv (header `time,<service>_<metric>,...`, time in Unix seconds),
inject_time.txt (Unix seconds when the incident began), and optionally changes.json
(`[{time, service, kind, id, summary}]`), logs.jsonl (`{time, service, level, message}`) and
topology.json (`{\"calls\": [[caller, callee], ...]}`). No API key is needed: the ranking is
deterministic and every action is a dry-run plan. Telemetry is redacted and scanned for
injected instructions before anything is reported.

Examples:
  oddsight gen-cases --count 3 /tmp/cases && oddsight investigate /tmp/cases/case-000
  oddsight investigate --json /tmp/cases/case-001 | jq .root_cause
  OPENAI_BASE_URL=http://127.0.0.1:11434/v1 OPENAI_MODEL=llama3.1 oddsight investigate --llm openai CASE";

const SYNTHETIC_AFTER: &str = "\
Generates the seeded synthetic suite (spikes, dips, level shifts, trend drift, variance
change, seasonality breaks, count bursts; easy, medium and hard; one event per series), streams
every series through a fresh detector, and prints event-level precision, recall, F1 and mean
detection delay (in points) per pattern and difficulty: at the fixed threshold (0.5, |z| = 3)
and at each cell's best threshold. The table is Markdown. The rules are in the docs of
oddsight_detectors::eval::synthetic.

Examples:
  oddsight eval-synthetic
  oddsight eval-synthetic --detector ewma --replicates 20 --seed 7
  oddsight eval-synthetic --json > synthetic.json";

const DETECT_AFTER: &str = "\
INPUT is read as `oddsight score` reads it: a header naming `timestamp` and `value`, any of the
timestamp formats listed there, one row per point. Each point is judged by the detector against
the points before it, then handed to the alert policy (core's strike policy): a point scoring at
or above --threshold is an anomaly (a strike); --strikes in a row (or --strikes among --within
points) raise an alert, three calm points in a row resolve it, and strikes are kept out of the
baseline. Times are shown in UTC.

The table lists each anomaly (time, value, expected value, normal band, score, severity with its
0-10 score, why) and each alert (start, end, peak severity). --json prints instead one object
per line: {\"kind\": \"anomaly\", \"timestamp\", \"time\", \"value\", \"expected\", \"lower\",
\"upper\", \"score\", \"z\", \"severity\", \"severity_score\", \"direction\", \"component\", \"why\"}
then {\"kind\": \"alert\", \"id\", \"start\", \"end\", \"peak_severity\", \"peak_score\", ...}
(timestamps in Unix ms). A progress bar is drawn on standard error for long files when it is a
terminal.

Examples:
  oddsight detect latency.csv
  oddsight detect --detector 'mad(window=720)' --strikes 5 --threshold 0.7 latency.csv
  oddsight detect --json latency.csv | jq 'select(.kind == \"alert\")'
  oddsight detect --plot latency.svg --strikes 3 --within 5 latency.csv";

const GEN_CASES_AFTER: &str = "\
Each case folder holds data.csv, inject_time.txt, changes.json, logs.jsonl, topology.json and
truth.json (the known root cause, which `oddsight investigate` does not read). The same seed
gives the same cases.

Examples:
  oddsight gen-cases /tmp/cases
  oddsight gen-cases --count 20 --seed 7 cases/ && oddsight investigate cases/case-003";

const MONITOR_AFTER: &str = r#"INPUT is long format with the header `timestamp,series,value`, sorted by time; a series is a
metric name with optional labels, latency_p95{service="checkout",host="a"} (written bare, or
quoted CSV-style with inner quotes doubled: the value is the last field). Timestamps are read as
`oddsight score` reads them. The monitor ticks at every new timestamp and once at the end, and
prints one JSON object per line for each event:
  alerts:    {"event": "fired"|"escalated"|"resolved", "target", "series", "timestamp",
              "severity", "score", "value", "expected", "alert_id", "incident_id"}
  incidents: {"event": "incident_opened"|"incident_grew"|"incident_reopened"|"incident_closed",
              "incident_id", "service", "timestamp", "signals": [{"alert_id", "target", ...}]}
Alerts on series sharing the `service` label that overlap in time form one incident.

TARGETS.json lists the targets; every field but name and selector may be left out (detector:
any --detector SPEC, default `default`; policy: fields of the strike policy, default 3 strikes
in a row; interval: ms or 10s/5m/1h, default 1m; min_severity: low|medium|high|critical):
{
  "targets": [
    {"name": "latency", "selector": "latency_p95", "detector": "seasonal",
     "policy": {"trigger": {"type": "k_of_n", "k": 3, "n": 3}}, "interval": "1m"},
    {"name": "queries", "selector": "db_queries{service=\"checkout\"}", "detector": "ewma(warmup=30)",
     "interval": "5m", "min_severity": "medium"}
  ]
}

Examples:
  oddsight monitor --config targets.json metrics.csv
  oddsight monitor --config targets.json - < metrics.csv | jq 'select(.event == "fired")'"#;

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LlmChoice {
    /// OpenAI Chat Completions format.
    Openai,
    /// Anthropic Messages format.
    Anthropic,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Unit {
    /// Decide from the first numeric timestamp.
    Auto,
    /// Unix seconds.
    S,
    /// Unix milliseconds.
    Ms,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Score { detector, time_unit, quiet, input, output } => {
            let unit = match time_unit {
                Unit::Auto => NumericUnit::Auto,
                Unit::S => NumericUnit::Seconds,
                Unit::Ms => NumericUnit::Millis,
            };
            score(&detector, unit, quiet, &input, &output)
        }
        Command::Detect { detector, strikes, within, threshold, time_unit, json, plot, input } => {
            let policy = match within {
                Some(n) => StrikePolicyParams::k_of_n(strikes, n),
                None => StrikePolicyParams::strikes(strikes),
            };
            let exit = policy.exit.min(threshold);
            let policy = policy.levels(threshold, exit);
            let options = DetectOptions { unit: numeric_unit(time_unit), policy, keep_series: plot.is_some() };
            detect(&detector, options, json, plot.as_deref(), &input)
        }
        Command::EvalNab { detector, per_file, json, data_dir, windows } => {
            eval_nab(&detector, per_file, json, &data_dir, &windows)
        }
        Command::EvalSynthetic { detector, replicates, seed, json } => {
            eval_synthetic(&detector, replicates, seed, json)
        }
        Command::Investigate { json, llm, case_dir } => investigate(json, llm, &case_dir),
        Command::GenCases { count, seed, out_dir } => gen_cases(count, seed, &out_dir),
        Command::Monitor { config, input } => monitor(&config, &input),
        Command::Logs { contamination, threshold, format, input } => {
            oddsight_examples::logs_cmd::run(&input, &format, contamination, threshold)
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            // One line, whatever the cause, so scripts can show it as is.
            eprintln!("oddsight: error: {}", message.replace('\n', " "));
            ExitCode::FAILURE
        }
    }
}

fn numeric_unit(unit: Unit) -> NumericUnit {
    match unit {
        Unit::Auto => NumericUnit::Auto,
        Unit::S => NumericUnit::Seconds,
        Unit::Ms => NumericUnit::Millis,
    }
}

fn detect(spec: &str, options: DetectOptions, json: bool, svg: Option<&Path>, input: &Path) -> Result<(), String> {
    let detector = build_detector(spec).map_err(|e| format!("{e} (see `oddsight detect --help`)"))?;
    let shown_in = if is_stdio(input) { "<stdin>".to_string() } else { input.display().to_string() };
    let hint = |e: oddsight_examples::score_csv::ScoreError| {
        if e.line <= 1 {
            format!("{shown_in}: {e} (see `oddsight detect --help` for the input format)")
        } else {
            format!("{shown_in}: {e}")
        }
    };
    let report = if is_stdio(input) {
        detect_csv(std::io::stdin(), detector, &options, None).map_err(hint)?
    } else {
        let file = std::fs::File::open(input).map_err(|e| {
            format!("{shown_in}: cannot open: {e} (check the path, or give `-` to read standard input)")
        })?;
        let size = file.metadata().map(|m| m.len()).unwrap_or(0);
        if Progress::wanted(size) {
            let mut progress = Progress::new(shown_in.clone(), size);
            let reader = progress.reader(file);
            detect_csv(reader, detector, &options, Some(&mut progress)).map_err(hint)?
        } else {
            detect_csv(file, detector, &options, None).map_err(hint)?
        }
    };
    if svg.is_some() && report.series.is_empty() {
        return Err(format!("{shown_in}: no data rows, nothing to plot"));
    }
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let write = |e: std::io::Error| format!("cannot write to standard output: {e}");
    if json {
        write_json_lines(&report, &mut out).map_err(write)?;
    } else {
        writeln!(
            out,
            "{shown_in}: {} rows, detector {spec}; {} anomalies, {} alerts{}\n",
            report.rows,
            report.anomalies.len(),
            report.alerts.len(),
            if report.clamped > 0 {
                format!(" ({} out-of-order timestamps clamped)", report.clamped)
            } else {
                String::new()
            }
        )
        .map_err(write)?;
        write_table(&report, &mut out).map_err(write)?;
    }
    out.flush().map_err(write)?;
    if let Some(path) = svg {
        let title = format!("{shown_in}: {spec}, {} anomalies, {} alerts", report.anomalies.len(), report.alerts.len());
        std::fs::write(path, plot(&report, &title))
            .map_err(|e| format!("{}: cannot write the chart: {e}", path.display()))?;
        eprintln!("oddsight: chart written to {}", path.display());
    }
    Ok(())
}

fn monitor(config: &Path, input: &Path) -> Result<(), String> {
    let text = std::fs::read_to_string(config).map_err(|e| {
        format!("cannot read the targets file {}: {e} (see `oddsight monitor --help`)", config.display())
    })?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    if is_stdio(input) {
        monitor_csv(&text, std::io::stdin().lock(), &mut out)?;
    } else {
        let file = std::fs::File::open(input).map_err(|e| format!("cannot open {}: {e}", input.display()))?;
        monitor_csv(&text, std::io::BufReader::new(file), &mut out)?;
    }
    out.flush().map_err(|e| format!("writing output: {e}"))
}

fn is_stdio(path: &Path) -> bool {
    path.as_os_str() == "-"
}

fn score(spec: &str, unit: NumericUnit, quiet: bool, input: &Path, output: &Path) -> Result<(), String> {
    let mut detector = build_detector(spec)?;
    let started = Instant::now();
    let shown_in = if is_stdio(input) { "<stdin>".to_string() } else { input.display().to_string() };
    if !is_stdio(input)
        && !is_stdio(output)
        && let (Ok(a), Ok(b)) = (input.canonicalize(), output.canonicalize())
        && a == b
    {
        return Err(format!("{shown_in}: the output would overwrite the input; choose another OUTPUT"));
    }
    let reader: Box<dyn std::io::Read + Send> = if is_stdio(input) {
        Box::new(std::io::stdin())
    } else {
        Box::new(std::fs::File::open(input).map_err(|e| format!("{shown_in}: cannot open: {e}"))?)
    };
    let options = ScoreOptions { unit };
    let summary = if is_stdio(output) {
        score_csv(reader, std::io::stdout().lock(), detector.as_mut(), options)
    } else {
        let file = std::fs::File::create(output).map_err(|e| format!("{}: cannot create: {e}", output.display()))?;
        let result = score_csv(reader, file, detector.as_mut(), options);
        if result.is_err() {
            // A half-written output would look like a result; leave none.
            let _ = std::fs::remove_file(output);
        }
        result
    }
    .map_err(|e| format!("{shown_in}: {e}"))?;
    if !quiet {
        let took = started.elapsed().as_secs_f64();
        eprintln!(
            "oddsight: scored {} rows with {spec} in {took:.3} s: {} with score >= 0.5 (max {:.4}){}",
            summary.rows,
            summary.anomalies,
            summary.max_score,
            if summary.clamped > 0 {
                format!(", {} out-of-order timestamps clamped", summary.clamped)
            } else {
                String::new()
            }
        );
    }
    Ok(())
}

/// The factory the evaluators take, from the command line's detector builder.
fn factory(spec: &str) -> impl FnMut() -> oddsight_detectors::Result<Box<dyn oddsight_core::Detector>> + '_ {
    move || {
        build_detector(spec).map_err(|reason| oddsight_detectors::Error::Spec {
            spec: spec.to_string(),
            position: 0,
            reason,
        })
    }
}

fn eval_synthetic(spec: &str, replicates: usize, seed: u64, json: bool) -> Result<(), String> {
    build_detector(spec)?;
    let started = Instant::now();
    let suite = SuiteParams::default().replicates(replicates).seed(seed).build().map_err(|e| e.to_string())?;
    let report = suite.evaluate(factory(spec)).map_err(|e| e.to_string())?;
    let took = started.elapsed().as_secs_f64();
    let mut out = std::io::stdout().lock();
    let write = |e: std::io::Error| format!("cannot write to standard output: {e}");
    if json {
        let text = serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?;
        writeln!(out, "{text}").map_err(write)?;
    } else {
        writeln!(out, "detector: {spec}; {} series, {replicates} per cell, seed {seed}\n", suite.series().len())
            .map_err(write)?;
        write!(out, "{report}").map_err(write)?;
    }
    eprintln!("oddsight: {} series in {took:.3} s", suite.series().len());
    Ok(())
}

fn eval_nab(spec: &str, per_file: bool, json: bool, data_dir: &Path, windows: &Path) -> Result<(), String> {
    // Build once up front so a bad spec fails before the corpus is read.
    build_detector(spec)?;
    let started = Instant::now();
    let corpus = NabCorpus::load(data_dir, windows).map_err(|e| e.to_string())?;
    let report = corpus.score_detector(factory(spec)).map_err(|e| e.to_string())?;
    let took = started.elapsed().as_secs_f64();
    let mut out = std::io::stdout().lock();
    let write = |e: std::io::Error| format!("cannot write to standard output: {e}");
    if json {
        let text = serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?;
        writeln!(out, "{text}").map_err(write)?;
        return Ok(());
    }
    writeln!(out, "detector: {spec}").map_err(write)?;
    write!(out, "{report}").map_err(write)?;
    if per_file && let Some(standard) = report.profiles.first() {
        writeln!(out, "\nper file, standard profile:").map_err(write)?;
        writeln!(out, "{:<58} {:>7} {:>9} {:>7} {:>8}", "file", "rows", "detected", "FP rows", "raw").map_err(write)?;
        for f in &standard.files {
            writeln!(
                out,
                "{:<58} {:>7} {:>9} {:>7} {:>8.3}",
                f.path,
                f.rows,
                format!("{}/{}", f.detected_windows, f.windows),
                f.false_positives,
                f.raw
            )
            .map_err(write)?;
        }
    }
    eprintln!("oddsight: {} files, {} rows in {took:.3} s", report.files, report.rows);
    Ok(())
}

fn investigate(json: bool, llm: Option<LlmChoice>, case_dir: &Path) -> Result<(), String> {
    use oddsight_investigate::case::Case;
    use oddsight_investigate::http::HttpLlmClient;
    use oddsight_investigate::wire::Provider;
    use oddsight_investigate::{InvestigationOptions, investigate_case};
    let case = Case::load_dir(case_dir).map_err(|e| e.to_string())?;
    let report = match llm {
        None => investigate_case(&case, &InvestigationOptions::default(), None, None),
        Some(choice) => {
            let provider = match choice {
                LlmChoice::Openai => Provider::OpenAi,
                LlmChoice::Anthropic => Provider::Anthropic,
            };
            let client = HttpLlmClient::from_env(provider).map_err(|e| e.to_string())?;
            // An empty model name lets the client use *_MODEL from the environment.
            let options = InvestigationOptions::default().llm(String::new());
            investigate_case(&case, &options, Some(&client), None)
        }
    }
    .map_err(|e| e.to_string())?;
    let mut out = std::io::stdout().lock();
    let write = |e: std::io::Error| format!("cannot write to standard output: {e}");
    if json {
        let text = serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?;
        return writeln!(out, "{text}").map_err(write);
    }
    let rc = &report.root_cause;
    writeln!(out, "case {}: root cause {} / {} ({:?})", report.case, rc.service, rc.metric, rc.category)
        .map_err(write)?;
    writeln!(out, "confidence {:.2}, decision {:?}", report.confidence, report.decision).map_err(write)?;
    for reason in &report.decision_reasons {
        writeln!(out, "  - {reason}").map_err(write)?;
    }
    writeln!(out, "\nranking (best first):").map_err(write)?;
    for (i, entry) in report.ranking.iter().take(5).enumerate() {
        writeln!(out, "  {}. {} / {}  score {:.3}", i + 1, entry.service, entry.metric, entry.score).map_err(write)?;
        for reason in entry.reasons.iter().take(3) {
            writeln!(out, "       {reason}").map_err(write)?;
        }
    }
    writeln!(out, "\nproposed actions (dry run):").map_err(write)?;
    for action in &report.proposed_actions {
        writeln!(out, "  * {}", action.summary).map_err(write)?;
        for step in &action.dry_run {
            writeln!(out, "      {step}").map_err(write)?;
        }
    }
    if report.injection_suspected {
        writeln!(out, "\nwarning: instruction-like text found in the telemetry; no automatic action allowed")
            .map_err(write)?;
    }
    writeln!(out, "\n{}", report.summary).map_err(write)
}

fn gen_cases(count: usize, seed: u64, out_dir: &Path) -> Result<(), String> {
    use oddsight_investigate::generate::GeneratorParams;
    let generator = GeneratorParams::default().seed(seed).build().map_err(|e| e.to_string())?;
    std::fs::create_dir_all(out_dir).map_err(|e| format!("{}: cannot create: {e}", out_dir.display()))?;
    for i in 0..count {
        let generated = generator.case(i);
        let dir = out_dir.join(format!("case-{i:03}"));
        generated.case.write_dir(&dir).map_err(|e| e.to_string())?;
    }
    eprintln!("oddsight: wrote {count} cases to {}", out_dir.display());
    Ok(())
}
