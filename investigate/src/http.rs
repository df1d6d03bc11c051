//! The optional blocking HTTP transport (cargo feature `http`): an [`HttpLlmClient`] for the
//! OpenAI Chat Completions and Anthropic Messages formats, and senders for a Slack incoming
//! webhook ([`SlackWebhook`]), a generic JSON webhook ([`JsonWebhook`]) and GitHub pull requests
//! ([`GitHubClient`]), with [`HttpRemediator`] running the built-in actions through them.
//!
//! Everything here is a thin shell around the pure functions of [`crate::wire`] and
//! [`crate::actions`]: it posts the body they build, reads the status, the `retry-after`
//! header and the body, and hands them back to be parsed or classified into a typed
//! [`Error`]. Connections have a connect and a read timeout ([`HttpConfig`]); retryable
//! failures are retried a bounded number of times ([`RetryPolicy`]), waiting what a
//! `retry-after` asks through an injectable [`Sleeper`] (tests record the waits instead of
//! sleeping them). Completions are retried on rate limits, timeouts, 5xx and unreachable
//! servers; the senders, whose requests have effects, only on rate limits (the request was
//! refused, so it did nothing).
//!
//! The senders are used only in live mode: a dry run never asks for an action to be executed
//! and keeps producing plans.
//!
//! ```no_run
//! use oddsight_investigate::http::HttpLlmClient;
//! use oddsight_investigate::wire::Provider;
//! use oddsight_investigate::{InvestigationOptions, investigate_case_dir};
//! # fn main() -> oddsight_investigate::Result<()> {
//! // OPENAI_API_KEY, and OPENAI_BASE_URL for Ollama, vLLM or llama.cpp servers.
//! let client = HttpLlmClient::from_env(Provider::OpenAi)?;
//! let case = oddsight_investigate::Case::load_dir("cases/case-000")?;
//! let options = InvestigationOptions::default().llm("gpt-4o-mini");
//! let report = oddsight_investigate::investigate_case(&case, &options, Some(&client), None)?;
//! println!("{}", report.summary);
//! # Ok(()) }
//! ```

use crate::actions::{ActionPlan, github_pull_request_request, slack_payload};
use crate::error::{Error, Result};
use crate::investigation::{ActionOutcome, Remediator};
use crate::llm::{ChatReply, ChatRequest, LlmClient};
use crate::retry::{RetryPolicy, Sleeper, ThreadSleeper};
use crate::wire::{Provider, classify_error, parse_reply, request_body, retry_after_secs};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Connection settings shared by every client of this module.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct HttpConfig {
    /// Longest wait for a connection (DNS, TCP and TLS). Default 10 s.
    pub connect_timeout: Duration,
    /// Longest wait for sending the request and for receiving the response headers, and
    /// again for the body. Default 120 s (a model can think for a while).
    pub read_timeout: Duration,
    /// Retries and their waits. Default [`RetryPolicy::default`] (2 retries).
    pub retry: RetryPolicy,
    /// Largest response body read, bytes; a larger one is a malformed reply. Default 8 MiB.
    pub max_body_bytes: u64,
    /// Use the proxy named by `HTTPS_PROXY` / `HTTP_PROXY` / `ALL_PROXY` (honouring
    /// `NO_PROXY`). Loopback addresses are always reached directly. Default true.
    pub proxy_from_env: bool,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(120),
            retry: RetryPolicy::default(),
            max_body_bytes: 8 << 20,
            proxy_from_env: true,
        }
    }
}

impl HttpConfig {
    /// Sets both timeouts.
    pub fn timeouts(mut self, connect: Duration, read: Duration) -> Self {
        self.connect_timeout = connect;
        self.read_timeout = read;
        self
    }

    /// Sets the retry policy.
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Sets `max_body_bytes`.
    pub fn max_body_bytes(mut self, n: u64) -> Self {
        self.max_body_bytes = n;
        self
    }

    /// Sets `proxy_from_env`.
    pub fn proxy_from_env(mut self, on: bool) -> Self {
        self.proxy_from_env = on;
        self
    }

    fn validate(&self) -> Result<()> {
        for (name, d) in [("connect_timeout", self.connect_timeout), ("read_timeout", self.read_timeout)] {
            if d.is_zero() {
                return Err(Error::param(name, "must be positive", format!("{d:?}")));
            }
        }
        if self.max_body_bytes == 0 {
            return Err(Error::param("max_body_bytes", "must be positive", 0));
        }
        Ok(())
    }
}

/// A response: status, the headers this module reads (lowercase names), body (lossy UTF-8).
#[derive(Debug, Clone)]
struct Response {
    status: u16,
    headers: BTreeMap<&'static str, String>,
    body: String,
}

