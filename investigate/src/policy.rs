//! Confidence, computed by the library, and the remediation policy, a pure function.
//!
//! **Confidence** ([`compute_confidence`]) is a weighted mean of the terms that are present:
//!
//! | term | meaning | weight |
//! |---|---|---|
//! | `support` | the ranking score of the chosen service: how strongly the data point at it | 0.30 |
//! | `agreement` | the model's root cause against the ranking: 1 if it is the top service, 0.5 in the top 3, 0 otherwise (absent without a model) | 0.25 |
//! | `coverage` | the share of cited evidence ids that exist (a model that cites nothing gets 0; without a model, the share of evidence queries that returned anything) | 0.15 |
//! | `margin` | the ranking's margin of the best service over the runner-up, `min(1, margin / 0.25)` | 0.20 |
//! | `history` | the knowledge base: 1 when the best similar incident blamed the same service, 0 when it blamed another (absent when there is none) | 0.10 |
//!
//! The model's self-reported confidence is then blended in as one capped term: at most
//! [`ConfidenceParams::self_weight`] (default 0.10) of the result.
//!
//! **Policy** ([`decide`]): auto-remediate only when the computed confidence is at least
//! [`PolicyParams::auto_threshold`] (0.92), the action is allow-listed, reversible and within
//! the blast-radius cap, the mode is live, the rate limit and the cooldown allow it, no prompt
//! injection is suspected and the same fix did not fail last time; otherwise require approval
//! at ≥ [`PolicyParams::approval_threshold`] (0.70), else escalate. No anomaly: no action.

use crate::actions::{ActionPlan, BlastRadius};
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

/// The terms of a computed confidence, each in `[0, 1]` (`None`: input missing).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ConfidenceTerms {
    /// Ranking support for the chosen service.
    pub support: f64,
    /// Agreement of the model with the ranking.
    pub agreement: Option<f64>,
    /// Evidence coverage.
    pub coverage: Option<f64>,
    /// Margin over the runner-up.
    pub margin: f64,
    /// Knowledge-base history.
    pub history: Option<f64>,
    /// The model's self-reported confidence (blended in, capped).
    pub model_self: Option<f64>,
}

/// Weights of the confidence terms.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ConfidenceParams {
    /// Weight of `support`. Default 0.30.
    pub support: f64,
    /// Weight of `agreement`. Default 0.25.
    pub agreement: f64,
    /// Weight of `coverage`. Default 0.15.
    pub coverage: f64,
    /// Weight of `margin`. Default 0.20.
    pub margin: f64,
    /// Weight of `history`. Default 0.10.
    pub history: f64,
    /// Largest share the model's self-confidence may take, in `[0, 0.25]`. Default 0.10.
    pub self_weight: f64,
    /// The margin that counts as decisive. Default 0.25.
    pub decisive_margin: f64,
}

impl Default for ConfidenceParams {
    fn default() -> Self {
        ConfidenceParams {
            support: 0.30,
            agreement: 0.25,
            coverage: 0.15,
            margin: 0.20,
            history: 0.10,
            self_weight: 0.10,
            decisive_margin: 0.25,
        }
    }
}

fn unit(x: f64) -> f64 {
    if x.is_finite() { x.clamp(0.0, 1.0) } else { 0.0 }
}

/// The computed confidence in `[0, 1]` from its terms; see the [module docs](self).
pub fn compute_confidence(terms: &ConfidenceTerms, p: &ConfidenceParams) -> f64 {
    let mut num = p.support * unit(terms.support) + p.margin * unit(terms.margin);
    let mut den = p.support + p.margin;
    for (w, t) in [(p.agreement, terms.agreement), (p.coverage, terms.coverage), (p.history, terms.history)] {
        if let Some(t) = t {
            num += w * unit(t);
            den += w;
        }
    }
    let base = if den > 0.0 { num / den } else { 0.0 };
    let sw = unit(p.self_weight).min(0.25);
    match terms.model_self {
        Some(s) => unit((1.0 - sw) * base + sw * unit(s)),
        None => unit(base),
    }
}

/// Whether actions run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Nothing is executed; plans are reported (the default).
    #[default]
    DryRun,
    /// Approved or auto-approved actions are executed.
    Live,
}

/// What to do about an incident.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// Execute the action without asking.
    AutoRemediate,
    /// Ask a person to approve the action.
    RequireApproval,
    /// Hand the incident to a person.
    Escalate,
    /// Nothing anomalous: nothing to do.
    NoAction,
}

