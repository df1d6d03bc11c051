//! The HTTP LLM client against loopback servers speaking the real OpenAI Chat Completions and
//! Anthropic Messages formats: tool calls, structured output, rate limits with `retry-after`,
//! 5xx, auth, context overflow, a server that never answers, garbage, and a whole
//! investigation through the driver.

#![cfg(feature = "http")]
#![allow(clippy::unwrap_used)]

mod support;

use oddsight_investigate::generate::GeneratorParams;
use oddsight_investigate::http::{HttpConfig, HttpLlmClient};
use oddsight_investigate::investigation::{CaseEvidence, Driver, Investigation, InvestigationOptions};
use oddsight_investigate::llm::{ChatRequest, LlmClient, Message, ResponseSchema, StopReason, ToolSpec};
use oddsight_investigate::retry::{RecordingSleeper, RetryPolicy};
use oddsight_investigate::wire::Provider;
use oddsight_investigate::{Error, investigate_case};
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::{Recorded, Reply, Server, closed_port_url};

fn request() -> ChatRequest {
    ChatRequest {
        model: "test-model".into(),
        system: "be brief".into(),
        messages: vec![Message::user("what broke?")],
        tools: vec![ToolSpec {
            name: "get_logs".into(),
            description: "logs of a service".into(),
            parameters: json!({"type": "object", "properties": {"service": {"type": "string"}}}),
        }],
        response_schema: Some(ResponseSchema { name: "answer".into(), schema: json!({"type": "object"}) }),
        max_tokens: 200,
        temperature: Some(0.0),
    }
}

/// A client at `server` with a recording sleeper. The read timeout is generous, so that a
/// busy machine does not turn a slow loopback answer into a timeout; the timeout test sets its
/// own.
fn client(provider: Provider, server: &Server, retry: RetryPolicy) -> (HttpLlmClient, Arc<RecordingSleeper>) {
    client_with(provider, server, retry, Duration::from_secs(10))
}

fn client_with(
    provider: Provider,
    server: &Server,
    retry: RetryPolicy,
    read_timeout: Duration,
) -> (HttpLlmClient, Arc<RecordingSleeper>) {
    let sleeper = Arc::new(RecordingSleeper::new());
    let c = HttpLlmClient::new(provider, server.url("/v1"), "sk-test")
        .unwrap()
        .with_config(
            HttpConfig::default().timeouts(Duration::from_secs(5), read_timeout).retry(retry).proxy_from_env(false),
        )
        .unwrap()
        .with_sleeper(sleeper.clone());
    (c, sleeper)
}

fn openai_text(content: &str) -> Reply {
    Reply::json(
        200,
        json!({"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "test-model-0601",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "logprobs": null, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 31, "completion_tokens": 5, "total_tokens": 36}}),
    )
}

fn openai_error(status: u16, kind: &str, code: &str, message: &str) -> Reply {
    Reply::json(status, json!({"error": {"message": message, "type": kind, "param": null, "code": code}}))
}

fn anthropic_error(status: u16, kind: &str, message: &str) -> Reply {
    Reply::json(status, json!({"type": "error", "error": {"type": kind, "message": message}}))
}

fn only(requests: &[Recorded]) -> &Recorded {
    assert_eq!(requests.len(), 1, "{requests:?}");
    &requests[0]
}

#[test]
fn openai_text_reply_and_request_on_the_wire() {
    let server = Server::start(vec![openai_text("the database")]);
    let (c, _) = client(Provider::OpenAi, &server, RetryPolicy::none());
    let reply = c.complete(&request()).unwrap();
    assert_eq!(reply.text, "the database");
    assert_eq!(reply.stop_reason, StopReason::EndTurn);
    assert_eq!((reply.usage.input_tokens, reply.usage.output_tokens), (31, 5));
    assert_eq!(reply.model, "test-model-0601");
    let requests = server.requests();
    let r = only(&requests);
    assert_eq!((r.method.as_str(), r.path.as_str()), ("POST", "/v1/chat/completions"));
    assert_eq!(r.header("authorization"), Some("Bearer sk-test"));
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert!(r.header("user-agent").unwrap().starts_with("oddsight-investigate/"));
    let body = r.json();
    assert_eq!(body["model"], "test-model");
    assert_eq!(body["messages"][0], json!({"role": "system", "content": "be brief"}));
    assert_eq!(body["messages"][1], json!({"role": "user", "content": "what broke?"}));
    assert_eq!(body["tools"][0]["function"]["name"], "get_logs");
    assert_eq!(body["response_format"]["json_schema"]["name"], "answer");
    assert_eq!(body["max_tokens"], 200);
}

#[test]
fn openai_tool_calls() {
    let server = Server::start(vec![Reply::json(
        200,
        json!({"id": "chatcmpl-2", "object": "chat.completion", "model": "m",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": null, "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "get_logs", "arguments": "{\"service\":\"cart\"}"}},
                {"id": "call_2", "type": "function", "function": {"name": "get_logs", "arguments": "{\"service\":"}}]},
                "finish_reason": "tool_calls"}],
            "usage": {"prompt_tokens": 50, "completion_tokens": 20}}),
    )]);
    let (c, _) = client(Provider::OpenAi, &server, RetryPolicy::none());
    let reply = c.complete(&request()).unwrap();
    assert_eq!(reply.stop_reason, StopReason::ToolUse);
    assert_eq!(reply.text, "");
    assert_eq!(reply.tool_calls.len(), 2);
    assert_eq!(reply.tool_calls[0].id, "call_1");
    assert_eq!(reply.tool_calls[0].arguments, json!({"service": "cart"}));
    assert_eq!(reply.tool_calls[1].arguments, json!({"_raw": "{\"service\":"}));
}