impl Response {
    fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The wait the response asks for, in seconds, as a string for
    /// [`crate::wire::classify_error`]: `retry-after-ms`, then `retry-after` (seconds or an
    /// HTTP-date), then GitHub's `x-ratelimit-reset` when no requests remain.
    fn retry_after(&self) -> Option<String> {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0);
        let secs = self
            .headers
            .get("retry-after-ms")
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|ms| ms.is_finite() && *ms >= 0.0)
            .map(|ms| ms / 1000.0)
            .or_else(|| self.headers.get("retry-after").and_then(|v| retry_after_secs(v, now)))
            .or_else(|| {
                (self.headers.get("x-ratelimit-remaining").map(|v| v.trim()) == Some("0"))
                    .then(|| self.headers.get("x-ratelimit-reset").and_then(|v| v.trim().parse::<f64>().ok()))
                    .flatten()
                    .map(|reset| (reset - now).max(0.0))
            })?;
        Some(format!("{secs}"))
    }
}

const READ_HEADERS: [&str; 5] =
    ["retry-after", "retry-after-ms", "x-ratelimit-remaining", "x-ratelimit-reset", "content-type"];

/// The shared blocking transport: two agents (through the environment's proxy, and direct for
/// loopback addresses), the configuration and the sleeper.
#[derive(Clone)]
struct Transport {
    proxied: ureq::Agent,
    direct: ureq::Agent,
    config: HttpConfig,
    sleeper: Arc<dyn Sleeper>,
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transport").field("config", &self.config).field("sleeper", &self.sleeper).finish()
    }
}

impl Transport {
    fn new(config: HttpConfig) -> Result<Self> {
        config.validate()?;
        let agent = |proxy: bool| -> ureq::Agent {
            let mut b = ureq::Agent::config_builder()
                .http_status_as_error(false)
                .max_redirects(0)
                .max_redirects_will_error(false)
                .timeout_connect(Some(config.connect_timeout))
                .timeout_send_request(Some(config.read_timeout))
                .timeout_send_body(Some(config.read_timeout))
                .timeout_recv_response(Some(config.read_timeout))
                .timeout_recv_body(Some(config.read_timeout))
                .user_agent(concat!("oddsight-investigate/", env!("CARGO_PKG_VERSION")));
            if !proxy {
                b = b.proxy(None);
            }
            b.build().into()
        };
        Ok(Transport {
            proxied: agent(config.proxy_from_env),
            direct: agent(false),
            config,
            sleeper: Arc::new(ThreadSleeper),
        })
    }

    fn agent(&self, url: &str) -> &ureq::Agent {
        if is_loopback(url) { &self.direct } else { &self.proxied }
    }

    /// One request: `Ok` for any status the server answered with; `Err` when nothing usable
    /// came back (timeouts, unreachable, a response that is not HTTP).
    fn send(
        &self,
        who: &str,
        method: &str,
        url: &str,
        headers: &[(String, String)],
        body: Option<&str>,
    ) -> Result<Response> {
        let agent = self.agent(url);
        let result = match method {
            "PATCH" => {
                let mut r = agent.patch(url);
                for (k, v) in headers {
                    r = r.header(k.as_str(), v.as_str());
                }
                r.send(body.unwrap_or_default())
            }
            "GET" => {
                let mut r = agent.get(url);
                for (k, v) in headers {
                    r = r.header(k.as_str(), v.as_str());
                }
                r.call()
            }
            _ => {
                let mut r = agent.post(url);
                for (k, v) in headers {
                    r = r.header(k.as_str(), v.as_str());
                }
                r.send(body.unwrap_or_default())
            }
        };
        let mut resp = result.map_err(|e| self.transport_error(who, e))?;
        let status = resp.status().as_u16();
        let headers = READ_HEADERS
            .iter()
            .filter_map(|name| resp.headers().get(*name).and_then(|v| v.to_str().ok()).map(|v| (*name, v.to_string())))
            .collect();
        let bytes = resp
            .body_mut()
            .with_config()
            .limit(self.config.max_body_bytes)
            .read_to_vec()
            .map_err(|e| self.transport_error(who, e))?;
        Ok(Response { status, headers, body: String::from_utf8_lossy(&bytes).into_owned() })
    }

    fn transport_error(&self, who: &str, e: ureq::Error) -> Error {
        let provider = who.to_string();
        let connect = self.config.connect_timeout.as_secs_f64();
        let read = self.config.read_timeout.as_secs_f64();
        match e {
            ureq::Error::Timeout(kind) => {
                let secs = match kind {
                    ureq::Timeout::Connect | ureq::Timeout::Resolve => connect,
                    _ => read,
                };
                Error::Timeout { provider, secs }
            }
            ureq::Error::Io(io)
                if matches!(io.kind(), std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock) =>
            {
                Error::Timeout { provider, secs: read }
            }
            ureq::Error::Protocol(p) => Error::malformed(provider, format!("not an HTTP response: {p}")),
            ureq::Error::BodyExceedsLimit(n) => {
                Error::malformed(provider, format!("response body larger than {n} bytes"))
            }
            ureq::Error::BadUri(u) => Error::param("url", "must be an http:// or https:// URL", u),
            other => Error::Unreachable { provider, reason: other.to_string() },
        }
    }

