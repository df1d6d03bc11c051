//! `Investigation`: the sans-IO root-cause investigation, stepped from JavaScript; case
//! loading and generation; the LLM wire formats as pure functions.

use crate::error::{Code, Result, error, js};
use crate::json::{from_js, to_js, with_defaults};
use napi::bindgen_prelude::{Env, JsError, Unknown};
use napi_derive::napi;
use oddsight_investigate::generate::GeneratorParams;
use oddsight_investigate::investigation::{CaseEvidence, Event, EvidenceQuery, EvidenceSource, Journal, VerifyWindow};
use oddsight_investigate::wire::{self, Provider};
use oddsight_investigate::{Answer, Case, InvestigationOptions, Need, RankingParams};
use serde_json::{Value, json};

/// A case from a directory path or a case object (`{ name, times, series, inject_time,
/// changes?, logs?, topology?, truth? }`, times in Unix seconds).
fn read_case(case: Value) -> Result<Case> {
    let case = match case {
        Value::String(dir) => Case::load_dir(&dir).map_err(js)?,
        Value::Object(mut fields) => {
            for optional in ["changes", "logs"] {
                fields.entry(optional).or_insert_with(|| json!([]));
            }
            fields.entry("name").or_insert_with(|| json!("case"));
            // JSON has no NaN: a missing sample is `null` (as `loadCase` writes it), read
            // back here as the NaN the library uses.
            let mut columns = Vec::new();
            if let Some(Value::Array(series)) = fields.get_mut("series") {
                for s in series.iter_mut() {
                    let values = s.get_mut("values").map(Value::take);
                    columns.push(match values {
                        Some(Value::Array(values)) => values
                            .into_iter()
                            .map(|v| match v {
                                Value::Null => Ok(f64::NAN),
                                Value::Number(n) => Ok(n.as_f64().unwrap_or(f64::NAN)),
                                other => Err(error("InvalidCase", format!("invalid case: a series value is {other}"))),
                            })
                            .collect::<Result<Vec<f64>>>()?,
                        _ => return Err(error("InvalidCase", "invalid case: every series needs values")),
                    });
                    if let Some(slot) = s.get_mut("values") {
                        *slot = json!([]);
                    }
                }
            }
            let mut case: Case = from_js(Value::Object(fields), "case", "InvalidCase")?;
            for (s, values) in case.series.iter_mut().zip(columns) {
                s.values = values;
            }
            case
        }
        other => return Err(error("InvalidCase", format!("a case is a directory path or an object, got {other}"))),
    };
    case.validate().map_err(js)?;
    Ok(case)
}

fn options(options: Option<Value>) -> Result<InvestigationOptions> {
    with_defaults(options, "investigation options", "InvalidParameter")
}

/// A root-cause investigation of one incident, stepped by its caller: `next()` says what it
/// needs, `provide()` hands it over. It does no I/O of its own, so JavaScript answers with its
/// own (async) HTTP clients; `investigate()` runs the loop for you.
///
/// Needs, answers and the report are the library's JSON documents (snake_case, as in Rust and
/// Python): a need is tagged by `need` (`evidence`, `completion`, `approval`, `execute`,
/// `verify`, `done`), an answer by `answer` (`evidence`, `similar`, `completion`,
/// `completion_failed`, `approval`, `executed`, `verified`). The finished report comes as
/// `{ need: 'done', report }`.
///
/// ```js
/// const inv = new Investigation('cases/case-000', { use_llm: false })
/// for (let need = inv.next(); need.need !== 'done'; need = inv.next()) {
///   if (need.need === 'evidence') inv.provide(need.query.kind === 'similar_incidents'
///     ? { answer: 'similar', matches: [] }
///     : { answer: 'evidence', items: inv.caseEvidence(need.query) })
/// }
/// ```
#[napi]
#[derive(Debug)]
pub struct Investigation {
    inner: oddsight_investigate::Investigation,
    case: Case,
    ranking: RankingParams,
    max_templates: usize,
}

#[napi]
impl Investigation {
    /// Starts investigating a case (a directory path or a case object) with `options` (the
    /// fields of the Rust `InvestigationOptions`, snake_case, any subset: `use_llm`, `model`,
    /// `policy: { mode: 'live' }`, …; defaults otherwise: no model, dry run).
    ///
    /// Throws `IoError` or `InvalidCase` for the case, `InvalidParameter` for the options.
    #[napi(constructor, catch_unwind)]
    pub fn new(
        #[napi(ts_arg_type = "string | CaseDocument")] case_input: Value,
        #[napi(ts_arg_type = "InvestigationOptions")] options: Option<Value>,
    ) -> Result<Self> {
        let case = read_case(case_input)?;
        let options = self::options(options)?;
        let (ranking, max_templates) = (options.ranking.clone(), options.max_log_templates);
        let inner = oddsight_investigate::Investigation::new(case.clone(), options).map_err(js)?;
        Ok(Investigation { inner, case, ranking, max_templates })
    }