/// Parameters of the policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PolicyParams {
    /// Computed confidence needed to act alone. Default 0.92.
    pub auto_threshold: f64,
    /// Computed confidence needed to propose for approval. Default 0.70.
    pub approval_threshold: f64,
    /// Action kinds that may run without approval. Default: `rollback_deploy`,
    /// `notify_slack`, `notify_webhook`.
    pub allow_list: Vec<String>,
    /// Largest blast radius an automatic action may have. Default [`BlastRadius::Service`].
    pub max_blast_radius: BlastRadius,
    /// Dry run (default) or live.
    pub mode: Mode,
    /// Most automatic actions in the last hour. Default 3.
    pub max_actions_per_hour: usize,
    /// Least time between two automatic actions on one target, seconds. Default 1800.
    pub cooldown_secs: i64,
    /// How long an approval stays valid, seconds. Default 900.
    pub approval_ttl_secs: i64,
}

impl Default for PolicyParams {
    fn default() -> Self {
        PolicyParams {
            auto_threshold: 0.92,
            approval_threshold: 0.70,
            allow_list: vec!["rollback_deploy".into(), "notify_slack".into(), "notify_webhook".into()],
            max_blast_radius: BlastRadius::Service,
            mode: Mode::DryRun,
            max_actions_per_hour: 3,
            cooldown_secs: 1800,
            approval_ttl_secs: 900,
        }
    }
}

impl PolicyParams {
    /// Sets the mode.
    pub fn mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self
    }

    /// Sets both thresholds.
    pub fn thresholds(mut self, auto: f64, approval: f64) -> Self {
        self.auto_threshold = auto;
        self.approval_threshold = approval;
        self
    }

    /// Checks the parameters.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] unless `0 <= approval_threshold <= auto_threshold <= 1` and the
    /// durations are ≥ 0.
    pub fn validate(&self) -> Result<()> {
        if !(0.0..=1.0).contains(&self.auto_threshold) {
            return Err(Error::param("auto_threshold", "must be in [0, 1]", self.auto_threshold));
        }
        if !(0.0..=self.auto_threshold).contains(&self.approval_threshold) {
            return Err(Error::param("approval_threshold", "must be in [0, auto_threshold]", self.approval_threshold));
        }
        if self.cooldown_secs < 0 || self.approval_ttl_secs < 0 {
            return Err(Error::param(
                "cooldown_secs/approval_ttl_secs",
                "must be >= 0",
                self.cooldown_secs.min(self.approval_ttl_secs),
            ));
        }
        Ok(())
    }
}

/// An action taken earlier (for rate limits and cooldowns).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PastAction {
    /// When, Unix seconds.
    pub time: i64,
    /// Its kind.
    pub kind: String,
    /// Its target.
    pub target: String,
}

/// Everything the policy looks at.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyInput<'a> {
    /// Whether anything was anomalous at all.
    pub anomalous: bool,
    /// The computed confidence.
    pub confidence: f64,
    /// The action proposed, if any.
    pub action: Option<&'a ActionPlan>,
    /// Whether prompt injection is suspected.
    pub injection_suspected: bool,
    /// Whether the knowledge base says this fix did not hold last time.
    pub fix_failed_before: bool,
    /// Actions taken recently.
    pub recent_actions: &'a [PastAction],
    /// Now, Unix seconds (time comes in with the data).
    pub now: i64,
}

/// The policy's decision with every reason that shaped it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PolicyVerdict {
    /// The decision.
    pub decision: Decision,
    /// Why, one line each; the blockers of auto-remediation included.
    pub reasons: Vec<String>,
}