    /// `send` with the retry policy, retrying the errors `retry_on` accepts.
    fn send_retrying(
        &self,
        retry_on: fn(&Error) -> bool,
        mut once: impl FnMut() -> Result<Response>,
        classify: impl Fn(&Response) -> Error,
    ) -> Result<Response> {
        let mut attempt = 0;
        loop {
            let err = match once() {
                Ok(r) if r.ok() => return Ok(r),
                Ok(r) => classify(&r),
                Err(e) => e,
            };
            match self.config.retry.delay(&err, attempt).filter(|_| retry_on(&err)) {
                Some(wait) => {
                    self.sleeper.sleep(wait);
                    attempt += 1;
                }
                None => return Err(err),
            }
        }
    }
}

/// Whether a URL's host is a loopback address (`localhost`, `127.x.x.x`, `[::1]`).
fn is_loopback(url: &str) -> bool {
    let rest = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = authority.rsplit_once('@').map(|(_, h)| h).unwrap_or(authority);
    let host = if host.starts_with('[') {
        host.split(']').next().map(|h| h.trim_start_matches('[')).unwrap_or_default()
    } else {
        host.split(':').next().unwrap_or_default()
    };
    host.eq_ignore_ascii_case("localhost") || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

fn check_url(name: &'static str, url: &str) -> Result<String> {
    let url = url.trim().trim_end_matches('/');
    let ok = (url.starts_with("http://") || url.starts_with("https://"))
        && url.split_once("://").is_some_and(|(_, r)| !r.is_empty() && !r.starts_with('/'));
    if ok { Ok(url.to_string()) } else { Err(Error::param(name, "must be an http:// or https:// URL", url)) }
}

/// Scheme and host of a URL, for messages and `Debug` (webhook paths are secrets).
fn origin(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
            let host = host.rsplit_once('@').map(|(_, h)| h).unwrap_or(host);
            format!("{scheme}://{host}")
        }
        None => "?".into(),
    }
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n { s.to_string() } else { s.chars().take(n).collect::<String>() + "…" }
}

/// Classifies a non-2xx answer of a service that is not a model provider: 429 (and GitHub's
/// 403 with its rate-limit headers or message) to a rate limit, 401/403 to auth, 408/504 to a
/// timeout, anything else to [`Error::Http`] with the service's message.
fn classify_service(who: &str, r: &Response) -> Error {
    let v: Value = serde_json::from_str(&r.body).unwrap_or(Value::Null);
    let mut message = v["message"]
        .as_str()
        .or_else(|| v["error"].as_str())
        .or_else(|| v["error"]["message"].as_str())
        .map(str::to_string)
        .unwrap_or_else(|| truncate(r.body.trim(), 300));
    if let Some(errors) = v["errors"].as_array() {
        let details: Vec<String> =
            errors.iter().map(|e| e["message"].as_str().map(str::to_string).unwrap_or_else(|| e.to_string())).collect();
        if !details.is_empty() {
            message = format!("{message}: {}", details.join("; "));
        }
    }
    let provider = who.to_string();
    let retry_after = r.retry_after();
    let limited = r.status == 429
        || (r.status == 403
            && (r.headers.get("x-ratelimit-remaining").map(|v| v.trim()) == Some("0")
                || r.headers.contains_key("retry-after")
                || message.to_ascii_lowercase().contains("rate limit")));
    if limited {
        return Error::RateLimited { provider, retry_after_secs: retry_after.and_then(|s| s.parse().ok()) };
    }
    match r.status {
        401 | 403 => Error::Auth { provider, message },
        408 | 504 => Error::Timeout { provider, secs: 0.0 },
        status => Error::Http { provider, status, message },
    }
}

fn only_rate_limits(e: &Error) -> bool {
    matches!(e, Error::RateLimited { .. })
}

fn any_retryable(e: &Error) -> bool {
    e.is_retryable()
}

/// An [`LlmClient`] over HTTP for the OpenAI Chat Completions format (OpenAI, Azure-style
/// gateways, Ollama, vLLM, llama.cpp servers: anything at `{base_url}/chat/completions`) or the
/// Anthropic Messages format (`{base_url}/messages`).
///
/// `Debug` never shows the key.
#[derive(Clone)]
pub struct HttpLlmClient {
    provider: Provider,
    base_url: String,
    api_key: String,
    model: String,
    transport: Transport,
}

