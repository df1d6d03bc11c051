//! JSON documents between JavaScript objects and the library's serde types.
//!
//! The monitor's configuration, events, alerts and incidents, and the investigation's needs,
//! answers and reports, are documents with a JSON form shared by Rust, Python and the command
//! line. They cross the boundary in exactly that form (snake_case keys), so that a config file,
//! a logged event and a JavaScript object read the same, and nothing is renamed on the way in
//! or out (labels and action parameters are user data whose keys must not change).

use crate::error::{Result, error};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// A serde value as a JSON value for napi to hand to JavaScript.
pub(crate) fn to_js<T: Serialize>(value: &T) -> Result<Value> {
    serde_json::to_value(value).map_err(|e| error("InvalidData", format!("cannot convert to JavaScript: {e}")))
}

/// A JavaScript object (or a JSON string of one) as a serde type; `code` names the error when
/// it does not fit.
pub(crate) fn from_js<T: DeserializeOwned>(value: Value, what: &str, code: &'static str) -> Result<T> {
    let value = match value {
        Value::String(text) => {
            serde_json::from_str(&text).map_err(|e| error(code, format!("invalid {what} JSON: {e}")))?
        }
        other => other,
    };
    serde_json::from_value(value).map_err(|e| error(code, format!("invalid {what}: {e}")))
}

/// A partial JavaScript object laid over `T::default()`, nested objects field by field, so
/// that `{ policy: { mode: 'live' } }` changes the mode and keeps every other default.
pub(crate) fn with_defaults<T>(given: Option<Value>, what: &str, code: &'static str) -> Result<T>
where
    T: Default + Serialize + DeserializeOwned,
{
    let mut base = to_js(&T::default())?;
    match given {
        None | Some(Value::Null) => {}
        Some(given @ Value::Object(_)) => overlay(&mut base, given, what, code, "")?,
        Some(other) => return Err(error(code, format!("invalid {what}: expected an object, got {other}"))),
    }
    from_js(base, what, code)
}

fn overlay(base: &mut Value, given: Value, what: &str, code: &'static str, path: &str) -> Result<()> {
    match (base, given) {
        (Value::Object(base), Value::Object(given)) => {
            for (k, v) in given {
                let at = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
                match base.get_mut(&k) {
                    Some(slot @ Value::Object(_)) if v.is_object() => overlay(slot, v, what, code, &at)?,
                    Some(slot) => *slot = v,
                    None => {
                        let known: Vec<&str> = base.keys().map(String::as_str).collect();
                        return Err(error(
                            code,
                            format!("invalid {what}: unknown field {at}; accepted: {}", known.join(", ")),
                        ));
                    }
                }
            }
            Ok(())
        }
        (base, given) => {
            *base = given;
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Default, PartialEq, Serialize, Deserialize)]
    struct Inner {
        a: u32,
        b: String,
    }

    #[derive(Debug, Default, PartialEq, Serialize, Deserialize)]
    struct Outer {
        x: f64,
        inner: Inner,
    }

    #[test]
    fn partial_objects_keep_the_defaults_field_by_field() {
        let got: Outer =
            with_defaults(Some(serde_json::json!({ "inner": { "b": "z" } })), "t", "E").ok().unwrap_or_default();
        assert_eq!(got, Outer { x: 0.0, inner: Inner { a: 0, b: "z".into() } });
        let e = with_defaults::<Outer>(Some(serde_json::json!({ "inner": { "c": 1 } })), "t", "E").err();
        assert!(e.is_some_and(|e| e.status.0 == "E" && e.reason.contains("inner.c")));
        assert!(with_defaults::<Outer>(Some(serde_json::json!(3)), "t", "E").is_err());
        assert!(with_defaults::<Outer>(None, "t", "E").is_ok());
    }

    #[test]
    fn json_text_is_read_as_the_object() {
        let got: Inner = from_js(Value::String(r#"{"a": 2, "b": "q"}"#.into()), "t", "E").ok().unwrap_or_default();
        assert_eq!(got, Inner { a: 2, b: "q".into() });
        assert!(from_js::<Inner>(Value::String("{".into()), "t", "E").is_err());
    }
}
