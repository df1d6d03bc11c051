//! The typed action registry: the only way a remediation comes into being.
//!
//! The model proposes `{kind, params}`; the registry's [`ActionKind`] for that kind validates
//! the parameters against its schema, and builds an [`ActionPlan`] whose [`RiskAssessment`] it
//! computes itself (blast radius, reversibility, environment) — nothing in it comes from the
//! model. Built-in kinds: `rollback_deploy`, `notify_slack`, `notify_webhook` and
//! `github_pull_request` (a proposed change for a human to review and merge; in live mode the
//! `http` feature's `HttpRemediator` opens it as a draft).
//! Executing a plan is the host's [`crate::investigation::Remediator`]'s job.
//!
//! ```
//! use oddsight_investigate::actions::{ActionContext, ActionRegistry, BlastRadius};
//! use serde_json::json;
//! let registry = ActionRegistry::builtin();
//! let ctx = ActionContext::default();
//! let plan = registry.plan("rollback_deploy", &json!({"service": "cart", "change_id": "v1.2.3"}), &ctx)?;
//! assert_eq!(plan.risk.blast_radius, BlastRadius::Service);
//! assert!(plan.risk.reversible);
//! assert!(registry.plan("drop_database", &json!({}), &ctx).is_err());
//! # Ok::<(), oddsight_investigate::Error>(())
//! ```

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// How much of the system an action can affect. Ordered from least to most.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BlastRadius {
    /// Nothing in the running system (a notification, a proposed pull request).
    None,
    /// One instance.
    Instance,
    /// One service.
    Service,
    /// Several services.
    MultiService,
    /// Everything.
    Global,
}

/// Where the action runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Environment {
    /// Development.
    Development,
    /// Staging.
    Staging,
    /// Production (the cautious default).
    #[default]
    Production,
}

/// The risk of an action, computed by the action kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RiskAssessment {
    /// How far it reaches.
    pub blast_radius: BlastRadius,
    /// Whether it can be undone.
    pub reversible: bool,
    /// Where it runs.
    pub environment: Environment,
    /// A summary score in `[0, 1]` (0: harmless).
    pub score: f64,
    /// Why.
    pub notes: Vec<String>,
}

impl RiskAssessment {
    fn new(blast_radius: BlastRadius, reversible: bool, environment: Environment, notes: Vec<String>) -> Self {
        let base: f64 = match blast_radius {
            BlastRadius::None => 0.0,
            BlastRadius::Instance => 0.2,
            BlastRadius::Service => 0.4,
            BlastRadius::MultiService => 0.7,
            BlastRadius::Global => 0.9,
        };
        let env = match environment {
            Environment::Development => 0.5,
            Environment::Staging => 0.75,
            Environment::Production => 1.0,
        };
        let score = ((base + if reversible { 0.0 } else { 0.3 }) * env).min(1.0);
        RiskAssessment { blast_radius, reversible, environment, score, notes }
    }
}

/// A validated, risk-assessed action, ready to be approved, executed or shown as a dry run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActionPlan {
    /// The action kind.
    pub kind: String,
    /// Its validated parameters.
    pub params: Value,
    /// The service it acts on (empty for notifications).
    pub target: String,
    /// One line for a person.
    pub summary: String,
    /// What executing it would do, step by step.
    pub dry_run: Vec<String>,
    /// The risk, computed by the action kind.
    pub risk: RiskAssessment,
    /// What recovery looks like after it (what verification checks).
    pub recovery: String,
    /// How to undo it, if it can be undone.
    pub rollback: Option<String>,
    /// Where the proposal came from (`ranking`, `model`).
    pub proposed_by: String,
}

impl ActionPlan {
    /// A stable fingerprint of exactly this action (kind, target and parameters): approvals are
    /// bound to it. FNV-1a over the canonical JSON, as 16 hex digits.
    pub fn fingerprint(&self) -> String {
        let canonical = json!({"kind": self.kind, "target": self.target, "params": self.params}).to_string();
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in canonical.as_bytes() {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0000_0100_0000_01B3);
        }
        format!("{h:016x}")
    }
}