impl std::fmt::Debug for HttpLlmClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpLlmClient")
            .field("provider", &self.provider)
            .field("base_url", &self.base_url)
            .field("api_key", &if self.api_key.is_empty() { "(none)" } else { "(set)" })
            .field("model", &self.model)
            .field("transport", &self.transport)
            .finish()
    }
}

/// The default base URL of a provider's public API.
pub fn default_base_url(provider: Provider) -> &'static str {
    match provider {
        Provider::OpenAi => "https://api.openai.com/v1",
        Provider::Anthropic => "https://api.anthropic.com/v1",
    }
}

impl HttpLlmClient {
    /// A client for `provider` at `base_url` (ending in `/v1`, e.g.
    /// `http://127.0.0.1:11434/v1` for Ollama) with `api_key` (may be empty for local servers
    /// that need none: the auth header is then left out).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] when `base_url` is not an http(s) URL.
    pub fn new(provider: Provider, base_url: impl AsRef<str>, api_key: impl Into<String>) -> Result<Self> {
        Ok(HttpLlmClient {
            provider,
            base_url: check_url("base_url", base_url.as_ref())?,
            api_key: api_key.into(),
            model: String::new(),
            transport: Transport::new(HttpConfig::default())?,
        })
    }

    /// A client configured from the environment: `OPENAI_API_KEY` and `OPENAI_BASE_URL`
    /// (default `https://api.openai.com/v1`), or `ANTHROPIC_API_KEY` and `ANTHROPIC_BASE_URL`
    /// (default `https://api.anthropic.com`; `/v1` is appended when missing, as Anthropic's
    /// SDKs do). `OPENAI_MODEL` / `ANTHROPIC_MODEL`, when set, name the model used for requests
    /// that name none.
    ///
    /// # Errors
    /// [`Error::Auth`] when the key is missing for the provider's public API (a custom base
    /// URL, such as a local server, needs no key); [`Error::InvalidParameter`] for a bad URL.
    pub fn from_env(provider: Provider) -> Result<Self> {
        Self::from_env_with(provider, |name| std::env::var(name).ok())
    }

    /// As [`HttpLlmClient::from_env`], reading variables through `lookup` (for tests, or
    /// configuration kept elsewhere).
    ///
    /// # Errors
    /// As [`HttpLlmClient::from_env`].
    pub fn from_env_with(provider: Provider, lookup: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let (key_var, url_var, model_var) = match provider {
            Provider::OpenAi => ("OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_MODEL"),
            Provider::Anthropic => ("ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", "ANTHROPIC_MODEL"),
        };
        let get = |name: &str| lookup(name).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
        let custom = get(url_var);
        let base = match (&custom, provider) {
            (Some(u), Provider::Anthropic) if !u.trim_end_matches('/').ends_with("/v1") => {
                format!("{}/v1", u.trim_end_matches('/'))
            }
            (Some(u), _) => u.clone(),
            (None, p) => default_base_url(p).to_string(),
        };
        let key = get(key_var);
        if key.is_none() && custom.is_none() {
            return Err(Error::Auth {
                provider: provider.as_str().into(),
                message: format!("{key_var} is not set (set {url_var} for a server that needs no key)"),
            });
        }
        let client = HttpLlmClient::new(provider, base, key.unwrap_or_default())?;
        Ok(match get(model_var) {
            Some(m) => client.with_model(m),
            None => client,
        })
    }

    /// Sets the connection settings.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for a zero timeout or body limit.
    pub fn with_config(mut self, config: HttpConfig) -> Result<Self> {
        let sleeper = self.transport.sleeper.clone();
        self.transport = Transport::new(config)?;
        self.transport.sleeper = sleeper;
        Ok(self)
    }

    /// Sets what waits between retries (default: the thread sleeps).
    pub fn with_sleeper(mut self, sleeper: Arc<dyn Sleeper>) -> Self {
        self.transport.sleeper = sleeper;
        self
    }

    /// Sets the model used for requests whose `model` is empty.
    pub fn with_model(mut self, model: impl Into<String>) -> Self {
        self.model = model.into();
        self
    }

    /// The wire format.
    pub fn provider(&self) -> Provider {
        self.provider
    }

    /// The base URL.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Where requests are posted.
    pub fn url(&self) -> String {
        format!("{}{}", self.base_url, self.provider.path())
    }

    fn headers(&self) -> Vec<(String, String)> {
        let mut h: Vec<(String, String)> = self
            .provider
            .headers(&self.api_key)
            .into_iter()
            .filter(|(k, _)| !self.api_key.is_empty() || (k != "authorization" && k != "x-api-key"))
            .collect();
        h.push(("content-type".into(), "application/json".into()));
        h.push(("accept".into(), "application/json".into()));
        h
    }

    /// One attempt, without retries.
    ///
    /// # Errors
    /// As [`LlmClient::complete`].
    pub fn complete_once(&self, request: &ChatRequest) -> Result<ChatReply> {
        let r = self.post(request)?;
        self.judge(&r)
    }

