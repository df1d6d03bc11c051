//! Wire adapters: the OpenAI Chat Completions and Anthropic Messages formats as pure
//! functions from a [`ChatRequest`] to a JSON body and from a response body to a
//! [`ChatReply`] or a typed [`Error`].
//!
//! The OpenAI format also reaches Ollama, vLLM and llama.cpp servers (`/v1/chat/completions`).
//! Structured output is `response_format: json_schema` for OpenAI; for Anthropic it is a tool
//! named after the schema that the model is forced to call, whose input is then the answer
//! (it appears in [`ChatReply::tool_calls`] and, serialised, in [`ChatReply::text`]).
//!
//! ```
//! use oddsight_investigate::llm::{ChatRequest, Message};
//! use oddsight_investigate::wire::{Provider, parse_reply, request_body};
//! let req = ChatRequest { model: "gpt-4o-mini".into(), system: "be brief".into(),
//!     messages: vec![Message::user("hi")], tools: vec![], response_schema: None,
//!     max_tokens: 50, temperature: Some(0.0) };
//! let body = request_body(Provider::OpenAi, &req);
//! assert_eq!(body["messages"][0]["role"], "system");
//! let reply = parse_reply(Provider::OpenAi, r#"{"choices":[{"message":{"role":"assistant","content":"hello"},
//!     "finish_reason":"stop"}],"usage":{"prompt_tokens":9,"completion_tokens":1}}"#)?;
//! assert_eq!(reply.text, "hello");
//! assert_eq!(reply.usage.input_tokens, 9);
//! # Ok::<(), oddsight_investigate::Error>(())
//! ```

use crate::error::{Error, Result};
use crate::llm::{ChatReply, ChatRequest, Role, StopReason, ToolCall, Usage};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// A wire format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Provider {
    /// OpenAI Chat Completions (and compatible servers).
    OpenAi,
    /// Anthropic Messages.
    Anthropic,
}

impl Provider {
    /// Lowercase name (`openai`, `anthropic`).
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::OpenAi => "openai",
            Provider::Anthropic => "anthropic",
        }
    }

    /// The path requests go to, relative to a base URL ending in `/v1`.
    pub fn path(self) -> &'static str {
        match self {
            Provider::OpenAi => "/chat/completions",
            Provider::Anthropic => "/messages",
        }
    }

    /// Headers besides `content-type` (the key is left out: the transport adds it).
    pub fn headers(self, api_key: &str) -> Vec<(String, String)> {
        match self {
            Provider::OpenAi => vec![("authorization".into(), format!("Bearer {api_key}"))],
            Provider::Anthropic => {
                vec![("x-api-key".into(), api_key.to_string()), ("anthropic-version".into(), "2023-06-01".into())]
            }
        }
    }
}

/// The JSON body of `request` in `provider`'s format.
pub fn request_body(provider: Provider, request: &ChatRequest) -> Value {
    match provider {
        Provider::OpenAi => openai_body(request),
        Provider::Anthropic => anthropic_body(request),
    }
}

/// Parses a successful (2xx) response body.
///
/// # Errors
/// [`Error::MalformedReply`] when the body is not the format's JSON or lacks its required
/// parts; an error object in a 2xx body is classified as [`classify_error`] would.
pub fn parse_reply(provider: Provider, body: &str) -> Result<ChatReply> {
    let v: Value = serde_json::from_str(body)
        .map_err(|e| Error::malformed(provider.as_str(), format!("body is not JSON ({e}): {}", truncate(body, 200))))?;
    if v.get("error").is_some_and(|e| !e.is_null()) {
        return Err(classify_error(provider, 200, None, body));
    }
    match provider {
        Provider::OpenAi => parse_openai(&v),
        Provider::Anthropic => parse_anthropic(&v),
    }
}

