//! The end-to-end incident: a bad deploy caught, investigated, rolled back and verified, offline.
//!
//! A simulated checkout API (services `checkout`, `payments` and `users-db`) produces a week of
//! per-minute telemetry with a daily cycle (busy afternoons) and a weekly one (quiet weekends):
//! p95 latency, database queries per request, requests per minute and CPU. The week is learned
//! first (backfill), then live points stream through an oddsight [`Monitor`] whose targets use
//! the `seasonal` detector (hour-of-week baseline) and the 3-strikes policy.
//!
//! On Monday of the second week at 14:00 a deploy of `checkout` introduces an N+1 query pattern:
//! queries per request ×8, latency ×3. The monitor fires within minutes and groups the checkout
//! alerts into one incident; the incident (the monitored series around it plus the deploy as a
//! change event) becomes an investigate [`Case`], investigated offline with the deterministic
//! ranking in dry-run: the deploy on `checkout` is ranked as the cause, and a rollback, a GitHub
//! pull request and a Slack message are planned (dry-run plans, nothing is sent). A simulated
//! rollback restores normal traffic; the alerts resolve and the verification re-checks the
//! signals with the detectors against their pre-incident window.
//!
//! The program prints a timeline and writes an SVG chart (checkout latency with its expected
//! band, anomalies, alerts, deploy and rollback) to `target/incident.svg`, or to the path given
//! as the first argument. It exits non-zero when the story does not hold: the deploy not caught
//! within 5 minutes, a cause other than `checkout`, or no recovery.
//!
//! Run with `cargo run --release -p oddsight-examples --example incident`.

use oddsight_core::{Detector, StrikePolicyParams};
use oddsight_detectors::AnyDetector;
use oddsight_detectors::monitor::{
    AlertEventKind, IncidentEventKind, Monitor, MonitorEvent, MonitorOptions, TargetConfig,
};
use oddsight_examples::svg::{ChartPoint, Marker, TimeChart};
use oddsight_investigate::actions::{ActionContext, ActionPlan, ActionRegistry};
use oddsight_investigate::verify::check_signal;
use oddsight_investigate::{Case, ChangeEvent, ChangeKind, InvestigationOptions, Series, Topology, investigate_case};
use serde_json::json;
use std::collections::BTreeMap;

type Res<T> = Result<T, Box<dyn std::error::Error>>;

const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;
/// Monday 2026-11-02 00:00 UTC.
const START: i64 = 1_793_577_600_000;
/// End of the week of history: Monday of the second week, 00:00.
const LIVE: i64 = START + 7 * DAY;
/// The bad deploy: Monday of the second week, 14:00.
const DEPLOY: i64 = LIVE + 14 * HOUR;
/// How long the investigation waits after the incident opens, to see it develop.
const INVESTIGATE_AFTER: i64 = 10 * MINUTE;
/// How long after the investigation the rollback lands.
const ROLLBACK_AFTER: i64 = 3 * MINUTE;
/// How long the recovery is watched.
const RECOVERY: i64 = 45 * MINUTE;
const DEPLOY_ID: &str = "checkout-v2.14.0";

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

/// One simulated metric: `(service, metric)`.
const SIGNALS: [(&str, &str); 9] = [
    ("checkout", "latency_p95"),
    ("checkout", "db_queries"),
    ("checkout", "requests"),
    ("checkout", "cpu"),
    ("payments", "latency_p95"),
    ("payments", "cpu"),
    ("users-db", "latency_p95"),
    ("users-db", "cpu"),
    ("users-db", "connections"),
];

fn series_name(service: &str, metric: &str) -> String {
    format!("{metric}{{service=\"{service}\"}}")
}

/// The world: traffic load by time of week, and whether the bad release is live.
struct World {
    rollback: Option<i64>,
}

impl World {
    /// Load in `[0.2, 1]`: quiet nights, a peak at 14:00, weekends at 60 %.
    fn load(t: i64) -> f64 {
        let hour = ((t - START).rem_euclid(DAY)) as f64 / HOUR as f64;
        let weekday = ((t - START).rem_euclid(7 * DAY) / DAY) as u8;
        let daytime = (-((hour - 14.0) / 4.0).powi(2)).exp();
        let weekly = if weekday >= 5 { 0.6 } else { 1.0 };
        0.2 + 0.8 * daytime * weekly
    }

    fn bad_release(&self, t: i64) -> bool {
        t >= DEPLOY && self.rollback.is_none_or(|r| t < r)
    }