    fn post(&self, request: &ChatRequest) -> Result<Response> {
        let mut body = request_body(self.provider, request);
        if request.model.is_empty() && !self.model.is_empty() {
            body["model"] = json!(self.model);
        }
        let body = body.to_string();
        self.transport.send(self.provider.as_str(), "POST", &self.url(), &self.headers(), Some(&body))
    }

    fn judge(&self, r: &Response) -> Result<ChatReply> {
        if r.ok() {
            parse_reply(self.provider, &r.body)
        } else {
            Err(classify_error(self.provider, r.status, r.retry_after().as_deref(), &r.body))
        }
    }
}

impl LlmClient for HttpLlmClient {
    /// Posts the request, retrying rate limits (after their `retry-after`), timeouts, 5xx and
    /// unreachable servers as the [`RetryPolicy`] allows.
    fn complete(&self, request: &ChatRequest) -> Result<ChatReply> {
        let r = self.transport.send_retrying(
            any_retryable,
            || self.post(request),
            |r| classify_error(self.provider, r.status, r.retry_after().as_deref(), &r.body),
        )?;
        self.judge(&r)
    }
}

/// Posts messages to a Slack incoming webhook (`{"text": …}`, answered by `ok`).
///
/// `Debug` shows only the host: the webhook's path is its secret.
#[derive(Clone)]
pub struct SlackWebhook {
    url: String,
    transport: Transport,
}

impl std::fmt::Debug for SlackWebhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlackWebhook").field("url", &origin(&self.url)).finish_non_exhaustive()
    }
}

impl SlackWebhook {
    /// A webhook at `url` (`https://hooks.slack.com/services/…`).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for a URL that is not http(s).
    pub fn new(url: impl AsRef<str>) -> Result<Self> {
        Ok(SlackWebhook { url: check_url("url", url.as_ref())?, transport: Transport::new(HttpConfig::default())? })
    }

    /// Sets the connection settings (the sleeper is kept).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for a zero timeout or body limit.
    pub fn with_config(mut self, config: HttpConfig) -> Result<Self> {
        let sleeper = self.transport.sleeper.clone();
        self.transport = Transport::new(config)?;
        self.transport.sleeper = sleeper;
        Ok(self)
    }

    /// Sets what waits between retries.
    pub fn with_sleeper(mut self, sleeper: Arc<dyn Sleeper>) -> Self {
        self.transport.sleeper = sleeper;
        self
    }

    /// Posts `text` ([`crate::actions::slack_payload`]).
    ///
    /// # Errors
    /// [`Error::RateLimited`] (after the allowed retries), [`Error::Auth`] (403
    /// `invalid_token`), [`Error::Http`] (400 `invalid_payload`, 404 `no_service`, …),
    /// [`Error::Timeout`], [`Error::Unreachable`].
    pub fn send(&self, text: &str) -> Result<()> {
        let body = slack_payload(text).to_string();
        let headers = [("content-type".to_string(), "application/json".to_string())];
        self.transport
            .send_retrying(
                only_rate_limits,
                || self.transport.send("slack", "POST", &self.url, &headers, Some(&body)),
                |r| classify_service("slack", r),
            )
            .map(|_| ())
    }
}

/// Posts JSON to a generic webhook; any 2xx is success.
///
/// `Debug` shows only the host and the header names.
#[derive(Clone)]
pub struct JsonWebhook {
    url: String,
    headers: Vec<(String, String)>,
    transport: Transport,
}

impl std::fmt::Debug for JsonWebhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.headers.iter().map(|(k, _)| k.as_str()).collect();
        f.debug_struct("JsonWebhook").field("url", &origin(&self.url)).field("headers", &names).finish_non_exhaustive()
    }
}

impl JsonWebhook {
    /// A webhook at `url`.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for a URL that is not http(s).
    pub fn new(url: impl AsRef<str>) -> Result<Self> {
        Ok(JsonWebhook {
            url: check_url("url", url.as_ref())?,
            headers: vec![("content-type".into(), "application/json".into())],
            transport: Transport::new(HttpConfig::default())?,
        })
    }

    /// Adds a header to every request (`authorization`, a signature, …).
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into().to_ascii_lowercase(), value.into()));
        self
    }

    /// Sets the connection settings (the sleeper is kept).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for a zero timeout or body limit.
    pub fn with_config(mut self, config: HttpConfig) -> Result<Self> {
        let sleeper = self.transport.sleeper.clone();
        self.transport = Transport::new(config)?;
        self.transport.sleeper = sleeper;
        Ok(self)
    }

    /// Sets what waits between retries.
    pub fn with_sleeper(mut self, sleeper: Arc<dyn Sleeper>) -> Self {
        self.transport.sleeper = sleeper;
        self
    }

    /// Posts `payload`.
    ///
    /// # Errors
    /// As [`SlackWebhook::send`].
    pub fn send(&self, payload: &Value) -> Result<()> {
        let body = payload.to_string();
        self.transport
            .send_retrying(
                only_rate_limits,
                || self.transport.send("webhook", "POST", &self.url, &self.headers, Some(&body)),
                |r| classify_service("webhook", r),
            )
            .map(|_| ())
    }
}

