//! Verification after an action: the incident's signals are re-checked with the core
//! detectors against their pre-incident window; a recovery resolves the incident, anything
//! else rolls the action back when it can be undone, then escalates.

#![allow(clippy::unwrap_used)]

use oddsight_investigate::actions::{
    ActionContext, ActionKind, ActionPlan, ActionRegistry, BlastRadius, RiskAssessment,
};
use oddsight_investigate::generate::{GeneratedCase, GeneratorParams};
use oddsight_investigate::investigation::{
    ActionOutcome, Approver, CaseEvidence, Driver, Event, EvidenceItem, EvidenceQuery, EvidenceSource, Investigation,
    InvestigationOptions, Remediator, Stage, VerifyWindow,
};
use oddsight_investigate::llm::{ChatReply, ScriptedClient};
use oddsight_investigate::policy::{Approval, Mode, PolicyParams};
use oddsight_investigate::{Case, Result};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Mutex;

#[derive(Debug)]
struct Yes;

impl Approver for Yes {
    fn approve(&self, _action: &ActionPlan, fingerprint: &str) -> Result<(Approval, i64)> {
        Ok((
            Approval {
                fingerprint: fingerprint.into(),
                granted: true,
                approver: "sre".into(),
                decided_at: 0,
                expires_at: 9,
            },
            1,
        ))
    }
}

/// Runs every action and remembers which.
#[derive(Debug, Default)]
struct Host {
    ran: Mutex<Vec<String>>,
}

impl Remediator for Host {
    fn execute(&self, action: &ActionPlan) -> Result<ActionOutcome> {
        self.ran.lock().unwrap().push(action.kind.clone());
        Ok(ActionOutcome { ok: true, detail: "done".into() })
    }
}

/// The case's evidence, and scripted values for the verification windows.
#[derive(Debug)]
struct After<'a> {
    case: CaseEvidence<'a>,
    windows: Mutex<Vec<VerifyWindow>>,
    values: BTreeMap<String, Vec<f64>>,
}

impl EvidenceSource for After<'_> {
    fn gather(&self, query: &EvidenceQuery) -> Result<Vec<EvidenceItem>> {
        self.case.gather(query)
    }
    fn observe(&self, window: &VerifyWindow) -> Result<Vec<f64>> {
        self.windows.lock().unwrap().push(window.clone());
        Ok(self.values.get(&window.metric).cloned().unwrap_or_default())
    }
}

fn live() -> InvestigationOptions {
    InvestigationOptions::default().policy(PolicyParams::default().mode(Mode::Live).thresholds(0.99, 0.0))
}

/// The last `n` values of a metric before the incident (normal), or of the whole case (the
/// incident at its height).
fn values(case: &Case, service: &str, metric: &str, before: bool, n: usize) -> Vec<f64> {
    let s = case.series(service, metric).unwrap();
    let v: Vec<f64> =
        case.times.iter().zip(&s.values).filter(|(t, _)| !before || **t < case.inject_time).map(|(_, v)| *v).collect();
    v[v.len() - n..].to_vec()
}

fn stages(report: &oddsight_investigate::Report) -> Vec<Stage> {
    report
        .journal
        .entries
        .iter()
        .filter_map(|e| match &e.event {
            Event::Stage { to } => Some(*to),
            _ => None,
        })
        .collect()
}

/// A case whose culprit has a change to roll back and at least two anomalous metrics.
fn case_with_rollback() -> (GeneratedCase, Vec<String>) {
    GeneratorParams::default()
        .seed(9)
        .build()
        .unwrap()
        .cases(80)
        .into_iter()
        .find_map(|g| {
            let t = g.case.truth.clone().unwrap();
            let changed =
                g.case.changes.iter().any(|c| c.service == t.service && (c.time - g.case.inject_time).abs() < 400);
            let inv = Investigation::new(g.case.clone(), live()).unwrap();
            let root = inv.ranking().root_cause()?.clone();
            let mut metrics = vec![root.metric.clone()];
            metrics.extend(
                inv.ranking()
                    .metrics
                    .iter()
                    .filter(|m| m.service == root.service && m.anomalous && m.metric != root.metric)
                    .map(|m| m.metric.clone()),
            );
            (changed && root.service == t.service && metrics.len() >= 2).then_some((g, metrics))
        })
        .expect("a generated case with a rollback and two anomalous signals on the culprit")
}