    /// The value of `(service, metric)` at `t`.
    fn value(&self, service: &str, metric: &str, t: i64, rng: &mut Rng) -> f64 {
        let load = Self::load(t);
        let bad = self.bad_release(t);
        // users-db feels the extra queries a couple of minutes later, and much less.
        let db_pressure = self.bad_release(t - 2 * MINUTE) && t - 2 * MINUTE >= DEPLOY;
        let noise = |rng: &mut Rng, sd: f64| (sd * rng.normal()).exp();
        match (service, metric) {
            ("checkout", "latency_p95") => (90.0 + 150.0 * load) * if bad { 3.0 } else { 1.0 } * noise(rng, 0.06),
            ("checkout", "db_queries") => 6.0 * if bad { 8.0 } else { 1.0 } * noise(rng, 0.05),
            ("checkout", "requests") => 1200.0 * load * noise(rng, 0.05),
            ("checkout", "cpu") => (20.0 + 40.0 * load) * if bad { 1.15 } else { 1.0 } * noise(rng, 0.05),
            ("payments", "latency_p95") => (60.0 + 60.0 * load) * noise(rng, 0.06),
            ("payments", "cpu") => (15.0 + 30.0 * load) * noise(rng, 0.05),
            ("users-db", "latency_p95") => (8.0 + 10.0 * load) * if db_pressure { 1.3 } else { 1.0 } * noise(rng, 0.06),
            ("users-db", "cpu") => (25.0 + 35.0 * load) * if db_pressure { 1.2 } else { 1.0 } * noise(rng, 0.05),
            ("users-db", "connections") => (40.0 + 60.0 * load) * noise(rng, 0.05),
            _ => unreachable!("unknown signal"),
        }
    }
}

fn clock(t: i64) -> String {
    const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    let d = (t - START) / DAY;
    let s = (t - START).rem_euclid(DAY) / 1000;
    format!("week {} {} {:02}:{:02}", d / 7 + 1, DAYS[(d % 7) as usize], s / 3600, (s / 60) % 60)
}

/// Everything recorded while streaming, for the case, the chart and the checks.
#[derive(Default)]
struct Recorder {
    times: Vec<i64>,
    values: BTreeMap<(String, String), Vec<f64>>,
}

impl Recorder {
    fn push(&mut self, t: i64, row: &[(usize, f64)]) {
        self.times.push(t);
        for &(i, v) in row {
            let (s, m) = SIGNALS[i];
            self.values.entry((s.to_string(), m.to_string())).or_default().push(v);
        }
    }
    fn window(&self, service: &str, metric: &str, from: i64, to: i64) -> Vec<f64> {
        let values = &self.values[&(service.to_string(), metric.to_string())];
        self.times.iter().zip(values).filter(|(t, _)| **t >= from && **t < to).map(|(_, v)| *v).collect()
    }
}

/// Marks for the chart.
#[derive(Default)]
struct Marks {
    fired: Vec<(i64, String)>,
    incident: Option<i64>,
    rollback: Option<i64>,
}