/// The policy; see the [module docs](self). Pure: the same input gives the same verdict.
pub fn decide(p: &PolicyParams, input: &PolicyInput<'_>) -> PolicyVerdict {
    let mut reasons = Vec::new();
    if !input.anomalous {
        return PolicyVerdict { decision: Decision::NoAction, reasons: vec!["nothing anomalous".into()] };
    }
    let c = unit(input.confidence);
    let Some(action) = input.action else {
        reasons.push("no registered action fits".into());
        return PolicyVerdict { decision: Decision::Escalate, reasons };
    };
    let mut blockers = Vec::new();
    if c < p.auto_threshold {
        blockers.push(format!("confidence {c:.2} < {:.2}", p.auto_threshold));
    }
    if !p.allow_list.iter().any(|k| k == &action.kind) {
        blockers.push(format!("{} is not allow-listed", action.kind));
    }
    if !action.risk.reversible {
        blockers.push(format!("{} is not reversible", action.kind));
    }
    if action.risk.blast_radius > p.max_blast_radius {
        blockers.push(format!("blast radius {:?} exceeds {:?}", action.risk.blast_radius, p.max_blast_radius));
    }
    if p.mode != Mode::Live {
        blockers.push("dry-run mode".into());
    }
    let last_hour = input.recent_actions.iter().filter(|a| a.time > input.now - 3600 && a.time <= input.now).count();
    if last_hour >= p.max_actions_per_hour {
        blockers.push(format!("rate limit: {last_hour} actions in the last hour"));
    }
    if input.recent_actions.iter().any(|a| {
        a.target == action.target
            && a.kind == action.kind
            && input.now - a.time < p.cooldown_secs
            && a.time <= input.now
    }) {
        blockers
            .push(format!("cooldown: {} on {} ran less than {} s ago", action.kind, action.target, p.cooldown_secs));
    }
    if input.injection_suspected {
        blockers.push("prompt injection suspected in the telemetry".into());
    }
    if input.fix_failed_before {
        blockers.push("this fix did not hold last time".into());
    }
    if blockers.is_empty() {
        reasons.push(format!(
            "confidence {c:.2} ≥ {:.2}; {} is allow-listed, reversible and within the blast radius",
            p.auto_threshold, action.kind
        ));
        return PolicyVerdict { decision: Decision::AutoRemediate, reasons };
    }
    reasons.extend(blockers.into_iter().map(|b| format!("no auto-remediation: {b}")));
    if c >= p.approval_threshold {
        reasons.push(format!("confidence {c:.2} ≥ {:.2}: a person approves", p.approval_threshold));
        PolicyVerdict { decision: Decision::RequireApproval, reasons }
    } else {
        reasons.push(format!("confidence {c:.2} < {:.2}: escalate", p.approval_threshold));
        PolicyVerdict { decision: Decision::Escalate, reasons }
    }
}

/// A person's answer to an approval request, bound to one exact action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Approval {
    /// [`ActionPlan::fingerprint`] of the approved action.
    pub fingerprint: String,
    /// Whether it was granted.
    pub granted: bool,
    /// Who answered.
    pub approver: String,
    /// When, Unix seconds.
    pub decided_at: i64,
    /// Until when it holds, Unix seconds.
    pub expires_at: i64,
}

impl Approval {
    /// Whether this approval grants exactly `action` at time `now`.
    pub fn grants(&self, action: &ActionPlan, now: i64) -> bool {
        self.granted && self.fingerprint == action.fingerprint() && now >= self.decided_at && now <= self.expires_at
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actions::{ActionContext, ActionRegistry};
    use proptest::prelude::*;
    use serde_json::json;

    fn plan(kind: &str) -> ActionPlan {
        let r = ActionRegistry::builtin();
        let params = match kind {
            "rollback_deploy" => json!({"service": "cart", "change_id": "v1"}),
            "github_pull_request" => json!({"repo": "a/b", "title": "t", "body": "b"}),
            _ => json!({"text": "t"}),
        };
        r.plan(kind, &params, &ActionContext::default()).unwrap()
    }

    fn live() -> PolicyParams {
        PolicyParams::default().mode(Mode::Live)
    }

    fn input(c: f64, action: Option<&ActionPlan>) -> PolicyInput<'_> {
        PolicyInput {
            anomalous: true,
            confidence: c,
            action,
            injection_suspected: false,
            fix_failed_before: false,
            recent_actions: &[],
            now: 10_000,
        }
    }