/// What an action kind knows about where it runs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ActionContext {
    /// The environment.
    pub environment: Environment,
    /// Services that call the target (a rollback's blast radius grows with them).
    pub dependents: BTreeMap<String, Vec<String>>,
}

/// One kind of action: its schema, validation and self-computed risk.
pub trait ActionKind: Send + Sync + std::fmt::Debug {
    /// Its name (`rollback_deploy`).
    fn kind(&self) -> &'static str;
    /// What it does, for prompts.
    fn description(&self) -> &'static str;
    /// JSON schema of its parameters.
    fn schema(&self) -> Value;
    /// Validates parameters and builds the plan.
    ///
    /// # Errors
    /// [`Error::Action`] naming the bad parameter.
    fn plan(&self, params: &Value, ctx: &ActionContext) -> Result<ActionPlan>;
}

fn required_str<'a>(kind: &str, params: &'a Value, name: &str) -> Result<&'a str> {
    params.get(name).and_then(Value::as_str).filter(|s| !s.trim().is_empty() && s.len() <= 500).ok_or_else(|| {
        Error::Action { action: kind.to_string(), reason: format!("parameter {name} must be a non-empty string") }
    })
}

fn check_name(kind: &str, what: &str, s: &str) -> Result<()> {
    if s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/')) {
        Ok(())
    } else {
        Err(Error::Action {
            action: kind.to_string(),
            reason: format!("{what} {s:?} has characters outside [A-Za-z0-9-_./]"),
        })
    }
}

/// Rolls a service back to the release before a change.
#[derive(Debug, Clone, Copy, Default)]
pub struct RollbackDeploy;

impl ActionKind for RollbackDeploy {
    fn kind(&self) -> &'static str {
        "rollback_deploy"
    }
    fn description(&self) -> &'static str {
        "roll a service back to the release before a given change"
    }
    fn schema(&self) -> Value {
        json!({"type": "object", "properties": {"service": {"type": "string"}, "change_id": {"type": "string"}}, "required": ["service", "change_id"]})
    }
    fn plan(&self, params: &Value, ctx: &ActionContext) -> Result<ActionPlan> {
        let service = required_str(self.kind(), params, "service")?;
        let change = required_str(self.kind(), params, "change_id")?;
        check_name(self.kind(), "service", service)?;
        check_name(self.kind(), "change_id", change)?;
        let dependents = ctx.dependents.get(service).map(Vec::len).unwrap_or(0);
        let radius = if dependents > 3 { BlastRadius::MultiService } else { BlastRadius::Service };
        let mut notes = vec![format!("redeploys {service}; {dependents} dependent service(s) see a restart")];
        if ctx.environment == Environment::Production {
            notes.push("production".into());
        }
        Ok(ActionPlan {
            kind: self.kind().into(),
            params: json!({"service": service, "change_id": change}),
            target: service.to_string(),
            summary: format!("roll back {service} to the release before {change}"),
            dry_run: vec![
                format!("look up the release of {service} deployed before {change}"),
                format!("redeploy {service} at that release (rolling, one instance at a time)"),
                "watch readiness and error rate during the rollout".into(),
            ],
            risk: RiskAssessment::new(radius, true, ctx.environment, notes),
            recovery: format!("{service}'s anomalous metrics return inside their normal band"),
            rollback: Some(format!("redeploy {change} on {service}")),
            proposed_by: String::new(),
        })
    }
}

/// Posts a message to a Slack incoming webhook.
#[derive(Debug, Clone, Copy, Default)]
pub struct NotifySlack;

