//! The action senders against loopback servers speaking the Slack incoming-webhook format, a
//! generic JSON webhook and the GitHub REST API; and the HTTP remediator in a live
//! investigation (a pull request opened, then closed as the rollback when verification fails),
//! and silent in a dry run.

#![cfg(feature = "http")]
#![allow(clippy::unwrap_used)]

mod support;

use oddsight_investigate::Error;
use oddsight_investigate::actions::{ActionContext, ActionPlan, ActionRegistry};
use oddsight_investigate::generate::GeneratorParams;
use oddsight_investigate::http::{GitHubClient, HttpConfig, HttpRemediator, JsonWebhook, SlackWebhook};
use oddsight_investigate::investigation::{
    ActionOutcome, Approver, CaseEvidence, Driver, Investigation, InvestigationOptions, Remediator, Stage,
};
use oddsight_investigate::policy::{Approval, Decision, Mode, PolicyParams};
use oddsight_investigate::retry::RecordingSleeper;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use support::{Reply, Server};

/// Generous timeouts, so that a busy machine does not turn a slow loopback answer into a
/// timeout; the silent-server case sets a short one.
fn config() -> HttpConfig {
    HttpConfig::default().timeouts(Duration::from_secs(5), Duration::from_secs(10)).proxy_from_env(false)
}

fn slack(server: &Server) -> (SlackWebhook, Arc<RecordingSleeper>) {
    let sleeper = Arc::new(RecordingSleeper::new());
    let s = SlackWebhook::new(server.url("/services/T000/B000/XXXX"))
        .unwrap()
        .with_config(config())
        .unwrap()
        .with_sleeper(sleeper.clone());
    (s, sleeper)
}

fn github(server: &Server) -> (GitHubClient, Arc<RecordingSleeper>) {
    let sleeper = Arc::new(RecordingSleeper::new());
    let g = GitHubClient::new("ghp_test")
        .unwrap()
        .with_base_url(server.url(""))
        .unwrap()
        .with_config(config())
        .unwrap()
        .with_sleeper(sleeper.clone());
    (g, sleeper)
}

#[test]
fn slack_incoming_webhook() {
    let server = Server::start(vec![Reply::text(200, "ok")]);
    let (s, _) = slack(&server);
    s.send("checkout latency: root cause payments-db").unwrap();
    let r = &server.requests()[0];
    assert_eq!((r.method.as_str(), r.path.as_str()), ("POST", "/services/T000/B000/XXXX"));
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.json(), json!({"text": "checkout latency: root cause payments-db"}));
}

#[test]
fn slack_errors() {
    // 429 with retry-after: waited out, then posted.
    let server =
        Server::start(vec![Reply::text(429, "rate_limited").with_header("retry-after", "5"), Reply::text(200, "ok")]);
    let (s, sleeper) = slack(&server);
    s.send("hi").unwrap();
    assert_eq!(sleeper.waits(), vec![Duration::from_secs(5)]);
    assert_eq!(server.requests().len(), 2);
    // Slack's documented error bodies.
    for (status, body, code) in [
        (403, "invalid_token", "AuthFailed"),
        (400, "invalid_payload", "HttpError"),
        (404, "no_service", "HttpError"),
        (410, "channel_is_archived", "HttpError"),
    ] {
        let server = Server::start(vec![Reply::text(status, body)]);
        let (s, _) = slack(&server);
        let e = s.send("hi").unwrap_err();
        assert_eq!(e.code(), code, "{status} {body}");
        assert!(e.to_string().contains(body), "{e}");
    }
    // A 500 is not retried: the message may have been posted.
    let server = Server::start(vec![Reply::text(500, "rollup_error"), Reply::text(200, "ok")]);
    let (s, sleeper) = slack(&server);
    assert!(matches!(s.send("hi").unwrap_err(), Error::Http { status: 500, .. }));
    assert_eq!(server.requests().len(), 1);
    assert!(sleeper.waits().is_empty());
    // Silence is a timeout, not retried either.
    let server = Server::start(vec![Reply::Silent(Duration::from_secs(10))]);
    let (s, _) = slack(&server);
    let s = s.with_config(config().timeouts(Duration::from_secs(5), Duration::from_millis(300))).unwrap();
    assert_eq!(s.send("hi").unwrap_err().code(), "Timeout");
    assert_eq!(server.requests().len(), 1);
}

#[test]
fn generic_json_webhook() {
    let server = Server::start(vec![Reply::text(204, ""), Reply::json(401, json!({"error": "bad signature"}))]);
    let hook = JsonWebhook::new(server.url("/hooks/incident"))
        .unwrap()
        .with_header("Authorization", "Bearer hook-token")
        .with_config(config())
        .unwrap();
    let payload = json!({"text": "incident", "severity": "high"});
    hook.send(&payload).unwrap();
    let e = hook.send(&payload).unwrap_err();
    assert!(matches!(&e, Error::Auth { message, .. } if message == "bad signature"), "{e}");
    let requests = server.requests();
    assert_eq!(requests[0].path, "/hooks/incident");
    assert_eq!(requests[0].header("authorization"), Some("Bearer hook-token"));
    assert_eq!(requests[0].json(), payload);
}

