//! Detector evaluation: the NAB corpus scorer and the synthetic efficacy suite, as the
//! command line's `eval-nab` and `eval-synthetic` run them. Long work, so each has an `…Async`
//! twin on libuv's thread pool.

use crate::error::{Pending, Result, js};
use crate::json::with_defaults;
use napi::bindgen_prelude::{AsyncTask, Env, ToNapiValue, TypeName};
use napi::{Status, Task};
use napi::{ValueType, sys};
use napi_derive::napi;
use oddsight_detectors::AnyDetector;
use oddsight_detectors::eval::nab::NabCorpus;
use oddsight_detectors::eval::synthetic::SuiteParams;
use serde_json::Value;

type Factory = Box<dyn Fn() -> oddsight_detectors::Result<Box<dyn oddsight_core::Detector>> + Send>;

/// A factory of fresh detectors for `spec`, checked once up front so that a bad spec fails
/// before any data is read.
fn factory(spec: Option<String>) -> Result<(String, Factory)> {
    let spec = spec.unwrap_or_else(|| "default".to_string());
    AnyDetector::parse(&spec).map_err(js)?;
    let text = spec.clone();
    Ok((spec, Box::new(move || AnyDetector::parse(&text).map(|d| Box::new(d) as Box<dyn oddsight_core::Detector>))))
}

fn nab(data_dir: &str, windows: &str, factory: &Factory) -> std::result::Result<Value, Pending> {
    let corpus = NabCorpus::load(data_dir, windows).map_err(|e| Pending::of(&e))?;
    let report = corpus.score_detector(factory).map_err(|e| Pending::of(&e))?;
    serde_json::to_value(&report).map_err(|e| Pending { code: "InvalidData", message: e.to_string() })
}

fn synthetic(params: SuiteParams, factory: &Factory) -> std::result::Result<Value, Pending> {
    let suite = params.build().map_err(|e| Pending::of(&e))?;
    let report = suite.evaluate(factory).map_err(|e| Pending::of(&e))?;
    serde_json::to_value(&report).map_err(|e| Pending { code: "InvalidData", message: e.to_string() })
}

fn now<T>(r: std::result::Result<T, Pending>) -> Result<T> {
    r.map_err(|p| crate::error::error(p.code, p.message))
}

/// Streams every file of a NAB-format corpus (`dataDir` of `timestamp,value` CSVs, and the
/// anomaly windows JSON) through a fresh detector and scores it under NAB's three profiles,
/// each at its best threshold: `oddsight eval-nab`.
///
/// Throws `InvalidSpec`, `IoError` for a file that cannot be read, `InvalidData` for a
/// malformed one.
#[napi(catch_unwind, ts_return_type = "Record<string, unknown>")]
pub fn evaluate_nab(data_dir: String, windows: String, detector: Option<String>) -> Result<Value> {
    let (_, f) = factory(detector)?;
    now(nab(&data_dir, &windows, &f))
}

/// `evaluateNab` off the main thread; rejects with the same errors.
#[napi(catch_unwind, ts_return_type = "Promise<Record<string, unknown>>")]
pub fn evaluate_nab_async(data_dir: String, windows: String, detector: Option<String>) -> AsyncTask<JsonTask> {
    AsyncTask::new(JsonTask::new(move || {
        let (_, f) = factory(detector).map_err(Pending::from_error)?;
        nab(&data_dir, &windows, &f)
    }))
}

/// Runs a detector over the seeded synthetic suite (spikes, dips, level shifts, drifts,
/// variance changes, seasonality breaks, count bursts; easy, medium, hard) and reports
/// precision, recall, F1 and detection delay per cell: `oddsight eval-synthetic`. `options`
/// are fields of the suite parameters (`replicates`, `seed`, `length`, …).
///
/// Throws `InvalidSpec`, `InvalidParameter`.
#[napi(catch_unwind, ts_return_type = "Record<string, unknown>")]
pub fn evaluate_synthetic(
    detector: Option<String>,
    #[napi(ts_arg_type = "Record<string, unknown>")] options: Option<Value>,
) -> Result<Value> {
    let (_, f) = factory(detector)?;
    let params: SuiteParams = with_defaults(options, "synthetic suite options", "InvalidParameter")?;
    now(synthetic(params, &f))
}

/// `evaluateSynthetic` off the main thread; rejects with the same errors.
#[napi(catch_unwind, ts_return_type = "Promise<Record<string, unknown>>")]
pub fn evaluate_synthetic_async(
    detector: Option<String>,
    #[napi(ts_arg_type = "Record<string, unknown>")] options: Option<Value>,
) -> AsyncTask<JsonTask> {
    let params = with_defaults::<SuiteParams>(options, "synthetic suite options", "InvalidParameter");
    AsyncTask::new(JsonTask::new(move || {
        let (_, f) = factory(detector).map_err(Pending::from_error)?;
        synthetic(params.map_err(Pending::from_error)?, &f)
    }))
}

/// Work that ends in a JSON document, run on libuv's thread pool.
pub struct JsonTask {
    work: Option<Box<dyn FnOnce() -> std::result::Result<Value, Pending> + Send>>,
    error: Option<Pending>,
}

impl std::fmt::Debug for JsonTask {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JsonTask").field("done", &self.work.is_none()).finish_non_exhaustive()
    }
}

impl JsonTask {
    fn new(work: impl FnOnce() -> std::result::Result<Value, Pending> + Send + 'static) -> Self {
        JsonTask { work: Some(Box::new(work)), error: None }
    }
}

/// A JSON document as a task's result (napi wants a type name for it).
#[derive(Debug)]
pub struct Document(Value);

impl TypeName for Document {
    fn type_name() -> &'static str {
        "Object"
    }
    fn value_type() -> ValueType {
        ValueType::Object
    }
}

impl ToNapiValue for Document {
    unsafe fn to_napi_value(env: sys::napi_env, val: Self) -> napi::Result<sys::napi_value> {
        // SAFETY: napi hands a live `env` on the JavaScript thread, as for any conversion.
        unsafe { Value::to_napi_value(env, val.0) }
    }
}

impl Task for JsonTask {
    type Output = Value;
    type JsValue = Document;

    fn compute(&mut self) -> napi::Result<Value> {
        let Some(work) = self.work.take() else {
            return Err(napi::Error::new(Status::GenericFailure, "the task ran twice"));
        };
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(work)) {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(pending)) => {
                let message = pending.message.clone();
                self.error = Some(pending);
                Err(napi::Error::new(Status::GenericFailure, message))
            }
            Err(_) => Err(napi::Error::new(Status::GenericFailure, "internal error: the task panicked")),
        }
    }

    fn resolve(&mut self, _env: Env, output: Value) -> napi::Result<Document> {
        Ok(Document(output))
    }

    fn reject(&mut self, env: Env, err: napi::Error) -> napi::Result<Document> {
        match self.error.take() {
            Some(pending) => Err(pending.into_rejection(env)),
            None => Err(err),
        }
    }
}