#[test]
fn anthropic_tool_use_blocks_and_headers() {
    let server = Server::start(vec![Reply::json(
        200,
        json!({"id": "msg_01", "type": "message", "role": "assistant", "model": "claude-test",
            "content": [{"type": "text", "text": "Checking."},
                        {"type": "tool_use", "id": "toolu_01", "name": "answer", "input": {"root_cause": {"service": "cart"}}}],
            "stop_reason": "tool_use", "stop_sequence": null, "usage": {"input_tokens": 120, "output_tokens": 40}}),
    )]);
    let (c, _) = client(Provider::Anthropic, &server, RetryPolicy::none());
    let reply = c.complete(&request()).unwrap();
    assert_eq!(reply.text, "Checking.");
    assert_eq!(reply.stop_reason, StopReason::ToolUse);
    assert_eq!(reply.tool_calls[0].name, "answer");
    assert_eq!(reply.tool_calls[0].arguments, json!({"root_cause": {"service": "cart"}}));
    assert_eq!(reply.usage.output_tokens, 40);
    let requests = server.requests();
    let r = only(&requests);
    assert_eq!(r.path, "/v1/messages");
    assert_eq!(r.header("x-api-key"), Some("sk-test"));
    assert_eq!(r.header("anthropic-version"), Some("2023-06-01"));
    assert_eq!(r.header("authorization"), None);
    let body = r.json();
    assert_eq!(body["system"], "be brief");
    assert_eq!(body["messages"][0]["content"][0], json!({"type": "text", "text": "what broke?"}));
    assert_eq!(body["tool_choice"], json!({"type": "tool", "name": "answer"}));
    assert_eq!(body["tools"].as_array().unwrap().len(), 2);
}

#[test]
fn rate_limit_waits_what_retry_after_asks_then_succeeds() {
    let server = Server::start(vec![
        openai_error(429, "requests", "rate_limit_exceeded", "Rate limit reached").with_header("retry-after", "2"),
        openai_text("ok"),
    ]);
    let (c, sleeper) = client(Provider::OpenAi, &server, RetryPolicy::default());
    assert_eq!(c.complete(&request()).unwrap().text, "ok");
    assert_eq!(sleeper.waits(), vec![Duration::from_secs(2)]);
    assert_eq!(server.requests().len(), 2);
    // The same body both times.
    let r = server.requests();
    assert_eq!(r[0].body, r[1].body);
}

#[test]
fn rate_limits_are_bounded_and_too_long_waits_give_up() {
    let limited = || {
        anthropic_error(429, "rate_limit_error", "Number of request tokens has exceeded your per-minute rate limit")
            .with_header("retry-after", "1")
    };
    let server = Server::start(vec![limited(), limited(), limited(), limited()]);
    let (c, sleeper) = client(Provider::Anthropic, &server, RetryPolicy::default());
    let e = c.complete(&request()).unwrap_err();
    assert!(matches!(e, Error::RateLimited { retry_after_secs: Some(s), .. } if s == 1.0), "{e}");
    assert_eq!(server.requests().len(), 3, "one attempt and two retries");
    assert_eq!(sleeper.waits(), vec![Duration::from_secs(1); 2]);

    // A wait longer than the policy allows is not shortened: the error comes back at once.
    let server = Server::start(vec![limited().with_header("retry-after-ms", "3600000")]);
    let (c, sleeper) = client(Provider::Anthropic, &server, RetryPolicy::default());
    let e = c.complete(&request()).unwrap_err();
    assert!(matches!(e, Error::RateLimited { retry_after_secs: Some(s), .. } if s == 3600.0), "{e}");
    assert_eq!(server.requests().len(), 1);
    assert!(sleeper.waits().is_empty());

    // Anthropic's 529 overload is a rate limit too; with no retry-after the policy backs off.
    let server = Server::start(vec![anthropic_error(529, "overloaded_error", "Overloaded"), openai_text("x")]);
    let (c, sleeper) = client(Provider::Anthropic, &server, RetryPolicy::default());
    assert_eq!(c.complete(&request()).unwrap_err().code(), "MalformedReply", "an OpenAI body is not a Messages reply");
    assert_eq!(sleeper.waits(), vec![Duration::from_secs(1)]);
}

