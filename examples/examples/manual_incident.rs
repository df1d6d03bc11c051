//! An incident reported by hand, investigated, approved, fixed and verified, offline.
//!
//! No alert fired: at 10:45 an engineer reports "High CPU on payment-service, since about
//! 10:20". The report becomes an investigate [`Case`]: three hours of per-minute telemetry of
//! `api-gateway` (which calls `payment-service`), `payment-service` and `ledger-db` (which
//! `payment-service` calls), the recent changes and the warning logs.
//!
//! 1. **Analyse** (dry run). The investigation is stepped by hand, sans-IO: it ranks every
//!    metric, asks for evidence (metric statistics, log templates, changes) for its top
//!    services, turns the ranking into ranked hypotheses with that evidence, computes its own
//!    confidence and proposes a fix from the typed action registry. The confidence-aware policy
//!    holds the fix for approval: it will not act alone in dry-run mode or below 0.92.
//! 2. **Approve.** The on-call engineer approves exactly the plan shown in the dry run: the
//!    approval carries the plan's fingerprint and expires after 15 minutes.
//! 3. **Execute and verify** (live mode, simulated). The investigation runs again in live mode;
//!    it asks for the approval (which must match the plan's fingerprint), then for the action to
//!    run: the rollback of the config change is simulated, and the simulated world recovers.
//!    The investigation then asks for each signal over the ten minutes after the fix and judges
//!    it with the core detectors against its pre-incident window.
//!
//! It exits non-zero when the story does not hold: a root cause other than payment-service, a
//! fix not held for approval, or no recovery.
//!
//! Run with `cargo run --release -p oddsight-examples --example manual_incident`.

use oddsight_investigate::actions::ActionPlan;
use oddsight_investigate::investigation::{ActionOutcome, CaseEvidence, EvidenceQuery, EvidenceSource, Stage};
use oddsight_investigate::policy::{Approval, Decision, Mode};
use oddsight_investigate::{
    Answer, Case, ChangeEvent, ChangeKind, Investigation, InvestigationOptions, LogLine, Need, Report, Series, Topology,
};

type Res<T> = Result<T, Box<dyn std::error::Error>>;