fn main() -> Res<()> {
    let svg_path = std::env::args().nth(1).unwrap_or_else(|| "target/incident.svg".to_string());
    let mut rng = Rng(7);
    let mut world = World { rollback: None };

    // The monitor: one target per metric, hour-of-week seasonal baseline, 3 strikes.
    let mut monitor = Monitor::with_options(MonitorOptions::default())?;
    for (target, metric) in [
        ("latency", "latency_p95"),
        ("db-queries", "db_queries"),
        ("traffic", "requests"),
        ("cpu", "cpu"),
        ("connections", "connections"),
    ] {
        monitor.add_target(TargetConfig::new(target, metric, "seasonal").policy(StrikePolicyParams::strikes(3)))?;
    }

    // Backfill: a week of history teaches every hour-of-week bucket.
    let history: Vec<i64> = (START..LIVE).step_by(MINUTE as usize).collect();
    let mut recorder = Recorder::default();
    let mut columns: Vec<Vec<f64>> = vec![Vec::with_capacity(history.len()); SIGNALS.len()];
    for &t in &history {
        let row: Vec<(usize, f64)> =
            SIGNALS.iter().enumerate().map(|(i, (s, m))| (i, world.value(s, m, t, &mut rng))).collect();
        for &(i, v) in &row {
            columns[i].push(v);
        }
        recorder.push(t, &row);
    }
    for (i, (service, metric)) in SIGNALS.iter().enumerate() {
        let id = monitor.series_id(&series_name(service, metric))?;
        monitor.ingest_batch(id, &history, &columns[i])?;
    }
    let backfill_alerts = monitor.tick(LIVE - 1).iter().filter_map(MonitorEvent::as_alert).count();
    println!(
        "learned a week of history: {} minutes x {} series ({} alerts raised while the baselines warmed up, discarded)",
        history.len(),
        SIGNALS.len(),
        backfill_alerts
    );

    // The chart's own view of checkout latency: the same seasonal detector, scored point by point.
    let mut chart_detector = AnyDetector::parse("seasonal")?;
    chart_detector.update_batch(&history, &columns[0])?;
    let mut chart: Vec<ChartPoint> = Vec::new();

    println!("streaming live from {}; a deploy of checkout ({DEPLOY_ID}) lands at {}\n", clock(LIVE), clock(DEPLOY));
    println!("{}  DEPLOY  {DEPLOY_ID} on checkout (ORM change: eager loading of cart items removed)", clock(DEPLOY));

    let mut marks = Marks::default();
    let mut first_checkout_alert: Option<i64> = None;
    let mut false_alarms = 0usize;
    let mut incident_id: Option<u64> = None;
    let mut investigated = false;
    let mut cause_ok = false;
    let mut closed_at: Option<i64> = None;
    let mut resolved: Vec<String> = Vec::new();
    let mut end = i64::MAX;
    let mut t = LIVE;
    while t < end {
        let row: Vec<(usize, f64)> =
            SIGNALS.iter().enumerate().map(|(i, (s, m))| (i, world.value(s, m, t, &mut rng))).collect();
        for &(i, v) in &row {
            let (s, m) = SIGNALS[i];
            monitor.ingest(&series_name(s, m), t, v)?;
        }
        recorder.push(t, &row);
        if t >= DEPLOY - 3 * HOUR {
            let p = oddsight_core::Point::new(t, row[0].1);
            let v = chart_detector.score(p)?;
            if !v.is_anomaly {
                chart_detector.update(p)?;
            }
            chart.push(ChartPoint {
                timestamp: t,
                value: v.value,
                band: v.warm.then_some((v.expected, v.lower, v.upper)),
                anomaly: v.is_anomaly,
            });
        } else {
            chart_detector.update(oddsight_core::Point::new(t, row[0].1))?;
        }

        for event in monitor.tick(t) {
            match event {
                MonitorEvent::Alert(a) => match a.event {
                    AlertEventKind::Fired => {
                        if a.timestamp < DEPLOY {
                            false_alarms += 1;
                        }
                        if a.series.contains("\"checkout\"") && first_checkout_alert.is_none() && a.timestamp >= DEPLOY
                        {
                            first_checkout_alert = Some(a.timestamp);
                        }
                        marks.fired.push((a.timestamp, a.target.clone()));
                        println!(
                            "{}  FIRED   alert #{} {} on {} (severity {}, {:+} min after the deploy)\n        why: {}",
                            clock(a.timestamp),
                            a.alert_id,
                            a.target,
                            a.series,
                            a.severity,
                            (a.timestamp - DEPLOY) / MINUTE,
                            a.verdict.explain()
                        );
                    }
                    AlertEventKind::Escalated => println!(
                        "{}  ESCALATED alert #{} {} -> {}",
                        clock(a.timestamp),
                        a.alert_id,
                        a.previous_severity.map(|s| s.to_string()).unwrap_or_default(),
                        a.severity
                    ),
                    AlertEventKind::Resolved => {
                        resolved.push(a.series.clone());
                        println!("{}  RESOLVED alert #{} {} on {}", clock(a.timestamp), a.alert_id, a.target, a.series);
                    }
                },
                MonitorEvent::Incident(n) => {
                    let signals: Vec<String> =
                        n.incident.signals.iter().map(|s| format!("{} ({})", s.metric, s.target)).collect();
                    match n.event {
                        IncidentEventKind::IncidentOpened
                            if incident_id.is_none() && n.incident.service == "checkout" =>
                        {
                            incident_id = Some(n.incident_id);
                            marks.incident = Some(n.timestamp);
                            println!(
                                "{}  INCIDENT #{} opened on service {}: {}",
                                clock(n.timestamp),
                                n.incident_id,
                                n.incident.service,
                                signals.join(", ")
                            );
                        }
                        IncidentEventKind::IncidentClosed if Some(n.incident_id) == incident_id => {
                            closed_at = Some(n.timestamp);
                            println!(
                                "{}  INCIDENT #{} closed: every signal resolved",
                                clock(n.timestamp),
                                n.incident_id
                            );
                        }
                        kind => println!(
                            "{}  incident #{} {:?} on {}: {}",
                            clock(n.timestamp),
                            n.incident_id,
                            kind,
                            n.incident.service,
                            signals.join(", ")
                        ),
                    }
                }
            }
        }

        // Ten minutes into the incident: investigate it, offline and in dry-run.
        if let (Some(id), Some(opened), false) = (incident_id, marks.incident, investigated)
            && t >= opened + INVESTIGATE_AFTER
        {
            investigated = true;
            cause_ok = investigate(&monitor, id, &recorder, t)?;
            let at = t + ROLLBACK_AFTER;
            world.rollback = Some(at);
            marks.rollback = Some(at);
            end = at + RECOVERY;
        }
        if marks.rollback == Some(t) {
            println!("{}  ROLLBACK {DEPLOY_ID} rolled back (simulated); checkout back on v2.13.2", clock(t));
        }
        if t > DEPLOY + 6 * HOUR {
            return Err("no incident formed within six hours of the deploy".into());
        }
        t += MINUTE;
    }

    // Verification: the detectors re-check every checkout signal over the window after the
    // rollback (its first 5 minutes left to drain) against the hour before the deploy.
    let rollback = marks.rollback.ok_or("no rollback")?;
    let ranking = oddsight_investigate::RankingParams::default();
    println!("\nverification (pre-deploy hour vs {} .. {}):", clock(rollback + 5 * MINUTE), clock(end));
    let mut all_recovered = true;
    for (service, metric) in SIGNALS.iter().filter(|(s, _)| *s == "checkout") {
        let baseline = recorder.window(service, metric, DEPLOY - HOUR, DEPLOY);
        let window = recorder.window(service, metric, rollback + 5 * MINUTE, end);
        let check = check_signal(
            service,
            metric,
            &baseline,
            &window,
            ranking.anomalous_z,
            ranking.relative_floor,
            ranking.min_samples,
        );
        println!(
            "  {service}/{metric}: normal {:.1} (band {:.1}..{:.1}), |z| p75 {:.2}, {} of {} outside -> {}",
            check.normal_median,
            check.band.0,
            check.band.1,
            check.z_p75.unwrap_or(f64::NAN),
            check.outside,
            check.samples,
            if check.recovered { "recovered" } else { "NOT recovered" }
        );
        all_recovered &= check.recovered;
    }

    let path = write_svg(&svg_path, &chart, &marks)?;
    println!("\n{} false alarms before the deploy; chart written to {path}", false_alarms);

    // The story's checks.
    let caught = first_checkout_alert.ok_or("the deploy was never caught")?;
    if caught - DEPLOY > 5 * MINUTE {
        return Err(format!("the deploy was caught {} min after it landed (> 5)", (caught - DEPLOY) / MINUTE).into());
    }
    if !cause_ok {
        return Err("the investigation did not rank the checkout deploy as the cause".into());
    }
    if !all_recovered || closed_at.is_none() {
        return Err("recovery was not shown after the rollback".into());
    }
    println!(
        "caught {} min after the deploy; incident closed {} min after the rollback",
        (caught - DEPLOY) / MINUTE,
        (closed_at.unwrap_or(rollback) - rollback) / MINUTE
    );
    Ok(())
}