/// A pull request GitHub opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullRequest {
    /// Its number.
    pub number: u64,
    /// Its page.
    pub html_url: String,
}

/// The GitHub REST API calls the `github_pull_request` action needs.
///
/// `Debug` never shows the token.
#[derive(Clone)]
pub struct GitHubClient {
    base_url: String,
    token: String,
    transport: Transport,
}

impl std::fmt::Debug for GitHubClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GitHubClient").field("base_url", &self.base_url).finish_non_exhaustive()
    }
}

impl GitHubClient {
    /// A client for `https://api.github.com` with a token (a fine-grained token with
    /// "pull requests: write" suffices).
    ///
    /// # Errors
    /// [`Error::Auth`] for an empty token.
    pub fn new(token: impl Into<String>) -> Result<Self> {
        let token = token.into();
        if token.trim().is_empty() {
            return Err(Error::Auth { provider: "github".into(), message: "empty token".into() });
        }
        Ok(GitHubClient {
            base_url: "https://api.github.com".into(),
            token,
            transport: Transport::new(HttpConfig::default())?,
        })
    }

    /// Sets the API's base URL (GitHub Enterprise: `https://HOST/api/v3`).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for a URL that is not http(s).
    pub fn with_base_url(mut self, url: impl AsRef<str>) -> Result<Self> {
        self.base_url = check_url("base_url", url.as_ref())?;
        Ok(self)
    }

    /// Sets the connection settings (the sleeper is kept).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for a zero timeout or body limit.
    pub fn with_config(mut self, config: HttpConfig) -> Result<Self> {
        let sleeper = self.transport.sleeper.clone();
        self.transport = Transport::new(config)?;
        self.transport.sleeper = sleeper;
        Ok(self)
    }

    /// Sets what waits between retries.
    pub fn with_sleeper(mut self, sleeper: Arc<dyn Sleeper>) -> Self {
        self.transport.sleeper = sleeper;
        self
    }

    fn headers(&self) -> Vec<(String, String)> {
        vec![
            ("accept".into(), "application/vnd.github+json".into()),
            ("authorization".into(), format!("Bearer {}", self.token)),
            ("x-github-api-version".into(), "2022-11-28".into()),
            ("content-type".into(), "application/json".into()),
        ]
    }

    fn call(&self, method: &str, path: &str, body: &Value) -> Result<Value> {
        let url = format!("{}{path}", self.base_url);
        let body = body.to_string();
        let headers = self.headers();
        let r = self.transport.send_retrying(
            only_rate_limits,
            || self.transport.send("github", method, &url, &headers, Some(&body)),
            |r| classify_service("github", r),
        )?;
        serde_json::from_str(&r.body)
            .map_err(|e| Error::malformed("github", format!("body is not JSON ({e}): {}", truncate(&r.body, 200))))
    }

    /// Opens a (draft) pull request from `head` into `base` of `repo` (`owner/name`):
    /// `POST /repos/{owner}/{repo}/pulls` with the body of
    /// [`crate::actions::github_pull_request_request`]. The branch `head` with the change must
    /// exist; pushing it is the host's.
    ///
    /// # Errors
    /// [`Error::Auth`] (401, 403), [`Error::RateLimited`] (429, or 403 with
    /// `x-ratelimit-remaining: 0`), [`Error::Http`] (404 no such repository, 422 validation
    /// failed, e.g. the pull request exists), [`Error::MalformedReply`], [`Error::Timeout`],
    /// [`Error::Unreachable`].
    pub fn create_pull_request(
        &self,
        repo: &str,
        title: &str,
        body: &str,
        head: &str,
        base: &str,
    ) -> Result<PullRequest> {
        let (path, payload) = github_pull_request_request(repo, title, body, head, base);
        let v = self.call("POST", &path, &payload)?;
        let number = v["number"].as_u64().ok_or_else(|| Error::malformed("github", "no pull request number"))?;
        Ok(PullRequest { number, html_url: v["html_url"].as_str().unwrap_or_default().to_string() })
    }

    /// Closes pull request `number` of `repo`: `PATCH /repos/{owner}/{repo}/pulls/{number}`.
    ///
    /// # Errors
    /// As [`GitHubClient::create_pull_request`].
    pub fn close_pull_request(&self, repo: &str, number: u64) -> Result<()> {
        self.call("PATCH", &format!("/repos/{repo}/pulls/{number}"), &json!({"state": "closed"})).map(|_| ())
    }
}