#[test]
fn server_errors_back_off_and_are_retried() {
    let server = Server::start(vec![
        Reply::text(500, "<html>Internal Server Error</html>"),
        Reply::json(503, json!({"error": {"message": "The engine is currently overloaded", "type": "server_error"}})),
        openai_text("ok"),
    ]);
    let (c, sleeper) = client(Provider::OpenAi, &server, RetryPolicy::default());
    assert_eq!(c.complete(&request()).unwrap().text, "ok");
    assert_eq!(sleeper.waits(), vec![Duration::from_secs(1), Duration::from_secs(2)]);

    let server =
        Server::start(vec![Reply::text(500, "boom"), Reply::text(502, "bad gateway"), Reply::text(500, "boom")]);
    let (c, _) = client(Provider::OpenAi, &server, RetryPolicy::default());
    let e = c.complete(&request()).unwrap_err();
    assert!(matches!(&e, Error::Http { status: 500, message, .. } if message == "boom"), "{e}");
    assert_eq!(server.requests().len(), 3);
}

#[test]
fn auth_and_context_overflow_are_not_retried() {
    let server = Server::start(vec![openai_error(
        401,
        "invalid_request_error",
        "invalid_api_key",
        "Incorrect API key provided: sk-test.",
    )]);
    let (c, sleeper) = client(Provider::OpenAi, &server, RetryPolicy::default());
    assert_eq!(c.complete(&request()).unwrap_err().code(), "AuthFailed");
    assert_eq!(server.requests().len(), 1);
    assert!(sleeper.waits().is_empty());

    let server = Server::start(vec![anthropic_error(403, "permission_error", "Your API key does not have permission")]);
    let (c, _) = client(Provider::Anthropic, &server, RetryPolicy::default());
    assert_eq!(c.complete(&request()).unwrap_err().code(), "AuthFailed");

    let server = Server::start(vec![openai_error(
        400,
        "invalid_request_error",
        "context_length_exceeded",
        "This model's maximum context length is 8192 tokens. However, your messages resulted in 9000 tokens.",
    )]);
    let (c, _) = client(Provider::OpenAi, &server, RetryPolicy::default());
    assert_eq!(c.complete(&request()).unwrap_err().code(), "ContextOverflow");
    assert_eq!(server.requests().len(), 1);

    let server = Server::start(vec![anthropic_error(
        400,
        "invalid_request_error",
        "prompt is too long: 210000 tokens > 200000 maximum",
    )]);
    let (c, _) = client(Provider::Anthropic, &server, RetryPolicy::default());
    assert_eq!(c.complete(&request()).unwrap_err().code(), "ContextOverflow");
}

#[test]
fn a_server_that_never_answers_times_out() {
    let server = Server::start(vec![Reply::Silent(Duration::from_secs(10)), Reply::Silent(Duration::from_secs(10))]);
    let (c, sleeper) =
        client_with(Provider::OpenAi, &server, RetryPolicy::default().max_retries(1), Duration::from_millis(300));
    let started = Instant::now();
    let e = c.complete(&request()).unwrap_err();
    let took = started.elapsed();
    assert!(matches!(e, Error::Timeout { secs, .. } if secs == 0.3), "{e}");
    assert!(e.is_retryable());
    assert_eq!(server.requests().len(), 2, "a timeout is retried");
    assert_eq!(sleeper.waits(), vec![Duration::from_secs(1)]);
    assert!(took < Duration::from_secs(5), "took {took:?}");
}

#[test]
fn garbage_is_a_malformed_reply() {
    // A 200 whose body is not the format.
    for body in ["<html>hello</html>", "", "{\"choices\": []}", "{\"choices\": [{\"message\": 3}]}"] {
        let server = Server::start(vec![Reply::text(200, body)]);
        let (c, _) = client(Provider::OpenAi, &server, RetryPolicy::default());
        let e = c.complete(&request()).unwrap_err();
        assert_eq!(e.code(), "MalformedReply", "{body:?}: {e}");
        assert_eq!(server.requests().len(), 1, "malformed replies are not retried");
    }
    // Bytes that are not HTTP at all.
    let server = Server::start(vec![Reply::Raw(b"\x00\x01garbage\r\n\r\nmore garbage".to_vec())]);
    let (c, _) = client(Provider::Anthropic, &server, RetryPolicy::none());
    let e = c.complete(&request()).unwrap_err();
    assert_eq!(e.code(), "MalformedReply", "{e}");
    // Invalid UTF-8 in a JSON-looking body.
    let server = Server::start(vec![Reply::Raw(
        b"HTTP/1.1 200 OK\r\ncontent-length: 6\r\nconnection: close\r\n\r\n{\"\xff\xfe\"}".to_vec(),
    )]);
    let (c, _) = client(Provider::OpenAi, &server, RetryPolicy::none());
    assert_eq!(c.complete(&request()).unwrap_err().code(), "MalformedReply");
    // A body over the limit.
    let server = Server::start(vec![openai_text(&"x".repeat(5000))]);
    let (c, _) = client(Provider::OpenAi, &server, RetryPolicy::none());
    let c = c.with_config(HttpConfig::default().max_body_bytes(1000).proxy_from_env(false)).unwrap();
    let e = c.complete(&request()).unwrap_err();
    assert_eq!(e.code(), "MalformedReply", "{e}");
}

