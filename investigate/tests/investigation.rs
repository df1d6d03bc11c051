//! The investigation end to end: offline reports, scripted models, safety, the lifecycle in
//! live mode, journal replay.

#![allow(clippy::unwrap_used)]

use oddsight_investigate::actions::ActionPlan;
use oddsight_investigate::generate::{GeneratedCase, GeneratorParams};
use oddsight_investigate::investigation::{
    ActionOutcome, Answer, Approver, CaseEvidence, Driver, Investigation, InvestigationOptions, Need, Remediator,
    Stage, investigate_case, investigate_case_dir,
};
use oddsight_investigate::kb::{InMemoryKnowledgeBase, KnowledgeBase};
use oddsight_investigate::llm::{ChatReply, ScriptedClient};
use oddsight_investigate::policy::{Approval, Decision, Mode, PolicyParams};
use oddsight_investigate::{Error, Result};
use serde_json::json;

fn cases(n: usize, injection: f64, secrets: f64) -> Vec<GeneratedCase> {
    GeneratorParams::default().seed(9).injection_rate(injection).secret_rate(secrets).build().unwrap().cases(n)
}

fn good_answer(g: &GeneratedCase, confidence: f64) -> ChatReply {
    let t = g.case.truth.as_ref().unwrap();
    ChatReply::text(format!(
        "Here is my analysis.\n```json\n{}\n```",
        json!({"root_cause": {"service": t.service, "metric": t.metric, "category": t.category},
               "evidence": ["E1", "E2"], "confidence": confidence, "summary": "it broke",
               "hypotheses": [{"service": t.service, "statement": "the culprit", "evidence": ["E1"]}],
               "actions": [{"kind": "notify_slack", "params": {"text": "heads up"}}, {"kind": "drop_database", "params": {}}]})
    ))
}

#[derive(Debug)]
struct AlwaysApprove {
    tamper: bool,
    now: i64,
}

impl Approver for AlwaysApprove {
    fn approve(&self, _action: &ActionPlan, fingerprint: &str) -> Result<(Approval, i64)> {
        let fingerprint = if self.tamper { "0000000000000000".to_string() } else { fingerprint.to_string() };
        Ok((
            Approval { fingerprint, granted: true, approver: "sre".into(), decided_at: 100, expires_at: 200 },
            self.now,
        ))
    }
}

#[derive(Debug)]
struct Host {
    ok: bool,
}

impl Remediator for Host {
    fn execute(&self, action: &ActionPlan) -> Result<ActionOutcome> {
        Ok(ActionOutcome { ok: self.ok, detail: format!("ran {}", action.kind) })
    }
}

#[test]
fn offline_report_from_a_case_directory() {
    let g = &cases(1, 0.0, 0.0)[0];
    let dir = std::env::temp_dir().join(format!("oddsight-inv-{}", std::process::id()));
    g.case.write_dir(&dir).unwrap();
    let report = investigate_case_dir(&dir, &InvestigationOptions::default()).unwrap();
    std::fs::remove_dir_all(&dir).ok();
    let t = g.case.truth.as_ref().unwrap();
    assert_eq!(report.root_cause.service, t.service);
    assert_eq!(report.root_cause.category, t.category);
    let v = serde_json::to_value(&report).unwrap();
    for key in ["ranking", "root_cause", "confidence", "decision", "hypotheses", "proposed_actions", "journal"] {
        assert!(v.get(key).is_some(), "{key}");
    }
    assert!(v["ranking"][0]["reasons"].is_array());
    assert_ne!(report.decision, Decision::AutoRemediate, "dry run never auto-remediates");
    assert!(!report.model.used);
    assert!((0.0..=1.0).contains(&report.confidence));
    assert!(matches!(
        investigate_case_dir("/nonexistent/case", &InvestigationOptions::default()),
        Err(Error::Io { .. })
    ));
}

#[test]
fn scripted_model_is_used_and_never_sees_a_secret() {
    for g in cases(12, 0.0, 1.0) {
        let client = ScriptedClient::new(vec![Ok(good_answer(&g, 0.9))]);
        let report =
            investigate_case(&g.case, &InvestigationOptions::default().llm("test-model"), Some(&client), None).unwrap();
        assert!(report.model.used, "{:?}", report.model);
        assert_eq!(report.confidence_terms.agreement, Some(1.0));
        assert_eq!(report.root_cause.service, g.case.truth.as_ref().unwrap().service);
        assert!(report.proposed_actions.iter().all(|a| a.kind != "drop_database"));
        let requests = serde_json::to_string(&client.requests()).unwrap();
        let journal = serde_json::to_string(&report.journal).unwrap();
        assert!(!g.secrets.is_empty());
        for s in &g.secrets {
            assert!(!requests.contains(s.as_str()), "secret {s} reached the model");
            assert!(!journal.contains(s.as_str()), "secret {s} is in the journal");
        }
        assert!(requests.contains("<untrusted"));
    }
}