/// Maps an HTTP error status and body to a typed error: 429 (and Anthropic's 529 overload) to
/// [`Error::RateLimited`] with the `retry-after` seconds, 401/403 to [`Error::Auth`], a
/// context-length complaint to [`Error::ContextOverflow`], 408/504 to [`Error::Timeout`],
/// anything else to [`Error::Http`].
pub fn classify_error(provider: Provider, status: u16, retry_after: Option<&str>, body: &str) -> Error {
    let name = provider.as_str().to_string();
    let v: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    let err = &v["error"];
    let message = err["message"].as_str().map(str::to_string).unwrap_or_else(|| truncate(body, 300));
    let kind = format!("{} {}", err["type"].as_str().unwrap_or_default(), err["code"].as_str().unwrap_or_default());
    let lower = format!("{kind} {message}").to_ascii_lowercase();
    let retry_after_secs =
        retry_after.and_then(|s| s.trim().parse::<f64>().ok()).filter(|s| s.is_finite() && *s >= 0.0);
    if status == 429 || status == 529 || lower.contains("rate_limit") || lower.contains("overloaded") {
        return Error::RateLimited { provider: name, retry_after_secs };
    }
    if status == 401 || status == 403 || lower.contains("authentication") || lower.contains("invalid_api_key") {
        return Error::Auth { provider: name, message };
    }
    if lower.contains("context_length")
        || lower.contains("context length")
        || lower.contains("prompt is too long")
        || lower.contains("maximum context")
        || lower.contains("too many tokens")
    {
        return Error::ContextOverflow { provider: name, message };
    }
    if status == 408 || status == 504 {
        return Error::Timeout { provider: name, secs: 0.0 };
    }
    Error::Http { provider: name, status, message }
}

/// The wait a `retry-after` header asks for, in seconds: delay-seconds (`"7"`, `"1.5"`) or an
/// HTTP-date (`"Wed, 21 Oct 2015 07:28:00 GMT"`) taken relative to `now_unix_secs` (a date in
/// the past asks for no wait). `None` for anything else. Pure: the caller reads the clock.
///
/// ```
/// use oddsight_investigate::wire::retry_after_secs;
/// assert_eq!(retry_after_secs(" 7 ", 0.0), Some(7.0));
/// assert_eq!(retry_after_secs("Thu, 01 Jan 1970 00:01:00 GMT", 45.0), Some(15.0));
/// assert_eq!(retry_after_secs("soon", 0.0), None);
/// ```
pub fn retry_after_secs(value: &str, now_unix_secs: f64) -> Option<f64> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0).then_some(secs);
    }
    http_date(value).map(|t| (t as f64 - now_unix_secs).max(0.0))
}

/// Unix seconds of an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), the HTTP-date form
/// servers must send.
fn http_date(s: &str) -> Option<i64> {
    let (_, rest) = s.split_once(", ")?;
    let parts: Vec<&str> = rest.split_ascii_whitespace().collect();
    let [day, month, year, time, "GMT"] = parts.as_slice() else { return None };
    let day: i64 = day.parse().ok().filter(|d| (1..=31).contains(d))?;
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let month = MONTHS.iter().position(|m| m == month)? as i64 + 1;
    let year: i64 = year.parse().ok().filter(|y| (1970..=9999).contains(y))?;
    let hms: Vec<i64> = time.split(':').map(|x| x.parse().ok()).collect::<Option<_>>()?;
    let [h, m, sec] = hms.as_slice() else { return None };
    if *h > 23 || *m > 59 || *sec > 60 {
        return None;
    }
    // Days from the civil date (H. Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + h * 3600 + m * 60 + sec)
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n { s.to_string() } else { s.chars().take(n).collect::<String>() + "…" }
}

fn args_value(raw: &str) -> Value {
    match serde_json::from_str::<Value>(raw) {
        Ok(v @ Value::Object(_)) => v,
        Ok(other) => json!({ "_value": other }),
        Err(_) => json!({ "_raw": raw }),
    }
}

