//! Robust parsing of a model's answer.
//!
//! Models wrap JSON in prose or code fences, leave fields out and get types wrong.
//! [`parse_answer`] finds the first JSON object in the reply (the whole text, a fenced block,
//! or the first balanced `{…}`), then reads each field leniently: a confidence may be `0.8`,
//! `"0.8"` or `"80%"`; a root cause may be an object or a bare service name; evidence ids may
//! be strings or numbers; unknown categories fall back to the metric's. Anything it cannot
//! use is a typed [`Error::MalformedReply`], after which the investigation makes one repair
//! attempt and otherwise falls back to the deterministic report.
//!
//! ```
//! use oddsight_investigate::answer::parse_answer;
//! let a = parse_answer("Sure! ```json\n{\"root_cause\": \"checkout\", \"confidence\": \"85%\"}\n```")?;
//! assert_eq!(a.root_cause.unwrap().service, "checkout");
//! assert_eq!(a.self_confidence, Some(0.85));
//! assert!(parse_answer("I think it is the database.").is_err());
//! # Ok::<(), oddsight_investigate::Error>(())
//! ```

use crate::case::Category;
use crate::error::{Error, Result};
use crate::llm::ChatReply;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// A claimed root cause.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Claim {
    /// The service.
    pub service: String,
    /// The metric, when named.
    pub metric: Option<String>,
    /// The category, when named or derivable from the metric.
    pub category: Option<Category>,
}

/// A hypothesis: a possible cause with the evidence cited for it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hypothesis {
    /// The service blamed.
    pub service: String,
    /// The category, when known.
    pub category: Option<Category>,
    /// The mechanism, in words (`N+1 queries after deploy chg-12`).
    pub statement: String,
    /// Evidence ids cited (`E3`).
    pub evidence: Vec<String>,
    /// The confidence its author gave (the model's, or the ranking's score), in `[0, 1]`.
    pub stated_confidence: Option<f64>,
    /// Who proposed it (`ranking`, `model`).
    pub source: String,
}

/// An action the model proposes: a kind from the registry and its parameters. It is only a
/// proposal: the registry validates it and computes its risk.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProposedAction {
    /// The action kind (`rollback_deploy`).
    pub kind: String,
    /// Its parameters.
    pub params: Value,
}

/// What the model answered, normalised.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelAnswer {
    /// The root cause it names.
    pub root_cause: Option<Claim>,
    /// Its hypotheses, best first.
    pub hypotheses: Vec<Hypothesis>,
    /// Its self-reported confidence, in `[0, 1]`.
    pub self_confidence: Option<f64>,
    /// Its summary.
    pub summary: String,
    /// Actions it proposes.
    pub actions: Vec<ProposedAction>,
    /// Evidence ids cited for the root cause.
    pub evidence: Vec<String>,
}

/// The JSON schema the investigation asks the model to follow.
pub fn answer_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "root_cause": {
                "type": "object",
                "properties": {
                    "service": {"type": "string"},
                    "metric": {"type": "string"},
                    "category": {"type": "string", "enum": ["cpu", "memory", "disk", "latency", "errors", "db_queries", "connections", "traffic", "other"]}
                },
                "required": ["service"]
            },
            "evidence": {"type": "array", "items": {"type": "string"}, "description": "ids of the evidence items (E1, E2, ...) that support the root cause"},
            "hypotheses": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "service": {"type": "string"},
                        "category": {"type": "string"},
                        "statement": {"type": "string"},
                        "evidence": {"type": "array", "items": {"type": "string"}},
                        "confidence": {"type": "number"}
                    },
                    "required": ["service", "statement"]
                }
            },
            "confidence": {"type": "number", "minimum": 0, "maximum": 1},
            "summary": {"type": "string"},
            "actions": {
                "type": "array",
                "items": {"type": "object", "properties": {"kind": {"type": "string"}, "params": {"type": "object"}}, "required": ["kind"]}
            }
        },
        "required": ["root_cause", "summary"]
    })
}

