//! `investigate`, `Investigation` and `load_case`: root-cause investigations with Python
//! callables plugged in as the model, evidence source, remediator and approver.
//!
//! The Rust [`Driver`] runs the loop; each callable is wrapped in the matching Rust trait, and
//! requests, replies, actions and reports cross as plain dicts in the JSON form of the Rust
//! types. Async callers step an [`Investigation`] themselves (`next()` / `provide()`).

use crate::convert;
use crate::errors::Failure;
use oddsight_investigate::investigation::Approver;
use oddsight_investigate::investigation::{
    ActionOutcome, Answer, CaseEvidence, Driver, EvidenceItem, EvidenceQuery, EvidenceSource, Remediator, VerifyWindow,
};
use oddsight_investigate::kb::JsonLinesKnowledgeBase;
use oddsight_investigate::llm::{ChatReply, ChatRequest, LlmClient};
use oddsight_investigate::policy::Approval;
use oddsight_investigate::{Case, Error, Investigation, InvestigationOptions};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyString};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::sync::{Mutex, MutexGuard};

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure::new(e.code(), e.to_string())
    }
}

fn json_err(e: impl std::fmt::Display) -> Error {
    Error::Json { reason: e.to_string() }
}

/// A Python value as a Rust one, through JSON.
fn from_python<T: DeserializeOwned>(py: Python<'_>, obj: &Bound<'_, PyAny>) -> Result<T, Error> {
    let text = convert::to_json_text(py, obj).map_err(|e| json_err(format!("cannot encode {obj}: {e}")))?;
    serde_json::from_str(&text).map_err(json_err)
}

fn to_py<'py, T: Serialize>(py: Python<'py>, value: &T) -> Result<Bound<'py, PyAny>, Error> {
    convert::to_python(py, value).map_err(json_err)
}

/// The Rust error for an exception a callable raised: its oddsight code when it has one.
fn callback_error(py: Python<'_>, provider: &str, e: &PyErr) -> Error {
    let code: Option<String> = e.value(py).getattr("code").ok().and_then(|c| c.extract().ok());
    let message = e.to_string();
    let provider = provider.to_string();
    match code.as_deref() {
        Some("RateLimited") => Error::RateLimited { provider, retry_after_secs: None },
        Some("AuthFailed") => Error::Auth { provider, message },
        Some("ContextOverflow") => Error::ContextOverflow { provider, message },
        Some("Timeout") => Error::Timeout { provider, secs: 0.0 },
        Some("MalformedReply") => Error::MalformedReply { provider, reason: message },
        _ if e.is_instance_of::<pyo3::exceptions::PyTimeoutError>(py) => Error::Timeout { provider, secs: 0.0 },
        _ => Error::Http { provider, status: 500, message: format!("the Python callable raised {message}") },
    }
}

/// A Python callable as the investigation's model: request dict in, reply dict (or text) out.
#[derive(Debug)]
struct PyLlm(Py<PyAny>);

impl LlmClient for PyLlm {
    fn complete(&self, request: &ChatRequest) -> Result<ChatReply, Error> {
        Python::attach(|py| {
            let reply = self.0.bind(py).call1((to_py(py, request)?,)).map_err(|e| callback_error(py, "python", &e))?;
            if let Ok(text) = reply.cast::<PyString>() {
                return Ok(ChatReply::text(text.to_string()));
            }
            let mut value: serde_json::Value = from_python(py, &reply)
                .map_err(|e| Error::MalformedReply { provider: "python".into(), reason: e.to_string() })?;
            if let Some(obj) = value.as_object_mut() {
                obj.entry("stop_reason").or_insert_with(|| "end_turn".into());
                obj.entry("text").or_insert_with(|| "".into());
            }
            serde_json::from_value(value).map_err(|e| Error::MalformedReply {
                provider: "python".into(),
                reason: format!("the reply must be a str or a dict like {{\"text\": ...}}: {e}"),
            })
        })
    }
}

/// A Python evidence source: a callable `query -> items`, or an object with `gather(query)`
/// and optionally `observe(window)`.
#[derive(Debug)]
struct PyEvidence(Py<PyAny>);

impl EvidenceSource for PyEvidence {
    fn gather(&self, query: &EvidenceQuery) -> Result<Vec<EvidenceItem>, Error> {
        Python::attach(|py| {
            let obj = self.0.bind(py);
            let f = if obj.hasattr("gather").unwrap_or(false) { obj.getattr("gather") } else { Ok(obj.clone()) };
            let f = f.map_err(|e| callback_error(py, "evidence", &e))?;
            let items = f.call1((to_py(py, query)?,)).map_err(|e| callback_error(py, "evidence", &e))?;
            if items.is_none() {
                return Ok(Vec::new());
            }
            let mut value: serde_json::Value = from_python(py, &items)?;
            if let Some(list) = value.as_array_mut() {
                for item in list.iter_mut().filter_map(|i| i.as_object_mut()) {
                    item.entry("id").or_insert_with(|| "".into());
                }
            }
            serde_json::from_value(value).map_err(json_err)
        })
    }