/// A [`Remediator`] that runs the built-in actions over HTTP — `notify_slack`,
/// `notify_webhook`, `github_pull_request` (and closes the pull request as its rollback) — and
/// hands every other kind (deploys and rollbacks are the host's) to a host remediator.
///
/// The investigation asks for execution only in live mode, so this never runs in a dry run.
#[derive(Debug, Default)]
pub struct HttpRemediator {
    slack: Option<SlackWebhook>,
    webhook: Option<JsonWebhook>,
    github: Option<GitHubClient>,
    host: Option<Box<dyn Remediator>>,
    opened: Mutex<BTreeMap<String, (String, u64)>>,
}

impl HttpRemediator {
    /// A remediator with nothing connected: every action fails with [`Error::Action`].
    pub fn new() -> Self {
        Self::default()
    }

    /// Connects Slack.
    pub fn slack(mut self, slack: SlackWebhook) -> Self {
        self.slack = Some(slack);
        self
    }

    /// Connects the JSON webhook.
    pub fn webhook(mut self, webhook: JsonWebhook) -> Self {
        self.webhook = Some(webhook);
        self
    }

    /// Connects GitHub.
    pub fn github(mut self, github: GitHubClient) -> Self {
        self.github = Some(github);
        self
    }

    /// Connects the host's remediator for every other kind of action.
    pub fn host(mut self, host: Box<dyn Remediator>) -> Self {
        self.host = Some(host);
        self
    }

    fn missing(kind: &str, what: &str) -> Error {
        Error::Action { action: kind.into(), reason: format!("no {what} is connected") }
    }

    fn param<'a>(plan: &'a ActionPlan, name: &str) -> Result<&'a str> {
        plan.params.get(name).and_then(Value::as_str).ok_or_else(|| Error::Action {
            action: plan.kind.clone(),
            reason: format!("the plan has no parameter {name}"),
        })
    }

    fn pr_key(plan: &ActionPlan) -> String {
        json!([plan.params["repo"], plan.params["head"], plan.params["base"]]).to_string()
    }
}