/// Extracts the first JSON object from model text: the whole text, a fenced code block, or
/// the first balanced `{…}` (string-aware).
pub fn extract_json(text: &str) -> Option<Value> {
    let t = text.trim();
    if let Ok(v @ Value::Object(_)) = serde_json::from_str::<Value>(t) {
        return Some(v);
    }
    // Fenced blocks: ```json … ``` or ``` … ```.
    let mut rest = t;
    while let Some(start) = rest.find("```") {
        let after = &rest[start + 3..];
        let body_start = after.find('\n').map(|i| i + 1).unwrap_or(0);
        let Some(end) = after[body_start..].find("```") else { break };
        let body = &after[body_start..body_start + end];
        if let Ok(v @ Value::Object(_)) = serde_json::from_str::<Value>(body.trim()) {
            return Some(v);
        }
        rest = &after[body_start + end + 3..];
    }
    // The first balanced object that parses.
    let bytes = t.as_bytes();
    let mut from = 0;
    while let Some(off) = t[from..].find('{') {
        let start = from + off;
        let (mut depth, mut in_str, mut esc) = (0i32, false, false);
        for (i, &b) in bytes.iter().enumerate().skip(start) {
            if in_str {
                match (esc, b) {
                    (true, _) => esc = false,
                    (false, b'\\') => esc = true,
                    (false, b'"') => in_str = false,
                    _ => {}
                }
                continue;
            }
            match b {
                b'"' => in_str = true,
                b'{' => depth += 1,
                b'}' => {
                    depth -= 1;
                    if depth == 0 {
                        if let Ok(v @ Value::Object(_)) = serde_json::from_str::<Value>(&t[start..=i]) {
                            return Some(v);
                        }
                        break;
                    }
                }
                _ => {}
            }
        }
        from = start + 1;
    }
    None
}

/// Reads a number leniently: `0.8`, `"0.8"`, `"80%"`, `80` (read as a percentage), clamped to
/// `[0, 1]`; `None` for anything else.
pub fn lenient_unit(v: &Value) -> Option<f64> {
    let x = match v {
        Value::Number(n) => n.as_f64()?,
        Value::String(s) => {
            let s = s.trim();
            if let Some(p) = s.strip_suffix('%') {
                p.trim().parse::<f64>().ok()? / 100.0
            } else {
                s.parse::<f64>().ok()?
            }
        }
        _ => return None,
    };
    if !x.is_finite() || x < 0.0 {
        return None;
    }
    Some(if x > 1.0 && x <= 100.0 { x / 100.0 } else { x.min(1.0) })
}