    #[test]
    fn exhaustive_over_the_boolean_conditions() {
        let reversible = plan("rollback_deploy");
        let mut irreversible = reversible.clone();
        irreversible.risk.reversible = false;
        let mut wide = reversible.clone();
        wide.risk.blast_radius = BlastRadius::Global;
        let pr = plan("github_pull_request"); // not allow-listed
        let recent = [PastAction { time: 9_900, kind: "rollback_deploy".into(), target: "cart".into() }];
        let busy: Vec<PastAction> = (0..3)
            .map(|i| PastAction { time: 9_000 + i, kind: "notify_slack".into(), target: String::new() })
            .collect();
        let mut count = 0;
        for conf in [0.5, 0.69, 0.70, 0.80, 0.919, 0.92, 0.99] {
            for (ai, action) in [&reversible, &irreversible, &wide, &pr].into_iter().enumerate() {
                for mode in [Mode::DryRun, Mode::Live] {
                    for injection in [false, true] {
                        for failed in [false, true] {
                            for history in [0usize, 1, 2] {
                                let hist: &[PastAction] = match history {
                                    0 => &[],
                                    1 => &recent,
                                    _ => &busy,
                                };
                                let v = decide(
                                    &PolicyParams::default().mode(mode),
                                    &PolicyInput {
                                        anomalous: true,
                                        confidence: conf,
                                        action: Some(action),
                                        injection_suspected: injection,
                                        fix_failed_before: failed,
                                        recent_actions: hist,
                                        now: 10_000,
                                    },
                                );
                                let all_clear = conf >= 0.92
                                    && ai == 0
                                    && mode == Mode::Live
                                    && !injection
                                    && !failed
                                    && history == 0;
                                let expected = if all_clear {
                                    Decision::AutoRemediate
                                } else if conf >= 0.70 {
                                    Decision::RequireApproval
                                } else {
                                    Decision::Escalate
                                };
                                assert_eq!(
                                    v.decision, expected,
                                    "conf {conf} action {ai} {mode:?} inj {injection} failed {failed} hist {history}: {:?}",
                                    v.reasons
                                );
                                count += 1;
                            }
                        }
                    }
                }
            }
        }
        assert_eq!(count, 7 * 4 * 2 * 2 * 2 * 3);
        assert_eq!(
            decide(&live(), &PolicyInput { anomalous: false, ..input(1.0, Some(&reversible)) }).decision,
            Decision::NoAction
        );
        assert_eq!(decide(&live(), &input(0.99, None)).decision, Decision::Escalate);
    }

    #[test]
    fn approvals_are_bound_and_expire() {
        let a = plan("rollback_deploy");
        let mut other = a.clone();
        other.params = json!({"service": "cart", "change_id": "v2"});
        let ok = Approval {
            fingerprint: a.fingerprint(),
            granted: true,
            approver: "sre".into(),
            decided_at: 100,
            expires_at: 1000,
        };
        assert!(ok.grants(&a, 500));
        assert!(!ok.grants(&other, 500));
        assert!(!ok.grants(&a, 1001));
        assert!(!ok.grants(&a, 99));
        assert!(!Approval { granted: false, ..ok.clone() }.grants(&a, 500));
    }

    #[test]
    fn confidence_terms() {
        let p = ConfidenceParams::default();
        let t = ConfidenceTerms { support: 1.0, margin: 1.0, ..Default::default() };
        assert_eq!(compute_confidence(&t, &p), 1.0);
        let with_model =
            ConfidenceTerms { agreement: Some(0.0), coverage: Some(0.0), model_self: Some(1.0), ..t.clone() };
        let c = compute_confidence(&with_model, &p);
        // (0.3 + 0.2) / 0.9 blended with a self-confidence of 1 at 10 %.
        assert!((c - (0.9 * 0.5 / 0.9 + 0.1)).abs() < 1e-12, "{c}");
        let t = ConfidenceTerms { support: f64::NAN, margin: 2.0, ..Default::default() };
        assert!((compute_confidence(&t, &p) - 0.4).abs() < 1e-12);
        assert!(PolicyParams::default().thresholds(0.5, 0.7).validate().is_err());
        assert!(PolicyParams::default().validate().is_ok());
    }

    proptest! {
        #[test]
        fn self_confidence_moves_the_result_at_most_its_cap(
            s in 0.0f64..1.0, m in 0.0f64..1.0, a in proptest::option::of(0.0f64..1.0),
            cov in proptest::option::of(0.0f64..1.0), h in proptest::option::of(0.0f64..1.0), own in 0.0f64..1.0,
        ) {
            let p = ConfidenceParams::default();
            let base = ConfidenceTerms { support: s, margin: m, agreement: a, coverage: cov, history: h, model_self: None };
            let c0 = compute_confidence(&base, &p);
            let c1 = compute_confidence(&ConfidenceTerms { model_self: Some(own), ..base }, &p);
            prop_assert!((0.0..=1.0).contains(&c0) && (0.0..=1.0).contains(&c1));
            prop_assert!((c1 - c0).abs() <= p.self_weight + 1e-12);
        }

        #[test]
        fn injection_never_auto_remediates(c in 0.0f64..=1.0, kind in 0usize..3) {
            let a = plan(["rollback_deploy", "notify_slack", "notify_webhook"][kind]);
            let v = decide(&live(), &PolicyInput { injection_suspected: true, ..input(c, Some(&a)) });
            prop_assert_ne!(v.decision, Decision::AutoRemediate);
        }
    }
}