    fn observe(&self, window: &VerifyWindow) -> Result<Vec<f64>, Error> {
        Python::attach(|py| {
            let obj = self.0.bind(py);
            if !obj.hasattr("observe").unwrap_or(false) {
                return Ok(Vec::new());
            }
            let values =
                obj.call_method1("observe", (to_py(py, window)?,)).map_err(|e| callback_error(py, "evidence", &e))?;
            values.extract().map_err(|e| json_err(format!("observe must return a list of floats: {e}")))
        })
    }
}

/// A Python remediator: `action -> bool | {"ok", "detail"} | None` (None is success).
#[derive(Debug)]
struct PyRemediator(Py<PyAny>);

impl Remediator for PyRemediator {
    fn execute(&self, action: &oddsight_investigate::actions::ActionPlan) -> Result<ActionOutcome, Error> {
        Python::attach(|py| {
            let out = self.0.bind(py).call1((to_py(py, action)?,)).map_err(|e| callback_error(py, "actions", &e))?;
            if out.is_none() {
                return Ok(ActionOutcome { ok: true, detail: "done".into() });
            }
            if let Ok(b) = out.cast::<PyBool>() {
                let ok = b.is_true();
                return Ok(ActionOutcome { ok, detail: if ok { "done" } else { "failed" }.into() });
            }
            from_python(py, &out)
        })
    }
}

fn unix_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

/// A Python approver: `(action, fingerprint) -> bool | approval dict`.
#[derive(Debug)]
struct PyApprover(Py<PyAny>);

impl Approver for PyApprover {
    fn approve(
        &self,
        action: &oddsight_investigate::actions::ActionPlan,
        fingerprint: &str,
    ) -> Result<(Approval, i64), Error> {
        Python::attach(|py| {
            let out = self
                .0
                .bind(py)
                .call1((to_py(py, action)?, fingerprint))
                .map_err(|e| callback_error(py, "approver", &e))?;
            let now = unix_now();
            if let Ok(b) = out.cast::<PyBool>() {
                let approval = Approval {
                    fingerprint: fingerprint.to_string(),
                    granted: b.is_true(),
                    approver: "python".into(),
                    decided_at: now,
                    expires_at: now + 3600,
                };
                return Ok((approval, now));
            }
            Ok((from_python(py, &out)?, now))
        })
    }
}

/// Options: the defaults with a dict and keywords laid over them (nested dicts merge).
fn options(
    py: Python<'_>,
    given: Option<&Bound<'_, PyAny>>,
    kw: Option<&Bound<'_, PyDict>>,
) -> PyResult<InvestigationOptions> {
    fn merge(base: &mut serde_json::Value, over: serde_json::Value) {
        match (base, over) {
            (serde_json::Value::Object(b), serde_json::Value::Object(o)) => {
                for (k, v) in o {
                    merge(b.entry(k).or_insert(serde_json::Value::Null), v);
                }
            }
            (b, o) => *b = o,
        }
    }
    let mut value = serde_json::to_value(InvestigationOptions::default()).map_err(|e| Failure::from(json_err(e)))?;
    for layer in [given.filter(|g| !g.is_none()), kw.map(|k| k.as_any())].into_iter().flatten() {
        let over: serde_json::Value = from_python(py, layer).map_err(Failure::from)?;
        merge(&mut value, over);
    }
    serde_json::from_value(value)
        .map_err(|e| Failure::new("InvalidParameter", format!("invalid investigation options: {e}")).into())
}

/// A case: a case directory (str or path-like) or the dict `load_case` returns.
fn case_arg(py: Python<'_>, case: &Bound<'_, PyAny>) -> PyResult<Case> {
    if case.is_instance_of::<PyDict>() {
        let case: Case =
            from_python(py, case).map_err(|e| Failure::new("InvalidCase", format!("invalid case: {e}")))?;
        case.validate().map_err(Failure::from)?;
        return Ok(case);
    }
    let path: std::path::PathBuf = case.extract()?;
    Ok(Case::load_dir(path).map_err(Failure::from)?)
}

/// Loads a case directory (`data.csv`, `inject_time.txt`, optional `changes.json`,
/// `logs.jsonl`, `topology.json`) as a dict that `investigate` and `Investigation` accept.
#[pyfunction]
pub(crate) fn load_case<'py>(py: Python<'py>, path: std::path::PathBuf) -> PyResult<Bound<'py, PyAny>> {
    let case = Case::load_dir(path).map_err(Failure::from)?;
    convert::to_python(py, &case)
}