    /// What the investigation needs next. Calling it again before `provide` returns the same
    /// need.
    // `next` is the sans-IO verb shared with Rust and Python; this is no iterator.
    #[allow(clippy::should_implement_trait)]
    #[napi(catch_unwind, ts_return_type = "InvestigationNeed")]
    pub fn next(&mut self) -> Result<Value> {
        match self.inner.next() {
            Need::Done(report) => Ok(json!({ "need": "done", "report": to_js(&report)? })),
            need => to_js(&need),
        }
    }

    /// Hands over the answer to the pending need.
    ///
    /// Throws `JsonError` for an answer that is not one, `UnexpectedAnswer` for one that does
    /// not answer the pending need.
    #[napi(catch_unwind)]
    pub fn provide(&mut self, #[napi(ts_arg_type = "InvestigationAnswer")] answer: Value) -> Result<()> {
        let answer: Answer = from_js(answer, "answer", "JsonError")?;
        self.inner.provide(answer).map_err(js)
    }

    /// Evidence for a query from the case itself (metric statistics, log templates with counts
    /// before and after the onset, changes): what `investigate()` answers with when no
    /// `evidence` function is given.
    #[napi(catch_unwind, ts_return_type = "EvidenceItem[]")]
    pub fn case_evidence(&self, #[napi(ts_arg_type = "EvidenceQuery")] query: Value) -> Result<Value> {
        let query: EvidenceQuery = from_js(query, "evidence query", "JsonError")?;
        let source = CaseEvidence::new(&self.case, &self.ranking, self.max_templates);
        to_js(&source.gather(&query).map_err(js)?)
    }

    /// The case's values of a metric over a verification window.
    #[napi(catch_unwind)]
    pub fn case_values(&self, #[napi(ts_arg_type = "VerifyWindow")] window: Value) -> Result<Vec<f64>> {
        let window: VerifyWindow = from_js(window, "verification window", "JsonError")?;
        let source = CaseEvidence::new(&self.case, &self.ranking, self.max_templates);
        source.observe(&window).map_err(js)
    }

    /// The lifecycle stage (`detected`, `investigating`, `awaiting_approval`, …, `resolved`,
    /// `failed`, `escalated`).
    #[napi(getter, catch_unwind)]
    pub fn stage(&self) -> Result<String> {
        Ok(to_js(&self.inner.stage())?.as_str().unwrap_or_default().to_string())
    }

    /// The audit journal so far.
    #[napi(catch_unwind, ts_return_type = "{ entries: Array<Record<string, unknown>> }")]
    pub fn journal(&self) -> Result<Value> {
        to_js(self.inner.journal())
    }

    /// The deterministic ranking of services and metrics.
    #[napi(catch_unwind, ts_return_type = "Record<string, unknown>")]
    pub fn ranking(&self) -> Result<Value> {
        to_js(self.inner.ranking())
    }

    /// Re-runs a report's journal against a fresh investigation of the same case and options,
    /// checking that every need matches the record, and returns the report.
    ///
    /// Throws `ReplayDiverged` at the first difference, and as the constructor.
    #[napi(catch_unwind, ts_return_type = "InvestigationReport")]
    pub fn replay(
        #[napi(ts_arg_type = "string | CaseDocument")] case_input: Value,
        #[napi(ts_arg_type = "InvestigationOptions | null | undefined")] options: Option<Value>,
        #[napi(ts_arg_type = "{ entries: Array<Record<string, unknown>> }")] journal: Value,
    ) -> Result<Value> {
        let case = read_case(case_input)?;
        let options = self::options(options)?;
        let mut journal: Journal = from_js(journal, "journal", "JsonError")?;
        canonical_needs(&mut journal);
        to_js(&oddsight_investigate::Investigation::replay(case, options, &journal).map_err(js)?)
    }
}

/// Rewrites the needs recorded in a journal as Rust writes them. JavaScript has one number
/// type, so a journal that went through it reads `1.0` back as the integer `1`, and replay
/// compares recorded needs as JSON values, where the two differ; a need read back into its
/// type and written again has Rust's numbers.
fn canonical_needs(journal: &mut Journal) {
    for entry in &mut journal.entries {
        if let Event::Needed { need } = &mut entry.event
            && let Ok(typed) = serde_json::from_value::<Need>(need.clone())
            && let Ok(value) = serde_json::to_value(&typed)
        {
            *need = value;
        }
    }
}