fn openai_body(r: &ChatRequest) -> Value {
    let mut messages = Vec::new();
    if !r.system.is_empty() {
        messages.push(json!({"role": "system", "content": r.system}));
    }
    for m in &r.messages {
        match m.role {
            Role::User => messages.push(json!({"role": "user", "content": m.content})),
            Role::Assistant => {
                let mut o = json!({"role": "assistant", "content": if m.content.is_empty() { Value::Null } else { json!(m.content) }});
                if !m.tool_calls.is_empty() {
                    o["tool_calls"] = m
                        .tool_calls
                        .iter()
                        .map(|c| json!({"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments.to_string()}}))
                        .collect();
                }
                messages.push(o);
            }
            Role::Tool => messages.push(json!({"role": "tool", "tool_call_id": m.tool_call_id.clone().unwrap_or_default(), "content": m.content})),
        }
    }
    let mut body = json!({"model": r.model, "messages": messages, "max_tokens": r.max_tokens});
    if let Some(t) = r.temperature {
        body["temperature"] = json!(t);
    }
    if !r.tools.is_empty() {
        body["tools"] = r
            .tools
            .iter()
            .map(|t| json!({"type": "function", "function": {"name": t.name, "description": t.description, "parameters": t.parameters}}))
            .collect();
    }
    if let Some(s) = &r.response_schema {
        body["response_format"] =
            json!({"type": "json_schema", "json_schema": {"name": s.name, "schema": s.schema, "strict": false}});
    }
    body
}

fn parse_openai(v: &Value) -> Result<ChatReply> {
    let choice = v["choices"].get(0).ok_or_else(|| Error::malformed("openai", "no choices"))?;
    let msg = &choice["message"];
    if !msg.is_object() {
        return Err(Error::malformed("openai", "choice has no message"));
    }
    let text = match &msg["content"] {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        // Some compatible servers send content parts.
        Value::Array(parts) => parts.iter().filter_map(|p| p["text"].as_str()).collect::<Vec<_>>().join(""),
        other => return Err(Error::malformed("openai", format!("content is {other}"))),
    };
    let mut tool_calls = Vec::new();
    if let Some(calls) = msg["tool_calls"].as_array() {
        for c in calls {
            let name =
                c["function"]["name"].as_str().ok_or_else(|| Error::malformed("openai", "tool call without a name"))?;
            let arguments = match &c["function"]["arguments"] {
                Value::String(s) => args_value(s),
                Value::Object(_) => c["function"]["arguments"].clone(),
                _ => json!({}),
            };
            tool_calls.push(ToolCall {
                id: c["id"].as_str().unwrap_or_default().to_string(),
                name: name.to_string(),
                arguments,
            });
        }
    }
    let stop_reason = match choice["finish_reason"].as_str() {
        Some("stop") | None => StopReason::EndTurn,
        Some("length") => StopReason::MaxTokens,
        Some("tool_calls") | Some("function_call") => StopReason::ToolUse,
        Some("content_filter") => StopReason::ContentFilter,
        Some(other) => StopReason::Other(other.to_string()),
    };
    let usage = Usage {
        input_tokens: v["usage"]["prompt_tokens"].as_u64().unwrap_or(0),
        output_tokens: v["usage"]["completion_tokens"].as_u64().unwrap_or(0),
    };
    Ok(ChatReply { text, tool_calls, stop_reason, usage, model: v["model"].as_str().unwrap_or_default().to_string() })
}

fn anthropic_body(r: &ChatRequest) -> Value {
    let mut messages: Vec<Value> = Vec::new();
    for m in &r.messages {
        let (role, content) = match m.role {
            Role::User => ("user", json!([{"type": "text", "text": m.content}])),
            Role::Assistant => {
                let mut blocks = Vec::new();
                if !m.content.is_empty() {
                    blocks.push(json!({"type": "text", "text": m.content}));
                }
                for c in &m.tool_calls {
                    blocks.push(json!({"type": "tool_use", "id": c.id, "name": c.name, "input": c.arguments}));
                }
                ("assistant", Value::Array(blocks))
            }
            Role::Tool => (
                "user",
                json!([{"type": "tool_result", "tool_use_id": m.tool_call_id.clone().unwrap_or_default(), "content": m.content}]),
            ),
        };
        // Consecutive messages of one role merge: the Messages API wants them alternating.
        if let Some(last) = messages.last_mut()
            && last["role"] == role
            && let (Some(a), Some(b)) = (last["content"].as_array_mut(), content.as_array())
        {
            a.extend(b.iter().cloned());
            continue;
        }
        messages.push(json!({"role": role, "content": content}));
    }
    let mut body = json!({"model": r.model, "max_tokens": r.max_tokens, "messages": messages});
    if !r.system.is_empty() {
        body["system"] = json!(r.system);
    }
    if let Some(t) = r.temperature {
        body["temperature"] = json!(t);
    }
    let mut tools: Vec<Value> = r
        .tools
        .iter()
        .map(|t| json!({"name": t.name, "description": t.description, "input_schema": t.parameters}))
        .collect();
    if let Some(s) = &r.response_schema {
        tools.push(json!({"name": s.name, "description": "Return the final answer in this structure.", "input_schema": s.schema}));
        body["tool_choice"] = json!({"type": "tool", "name": s.name});
    }
    if !tools.is_empty() {
        body["tools"] = Value::Array(tools);
    }
    body
}

fn parse_anthropic(v: &Value) -> Result<ChatReply> {
    let blocks = v["content"].as_array().ok_or_else(|| Error::malformed("anthropic", "no content array"))?;
    let mut text = String::new();
    let mut tool_calls = Vec::new();
    for b in blocks {
        match b["type"].as_str() {
            Some("text") => text.push_str(b["text"].as_str().unwrap_or_default()),
            Some("tool_use") => {
                let name =
                    b["name"].as_str().ok_or_else(|| Error::malformed("anthropic", "tool_use without a name"))?;
                let arguments =
                    if b["input"].is_object() { b["input"].clone() } else { json!({ "_value": b["input"] }) };
                tool_calls.push(ToolCall {
                    id: b["id"].as_str().unwrap_or_default().to_string(),
                    name: name.to_string(),
                    arguments,
                });
            }
            _ => {}
        }
    }
    let stop_reason = match v["stop_reason"].as_str() {
        Some("end_turn") | None => StopReason::EndTurn,
        Some("max_tokens") => StopReason::MaxTokens,
        Some("tool_use") => StopReason::ToolUse,
        Some("stop_sequence") => StopReason::StopSequence,
        Some("refusal") => StopReason::ContentFilter,
        Some(other) => StopReason::Other(other.to_string()),
    };
    let usage = Usage {
        input_tokens: v["usage"]["input_tokens"].as_u64().unwrap_or(0),
        output_tokens: v["usage"]["output_tokens"].as_u64().unwrap_or(0),
    };
    Ok(ChatReply { text, tool_calls, stop_reason, usage, model: v["model"].as_str().unwrap_or_default().to_string() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::{Message, ResponseSchema, ToolSpec};

    fn request() -> ChatRequest {
        let mut assistant = Message::assistant("");
        assistant.tool_calls.push(ToolCall {
            id: "call_1".into(),
            name: "get_logs".into(),
            arguments: json!({"service": "cart"}),
        });
        ChatRequest {
            model: "m".into(),
            system: "sys".into(),
            messages: vec![Message::user("u1"), assistant, Message::tool("call_1", "logs here"), Message::user("u2")],
            tools: vec![ToolSpec {
                name: "get_logs".into(),
                description: "d".into(),
                parameters: json!({"type": "object"}),
            }],
            response_schema: Some(ResponseSchema { name: "answer".into(), schema: json!({"type": "object"}) }),
            max_tokens: 100,
            temperature: Some(0.0),
        }
    }

    #[test]
    fn openai_request_shape() {
        let b = request_body(Provider::OpenAi, &request());
        assert_eq!(b["messages"][0], json!({"role": "system", "content": "sys"}));
        assert_eq!(b["messages"][2]["tool_calls"][0]["function"]["arguments"], "{\"service\":\"cart\"}");
        assert_eq!(b["messages"][2]["content"], Value::Null);
        assert_eq!(b["messages"][3], json!({"role": "tool", "tool_call_id": "call_1", "content": "logs here"}));
        assert_eq!(b["tools"][0]["function"]["name"], "get_logs");
        assert_eq!(b["response_format"]["type"], "json_schema");
        assert_eq!(b["max_tokens"], 100);
    }

    #[test]
    fn anthropic_request_shape() {
        let b = request_body(Provider::Anthropic, &request());
        assert_eq!(b["system"], "sys");
        let msgs = b["messages"].as_array().unwrap();
        // user, assistant(tool_use), user(tool_result + text merged)
        assert_eq!(msgs.len(), 3);
        assert_eq!(msgs[1]["content"][0]["type"], "tool_use");
        assert_eq!(msgs[2]["content"][0]["type"], "tool_result");
        assert_eq!(msgs[2]["content"][1]["text"], "u2");
        assert_eq!(b["tool_choice"], json!({"type": "tool", "name": "answer"}));
        assert_eq!(b["tools"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn openai_recorded_replies() {
        let body = r#"{"id":"chatcmpl-9","object":"chat.completion","created":1,"model":"gpt-4o-2024-08-06",
          "choices":[{"index":0,"message":{"role":"assistant","content":null,
            "tool_calls":[{"id":"call_abc","type":"function","function":{"name":"get_logs","arguments":"{\"service\":\"cart\"}"}},
                          {"id":"call_def","type":"function","function":{"name":"get_logs","arguments":"{not json"}}]},
            "logprobs":null,"finish_reason":"tool_calls"}],
          "usage":{"prompt_tokens":82,"completion_tokens":17,"total_tokens":99}}"#;
        let r = parse_reply(Provider::OpenAi, body).unwrap();
        assert_eq!(r.stop_reason, StopReason::ToolUse);
        assert_eq!(r.tool_calls[0].arguments, json!({"service": "cart"}));
        assert_eq!(r.tool_calls[1].arguments, json!({"_raw": "{not json"}));
        assert_eq!((r.usage.input_tokens, r.usage.output_tokens), (82, 17));
        assert_eq!(r.model, "gpt-4o-2024-08-06");
        let len = r#"{"choices":[{"message":{"role":"assistant","content":"partial"},"finish_reason":"length"}]}"#;
        assert_eq!(parse_reply(Provider::OpenAi, len).unwrap().stop_reason, StopReason::MaxTokens);
        for bad in
            ["", "null", "{}", r#"{"choices":[]}"#, r#"{"choices":[{"message":{"content":5}}]}"#, "<html>502</html>"]
        {
            assert_eq!(parse_reply(Provider::OpenAi, bad).unwrap_err().code(), "MalformedReply", "{bad}");
        }
    }

    #[test]
    fn anthropic_recorded_replies() {
        let body = r#"{"id":"msg_01","type":"message","role":"assistant","model":"claude-sonnet-4-20250514",
          "content":[{"type":"text","text":"Looking at it."},{"type":"tool_use","id":"toolu_01","name":"answer","input":{"root_cause":{"service":"cart"}}}],
          "stop_reason":"tool_use","stop_sequence":null,"usage":{"input_tokens":120,"output_tokens":40}}"#;
        let r = parse_reply(Provider::Anthropic, body).unwrap();
        assert_eq!(r.text, "Looking at it.");
        assert_eq!(r.tool_calls[0].name, "answer");
        assert_eq!(r.stop_reason, StopReason::ToolUse);
        assert_eq!(r.usage.output_tokens, 40);
        assert!(parse_reply(Provider::Anthropic, r#"{"content":"x"}"#).is_err());
    }

    #[test]
    fn retry_after_values() {
        assert_eq!(retry_after_secs("0", 5.0), Some(0.0));
        assert_eq!(retry_after_secs("2.5", 5.0), Some(2.5));
        assert_eq!(retry_after_secs("-1", 5.0), None);
        assert_eq!(retry_after_secs("inf", 5.0), None);
        // 1994-11-06T08:49:37Z is 784111777.
        assert_eq!(retry_after_secs("Sun, 06 Nov 1994 08:49:37 GMT", 784_111_770.0), Some(7.0));
        assert_eq!(retry_after_secs("Sun, 06 Nov 1994 08:49:37 GMT", 784_111_800.0), Some(0.0));
        assert_eq!(retry_after_secs("Tue, 29 Feb 2000 00:00:00 GMT", 951_782_400.0), Some(0.0));
        for bad in
            ["", "Sun, 06 Nov 1994 08:49:37 PST", "Sun, 06 Foo 1994 08:49:37 GMT", "Sun, 06 Nov 1994 25:00:00 GMT"]
        {
            assert_eq!(retry_after_secs(bad, 0.0), None, "{bad}");
        }
    }

    #[test]
    fn errors_are_classified() {
        let e = classify_error(
            Provider::OpenAi,
            429,
            Some("7"),
            r#"{"error":{"message":"Rate limit reached","type":"requests","code":"rate_limit_exceeded"}}"#,
        );
        assert!(matches!(e, Error::RateLimited { retry_after_secs: Some(s), .. } if s == 7.0));
        assert!(e.is_retryable());
        let e = classify_error(
            Provider::OpenAi,
            400,
            None,
            r#"{"error":{"message":"This model's maximum context length is 128000 tokens","type":"invalid_request_error","code":"context_length_exceeded"}}"#,
        );
        assert_eq!(e.code(), "ContextOverflow");
        let e = classify_error(
            Provider::Anthropic,
            400,
            None,
            r#"{"type":"error","error":{"type":"invalid_request_error","message":"prompt is too long: 210000 tokens > 200000 maximum"}}"#,
        );
        assert_eq!(e.code(), "ContextOverflow");
        let e = classify_error(
            Provider::Anthropic,
            401,
            None,
            r#"{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}}"#,
        );
        assert_eq!(e.code(), "AuthFailed");
        let e = classify_error(
            Provider::Anthropic,
            529,
            None,
            r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
        );
        assert_eq!(e.code(), "RateLimited");
        let e = classify_error(Provider::OpenAi, 500, Some("soon"), "<html>oops</html>");
        assert!(matches!(&e, Error::Http { status: 500, .. }));
        assert!(e.is_retryable());
        assert_eq!(classify_error(Provider::OpenAi, 504, None, "").code(), "Timeout");
        let e = parse_reply(
            Provider::Anthropic,
            r#"{"type":"error","error":{"type":"rate_limit_error","message":"slow down"}}"#,
        )
        .unwrap_err();
        assert_eq!(e.code(), "RateLimited");
    }
}