const MINUTE: i64 = 60;
const HOUR: i64 = 60 * MINUTE;
/// Tuesday 2026-03-10 07:45 UTC: three hours before the report.
const HISTORY: i64 = 1_773_128_700;
/// The report: 10:45.
const REPORTED: i64 = HISTORY + 3 * HOUR;
/// When the engineer thinks it began: "about 10:20".
const SINCE_ABOUT: i64 = REPORTED - 25 * MINUTE;
/// The config change that did it: 10:18.
const CHANGE: i64 = REPORTED - 27 * MINUTE;
const CHANGE_ID: &str = "payment-cfg-1187";
/// The approval comes two minutes after the report.
const APPROVED_AT: i64 = REPORTED + 2 * MINUTE;
const APPROVER: &str = "dana (on-call)";

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
    /// Standard normal by Box–Muller.
    fn normal(&mut self) -> f64 {
        let u = ((self.next_u64() >> 11) as f64 / (1u64 << 53) as f64).max(f64::MIN_POSITIVE);
        let v = (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
}

/// `(service, metric)` of every column.
const SIGNALS: [(&str, &str); 10] = [
    ("api-gateway", "latency_p95"),
    ("api-gateway", "cpu"),
    ("api-gateway", "requests"),
    ("payment-service", "cpu"),
    ("payment-service", "latency_p95"),
    ("payment-service", "requests"),
    ("payment-service", "gc_pause_ms"),
    ("ledger-db", "cpu"),
    ("ledger-db", "connections"),
    ("ledger-db", "latency_p95"),
];

/// The simulated system: the fraud rules of the config change burn CPU on payment-service
/// from a minute after the change until the change is rolled back.
struct World {
    rollback: Option<i64>,
}

impl World {
    fn bad(&self, t: i64) -> bool {
        t >= CHANGE + MINUTE && self.rollback.is_none_or(|r| t < r + MINUTE)
    }

    fn value(&self, service: &str, metric: &str, t: i64, rng: &mut Rng) -> f64 {
        let bad = self.bad(t);
        // The gateway waits on payment-service: its latency follows two minutes later.
        let slow_callee = self.bad(t - 2 * MINUTE);
        let noise = |rng: &mut Rng, sd: f64| (sd * rng.normal()).exp();
        match (service, metric) {
            ("api-gateway", "latency_p95") => 240.0 * if slow_callee { 1.35 } else { 1.0 } * noise(rng, 0.05),
            ("api-gateway", "cpu") => 41.0 * noise(rng, 0.04),
            ("api-gateway", "requests") => 2400.0 * noise(rng, 0.04),
            ("payment-service", "cpu") => 31.0 * if bad { 2.7 } else { 1.0 } * noise(rng, 0.04),
            ("payment-service", "latency_p95") => 180.0 * if bad { 1.9 } else { 1.0 } * noise(rng, 0.05),
            ("payment-service", "requests") => 900.0 * noise(rng, 0.04),
            ("payment-service", "gc_pause_ms") => 12.0 * noise(rng, 0.08),
            ("ledger-db", "cpu") => 45.0 * noise(rng, 0.04),
            ("ledger-db", "connections") => 120.0 * noise(rng, 0.03),
            ("ledger-db", "latency_p95") => 9.0 * noise(rng, 0.06),
            _ => f64::NAN,
        }
    }
}

fn clock(t: i64) -> String {
    let s = t.rem_euclid(24 * HOUR);
    format!("{:02}:{:02}", s / HOUR, s / MINUTE % 60)
}

/// The case the report becomes: telemetry up to the report, changes, warning logs, topology.
fn case_from_report(world: &World, rng: &mut Rng) -> Case {
    let times: Vec<i64> = (HISTORY..=REPORTED).step_by(MINUTE as usize).collect();
    let series = SIGNALS
        .iter()
        .map(|(service, metric)| Series {
            service: service.to_string(),
            metric: metric.to_string(),
            values: times.iter().map(|&t| world.value(service, metric, t, rng)).collect(),
        })
        .collect();
    let mut logs: Vec<LogLine> = (0..8)
        .map(|i| LogLine {
            time: HISTORY + 20 * MINUTE * i,
            service: "payment-service".into(),
            level: "info".into(),
            message: format!("settlement batch {} closed", 4100 + i),
        })
        .collect();
    for i in 0..12 {
        logs.push(LogLine {
            time: CHANGE + 2 * MINUTE + 2 * MINUTE * i,
            service: "payment-service".into(),
            level: "warn".into(),
            message: format!("fraud rule card_descriptor_v9 took {} ms for txn {}", 180 + 7 * i, 88_100 + 13 * i),
        });
    }
    logs.sort_by_key(|l| l.time);
    Case {
        name: "payment-service-high-cpu".into(),
        times,
        series,
        inject_time: SINCE_ABOUT,
        changes: vec![
            ChangeEvent {
                time: REPORTED - 150 * MINUTE,
                service: "api-gateway".into(),
                kind: ChangeKind::Deploy,
                id: "gateway-v5.2.0".into(),
                summary: "HTTP/2 keep-alive tuning".into(),
            },
            ChangeEvent {
                time: CHANGE,
                service: "payment-service".into(),
                kind: ChangeKind::Config,
                id: CHANGE_ID.into(),
                summary: "fraud rules v9: card descriptor matching by regular expression".into(),
            },
        ],
        logs,
        topology: Some(Topology {
            calls: vec![
                ("api-gateway".into(), "payment-service".into()),
                ("payment-service".into(), "ledger-db".into()),
            ],
        }),
        truth: None,
    }
}

fn main() -> Res<()> {
    let mut rng = Rng(2026);
    let mut world = World { rollback: None };
    println!(
        "{}  REPORTED by hand: \"High CPU on payment-service, since about {}\"",
        clock(REPORTED),
        clock(SINCE_ABOUT)
    );
    let case = case_from_report(&world, &mut rng);
    case.validate()?;
    println!(
        "        case {}: {} signals x {} minutes ({} .. {}), {} changes, {} log lines, call graph of {} edges",
        case.name,
        case.series.len(),
        case.times.len(),
        clock(HISTORY),
        clock(REPORTED),
        case.changes.len(),
        case.logs.len(),
        case.topology.as_ref().map_or(0, |t| t.calls.len())
    );

    // 1. Analyse, in dry run: the default mode.
    let options = InvestigationOptions::default();
    let report = analyse(&case, &options)?;
    let plan = match (report.decision, report.proposed_actions.first()) {
        (Decision::RequireApproval, Some(plan)) => plan.clone(),
        (decision, _) => return Err(format!("expected the fix to be held for approval, got {decision:?}").into()),
    };
    if report.root_cause.service != "payment-service" {
        return Err(format!("the investigation blamed {}", report.root_cause.service).into());
    }

    // 2. Approve exactly that plan.
    let approval = Approval {
        fingerprint: plan.fingerprint(),
        granted: true,
        approver: APPROVER.into(),
        decided_at: APPROVED_AT,
        expires_at: APPROVED_AT + options.policy.approval_ttl_secs,
    };
    println!(
        "\n{}  APPROVED by {APPROVER}: \"{}\" (fingerprint {}, valid until {})",
        clock(APPROVED_AT),
        plan.summary,
        approval.fingerprint,
        clock(approval.expires_at)
    );

    // 3. Live: the investigation asks for the approval, the execution and the verification.
    let live = options.clone().mode(Mode::Live);
    let report = execute_and_verify(&case, live, &approval, &mut world, &mut rng)?;
    println!("\n{}  {:?}: {}", clock(REPORTED + 15 * MINUTE), report.stage, report.summary);
    if report.stage != Stage::Resolved || report.verification.is_empty() {
        return Err(format!("no verified recovery: the investigation ended {:?}", report.stage).into());
    }
    if !report.verification.iter().all(|c| c.recovered) {
        return Err("a signal did not recover after the rollback".into());
    }
    println!(
        "        learned for next time: {} / {} ({}), actions {:?}, fix held: {:?}",
        report.learned.service,
        report.learned.metric,
        report.learned.category,
        report.learned.actions,
        report.learned.fix_held
    );
    println!("        audit journal: {} entries", report.journal.entries.len());
    Ok(())
}

/// Steps the dry-run investigation by hand and prints what it does; returns its report.
fn analyse(case: &Case, options: &InvestigationOptions) -> Res<Report> {
    let source = CaseEvidence::new(case, &options.ranking, options.max_log_templates);
    let mut inv = Investigation::new(case.clone(), options.clone())?;
    println!("\n{}  INVESTIGATING (offline, no model, dry run)", clock(REPORTED));
    for m in inv.ranking().metrics.iter().filter(|m| m.anomalous).take(4) {
        println!("        anomalous: {}/{} score {:.2}", m.service, m.metric, m.score);
    }
    let report = loop {
        match inv.next() {
            Need::Evidence { query: EvidenceQuery::SimilarIncidents { .. } } => {
                println!("        no similar past incident in the knowledge base");
                inv.provide(Answer::Similar { matches: vec![] })?;
            }
            Need::Evidence { query } => {
                let items = source.gather(&query)?;
                let what = match &query {
                    EvidenceQuery::Metrics { service } => format!("metrics of {service}"),
                    EvidenceQuery::Logs { service, .. } => format!("logs of {service}"),
                    EvidenceQuery::Changes { service, .. } => format!("changes of {service}"),
                    EvidenceQuery::SimilarIncidents { .. } => "similar incidents".into(),
                };
                println!("        evidence: {what}: {} item(s)", items.len());
                inv.provide(Answer::Evidence { items })?;
            }
            Need::Done(report) => break *report,
            other => return Err(format!("a dry run needs nothing else, got {other:?}").into()),
        }
    };
    println!("\n        hypotheses, best first:");
    for (i, h) in report.hypotheses.iter().enumerate() {
        let evidence: Vec<String> = h
            .evidence
            .iter()
            .filter_map(|id| evidence_text(&report, id).map(|text| format!("{id}: {text}")))
            .take(3)
            .collect();
        // The statement is "<service> <category> problem: <reason>; <reason>; ...".
        let (claim, reasons) = h.statement.split_once(": ").unwrap_or((h.statement.as_str(), ""));
        println!("        H{} {claim} (ranking score {:.2})", i + 1, h.stated_confidence.unwrap_or(0.0));
        for reason in reasons.split("; ").filter(|r| !r.is_empty()) {
            println!("             because {reason}");
        }
        for line in evidence {
            println!("             evidence {}", line.chars().take(150).collect::<String>());
        }
    }
    println!(
        "\n        root cause: {} / {} ({}), computed confidence {:.2} (support {:.2}, margin {:.2}, coverage {})",
        report.root_cause.service,
        report.root_cause.metric,
        report.root_cause.category,
        report.confidence,
        report.confidence_terms.support,
        report.confidence_terms.margin,
        report.confidence_terms.coverage.map_or("-".into(), |c| format!("{c:.2}"))
    );
    for plan in &report.proposed_actions {
        print_plan(plan);
    }
    println!("        policy: {:?}", report.decision);
    for reason in &report.decision_reasons {
        println!("          - {reason}");
    }
    Ok(report)
}

/// The text of evidence item `id`, as the journal recorded it (redacted).
fn evidence_text(report: &Report, id: &str) -> Option<String> {
    use oddsight_investigate::investigation::Event;
    report.journal.entries.iter().find_map(|e| match &e.event {
        Event::Answered { answer: Answer::Evidence { items } } => {
            items.iter().find(|it| it.id == id).map(|it| format!("[{}] {}", it.kind, it.text))
        }
        _ => None,
    })
}

fn print_plan(plan: &ActionPlan) {
    println!(
        "        proposed [{}] {} (risk {:.2}, blast radius {:?}, {})",
        plan.kind,
        plan.summary,
        plan.risk.score,
        plan.risk.blast_radius,
        if plan.risk.reversible { "reversible" } else { "irreversible" }
    );
    for step in plan.dry_run.iter().take(3) {
        println!("            dry run: {step}");
    }
}

/// Runs the investigation live, answering its needs from the approval and the simulated world.
fn execute_and_verify(
    case: &Case,
    options: InvestigationOptions,
    approval: &Approval,
    world: &mut World,
    rng: &mut Rng,
) -> Res<Report> {
    let source = CaseEvidence::new(case, &options.ranking, options.max_log_templates);
    let mut inv = Investigation::new(case.clone(), options.clone())?;
    println!("\n{}  LIVE run of the same investigation", clock(APPROVED_AT));
    loop {
        match inv.next() {
            Need::Evidence { query: EvidenceQuery::SimilarIncidents { .. } } => {
                inv.provide(Answer::Similar { matches: vec![] })?
            }
            Need::Evidence { query } => inv.provide(Answer::Evidence { items: source.gather(&query)? })?,
            Need::Approval { action, fingerprint } => {
                let matches = fingerprint == approval.fingerprint;
                println!(
                    "        approval requested for [{}] {}: {}",
                    action.kind,
                    action.summary,
                    if matches { "the approved plan, same fingerprint" } else { "a different plan: not approved" }
                );
                let answer = if matches { approval.clone() } else { Approval { granted: false, ..approval.clone() } };
                inv.provide(Answer::Approval { approval: answer, now: APPROVED_AT })?;
            }
            Need::Execute { action } => {
                let at = APPROVED_AT + MINUTE;
                world.rollback = Some(at);
                println!("{}  EXECUTED (simulated) [{}] {}", clock(at), action.kind, action.summary);
                inv.provide(Answer::Executed {
                    outcome: ActionOutcome { ok: true, detail: format!("{CHANGE_ID} reverted (simulated)") },
                })?;
            }
            Need::Verify { window } => {
                // The world after the fix: the signal over the window, minute by minute.
                let from = window.from.max(world.rollback.unwrap_or(window.from) + 2 * MINUTE);
                let values: Vec<f64> = (from..window.to.max(from + 10 * MINUTE))
                    .step_by(MINUTE as usize)
                    .map(|t| world.value(&window.service, &window.metric, t, rng))
                    .collect();
                let median = {
                    let mut v = values.clone();
                    v.sort_by(f64::total_cmp);
                    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
                };
                println!(
                    "{}  VERIFY {}/{}: {} values from {}, median {median:.1}, normal band {:.1}..{:.1}",
                    clock(from + values.len() as i64 * MINUTE),
                    window.service,
                    window.metric,
                    values.len(),
                    clock(from),
                    window.band.0,
                    window.band.1
                );
                inv.provide(Answer::Verified { values })?;
            }
            Need::Completion { .. } => {
                inv.provide(Answer::CompletionFailed { code: "NoClient".into(), message: "offline".into() })?
            }
            Need::Done(report) => {
                for check in &report.verification {
                    println!(
                        "        {}/{}: |z| p75 {}, {} of {} outside the band -> {}",
                        check.service,
                        check.metric,
                        check.z_p75.map_or("-".into(), |z| format!("{z:.2}")),
                        check.outside,
                        check.samples,
                        if check.recovered { "recovered" } else { "NOT recovered" }
                    );
                }
                return Ok(*report);
            }
        }
    }
}