#[test]
fn github_pull_request_creation() {
    let server = Server::start(vec![Reply::json(
        201,
        json!({"id": 1, "number": 42, "state": "open", "draft": true,
            "html_url": "https://github.com/acme/shop/pull/42", "title": "Fix"}),
    )]);
    let (gh, _) = github(&server);
    let pr =
        gh.create_pull_request("acme/shop", "Fix N+1 in cart", "Found by oddsight.", "oddsight/fix", "main").unwrap();
    assert_eq!(pr.number, 42);
    assert_eq!(pr.html_url, "https://github.com/acme/shop/pull/42");
    let r = &server.requests()[0];
    assert_eq!((r.method.as_str(), r.path.as_str()), ("POST", "/repos/acme/shop/pulls"));
    assert_eq!(r.header("authorization"), Some("Bearer ghp_test"));
    assert_eq!(r.header("accept"), Some("application/vnd.github+json"));
    assert_eq!(r.header("x-github-api-version"), Some("2022-11-28"));
    assert!(r.header("user-agent").is_some(), "GitHub rejects requests without a user agent");
    assert_eq!(
        r.json(),
        json!({"title": "Fix N+1 in cart", "body": "Found by oddsight.", "head": "oddsight/fix", "base": "main", "draft": true})
    );
}

#[test]
fn github_errors() {
    let server = Server::start(vec![Reply::json(
        422,
        json!({"message": "Validation Failed", "errors": [{"resource": "PullRequest", "code": "custom",
            "message": "A pull request already exists for acme:oddsight/fix."}],
            "documentation_url": "https://docs.github.com/rest/pulls/pulls#create-a-pull-request", "status": "422"}),
    )]);
    let (gh, _) = github(&server);
    let e = gh.create_pull_request("acme/shop", "t", "b", "oddsight/fix", "main").unwrap_err();
    assert!(matches!(&e, Error::Http { status: 422, message, .. } if message.contains("already exists")), "{e}");

    let server = Server::start(vec![Reply::json(401, json!({"message": "Bad credentials", "status": "401"}))]);
    let (gh, _) = github(&server);
    assert!(matches!(
        gh.create_pull_request("acme/shop", "t", "b", "h", "main").unwrap_err(),
        Error::Auth { message, .. } if message == "Bad credentials"
    ));

    // The primary rate limit: 403 with no requests remaining, reset in the past: no wait.
    let limited = || {
        Reply::json(403, json!({"message": "API rate limit exceeded for user ID 1."}))
            .with_header("x-ratelimit-remaining", "0")
            .with_header("x-ratelimit-reset", "1")
    };
    let server = Server::start(vec![limited(), Reply::json(201, json!({"number": 7, "html_url": "u"}))]);
    let (gh, sleeper) = github(&server);
    assert_eq!(gh.create_pull_request("acme/shop", "t", "b", "h", "main").unwrap().number, 7);
    assert_eq!(sleeper.waits(), vec![Duration::ZERO]);
    // A secondary rate limit with retry-after, beyond the policy's longest wait: given back.
    let server = Server::start(vec![
        Reply::json(403, json!({"message": "You have exceeded a secondary rate limit."}))
            .with_header("retry-after", "600"),
    ]);
    let (gh, sleeper) = github(&server);
    let e = gh.create_pull_request("acme/shop", "t", "b", "h", "main").unwrap_err();
    assert!(matches!(e, Error::RateLimited { retry_after_secs: Some(s), .. } if s == 600.0), "{e}");
    assert!(sleeper.waits().is_empty());
    // A 201 that is not a pull request.
    let server = Server::start(vec![Reply::text(201, "created")]);
    let (gh, _) = github(&server);
    assert_eq!(gh.create_pull_request("acme/shop", "t", "b", "h", "main").unwrap_err().code(), "MalformedReply");
}

#[derive(Debug)]
struct Yes;

impl Approver for Yes {
    fn approve(&self, _action: &ActionPlan, fingerprint: &str) -> oddsight_investigate::Result<(Approval, i64)> {
        Ok((
            Approval {
                fingerprint: fingerprint.into(),
                granted: true,
                approver: "sre".into(),
                decided_at: 0,
                expires_at: 10,
            },
            5,
        ))
    }
}

#[derive(Debug)]
struct Host;

impl Remediator for Host {
    fn execute(&self, action: &ActionPlan) -> oddsight_investigate::Result<ActionOutcome> {
        Ok(ActionOutcome { ok: true, detail: format!("host ran {}", action.kind) })
    }
}