impl ActionKind for NotifySlack {
    fn kind(&self) -> &'static str {
        "notify_slack"
    }
    fn description(&self) -> &'static str {
        "post a message to the on-call Slack channel"
    }
    fn schema(&self) -> Value {
        json!({"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]})
    }
    fn plan(&self, params: &Value, ctx: &ActionContext) -> Result<ActionPlan> {
        let text = required_str(self.kind(), params, "text")?;
        Ok(ActionPlan {
            kind: self.kind().into(),
            params: json!({"text": text}),
            target: String::new(),
            summary: "notify the on-call channel on Slack".into(),
            dry_run: vec![format!("POST {} to the Slack incoming webhook", slack_payload(text))],
            risk: RiskAssessment::new(
                BlastRadius::None,
                true,
                ctx.environment,
                vec!["a message; changes nothing".into()],
            ),
            recovery: "people are informed".into(),
            rollback: None,
            proposed_by: String::new(),
        })
    }
}

/// Posts JSON to a generic webhook.
#[derive(Debug, Clone, Copy, Default)]
pub struct NotifyWebhook;

impl ActionKind for NotifyWebhook {
    fn kind(&self) -> &'static str {
        "notify_webhook"
    }
    fn description(&self) -> &'static str {
        "post the incident summary as JSON to a webhook"
    }
    fn schema(&self) -> Value {
        json!({"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]})
    }
    fn plan(&self, params: &Value, ctx: &ActionContext) -> Result<ActionPlan> {
        let text = required_str(self.kind(), params, "text")?;
        Ok(ActionPlan {
            kind: self.kind().into(),
            params: json!({"text": text}),
            target: String::new(),
            summary: "post the incident to the webhook".into(),
            dry_run: vec![format!("POST {} to the webhook", json!({"text": text}))],
            risk: RiskAssessment::new(
                BlastRadius::None,
                true,
                ctx.environment,
                vec!["a message; changes nothing".into()],
            ),
            recovery: "the receiver has the incident".into(),
            rollback: None,
            proposed_by: String::new(),
        })
    }
}

/// Proposes a change as a GitHub pull request (a plan for a human to review and merge).
#[derive(Debug, Clone, Copy, Default)]
pub struct GitHubPullRequest;

impl ActionKind for GitHubPullRequest {
    fn kind(&self) -> &'static str {
        "github_pull_request"
    }
    fn description(&self) -> &'static str {
        "open a pull request with a proposed fix (reviewed and merged by a person)"
    }
    fn schema(&self) -> Value {
        json!({"type": "object", "properties": {
            "repo": {"type": "string", "description": "owner/name"},
            "title": {"type": "string"}, "body": {"type": "string"},
            "head": {"type": "string"}, "base": {"type": "string"}},
            "required": ["repo", "title", "body"]})
    }
    fn plan(&self, params: &Value, ctx: &ActionContext) -> Result<ActionPlan> {
        let repo = required_str(self.kind(), params, "repo")?;
        check_name(self.kind(), "repo", repo)?;
        if repo.split('/').count() != 2 {
            return Err(Error::Action {
                action: self.kind().into(),
                reason: format!("repo must be owner/name, got {repo:?}"),
            });
        }
        let title = required_str(self.kind(), params, "title")?;
        let body = required_str(self.kind(), params, "body")?;
        let head = params.get("head").and_then(Value::as_str).unwrap_or("oddsight/fix");
        let base = params.get("base").and_then(Value::as_str).unwrap_or("main");
        check_name(self.kind(), "head", head)?;
        check_name(self.kind(), "base", base)?;
        let (path, payload) = github_pull_request_request(repo, title, body, head, base);
        Ok(ActionPlan {
            kind: self.kind().into(),
            params: json!({"repo": repo, "title": title, "body": body, "head": head, "base": base}),
            target: String::new(),
            summary: format!("propose \"{title}\" as a pull request on {repo}"),
            dry_run: vec![format!("POST {path} {payload}")],
            risk: RiskAssessment::new(
                BlastRadius::None,
                true,
                ctx.environment,
                vec!["a proposal; nothing changes until a person merges it".into()],
            ),
            recovery: "a reviewer has a concrete fix to merge".into(),
            rollback: Some("close the pull request".into()),
            proposed_by: String::new(),
        })
    }
}

/// The Slack incoming-webhook payload for `text`.
pub fn slack_payload(text: &str) -> Value {
    json!({"text": text})
}

/// The GitHub REST call that opens a pull request: `(path, body)` for
/// `POST https://api.github.com{path}`.
pub fn github_pull_request_request(repo: &str, title: &str, body: &str, head: &str, base: &str) -> (String, Value) {
    (format!("/repos/{repo}/pulls"), json!({"title": title, "body": body, "head": head, "base": base, "draft": true}))
}