#[test]
fn a_recovery_resolves_the_incident() {
    let (g, metrics) = case_with_rollback();
    let opts = live();
    let service = g.case.truth.clone().unwrap().service;
    let source = After {
        case: CaseEvidence::new(&g.case, &opts.ranking, 8),
        windows: Mutex::new(Vec::new()),
        values: metrics.iter().map(|m| (m.clone(), values(&g.case, &service, m, true, 20))).collect(),
    };
    let host = Host::default();
    let driver = Driver { evidence: vec![&source], remediator: Some(&host), approver: Some(&Yes), ..Driver::default() };
    let report = driver.run(Investigation::new(g.case.clone(), opts.clone()).unwrap()).unwrap();
    assert_eq!(
        stages(&report),
        vec![
            Stage::Investigating,
            Stage::AwaitingApproval,
            Stage::Approved,
            Stage::Executing,
            Stage::Verifying,
            Stage::Resolved
        ]
    );
    assert_eq!(*host.ran.lock().unwrap(), vec!["rollback_deploy"]);
    assert_eq!(report.learned.fix_held, Some(true));
    // Every anomalous signal of the culprit was asked for, the root cause's first, with the
    // detector's normal band.
    let windows = source.windows.lock().unwrap().clone();
    assert_eq!(windows.iter().map(|w| w.metric.clone()).collect::<Vec<_>>(), metrics);
    assert_eq!(report.verification.len(), metrics.len());
    for (w, c) in windows.iter().zip(&report.verification) {
        assert!(c.recovered, "{c:?}");
        assert_eq!(c.samples, 20);
        assert!(c.z_p75.unwrap() < opts.ranking.anomalous_z);
        assert_eq!((w.normal_median, w.normal_scale, w.band), (c.normal_median, c.normal_scale, c.band));
        assert!(w.band.0 < w.normal_median && w.normal_median < w.band.1);
    }
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["verification"].as_array().unwrap().len(), metrics.len());
    // The journal replays, verification included.
    let again = Investigation::replay(g.case.clone(), opts, &report.journal).unwrap();
    assert_eq!(again.verification, report.verification);
}

#[test]
fn one_signal_still_off_rolls_back_and_escalates() {
    let (g, metrics) = case_with_rollback();
    let opts = live();
    let service = g.case.truth.clone().unwrap().service;
    let mut scripted: BTreeMap<String, Vec<f64>> =
        metrics.iter().map(|m| (m.clone(), values(&g.case, &service, m, true, 20))).collect();
    // The last signal stays at its incident level.
    let last = metrics.last().unwrap().clone();
    scripted.insert(last.clone(), values(&g.case, &service, &last, false, 20));
    let source =
        After { case: CaseEvidence::new(&g.case, &opts.ranking, 8), windows: Mutex::new(Vec::new()), values: scripted };
    let host = Host::default();
    let driver = Driver { evidence: vec![&source], remediator: Some(&host), approver: Some(&Yes), ..Driver::default() };
    let report = driver.run(Investigation::new(g.case.clone(), opts.clone()).unwrap()).unwrap();
    assert_eq!(stages(&report)[4..], [Stage::Verifying, Stage::Failed, Stage::Escalated]);
    assert_eq!(*host.ran.lock().unwrap(), vec!["rollback_deploy", "undo_rollback_deploy"]);
    assert_eq!(report.learned.fix_held, Some(false));
    let failed: Vec<&str> = report.verification.iter().filter(|c| !c.recovered).map(|c| c.metric.as_str()).collect();
    assert_eq!(failed, vec![last.as_str()]);
    assert!(report.journal.entries.iter().any(|e| matches!(&e.event,
        Event::Note { step, text } if step == "verify" && text.starts_with("not recovered"))));
}

