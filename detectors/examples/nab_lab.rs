//! Scores the default streaming detector ([`NoveltyDetector`]) on the NAB development split,
//! with a per-file and per-category breakdown and a throughput measurement, next to the
//! sliding-median baseline it replaced.
//!
//! `cargo run --release -p oddsight-detectors --example nab_lab [NAB_DIR]` (default
//! `../shared/nab`). A development tool. Set `NAB_LAB_BASELINE=1` to also score the baseline
//! (sliding median/MAD z with an HTM-style likelihood and a 200-point hold).

use oddsight_core::{Calibrator, CalibratorParams, Detector, Point, QuantileWindow, QuantileWindowParams, scale};
use oddsight_detectors::eval::nab::{NabCorpus, NabReport};
use oddsight_detectors::novelty::{NoveltyDetector, NoveltyParams};
use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::time::Instant;

/// The previous lab baseline: sliding median/MAD z, the 10-point mean surprise calibrated
/// against its own history (false-alarm rate 0.001), a 200-point hold after a detection.
struct Likelihood {
    win: QuantileWindow,
    recent: VecDeque<f64>,
    cal: Calibrator,
    n: usize,
    hold_until: usize,
}

impl Likelihood {
    fn new() -> Result<Self, oddsight_core::Error> {
        Ok(Likelihood {
            win: QuantileWindowParams::default().window(300).build()?,
            recent: VecDeque::new(),
            cal: CalibratorParams::default().false_alarm_rate(0.001).min_samples(100).build()?,
            n: 0,
            hold_until: 0,
        })
    }

    fn step(&mut self, v: f64) -> Result<f64, oddsight_core::Error> {
        let mut out = 0.0;
        if let Some((m, s, _)) = self.win.robust()
            && self.n >= 30
        {
            self.recent.push_back(scale::surprise((v - m) / s).min(50.0));
            if self.recent.len() > 10 {
                self.recent.pop_front();
            }
            let avg = self.recent.iter().sum::<f64>() / self.recent.len() as f64;
            out = self.cal.observe(avg)?.anomaly_score;
            if self.n < self.hold_until {
                out *= 0.3;
            } else if out >= 0.5 {
                self.hold_until = self.n + 200;
            }
        }
        self.win.learn(v);
        self.n += 1;
        Ok(out)
    }
}

/// On-CPU time of this thread in seconds (Linux `/proc/thread-self/schedstat`), so that the
/// throughput is not diluted by other work on a shared machine; `None` elsewhere.
fn thread_cpu_seconds() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: f64 = text.split_whitespace().next()?.parse().ok()?;
    Some(ns * 1e-9)
}

fn print_breakdown(report: &NabReport) {
    let p = &report.profiles[0];
    println!(
        "  standard threshold {:.6}: detected {}/{} windows, {} false-positive rows",
        p.threshold.unwrap_or(f64::NAN),
        p.detected_windows,
        report.windows,
        p.false_positives
    );
    let mut categories: BTreeMap<&str, (usize, usize, usize, f64)> = BTreeMap::new();
    for f in &p.files {
        println!(
            "  {:<56} windows {} detected {} fp {:<3} raw {:7.3}",
            f.path, f.windows, f.detected_windows, f.false_positives, f.raw
        );
        let c = categories.entry(f.path.split('/').next().unwrap_or("")).or_default();
        c.0 += f.windows;
        c.1 += f.detected_windows;
        c.2 += f.false_positives;
        c.3 += f.raw;
    }
    println!("  {:<24} {:>8} {:>8} {:>6} {:>8}", "category", "windows", "detected", "fp", "raw");
    for (name, (w, d, fp, raw)) in categories {
        println!("  {name:<24} {w:>8} {d:>8} {fp:>6} {raw:>8.3}");
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args().nth(1).map(PathBuf::from).unwrap_or_else(|| PathBuf::from("../shared/nab"));
    let corpus = NabCorpus::load(dir.join("data"), dir.join("labels/windows.json"))?;

    if std::env::var_os("NAB_LAB_BASELINE").is_some() {
        let report = corpus.score_with(|f| {
            let mut d = Likelihood::new()?;
            Ok(f.values.iter().map(|&v| d.step(v)).collect::<Result<Vec<_>, _>>()?)
        })?;
        let [s, lfp, lfn] = report.scores();
        println!("baseline likelihood: standard {s:.2}  low-FP {lfp:.2}  low-FN {lfn:.2}");
    }

    let params = NoveltyParams::default();
    let started = Instant::now();
    let report = corpus.score_detector(|| Ok(Box::new(params.clone().build()?) as Box<dyn Detector>))?;
    let elapsed = started.elapsed().as_secs_f64();
    let [s, lfp, lfn] = report.scores();
    println!("novelty (defaults): standard {s:.2}  low-FP {lfp:.2}  low-FN {lfn:.2}");
    print!("{report}");
    print_breakdown(&report);
    println!("  end to end (observe + verdicts + NAB sweep): {:.0} points/s", corpus.row_count() as f64 / elapsed);

    // Throughput of the bare streaming loop, on the longest file, one detector per series.
    let longest = corpus.files().iter().max_by_key(|f| f.len()).ok_or("empty corpus")?;
    let mut points = 0usize;
    let mut checksum = 0.0;
    let cpu_started = thread_cpu_seconds();
    let started = Instant::now();
    while started.elapsed().as_secs_f64() < 1.0 {
        let mut d: NoveltyDetector = params.clone().build()?;
        for (i, &v) in longest.values.iter().enumerate() {
            checksum += d.observe(Point::new(i as i64, v))?.anomaly_score;
        }
        points += longest.len();
    }
    let wall = started.elapsed().as_secs_f64();
    let cpu = thread_cpu_seconds().zip(cpu_started).map_or(wall, |(b, a)| b - a);
    println!(
        "  observe throughput on {} ({} points): {:.0} points/s of CPU time, {:.0} points/s of wall time (checksum {checksum:.3})",
        longest.path,
        longest.len(),
        points as f64 / cpu,
        points as f64 / wall
    );
    Ok(())
}