#[test]
fn an_unreachable_server_is_a_typed_error() {
    let c = HttpLlmClient::new(Provider::OpenAi, closed_port_url("/v1"), "k")
        .unwrap()
        .with_config(HttpConfig::default().retry(RetryPolicy::none()).proxy_from_env(false))
        .unwrap();
    let e = c.complete(&request()).unwrap_err();
    assert_eq!(e.code(), "Unreachable", "{e}");
    assert!(e.is_retryable());
}

#[test]
fn a_local_server_without_a_key_and_a_default_model() {
    let server = Server::start(vec![openai_text("hi")]);
    let c = HttpLlmClient::new(Provider::OpenAi, server.url("/v1/"), "")
        .unwrap()
        .with_config(HttpConfig::default().proxy_from_env(false))
        .unwrap()
        .with_model("llama3.1");
    let mut req = request();
    req.model.clear();
    assert_eq!(c.complete(&req).unwrap().text, "hi");
    let requests = server.requests();
    let r = only(&requests);
    assert_eq!(r.header("authorization"), None, "no key, no header");
    assert_eq!(r.json()["model"], "llama3.1");
}

/// A whole investigation through the HTTP client: the request that reaches the server is
/// redacted, the model's answer is used, and the driver waits out a rate limit through its
/// sleeper rather than retrying at once.
#[test]
fn an_investigation_through_a_loopback_model() {
    let g = GeneratorParams::default().seed(11).secret_rate(1.0).build().unwrap().case(0);
    let t = g.case.truth.clone().unwrap();
    let answer = json!({"root_cause": {"service": t.service, "metric": t.metric, "category": t.category},
        "evidence": ["E1"], "confidence": 0.8, "summary": "found it",
        "hypotheses": [{"service": t.service, "statement": "the culprit", "evidence": ["E1"]}], "actions": []});
    let server = Server::start(vec![
        openai_error(429, "requests", "rate_limit_exceeded", "Rate limit reached").with_header("retry-after", "3"),
        openai_text(&format!("```json\n{answer}\n```")),
    ]);
    // The client does not retry; the driver does, waiting through its sleeper.
    let (c, client_sleeper) = client(Provider::OpenAi, &server, RetryPolicy::none());
    let driver_sleeper = RecordingSleeper::new();
    let options = InvestigationOptions::default().llm("test-model");
    let source = CaseEvidence::new(&g.case, &options.ranking, 8);
    let driver = Driver {
        llm: Some(&c),
        evidence: vec![&source],
        retry: RetryPolicy::default(),
        sleeper: Some(&driver_sleeper),
        ..Driver::default()
    };
    let report = driver.run(Investigation::new(g.case.clone(), options.clone()).unwrap()).unwrap();
    assert!(report.model.used, "{:?}", report.model);
    assert_eq!(report.root_cause.service, t.service);
    assert_eq!(driver_sleeper.waits(), vec![Duration::from_secs(3)]);
    assert!(client_sleeper.waits().is_empty());
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    assert!(!g.secrets.is_empty());
    for r in &requests {
        let prompt: String =
            r.json()["messages"].as_array().unwrap().iter().filter_map(|m| m["content"].as_str()).collect();
        assert!(prompt.contains("<untrusted"), "evidence is fenced");
        for secret in &g.secrets {
            assert!(!prompt.contains(secret.as_str()), "{secret} reached the server");
        }
    }

    // Without a driver retry, the rate limit falls back to the deterministic report.
    let server = Server::start(vec![
        openai_error(429, "requests", "rate_limit_exceeded", "Rate limit reached").with_header("retry-after", "3"),
    ]);
    let (c, _) = client(Provider::OpenAi, &server, RetryPolicy::none());
    let report = investigate_case(&g.case, &options, Some(&c), None).unwrap();
    assert!(!report.model.used);
    assert!(report.model.fallback.as_deref().unwrap().starts_with("RateLimited"));
    assert_eq!(report.root_cause.service, t.service);
}