/// The action kinds an investigation may use.
#[derive(Debug, Default)]
pub struct ActionRegistry {
    kinds: BTreeMap<&'static str, Box<dyn ActionKind>>,
}

impl ActionRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// The built-in kinds.
    pub fn builtin() -> Self {
        let mut r = ActionRegistry::new();
        r.register(Box::new(RollbackDeploy));
        r.register(Box::new(NotifySlack));
        r.register(Box::new(NotifyWebhook));
        r.register(Box::new(GitHubPullRequest));
        r
    }

    /// Adds (or replaces) a kind.
    pub fn register(&mut self, kind: Box<dyn ActionKind>) {
        self.kinds.insert(kind.kind(), kind);
    }

    /// Names of the registered kinds.
    pub fn kinds(&self) -> Vec<&'static str> {
        self.kinds.keys().copied().collect()
    }

    /// `{kind, description, schema}` of every kind, for prompts.
    pub fn describe(&self) -> Value {
        self.kinds
            .values()
            .map(|k| json!({"kind": k.kind(), "description": k.description(), "params": k.schema()}))
            .collect()
    }

    /// Validates a proposal and builds its plan.
    ///
    /// # Errors
    /// [`Error::Action`] for an unknown kind or bad parameters.
    pub fn plan(&self, kind: &str, params: &Value, ctx: &ActionContext) -> Result<ActionPlan> {
        let k = self.kinds.get(kind).ok_or_else(|| Error::Action {
            action: kind.chars().take(60).collect(),
            reason: "not in the action registry".into(),
        })?;
        k.plan(params, ctx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_plans_and_risks() {
        let r = ActionRegistry::builtin();
        assert_eq!(r.kinds(), vec!["github_pull_request", "notify_slack", "notify_webhook", "rollback_deploy"]);
        let mut ctx = ActionContext::default();
        let p = r.plan("notify_slack", &json!({"text": "hi"}), &ctx).unwrap();
        assert_eq!(p.risk.blast_radius, BlastRadius::None);
        assert_eq!(p.risk.score, 0.0);
        ctx.dependents.insert("db".into(), vec!["a".into(), "b".into(), "c".into(), "d".into()]);
        let p = r.plan("rollback_deploy", &json!({"service": "db", "change_id": "v1"}), &ctx).unwrap();
        assert_eq!(p.risk.blast_radius, BlastRadius::MultiService);
        assert!((p.risk.score - 0.7).abs() < 1e-12);
        let pr = r.plan("github_pull_request", &json!({"repo": "acme/shop", "title": "t", "body": "b"}), &ctx).unwrap();
        assert!(pr.dry_run[0].starts_with("POST /repos/acme/shop/pulls"));
        assert_eq!(r.describe().as_array().unwrap().len(), 4);
    }

    #[test]
    fn bad_parameters_are_rejected() {
        let r = ActionRegistry::builtin();
        let ctx = ActionContext::default();
        for (kind, params) in [
            ("rollback_deploy", json!({"service": "cart"})),
            ("rollback_deploy", json!({"service": "cart; rm -rf /", "change_id": "v1"})),
            ("rollback_deploy", json!({"service": 5, "change_id": "v1"})),
            ("notify_slack", json!({})),
            ("github_pull_request", json!({"repo": "noslash", "title": "t", "body": "b"})),
            ("restart_everything", json!({})),
        ] {
            assert_eq!(r.plan(kind, &params, &ctx).unwrap_err().code(), "ActionFailed", "{kind} {params}");
        }
    }

    #[test]
    fn fingerprints_bind_the_exact_action() {
        let r = ActionRegistry::builtin();
        let ctx = ActionContext::default();
        let a = r.plan("rollback_deploy", &json!({"service": "cart", "change_id": "v1"}), &ctx).unwrap();
        let b = r.plan("rollback_deploy", &json!({"service": "cart", "change_id": "v2"}), &ctx).unwrap();
        assert_eq!(a.fingerprint(), a.clone().fingerprint());
        assert_ne!(a.fingerprint(), b.fingerprint());
        assert_eq!(a.fingerprint().len(), 16);
    }
}