#[test]
fn injection_cases_are_never_auto_remediated() {
    let live = PolicyParams::default().mode(Mode::Live).thresholds(0.0, 0.0);
    let host = Host { ok: true };
    let approver = AlwaysApprove { tamper: false, now: 150 };
    for g in cases(30, 1.0, 0.0) {
        assert!(g.has_injection);
        let client = ScriptedClient::new(vec![Ok(good_answer(&g, 1.0))]);
        let opts = InvestigationOptions::default().llm("m").policy(live.clone());
        let source = CaseEvidence::new(&g.case, &opts.ranking, 8);
        let inv = Investigation::new(g.case.clone(), opts.clone()).unwrap();
        let driver = Driver {
            llm: Some(&client),
            evidence: vec![&source],
            remediator: Some(&host),
            approver: Some(&approver),
            ..Driver::default()
        };
        let report = driver.run(inv).unwrap();
        assert!(report.injection_suspected, "{}", g.case.name);
        assert_ne!(report.decision, Decision::AutoRemediate, "{}", g.case.name);
    }
}

#[test]
fn unusable_replies_get_one_repair_then_fall_back() {
    let g = &cases(1, 0.0, 0.0)[0];
    let opts = InvestigationOptions::default().llm("m");
    // Repaired on the second try.
    let client = ScriptedClient::new(vec![Ok(ChatReply::text("I think it's the database")), Ok(good_answer(g, 0.8))]);
    let r = investigate_case(&g.case, &opts, Some(&client), None).unwrap();
    assert!(r.model.used);
    assert_eq!(client.requests().len(), 2);
    assert!(client.requests()[1].messages.last().unwrap().content.contains("could not be used"));
    // Unusable twice: the deterministic report.
    let client = ScriptedClient::new(vec![Ok(ChatReply::text("no")), Ok(ChatReply::text("{\"summary\": 3}"))]);
    let r = investigate_case(&g.case, &opts, Some(&client), None).unwrap();
    assert!(!r.model.used);
    assert!(r.model.fallback.as_deref().unwrap().contains("repair"));
    assert_eq!(r.root_cause.service, g.case.truth.as_ref().unwrap().service);
    // A failed call: the deterministic report.
    let client =
        ScriptedClient::new(vec![Err(Error::RateLimited { provider: "openai".into(), retry_after_secs: Some(1.0) })]);
    let r = investigate_case(&g.case, &opts, Some(&client), None).unwrap();
    assert!(r.model.fallback.as_deref().unwrap().starts_with("RateLimited"));
    // A model that names a service that does not exist is overruled.
    let client =
        ScriptedClient::new(vec![Ok(ChatReply::text(r#"{"root_cause": {"service": "ghost"}, "confidence": 1}"#))]);
    let r = investigate_case(&g.case, &opts, Some(&client), None).unwrap();
    assert_eq!(r.root_cause.service, g.case.truth.as_ref().unwrap().service);
    assert_eq!(r.confidence_terms.agreement, Some(0.0));
}

fn live_case() -> GeneratedCase {
    // A case whose culprit has a change to roll back.
    cases(40, 0.0, 0.0)
        .into_iter()
        .find(|g| {
            g.case.changes.iter().any(|c| {
                c.service == g.case.truth.as_ref().unwrap().service && (c.time - g.case.inject_time).abs() < 400
            })
        })
        .unwrap()
}

#[test]
fn live_lifecycle_approval_execution_verification() {
    let g = live_case();
    let opts = InvestigationOptions::default().policy(PolicyParams::default().mode(Mode::Live).thresholds(0.99, 0.0));
    let source = CaseEvidence::new(&g.case, &opts.ranking, 8);
    let host = Host { ok: true };
    let approver = AlwaysApprove { tamper: false, now: 150 };
    let driver =
        Driver { evidence: vec![&source], remediator: Some(&host), approver: Some(&approver), ..Driver::default() };
    let report = driver.run(Investigation::new(g.case.clone(), opts.clone()).unwrap()).unwrap();
    assert_eq!(report.decision, Decision::RequireApproval);
    let stages: Vec<Stage> = report
        .journal
        .entries
        .iter()
        .filter_map(|e| match &e.event {
            oddsight_investigate::investigation::Event::Stage { to } => Some(*to),
            _ => None,
        })
        .collect();
    // The case's data never recovers, so verification fails and the rollback runs.
    assert_eq!(
        stages,
        vec![
            Stage::Investigating,
            Stage::AwaitingApproval,
            Stage::Approved,
            Stage::Executing,
            Stage::Verifying,
            Stage::Failed,
            Stage::Escalated
        ]
    );
    assert_eq!(report.learned.fix_held, Some(false));
    // An approval for another action, or an expired one, is a denial.
    for approver in [AlwaysApprove { tamper: true, now: 150 }, AlwaysApprove { tamper: false, now: 201 }] {
        let driver =
            Driver { evidence: vec![&source], remediator: Some(&host), approver: Some(&approver), ..Driver::default() };
        let report = driver.run(Investigation::new(g.case.clone(), opts.clone()).unwrap()).unwrap();
        assert_eq!(report.stage, Stage::Escalated);
        assert!(report.journal.entries.iter().any(|e| e.stage == Stage::Denied));
    }
}

#[test]
fn journal_serialises_and_replays() {
    let g = live_case();
    let opts =
        InvestigationOptions::default().llm("m").policy(PolicyParams::default().mode(Mode::Live).thresholds(0.99, 0.0));
    let client = ScriptedClient::new(vec![Ok(ChatReply::text("garbage")), Ok(good_answer(&g, 0.7))]);
    let source = CaseEvidence::new(&g.case, &opts.ranking, 8);
    let host = Host { ok: true };
    let approver = AlwaysApprove { tamper: false, now: 150 };
    let driver = Driver {
        llm: Some(&client),
        evidence: vec![&source],
        remediator: Some(&host),
        approver: Some(&approver),
        ..Driver::default()
    };
    let report = driver.run(Investigation::new(g.case.clone(), opts.clone()).unwrap()).unwrap();
    let text = report.journal.to_json().unwrap();
    let journal = oddsight_investigate::investigation::Journal::from_json(&text).unwrap();
    let replayed = Investigation::replay(g.case.clone(), opts.clone(), &journal).unwrap();
    // Everything but the redaction counts (the journal holds already-redacted answers).
    let strip = |r: &oddsight_investigate::Report| {
        let mut v = serde_json::to_value(r).unwrap();
        v.as_object_mut().unwrap().remove("redaction");
        v
    };
    assert!(strip(&replayed) == strip(&report), "replay differs");
    // A journal from other options diverges.
    assert_eq!(
        Investigation::replay(g.case.clone(), InvestigationOptions::default(), &journal).unwrap_err().code(),
        "ReplayDiverged"
    );
}

#[test]
fn wrong_answers_are_rejected_without_changing_state() {
    let g = &cases(1, 0.0, 0.0)[0];
    let mut inv = Investigation::new(g.case.clone(), InvestigationOptions::default()).unwrap();
    assert!(inv.provide(Answer::Verified { values: vec![] }).is_err());
    let need = inv.next();
    assert!(matches!(need, Need::Evidence { .. }));
    let before = inv.journal().clone();
    let e = inv.provide(Answer::Executed { outcome: ActionOutcome { ok: true, detail: String::new() } }).unwrap_err();
    assert_eq!(e.code(), "UnexpectedAnswer");
    assert_eq!(inv.journal(), &before);
    assert_eq!(inv.next(), need);
}

#[test]
fn the_knowledge_base_learns_and_is_consulted() {
    let all = cases(2, 0.0, 0.0);
    let g = &all[0];
    let kb = InMemoryKnowledgeBase::new();
    let first = investigate_case(&g.case, &InvestigationOptions::default(), None, Some(&kb)).unwrap();
    assert_eq!(first.confidence_terms.history, None);
    let found = kb.similar(&first.learned.fingerprint, 1).unwrap();
    assert_eq!(found[0].1, 1.0);
    let second = investigate_case(&g.case, &InvestigationOptions::default(), None, Some(&kb)).unwrap();
    assert_eq!(second.confidence_terms.history, Some(1.0));
    assert!(second.ranking[0].reasons.iter().any(|r| r.contains("knowledge base prior")));
}

#[test]
fn calibration_of_computed_confidence() {
    // Computed confidence against correctness on 100 generated cases (deterministic report).
    let generator = GeneratorParams::default().seed(42).build().unwrap();
    let mut bins = [(0usize, 0usize); 5];
    let mut sum = 0.0;
    for g in generator.cases(100) {
        let r = investigate_case(&g.case, &InvestigationOptions::default(), None, None).unwrap();
        let ok = r.root_cause.service == g.case.truth.as_ref().unwrap().service;
        let b = ((r.confidence * 5.0) as usize).min(4);
        bins[b].0 += 1;
        bins[b].1 += usize::from(ok);
        sum += r.confidence;
    }
    eprintln!("calibration (bin: cases, correct): {bins:?}; mean confidence {:.3}", sum / 100.0);
    // Measured: every root cause right; computed confidence 0.4–0.6: 1, 0.6–0.8: 43, 0.8–1.0: 56
    // (mean 0.813), so the confidence is conservative on these cases.
    assert_eq!(bins, [(0, 0), (0, 0), (1, 1), (43, 43), (56, 56)]);
}

#[test]
fn a_quiet_case_needs_no_action() {
    use oddsight_investigate::{Case, Series};
    let n = 300;
    let case = Case {
        name: "quiet".into(),
        times: (0..n as i64).map(|i| i * 30).collect(),
        series: vec![Series {
            service: "a".into(),
            metric: "cpu".into(),
            values: (0..n).map(|i| 10.0 + (i % 5) as f64).collect(),
        }],
        inject_time: 200 * 30,
        changes: vec![],
        logs: vec![],
        topology: None,
        truth: None,
    };
    let r = investigate_case(&case, &InvestigationOptions::default(), None, None).unwrap();
    assert_eq!(r.decision, Decision::NoAction);
    assert_eq!(r.stage, Stage::Resolved);
    let mut late = case.clone();
    late.inject_time = 10_000_000;
    assert_eq!(
        investigate_case(&late, &InvestigationOptions::default(), None, None).unwrap().decision,
        Decision::NoAction
    );
    let mut empty = case;
    empty.series.clear();
    assert_eq!(
        investigate_case(&empty, &InvestigationOptions::default(), None, None).unwrap_err().code(),
        "InvalidCase"
    );
}

#[test]
fn the_driver_waits_out_retry_after_through_its_sleeper() {
    use oddsight_investigate::retry::{RecordingSleeper, RetryPolicy};
    use std::time::Duration;
    let g = &cases(1, 0.0, 0.0)[0];
    let opts = InvestigationOptions::default().llm("m");
    let source = CaseEvidence::new(&g.case, &opts.ranking, 8);
    let limited = |secs| Err(Error::RateLimited { provider: "openai".into(), retry_after_secs: Some(secs) });
    let client = ScriptedClient::new(vec![
        limited(4.0),
        Err(Error::Http { provider: "openai".into(), status: 503, message: "busy".into() }),
        Ok(good_answer(g, 0.8)),
    ]);
    let sleeper = RecordingSleeper::new();
    let driver = Driver {
        llm: Some(&client),
        evidence: vec![&source],
        retry: RetryPolicy::default(),
        sleeper: Some(&sleeper),
        ..Driver::default()
    };
    let report = driver.run(Investigation::new(g.case.clone(), opts.clone()).unwrap()).unwrap();
    assert!(report.model.used);
    // The rate limit's own wait, then the policy's backoff for a second retry (1 s doubled).
    assert_eq!(sleeper.waits(), vec![Duration::from_secs(4), Duration::from_secs(2)]);
    assert_eq!(client.requests().len(), 3);

    // A wait longer than the policy's cap is not shortened: the driver gives up at once and the
    // investigation falls back to the deterministic report.
    let client = ScriptedClient::new(vec![limited(3600.0), Ok(good_answer(g, 0.8))]);
    let sleeper = RecordingSleeper::new();
    let driver = Driver {
        llm: Some(&client),
        evidence: vec![&source],
        retry: RetryPolicy::default(),
        sleeper: Some(&sleeper),
        ..Driver::default()
    };
    let report = driver.run(Investigation::new(g.case.clone(), opts.clone()).unwrap()).unwrap();
    assert!(!report.model.used);
    assert!(sleeper.waits().is_empty());
    assert_eq!(client.requests().len(), 1);
    // The default driver does not retry (clients such as the HTTP one retry themselves).
    let client = ScriptedClient::new(vec![limited(1.0), Ok(good_answer(g, 0.8))]);
    let driver = Driver { llm: Some(&client), evidence: vec![&source], ..Driver::default() };
    assert!(!driver.run(Investigation::new(g.case.clone(), opts.clone()).unwrap()).unwrap().model.used);
    assert_eq!(client.requests().len(), 1);
}