/// `investigate(case, llm=None, evidence=None, actions=None, approver=None,
/// knowledge_base=None, options=None, **option_fields) -> report dict`.
#[pyfunction]
#[pyo3(signature = (case, llm = None, evidence = None, actions = None, approver = None, knowledge_base = None, options = None, **option_fields))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn investigate<'py>(
    py: Python<'py>,
    case: &Bound<'py, PyAny>,
    llm: Option<Bound<'py, PyAny>>,
    evidence: Option<Bound<'py, PyAny>>,
    actions: Option<Bound<'py, PyAny>>,
    approver: Option<Bound<'py, PyAny>>,
    knowledge_base: Option<std::path::PathBuf>,
    options: Option<&Bound<'py, PyAny>>,
    option_fields: Option<&Bound<'py, PyDict>>,
) -> PyResult<Bound<'py, PyAny>> {
    let case = case_arg(py, case)?;
    let mut opts = self::options(py, options, option_fields)?;
    let llm = llm.filter(|l| !l.is_none()).map(|l| PyLlm(l.unbind()));
    let explicit_llm = options.is_some_and(|o| o.get_item("use_llm").is_ok())
        || option_fields.is_some_and(|o| o.contains("use_llm").unwrap_or(false));
    if llm.is_some() && !explicit_llm {
        opts.use_llm = true;
    }
    if llm.is_none() {
        opts.use_llm = false;
    }
    let evidence = evidence.filter(|e| !e.is_none()).map(|e| PyEvidence(e.unbind()));
    let remediator = actions.filter(|a| !a.is_none()).map(|a| PyRemediator(a.unbind()));
    let approver = approver.filter(|a| !a.is_none()).map(|a| PyApprover(a.unbind()));
    let kb = match knowledge_base {
        Some(p) => Some(JsonLinesKnowledgeBase::open(p).map_err(Failure::from)?),
        None => None,
    };
    let source = CaseEvidence::new(&case, &opts.ranking, opts.max_log_templates);
    let mut sources: Vec<&dyn EvidenceSource> = vec![&source];
    if let Some(e) = &evidence {
        sources.push(e);
    }
    let inv = Investigation::new(case.clone(), opts.clone()).map_err(Failure::from)?;
    let driver = Driver {
        llm: llm.as_ref().map(|l| l as &dyn LlmClient),
        evidence: sources,
        remediator: remediator.as_ref().map(|r| r as &dyn Remediator),
        approver: approver.as_ref().map(|a| a as &dyn Approver),
        knowledge_base: kb.as_ref().map(|k| k as &dyn oddsight_investigate::kb::KnowledgeBase),
        ..Driver::default()
    };
    let report = driver.run(inv).map_err(Failure::from)?;
    convert::to_python(py, &report)
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A stepped investigation for callers that do their own I/O (asyncio, their own HTTP
/// clients): `next()` says what it needs, `provide(answer)` answers, until `next()` returns
/// `{"need": "done", ...report}`.
#[pyclass(module = "oddsight", name = "Investigation", frozen)]
#[derive(Debug)]
pub(crate) struct PyInvestigation {
    inner: Mutex<Investigation>,
    case: Case,
    options: InvestigationOptions,
}

#[pymethods]
impl PyInvestigation {
    #[new]
    #[pyo3(signature = (case, options = None, **option_fields))]
    fn new(
        py: Python<'_>,
        case: &Bound<'_, PyAny>,
        options: Option<&Bound<'_, PyAny>>,
        option_fields: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Self> {
        let case = case_arg(py, case)?;
        let options = self::options(py, options, option_fields)?;
        let inv = Investigation::new(case.clone(), options.clone()).map_err(Failure::from)?;
        Ok(PyInvestigation { inner: Mutex::new(inv), case, options })
    }

    /// What the investigation needs next, as a dict with a `need` key: `evidence`,
    /// `completion`, `approval`, `execute`, `verify`, or `done` (with the report's fields).
    fn next<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let need = lock(&self.inner).next();
        convert::to_python(py, &need)
    }

    /// Answers the current need: a dict with an `answer` key (`evidence`, `similar`,
    /// `completion`, `completion_failed`, `approval`, `executed`, `verified`).
    fn provide(&self, py: Python<'_>, answer: &Bound<'_, PyAny>) -> PyResult<()> {
        let answer: Answer = from_python(py, answer).map_err(Failure::from)?;
        Ok(lock(&self.inner).provide(answer).map_err(Failure::from)?)
    }

    /// The lifecycle stage.
    #[getter]
    fn stage<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let stage = lock(&self.inner).stage();
        convert::to_python(py, &stage)
    }

    /// The audit journal so far.
    fn journal<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let journal = lock(&self.inner).journal().clone();
        convert::to_python(py, &journal)
    }

    /// The deterministic root-cause ranking.
    fn ranking<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let ranking = lock(&self.inner).ranking().clone();
        convert::to_python(py, &ranking)
    }

    /// The case's own answer to an evidence query (what `investigate` gathers by default).
    fn case_evidence<'py>(&self, py: Python<'py>, query: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        let query: EvidenceQuery = from_python(py, query).map_err(Failure::from)?;
        let source = CaseEvidence::new(&self.case, &self.options.ranking, self.options.max_log_templates);
        let items = source.gather(&query).map_err(Failure::from)?;
        convert::to_python(py, &items)
    }

    /// The case's values over a verification window.
    fn case_values(&self, py: Python<'_>, window: &Bound<'_, PyAny>) -> PyResult<Vec<f64>> {
        let window: VerifyWindow = from_python(py, window).map_err(Failure::from)?;
        let source = CaseEvidence::new(&self.case, &self.options.ranking, self.options.max_log_templates);
        Ok(source.observe(&window).map_err(Failure::from)?)
    }
}