impl Remediator for HttpRemediator {
    fn execute(&self, plan: &ActionPlan) -> Result<ActionOutcome> {
        match plan.kind.as_str() {
            "notify_slack" => {
                let slack = self.slack.as_ref().ok_or_else(|| Self::missing(&plan.kind, "Slack webhook"))?;
                slack.send(Self::param(plan, "text")?)?;
                Ok(ActionOutcome { ok: true, detail: "posted to Slack".into() })
            }
            "notify_webhook" => {
                let hook = self.webhook.as_ref().ok_or_else(|| Self::missing(&plan.kind, "webhook"))?;
                hook.send(&json!({"text": Self::param(plan, "text")?}))?;
                Ok(ActionOutcome { ok: true, detail: format!("posted to {}", origin(&hook.url)) })
            }
            "github_pull_request" => {
                let gh = self.github.as_ref().ok_or_else(|| Self::missing(&plan.kind, "GitHub client"))?;
                let repo = Self::param(plan, "repo")?;
                let pr = gh.create_pull_request(
                    repo,
                    Self::param(plan, "title")?,
                    Self::param(plan, "body")?,
                    Self::param(plan, "head")?,
                    Self::param(plan, "base")?,
                )?;
                if let Ok(mut opened) = self.opened.lock() {
                    opened.insert(Self::pr_key(plan), (repo.to_string(), pr.number));
                }
                Ok(ActionOutcome { ok: true, detail: format!("opened pull request #{} {}", pr.number, pr.html_url) })
            }
            "undo_github_pull_request" => {
                let gh = self.github.as_ref().ok_or_else(|| Self::missing(&plan.kind, "GitHub client"))?;
                let opened = self.opened.lock().ok().and_then(|o| o.get(&Self::pr_key(plan)).cloned());
                let (repo, number) = opened.ok_or_else(|| Error::Action {
                    action: plan.kind.clone(),
                    reason: "no pull request was opened for this plan".into(),
                })?;
                gh.close_pull_request(&repo, number)?;
                Ok(ActionOutcome { ok: true, detail: format!("closed pull request #{number}") })
            }
            _ => match &self.host {
                Some(host) => host.execute(plan),
                None => Err(Self::missing(&plan.kind, "host remediator")),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert!(is_loopback("http://127.0.0.1:8080/v1"));
        assert!(is_loopback("http://localhost/v1"));
        assert!(is_loopback("http://user:pw@[::1]:9/x"));
        assert!(!is_loopback("https://api.openai.com/v1"));
        assert!(!is_loopback("https://127.example.com/"));
        assert_eq!(check_url("u", "http://x:1/v1/").unwrap(), "http://x:1/v1");
        for bad in ["ftp://x", "http://", "x.com", "https:///path"] {
            assert!(check_url("u", bad).is_err(), "{bad}");
        }
        assert_eq!(origin("https://hooks.slack.com/services/T0/B0/SECRET"), "https://hooks.slack.com");
    }

    #[test]
    fn debug_hides_secrets() {
        let c = HttpLlmClient::new(Provider::OpenAi, "https://api.openai.com/v1", "sk-secret").unwrap();
        assert!(!format!("{c:?}").contains("sk-secret"));
        let s = SlackWebhook::new("https://hooks.slack.com/services/T0/B0/SECRET").unwrap();
        assert!(!format!("{s:?}").contains("SECRET"));
        let g = GitHubClient::new("ghp_secret").unwrap();
        assert!(!format!("{g:?}").contains("ghp_secret"));
        let w = JsonWebhook::new("https://example.com/hook/SECRET").unwrap().with_header("Authorization", "Bearer t0k");
        let d = format!("{w:?}");
        assert!(!d.contains("SECRET") && !d.contains("t0k") && d.contains("authorization"));
    }

    #[test]
    fn environment() {
        let env = |vars: &'static [(&'static str, &'static str)]| {
            move |name: &str| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string())
        };
        let c = HttpLlmClient::from_env_with(Provider::OpenAi, env(&[("OPENAI_API_KEY", "k")])).unwrap();
        assert_eq!(c.url(), "https://api.openai.com/v1/chat/completions");
        let e = HttpLlmClient::from_env_with(Provider::OpenAi, env(&[])).unwrap_err();
        assert_eq!(e.code(), "AuthFailed");
        assert!(e.to_string().contains("OPENAI_API_KEY"));
        // A local server needs no key.
        let c = HttpLlmClient::from_env_with(
            Provider::OpenAi,
            env(&[("OPENAI_BASE_URL", "http://127.0.0.1:11434/v1/"), ("OPENAI_MODEL", "llama3.1")]),
        )
        .unwrap();
        assert_eq!(c.url(), "http://127.0.0.1:11434/v1/chat/completions");
        assert_eq!(c.model, "llama3.1");
        assert!(c.headers().iter().all(|(k, _)| k != "authorization"));
        let c = HttpLlmClient::from_env_with(
            Provider::Anthropic,
            env(&[("ANTHROPIC_API_KEY", "k"), ("ANTHROPIC_BASE_URL", "https://gw.example.com")]),
        )
        .unwrap();
        assert_eq!(c.url(), "https://gw.example.com/v1/messages");
        assert!(c.headers().contains(&("x-api-key".into(), "k".into())));
        let c = HttpLlmClient::from_env_with(Provider::Anthropic, env(&[("ANTHROPIC_API_KEY", "k")])).unwrap();
        assert_eq!(c.url(), "https://api.anthropic.com/v1/messages");
        assert!(
            HttpLlmClient::from_env_with(Provider::OpenAi, env(&[("OPENAI_BASE_URL", "nope")])).unwrap_err().code()
                == "InvalidParameter"
        );
    }

    #[test]
    fn service_errors() {
        let resp = |status, headers: &[(&'static str, &str)], body: &str| Response {
            status,
            headers: headers.iter().map(|(k, v)| (*k, v.to_string())).collect(),
            body: body.into(),
        };
        let e = classify_service("slack", &resp(429, &[("retry-after", "3")], "rate_limited"));
        assert!(matches!(e, Error::RateLimited { retry_after_secs: Some(s), .. } if s == 3.0));
        let e = classify_service("slack", &resp(403, &[], "invalid_token"));
        assert_eq!(e.code(), "AuthFailed");
        let e = classify_service("slack", &resp(400, &[], "invalid_payload"));
        assert!(matches!(&e, Error::Http { status: 400, message, .. } if message == "invalid_payload"));
        let e = classify_service(
            "github",
            &resp(
                403,
                &[("x-ratelimit-remaining", "0"), ("x-ratelimit-reset", "0")],
                r#"{"message":"API rate limit exceeded"}"#,
            ),
        );
        assert!(matches!(e, Error::RateLimited { retry_after_secs: Some(s), .. } if s == 0.0));
        let e = classify_service(
            "github",
            &resp(
                422,
                &[],
                r#"{"message":"Validation Failed","errors":[{"resource":"PullRequest","code":"custom","message":"A pull request already exists for acme:fix."}]}"#,
            ),
        );
        assert!(e.to_string().contains("A pull request already exists"), "{e}");
        assert_eq!(classify_service("webhook", &resp(504, &[], "")).code(), "Timeout");
        let r = resp(429, &[("retry-after-ms", "1500"), ("retry-after", "9")], "");
        assert_eq!(r.retry_after().as_deref(), Some("1.5"));
    }
}