#[test]
fn the_remediator_runs_built_in_actions_and_delegates_the_rest() {
    let slack_server = Server::start(vec![Reply::text(200, "ok")]);
    let hook_server = Server::start(vec![Reply::text(200, "")]);
    let registry = ActionRegistry::builtin();
    let ctx = ActionContext::default();
    let remediator = HttpRemediator::new()
        .slack(slack(&slack_server).0)
        .webhook(JsonWebhook::new(hook_server.url("/in")).unwrap().with_config(config()).unwrap())
        .host(Box::new(Host));
    let plan = |kind: &str, params| registry.plan(kind, &params, &ctx).unwrap();
    let o = remediator.execute(&plan("notify_slack", json!({"text": "hello"}))).unwrap();
    assert!(o.ok);
    assert_eq!(slack_server.requests()[0].json(), json!({"text": "hello"}));
    remediator.execute(&plan("notify_webhook", json!({"text": "hello"}))).unwrap();
    assert_eq!(hook_server.requests()[0].json(), json!({"text": "hello"}));
    let o = remediator.execute(&plan("rollback_deploy", json!({"service": "cart", "change_id": "v1"}))).unwrap();
    assert_eq!(o.detail, "host ran rollback_deploy");
    // Nothing connected: a typed failure, no request.
    let e =
        HttpRemediator::new().execute(&plan("github_pull_request", json!({"repo": "a/b", "title": "t", "body": "b"})));
    assert_eq!(e.unwrap_err().code(), "ActionFailed");
}

/// A live investigation whose primary action is a pull request: approved, opened on the
/// loopback GitHub, verification fails (the case's data never recovers), so the pull request
/// is closed as the rollback and the incident escalated. The same investigation in dry run
/// sends nothing.
#[test]
fn live_mode_opens_and_rolls_back_a_pull_request_dry_run_sends_nothing() {
    let generator = GeneratorParams::default().seed(5).build().unwrap();
    let mut options =
        InvestigationOptions::default().policy(PolicyParams::default().mode(Mode::Live).thresholds(0.99, 0.0));
    options.repository = Some("acme/shop".into());
    let g = generator
        .cases(60)
        .into_iter()
        .find(|g| {
            let inv = Investigation::new(g.case.clone(), options.clone()).unwrap();
            let source = CaseEvidence::new(&g.case, &options.ranking, 8);
            let r = Driver { evidence: vec![&source], ..Driver::default() }.run(inv).unwrap();
            r.proposed_actions.first().is_some_and(|a| a.kind == "github_pull_request")
        })
        .expect("a generated case whose primary action is a pull request");

    let server = Server::start(vec![
        Reply::json(201, json!({"number": 42, "html_url": "https://github.com/acme/shop/pull/42"})),
        Reply::json(200, json!({"number": 42, "state": "closed"})),
    ]);
    let remediator = HttpRemediator::new().github(github(&server).0);
    let source = CaseEvidence::new(&g.case, &options.ranking, 8);
    let driver =
        Driver { evidence: vec![&source], remediator: Some(&remediator), approver: Some(&Yes), ..Driver::default() };
    let report = driver.run(Investigation::new(g.case.clone(), options.clone()).unwrap()).unwrap();
    assert_eq!(report.decision, Decision::RequireApproval);
    assert_eq!(report.stage, Stage::Escalated);
    assert_eq!(report.learned.fix_held, Some(false));
    let requests = server.requests();
    assert_eq!(requests.len(), 2, "{requests:?}");
    assert_eq!((requests[0].method.as_str(), requests[0].path.as_str()), ("POST", "/repos/acme/shop/pulls"));
    assert_eq!(requests[0].json()["head"], "oddsight/fix");
    assert_eq!((requests[1].method.as_str(), requests[1].path.as_str()), ("PATCH", "/repos/acme/shop/pulls/42"));
    assert_eq!(requests[1].json(), json!({"state": "closed"}));

    // Dry run: the same plan, nothing sent.
    let server = Server::start(vec![Reply::json(201, json!({"number": 1, "html_url": "u"}))]);
    let remediator = HttpRemediator::new().github(github(&server).0);
    let mut dry = options.clone();
    dry.policy.mode = Mode::DryRun;
    let driver =
        Driver { evidence: vec![&source], remediator: Some(&remediator), approver: Some(&Yes), ..Driver::default() };
    let report = driver.run(Investigation::new(g.case.clone(), dry).unwrap()).unwrap();
    assert_eq!(report.proposed_actions[0].kind, "github_pull_request");
    assert!(report.proposed_actions[0].dry_run[0].starts_with("POST /repos/acme/shop/pulls"));
    assert!(server.requests().is_empty(), "a dry run sends nothing");
}