/// Loads a case directory (`data.csv`, `inject_time.txt`, optional `changes.json`,
/// `logs.jsonl`, `topology.json`, `truth.json`) as a case object.
///
/// Throws `IoError` or `InvalidCase`.
#[napi(catch_unwind, ts_return_type = "CaseDocument")]
pub fn load_case(dir: String) -> Result<Value> {
    to_js(&Case::load_dir(&dir).map_err(js)?)
}

/// Writes a case object as a case directory (created if needed).
///
/// Throws `IoError`, `InvalidCase`.
#[napi(catch_unwind)]
pub fn write_case_dir(#[napi(ts_arg_type = "CaseDocument")] case_document: Value, dir: String) -> Result<()> {
    read_case(case_document)?.write_dir(&dir).map_err(js)
}

/// Case `index` of the seeded synthetic generator (a known root cause in `truth`, red
/// herrings, sometimes instruction-like log lines): for trying the investigation.
#[napi(catch_unwind, ts_return_type = "CaseDocument")]
pub fn generate_case(seed: Option<u32>, index: Option<u32>) -> Result<Value> {
    let mut params = GeneratorParams::default();
    if let Some(seed) = seed {
        params = params.seed(u64::from(seed));
    }
    let generator = params.build().map_err(js)?;
    to_js(&generator.case(index.unwrap_or(0) as usize).case)
}

fn provider(name: &str) -> Result<Provider> {
    match name {
        "openai" => Ok(Provider::OpenAi),
        "anthropic" => Ok(Provider::Anthropic),
        other => Err(error(
            "InvalidParameter",
            format!("invalid parameter provider: must be openai or anthropic, got {other}"),
        )),
    }
}

/// How to reach a provider: the path after a base URL ending in `/v1`, and the headers
/// besides `content-type`.
#[napi(object, object_from_js = false)]
#[derive(Debug, Clone)]
pub struct ProviderRoute {
    /// `/chat/completions` or `/messages`.
    pub path: String,
    /// Authentication and version headers.
    pub headers: std::collections::HashMap<String, String>,
}

/// The path and headers of a provider's endpoint.
///
/// Throws `InvalidParameter` for an unknown provider.
#[napi(catch_unwind)]
pub fn provider_route(
    #[napi(ts_arg_type = "LlmProvider")] provider: String,
    api_key: Option<String>,
) -> Result<ProviderRoute> {
    let p = self::provider(&provider)?;
    Ok(ProviderRoute {
        path: p.path().to_string(),
        headers: p.headers(api_key.as_deref().unwrap_or_default()).into_iter().collect(),
    })
}

/// The JSON body of a normalised chat request in a provider's wire format.
///
/// Throws `InvalidParameter` for an unknown provider, `JsonError` for a malformed request.
#[napi(catch_unwind, ts_return_type = "Record<string, unknown>")]
pub fn request_body(
    #[napi(ts_arg_type = "LlmProvider")] provider: String,
    #[napi(ts_arg_type = "ChatRequest")] request: Value,
) -> Result<Value> {
    let p = self::provider(&provider)?;
    let request = from_js(request, "chat request", "JsonError")?;
    Ok(wire::request_body(p, &request))
}

/// Parses a provider's successful (2xx) response body into the normalised reply.
///
/// Throws `MalformedReply` (or, for an error object in the body, what `classifyError` gives).
#[napi(catch_unwind, ts_return_type = "ChatReply")]
pub fn parse_reply(#[napi(ts_arg_type = "LlmProvider")] provider: String, body: String) -> Result<Value> {
    let p = self::provider(&provider)?;
    to_js(&wire::parse_reply(p, &body).map_err(js)?)
}

/// The typed error for a provider's failed response: an `Error` (not thrown) whose `code` is
/// `RateLimited`, `AuthFailed`, `ContextOverflow`, `Timeout` or `HttpError`. Throw it from an
/// `llm` function and the investigation records the failure and falls back to its ranking.
#[napi(catch_unwind, ts_return_type = "OddsightError")]
pub fn classify_error<'env>(
    env: &'env Env,
    #[napi(ts_arg_type = "LlmProvider")] provider: String,
    status: u32,
    retry_after: Option<String>,
    body: String,
) -> Result<Unknown<'env>> {
    let p = self::provider(&provider)?;
    let status = u16::try_from(status).unwrap_or(u16::MAX);
    let e = wire::classify_error(p, status, retry_after.as_deref(), &body);
    let err: napi::Error<Code> = js(e);
    Ok(JsError::from(err).into_unknown(*env))
}
