//! Proactive monitoring: several targets with their own check intervals, the alert history,
//! acknowledging an alert, and an ad-hoc analysis of one batch.
//!
//! Four targets watch an API's two hosts: the error rate (checked every minute), p95 latency
//! (every 5 minutes), CPU (every 2 minutes) and memory (every 10 minutes). Three hours of
//! per-minute telemetry stream through the [`Monitor`]; at 02:00 host `a` starts failing requests
//! and slows down, at 02:30 host `b` burns CPU. Each target reports on its own schedule; the
//! program then lists the targets, queries the alert history, acknowledges the first alert, and
//! finally analyses `[100, 105, 102, 98, 250, 103]` ad hoc (index 4 is flagged: expected about
//! 102, deviation about +148, severity high). It exits non-zero if any of that does not happen.
//!
//! Run with `cargo run --release -p oddsight-examples --example monitoring`.

use oddsight_core::Severity;
use oddsight_detectors::monitor::{AlertEventKind, AlertQuery, Monitor, MonitorEvent, TargetConfig, analyze};

type Res<T> = Result<T, Box<dyn std::error::Error>>;

const MINUTE: i64 = 60_000;

/// splitmix64: a tiny seeded generator, so the run is the same every time.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    /// Standard normal by Box–Muller.
    fn normal(&mut self) -> f64 {
        let u = self.uniform().max(f64::MIN_POSITIVE);
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * self.uniform()).cos()
    }
}

fn clock(t: i64) -> String {
    format!("{:02}:{:02}", t / MINUTE / 60, (t / MINUTE) % 60)
}

fn main() -> Res<()> {
    let mut monitor = Monitor::new();
    monitor.add_target(TargetConfig::new("error-rate", "error_rate", "ewma(warmup=30)").interval_ms(MINUTE))?;
    monitor.add_target(
        TargetConfig::new("p95-latency", "latency_p95", "ewma(warmup=30)")
            .interval_ms(5 * MINUTE)
            .min_severity(Severity::Medium),
    )?;
    monitor.add_target(TargetConfig::new("cpu", "cpu", "ewma(warmup=30)").interval_ms(2 * MINUTE))?;
    monitor.add_target(TargetConfig::new("memory", "memory_mb", "ewma(warmup=30)").interval_ms(10 * MINUTE))?;

    println!("targets:");
    for t in monitor.list_targets() {
        println!(
            "  {:<12} selector {:<12} detector {:<16} every {:>2} min, min severity {}",
            t.config.name,
            t.config.selector,
            t.config.detector,
            t.config.interval_ms / MINUTE,
            t.config.min_severity
        );
    }
    println!();

    let mut rng = Rng(11);
    let mut fired: Vec<(String, i64)> = Vec::new();
    for minute in 0..180 {
        let t = minute * MINUTE;
        for host in ["a", "b"] {
            let errors = host == "a" && (120..135).contains(&minute);
            let hot = host == "b" && (150..165).contains(&minute);
            let labels = format!("{{service=\"api\",host=\"{host}\"}}");
            let error_rate = if errors { 0.12 } else { 0.01 } + 0.002 * rng.normal();
            let latency = if errors { 900.0 } else { 180.0 } * (0.05 * rng.normal()).exp();
            let cpu = if hot { 97.0 } else { 45.0 } + 2.0 * rng.normal();
            let memory = 2048.0 + 0.5 * minute as f64 + 8.0 * rng.normal();
            monitor.ingest(&format!("error_rate{labels}"), t, error_rate.max(0.0))?;
            monitor.ingest(&format!("latency_p95{labels}"), t, latency)?;
            monitor.ingest(&format!("cpu{labels}"), t, cpu)?;
            monitor.ingest(&format!("memory_mb{labels}"), t, memory)?;
        }
        for event in monitor.tick(t) {
            match event {
                MonitorEvent::Alert(a) => {
                    if a.event == AlertEventKind::Fired {
                        fired.push((a.target.clone(), a.timestamp));
                    }
                    println!(
                        "{} (reported {})  {:?} #{} {:<12} {:<40} {} value {:.3} expected {:.3}",
                        clock(a.timestamp),
                        clock(t),
                        a.event,
                        a.alert_id,
                        a.target,
                        a.series,
                        a.severity,
                        a.value,
                        a.expected
                    );
                }
                MonitorEvent::Incident(n) => println!(
                    "{} (reported {})  {:?} #{} on {} with {} signal(s)",
                    clock(n.timestamp),
                    clock(t),
                    n.event,
                    n.incident_id,
                    n.incident.service,
                    n.incident.signals.len()
                ),
            }
        }
    }

    println!("\nalert history (all {}):", monitor.alerts(&AlertQuery::all()).len());
    for a in monitor.alerts(&AlertQuery::all()) {
        println!(
            "  #{} {:<12} {:<40} {} .. {}  peak {}",
            a.id,
            a.target,
            a.series,
            clock(a.start),
            a.end.map(clock).unwrap_or_else(|| "open".into()),
            a.peak_severity
        );
    }
    let first = monitor.alerts(&AlertQuery::all()).first().map(|a| a.id).ok_or("no alert at all")?;
    let acked = monitor.acknowledge(first, 180 * MINUTE)?;
    println!("acknowledged alert #{} at {}", acked.id, clock(acked.acknowledged_at.unwrap_or_default()));
    let unacked = monitor.alerts(&AlertQuery::all().unacknowledged_only()).len();
    let high = monitor.alerts(&AlertQuery::all().min_severity(Severity::High)).len();
    let cpu = monitor.alerts(&AlertQuery::all().target("cpu")).len();
    println!("unacknowledged: {unacked}; high or worse: {high}; on the cpu target: {cpu}");

    // Ad-hoc analysis: one batch, no state kept.
    let values = [100.0, 105.0, 102.0, 98.0, 250.0, 103.0];
    let analysis = analyze(&values, None, &[])?;
    println!("\nad-hoc analysis of {values:?} with {:?}:", analysis.methods);
    for p in &analysis.points {
        println!(
            "  [{}] {:>5} expected {:>6.1} deviation {:>+7.1} score {:.2} {}{}",
            p.index,
            p.value,
            p.expected,
            p.deviation,
            p.score,
            p.severity,
            if p.anomaly { "  <- anomaly" } else { "" }
        );
    }

    // The story's checks.
    let fired_on = |target: &str| fired.iter().any(|(t, _)| t == target);
    for target in ["error-rate", "p95-latency", "cpu"] {
        if !fired_on(target) {
            return Err(format!("the {target} target never fired").into());
        }
    }
    if fired_on("memory") {
        return Err("the slow memory growth should not alert".into());
    }
    if unacked + 1 != monitor.alerts(&AlertQuery::all()).len() {
        return Err("acknowledge did not take".into());
    }
    if analysis.flagged() != [4] {
        return Err(format!("ad-hoc analysis flagged {:?}, not [4]", analysis.flagged()).into());
    }
    let p = &analysis.points[4];
    if (p.expected - 102.0).abs() > 3.0 || (p.deviation - 148.0).abs() > 5.0 || p.severity != Severity::High {
        return Err(
            format!("index 4: expected {} deviation {} severity {}", p.expected, p.deviation, p.severity).into()
        );
    }
    Ok(())
}
