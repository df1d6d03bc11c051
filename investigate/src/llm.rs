//! The LLM client trait and its normalised request and reply.
//!
//! [`LlmClient`] is deliberately small: one blocking `complete` call from a [`ChatRequest`]
//! (system prompt, messages, tools, an optional JSON schema for structured output) to a
//! [`ChatReply`] (text, tool calls, stop reason, token usage). The wire formats live in
//! [`crate::wire`] as pure functions, so callers with their own HTTP stack (Node, async Python)
//! serialise with them and never need this trait. [`ScriptedClient`] replays canned replies in
//! tests.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::sync::Mutex;

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The user (here: the investigation).
    User,
    /// The model.
    Assistant,
    /// The result of a tool call.
    Tool,
}

/// A tool (function) call made by the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolCall {
    /// The provider's call id.
    pub id: String,
    /// The tool's name.
    pub name: String,
    /// Arguments as JSON (an object; `{"_raw": "..."}` when the model sent invalid JSON).
    pub arguments: serde_json::Value,
}

/// One message of a conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    /// The author.
    pub role: Role,
    /// Text content.
    pub content: String,
    /// Tool calls made by the assistant in this message.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall>,
    /// For [`Role::Tool`]: the call this answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
}

impl Message {
    /// A user message.
    pub fn user(content: impl Into<String>) -> Self {
        Message { role: Role::User, content: content.into(), tool_calls: Vec::new(), tool_call_id: None }
    }

    /// An assistant message.
    pub fn assistant(content: impl Into<String>) -> Self {
        Message { role: Role::Assistant, content: content.into(), tool_calls: Vec::new(), tool_call_id: None }
    }

    /// A tool result.
    pub fn tool(call_id: impl Into<String>, content: impl Into<String>) -> Self {
        Message {
            role: Role::Tool,
            content: content.into(),
            tool_calls: Vec::new(),
            tool_call_id: Some(call_id.into()),
        }
    }
}

/// A tool the model may call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolSpec {
    /// Name.
    pub name: String,
    /// What it does.
    pub description: String,
    /// JSON schema of its arguments.
    pub parameters: serde_json::Value,
}

/// A JSON schema the reply must follow (structured output).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResponseSchema {
    /// A name for the schema (also the forced tool's name in the Anthropic format).
    pub name: String,
    /// The schema.
    pub schema: serde_json::Value,
}

/// A provider-neutral chat request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatRequest {
    /// Model name (empty: the transport's default).
    pub model: String,
    /// System prompt.
    pub system: String,
    /// The conversation.
    pub messages: Vec<Message>,
    /// Tools offered.
    #[serde(default)]
    pub tools: Vec<ToolSpec>,
    /// Structured-output schema.
    #[serde(default)]
    pub response_schema: Option<ResponseSchema>,
    /// Most tokens to generate.
    pub max_tokens: u32,
    /// Sampling temperature (`None`: provider default).
    #[serde(default)]
    pub temperature: Option<f64>,
}

/// Why the model stopped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// It finished its answer.
    EndTurn,
    /// It hit `max_tokens`.
    MaxTokens,
    /// It wants tool results.
    ToolUse,
    /// A stop sequence.
    StopSequence,
    /// The provider filtered the content.
    ContentFilter,
    /// Anything else, verbatim.
    Other(String),
}

/// Token usage of one call.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// Prompt tokens.
    pub input_tokens: u64,
    /// Generated tokens.
    pub output_tokens: u64,
}

/// A provider-neutral reply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatReply {
    /// Text content (concatenated text blocks).
    pub text: String,
    /// Tool calls.
    #[serde(default)]
    pub tool_calls: Vec<ToolCall>,
    /// Why it stopped.
    pub stop_reason: StopReason,
    /// Token usage.
    #[serde(default)]
    pub usage: Usage,
    /// The model that answered, as reported.
    #[serde(default)]
    pub model: String,
}

impl ChatReply {
    /// A plain text reply (handy in tests).
    pub fn text(text: impl Into<String>) -> Self {
        ChatReply {
            text: text.into(),
            tool_calls: Vec::new(),
            stop_reason: StopReason::EndTurn,
            usage: Usage::default(),
            model: String::new(),
        }
    }
}

/// A chat model behind any transport.
pub trait LlmClient: Send + Sync + std::fmt::Debug {
    /// Sends one request and waits for the reply.
    ///
    /// # Errors
    /// Typed transport errors: [`Error::RateLimited`], [`Error::Auth`],
    /// [`Error::ContextOverflow`], [`Error::Timeout`], [`Error::Http`],
    /// [`Error::MalformedReply`].
    fn complete(&self, request: &ChatRequest) -> Result<ChatReply>;
}

/// A client that replays scripted replies in order and records every request it got.
///
/// ```
/// use oddsight_investigate::llm::{ChatReply, ChatRequest, LlmClient, ScriptedClient};
/// let client = ScriptedClient::new(vec![Ok(ChatReply::text("hello"))]);
/// let req = ChatRequest { model: String::new(), system: "s".into(), messages: vec![], tools: vec![],
///     response_schema: None, max_tokens: 10, temperature: None };
/// assert_eq!(client.complete(&req)?.text, "hello");
/// assert!(client.complete(&req).is_err()); // the script ran out
/// assert_eq!(client.requests().len(), 2);
/// # Ok::<(), oddsight_investigate::Error>(())
/// ```
#[derive(Debug, Default)]
pub struct ScriptedClient {
    replies: Mutex<VecDeque<Result<ChatReply>>>,
    requests: Mutex<Vec<ChatRequest>>,
}

impl ScriptedClient {
    /// A client that answers with `replies`, one per call.
    pub fn new(replies: Vec<Result<ChatReply>>) -> Self {
        ScriptedClient { replies: Mutex::new(replies.into()), requests: Mutex::new(Vec::new()) }
    }

    /// Every request received so far.
    pub fn requests(&self) -> Vec<ChatRequest> {
        self.requests.lock().map(|r| r.clone()).unwrap_or_default()
    }
}

impl LlmClient for ScriptedClient {
    fn complete(&self, request: &ChatRequest) -> Result<ChatReply> {
        if let Ok(mut r) = self.requests.lock() {
            r.push(request.clone());
        }
        let next = self.replies.lock().ok().and_then(|mut q| q.pop_front());
        next.unwrap_or_else(|| Err(Error::malformed("scripted", "the script has no more replies")))
    }
}