#[test]
fn no_data_is_not_a_recovery() {
    let (g, _) = case_with_rollback();
    let opts = live();
    let source = After {
        case: CaseEvidence::new(&g.case, &opts.ranking, 8),
        windows: Mutex::new(Vec::new()),
        values: BTreeMap::new(),
    };
    let host = Host::default();
    let driver = Driver { evidence: vec![&source], remediator: Some(&host), approver: Some(&Yes), ..Driver::default() };
    let report = driver.run(Investigation::new(g.case.clone(), opts.clone()).unwrap()).unwrap();
    assert_eq!(report.stage, Stage::Escalated);
    assert!(report.verification.iter().all(|c| c.samples == 0 && !c.recovered));
    assert_eq!(host.ran.lock().unwrap().len(), 2, "the rollback ran");
}

/// An action the host can run but not undo.
#[derive(Debug)]
struct Restart;

impl ActionKind for Restart {
    fn kind(&self) -> &'static str {
        "restart_service"
    }
    fn description(&self) -> &'static str {
        "restart a service"
    }
    fn schema(&self) -> Value {
        json!({"type": "object", "properties": {"service": {"type": "string"}}, "required": ["service"]})
    }
    fn plan(&self, params: &Value, ctx: &ActionContext) -> Result<ActionPlan> {
        let service = params["service"].as_str().unwrap_or_default().to_string();
        Ok(ActionPlan {
            kind: self.kind().into(),
            params: json!({"service": service}),
            target: service.clone(),
            summary: format!("restart {service}"),
            dry_run: vec![format!("restart {service}")],
            risk: RiskAssessment {
                blast_radius: BlastRadius::Service,
                reversible: false,
                environment: ctx.environment,
                score: 0.7,
                notes: vec![],
            },
            recovery: format!("{service} recovers"),
            rollback: None,
            proposed_by: String::new(),
        })
    }
}

#[test]
fn an_action_without_rollback_escalates_at_once() {
    let g = GeneratorParams::default().seed(9).build().unwrap().case(0);
    let mut case = g.case.clone();
    case.changes.clear(); // nothing to roll back: the model's restart is the primary action
    let t = case.truth.clone().unwrap();
    let opts = live().llm("m");
    let answer = json!({"root_cause": {"service": t.service, "metric": t.metric}, "evidence": ["E1"], "confidence": 0.9,
        "summary": "restart it", "actions": [{"kind": "restart_service", "params": {"service": t.service}}]});
    let client = ScriptedClient::new(vec![Ok(ChatReply::text(answer.to_string()))]);
    let mut registry = ActionRegistry::builtin();
    registry.register(Box::new(Restart));
    let source = After {
        case: CaseEvidence::new(&case, &opts.ranking, 8),
        windows: Mutex::new(Vec::new()),
        values: [(t.metric.clone(), values(&case, &t.service, &t.metric, false, 20))].into(),
    };
    let host = Host::default();
    let driver = Driver {
        llm: Some(&client),
        evidence: vec![&source],
        remediator: Some(&host),
        approver: Some(&Yes),
        ..Driver::default()
    };
    let report = driver.run(Investigation::with_registry(case.clone(), opts.clone(), registry).unwrap()).unwrap();
    assert_eq!(report.proposed_actions[0].kind, "restart_service");
    assert_eq!(*host.ran.lock().unwrap(), vec!["restart_service"], "nothing to undo");
    assert_eq!(stages(&report)[4..], [Stage::Verifying, Stage::Failed, Stage::Escalated]);
    assert!(!report.verification[0].recovered);
    assert_eq!(report.verification[0].outside, 20);
}
