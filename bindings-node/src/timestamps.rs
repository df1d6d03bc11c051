//! Text timestamps, read as the command line reads them.

use crate::error::{Result, error};
use napi::bindgen_prelude::Float64Array;
use napi_derive::napi;
use oddsight_examples::timestamp::{NumericUnit, TimestampParser};

/// Reads text timestamps as `oddsight score` does (`2014-04-10 16:15:00`, ISO 8601 with a
/// fraction and a zone, a date alone, Unix seconds or milliseconds as numbers; no zone is
/// UTC) into Unix milliseconds, for the `timestamps` of every other call.
///
/// Throws `InvalidData` naming the first one that cannot be read.
#[napi(catch_unwind)]
pub fn parse_timestamps(texts: Vec<String>) -> Result<Float64Array> {
    let mut parser = TimestampParser::new(NumericUnit::Auto);
    let mut out = Vec::with_capacity(texts.len());
    for (i, t) in texts.iter().enumerate() {
        let ms = parser
            .parse(t.as_bytes())
            .map_err(|e| error("InvalidData", format!("timestamp {i} ({t:?}) cannot be read: {}", e.reason)))?;
        out.push(ms as f64);
    }
    Ok(Float64Array::new(out))
}

/// One text timestamp, as `parseTimestamps` reads it, in Unix milliseconds.
///
/// Throws `InvalidData`.
#[napi(catch_unwind)]
pub fn parse_timestamp(text: String) -> Result<i64> {
    TimestampParser::new(NumericUnit::Auto)
        .parse(text.as_bytes())
        .map_err(|e| error("InvalidData", format!("timestamp {text:?} cannot be read: {}", e.reason)))
}