/// Turns the incident into an investigate [`Case`] and investigates it offline. Returns whether
/// the checkout deploy was ranked as the cause.
fn investigate(monitor: &Monitor, incident_id: u64, recorder: &Recorder, now: i64) -> Res<bool> {
    let incident = monitor.incident(incident_id).ok_or("incident vanished")?;
    let from = incident.start - 2 * HOUR;
    let idx: Vec<usize> =
        (0..recorder.times.len()).filter(|&i| recorder.times[i] >= from && recorder.times[i] <= now).collect();
    let times: Vec<i64> = idx.iter().map(|&i| recorder.times[i] / 1000).collect();
    let series: Vec<Series> = recorder
        .values
        .iter()
        .map(|((service, metric), values)| Series {
            service: service.clone(),
            metric: metric.clone(),
            values: idx.iter().map(|&i| values[i]).collect(),
        })
        .collect();
    let case = Case {
        name: format!("incident-{incident_id}"),
        times,
        series,
        inject_time: incident.start / 1000,
        changes: vec![
            ChangeEvent {
                time: (DEPLOY - 5 * HOUR) / 1000,
                service: "payments".into(),
                kind: ChangeKind::Config,
                id: "payments-cfg-311".into(),
                summary: "raise the card-network timeout to 4 s".into(),
            },
            ChangeEvent {
                time: DEPLOY / 1000,
                service: "checkout".into(),
                kind: ChangeKind::Deploy,
                id: DEPLOY_ID.into(),
                summary: "ORM change: eager loading of cart items removed".into(),
            },
        ],
        logs: vec![],
        topology: Some(Topology {
            calls: vec![
                ("checkout".into(), "payments".into()),
                ("checkout".into(), "users-db".into()),
                ("payments".into(), "users-db".into()),
            ],
        }),
        truth: None,
    };
    case.validate()?;
    let report = investigate_case(&case, &InvestigationOptions::default(), None, None)?;
    println!(
        "{}  INVESTIGATION of incident #{incident_id} ({} series, {} changes, offline, dry-run)",
        clock(now),
        case.series.len(),
        case.changes.len()
    );
    for (rank, entry) in report.ranking.iter().take(3).enumerate() {
        println!("        #{} {}/{} score {:.2}", rank + 1, entry.service, entry.metric, entry.score);
        for reason in entry.reasons.iter().take(4) {
            println!("             - {reason}");
        }
    }
    println!(
        "        root cause: {} ({}, {:?}); decision {:?} at confidence {:.2}",
        report.root_cause.service,
        report.root_cause.metric,
        report.root_cause.category,
        report.decision,
        report.confidence
    );
    for reason in report.decision_reasons.iter().take(3) {
        println!("          because {reason}");
    }

    // The plans: the crate's proposals, completed through its registry where a kind is missing.
    let mut plans: Vec<ActionPlan> = report.proposed_actions.clone();
    let registry = ActionRegistry::builtin();
    let ctx = ActionContext::default();
    let title = format!("Revert {DEPLOY_ID}: N+1 queries on checkout");
    let body = format!(
        "Incident #{incident_id}: checkout db_queries x8 and latency_p95 x3 since {}. Ranked cause: the deploy {DEPLOY_ID}.",
        clock(DEPLOY)
    );
    let wanted = [
        ("rollback_deploy", json!({"service": "checkout", "change_id": DEPLOY_ID})),
        (
            "github_pull_request",
            json!({"repo": "acme/checkout", "title": title, "body": body, "head": "revert-v2.14.0", "base": "main"}),
        ),
        (
            "notify_slack",
            json!({"text": format!("Incident #{incident_id} on checkout: {title}. Dry-run plans attached.")}),
        ),
    ];
    for (kind, params) in wanted {
        if !plans.iter().any(|p| p.kind == kind) {
            println!("        (the investigation proposed no {kind}; planned through the action registry)");
            plans.push(registry.plan(kind, &params, &ctx)?);
        }
    }
    println!("        dry-run plans:");
    for plan in &plans {
        println!("          [{}] {} -> {}", plan.kind, plan.target, plan.summary);
        for line in plan.dry_run.iter().take(2) {
            println!("              {line}");
        }
    }
    let deploy_cited =
        report.ranking.first().is_some_and(|e| e.reasons.iter().any(|r| r.contains(DEPLOY_ID) || r.contains("deploy")));
    Ok(report.root_cause.service == "checkout" && deploy_cited)
}

/// Writes the chart; returns the path written.
fn write_svg(path: &str, chart: &[ChartPoint], marks: &Marks) -> Res<String> {
    if chart.is_empty() {
        return Err("empty chart".into());
    }
    let mut svg = TimeChart::new("checkout latency_p95 (ms) with its seasonal expected band", chart);
    svg.time_label = Box::new(clock);
    let mut mark = |timestamp: i64, label: String, color: &str| {
        svg.markers.push(Marker { timestamp, label, color: color.into() });
    };
    mark(DEPLOY, "deploy".into(), "#c60");
    for (t, target) in marks.fired.iter().filter(|(t, _)| *t >= DEPLOY) {
        mark(*t, format!("alert: {target}"), "#d22");
    }
    if let Some(t) = marks.incident {
        mark(t, "incident".into(), "#819");
    }
    if let Some(t) = marks.rollback {
        mark(t, "rollback".into(), "#282");
    }
    if let Some(dir) = std::path::Path::new(path).parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, svg.render())?;
    Ok(path.to_string())
}