fn lenient_str(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn lenient_category(v: &Value, metric: Option<&str>) -> Option<Category> {
    let from_name = lenient_str(v).and_then(|s| {
        let s = s.to_ascii_lowercase().replace([' ', '-'], "_");
        serde_json::from_value::<Category>(Value::String(s.clone())).ok().or_else(|| match Category::of_metric(&s) {
            Category::Other => None,
            c => Some(c),
        })
    });
    from_name.or_else(|| metric.map(Category::of_metric))
}

fn lenient_ids(v: &Value) -> Vec<String> {
    match v {
        Value::Array(a) => a.iter().filter_map(|x| lenient_str(x).map(|s| normalise_id(&s))).collect(),
        Value::String(s) => s.split([',', ' ']).filter(|x| !x.is_empty()).map(normalise_id).collect(),
        Value::Number(n) => vec![normalise_id(&n.to_string())],
        _ => Vec::new(),
    }
}

fn normalise_id(s: &str) -> String {
    let s = s.trim().trim_matches(|c| c == '[' || c == ']');
    if s.chars().all(|c| c.is_ascii_digit()) && !s.is_empty() { format!("E{s}") } else { s.to_ascii_uppercase() }
}

fn claim(v: &Value) -> Option<Claim> {
    match v {
        Value::String(s) if !s.trim().is_empty() => {
            // "checkout" or "checkout_cpu".
            let (service, metric) = crate::case::split_column(s.trim());
            let metric = (metric != "value").then_some(metric);
            let category = metric.as_deref().map(Category::of_metric);
            Some(Claim { service, metric, category })
        }
        Value::Object(o) => {
            let service = o.get("service").and_then(lenient_str)?;
            let metric = o.get("metric").and_then(lenient_str);
            let category = lenient_category(o.get("category").unwrap_or(&Value::Null), metric.as_deref());
            Some(Claim { service, metric, category })
        }
        _ => None,
    }
}

/// Parses a model's answer from text.
///
/// # Errors
/// [`Error::MalformedReply`] when no JSON object is found or it names no root cause and no
/// hypothesis.
pub fn parse_answer(text: &str) -> Result<ModelAnswer> {
    let v = extract_json(text).ok_or_else(|| Error::malformed("model", "no JSON object in the reply"))?;
    answer_from_value(&v)
}

/// Parses a model's answer from a reply: a tool call carrying the structured answer (named
/// `answer`) wins over the text.
///
/// # Errors
/// As [`parse_answer`].
pub fn parse_reply_answer(reply: &ChatReply) -> Result<ModelAnswer> {
    if let Some(call) = reply.tool_calls.iter().find(|c| c.name == "answer") {
        return answer_from_value(&call.arguments);
    }
    parse_answer(&reply.text)
}

fn answer_from_value(v: &Value) -> Result<ModelAnswer> {
    if !v.is_object() {
        return Err(Error::malformed("model", "the answer is not a JSON object"));
    }
    let root_cause = claim(&v["root_cause"]).or_else(|| claim(&v["rootCause"]));
    let mut hypotheses = Vec::new();
    if let Some(hs) = v["hypotheses"].as_array() {
        for h in hs {
            let Some(service) = h.get("service").and_then(lenient_str) else { continue };
            hypotheses.push(Hypothesis {
                service,
                category: lenient_category(h.get("category").unwrap_or(&Value::Null), None),
                statement: h.get("statement").and_then(lenient_str).unwrap_or_default(),
                evidence: lenient_ids(h.get("evidence").unwrap_or(&Value::Null)),
                stated_confidence: h.get("confidence").and_then(lenient_unit),
                source: "model".into(),
            });
        }
    }
    if root_cause.is_none() && hypotheses.is_empty() {
        return Err(Error::malformed("model", "the answer names no root cause and no hypothesis"));
    }
    let root_cause = root_cause.or_else(|| {
        hypotheses.first().map(|h| Claim { service: h.service.clone(), metric: None, category: h.category })
    });
    let actions = v["actions"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| {
                    let kind = x.get("kind").and_then(lenient_str)?;
                    let params = x.get("params").filter(|p| p.is_object()).cloned().unwrap_or_else(|| json!({}));
                    Some(ProposedAction { kind, params })
                })
                .collect()
        })
        .unwrap_or_default();
    let mut evidence = lenient_ids(&v["evidence"]);
    if evidence.is_empty()
        && let Some(h) = hypotheses.first()
    {
        evidence = h.evidence.clone();
    }
    Ok(ModelAnswer {
        root_cause,
        hypotheses,
        self_confidence: lenient_unit(&v["confidence"]),
        summary: lenient_str(&v["summary"]).unwrap_or_default(),
        actions,
        evidence,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn finds_json_wherever_it_is() {
        let full =
            r#"{"root_cause":{"service":"cart","metric":"cpu"},"summary":"s","confidence":0.7,"evidence":["E1",2]}"#;
        for text in [
            full.to_string(),
            format!("Here you go:\n```json\n{full}\n```\nThanks"),
            format!("```\n{full}\n```"),
            format!("My analysis: {full} — hope it helps {{not json}}"),
            format!("{{broken {full}"),
        ] {
            let a = parse_answer(&text).unwrap();
            let rc = a.root_cause.unwrap();
            assert_eq!((rc.service.as_str(), rc.category), ("cart", Some(Category::Cpu)), "{text}");
            assert_eq!(a.evidence, vec!["E1", "E2"]);
            assert_eq!(a.self_confidence, Some(0.7));
        }
    }

    #[test]
    fn lenient_fields() {
        let a = parse_answer(r#"{"root_cause":"payments-db_conn_pool","confidence":"high","hypotheses":[{"service":"x","statement":"s","confidence":"60%","evidence":"E1, E4"},{"statement":"no service"},{"service":7,"category":"Memory leak"}]}"#).unwrap();
        let rc = a.root_cause.unwrap();
        assert_eq!(rc.service, "payments-db");
        assert_eq!(rc.category, Some(Category::Connections));
        assert_eq!(a.self_confidence, None);
        assert_eq!(a.hypotheses.len(), 2);
        assert_eq!(a.hypotheses[0].stated_confidence, Some(0.6));
        assert_eq!(a.hypotheses[0].evidence, vec!["E1", "E4"]);
        assert_eq!(a.hypotheses[1].service, "7");
        assert_eq!(a.hypotheses[1].category, Some(Category::Memory));
        let b = parse_answer(r#"{"hypotheses":[{"service":"auth","category":"cpu","statement":"hot loop"}]}"#).unwrap();
        assert_eq!(b.root_cause.unwrap().service, "auth");
        assert_eq!(lenient_unit(&json!(85)), Some(0.85));
        assert_eq!(lenient_unit(&json!(-1)), None);
        assert_eq!(lenient_unit(&json!(1e9)), Some(1.0));
    }

    #[test]
    fn unusable_answers_are_typed_errors() {
        for t in [
            "",
            "no json here",
            "[1,2,3]",
            r#"{"summary":"I don't know"}"#,
            r#"{"root_cause":{"metric":"cpu"}}"#,
            "```json\n{oops\n```",
        ] {
            assert_eq!(parse_answer(t).unwrap_err().code(), "MalformedReply", "{t}");
        }
    }

    proptest! {
        #[test]
        fn never_panics(s in "\\PC{0,300}") {
            let _ = parse_answer(&s);
        }

        #[test]
        fn embedded_answers_are_found(prefix in "[a-zA-Z ,.!]{0,40}", suffix in "[a-zA-Z ,.!]{0,40}", svc in "[a-z][a-z-]{0,10}", c in 0.0f64..1.0) {
            let body = json!({"root_cause": {"service": svc.clone()}, "confidence": c, "summary": "x"});
            let a = parse_answer(&format!("{prefix}{body}{suffix}")).unwrap();
            prop_assert_eq!(a.root_cause.unwrap().service, svc);
            prop_assert!((a.self_confidence.unwrap() - c).abs() < 1e-12);
        }
    }
}
