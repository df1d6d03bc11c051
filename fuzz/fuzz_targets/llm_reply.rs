//! What comes back from a model: the answer parser (`answer::parse_answer`, `extract_json`)
//! and both wire formats (`wire::parse_reply`, `classify_error`, `retry_after_secs`) for the
//! OpenAI and Anthropic providers.
//!
//! The first two bytes are an HTTP status for `classify_error`; the rest, split at the first
//! NUL byte, is the body and a `retry-after` header. Invariants: nothing panics; confidences
//! read from a reply are in [0, 1]; a found JSON object is an object; waits are finite and
//! not negative.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oddsight_investigate::Error;
use oddsight_investigate::answer::{ModelAnswer, extract_json, parse_answer, parse_reply_answer};
use oddsight_investigate::wire::{Provider, classify_error, parse_reply, retry_after_secs};

fuzz_target!(|data: &[u8]| {
    let Some((status, rest)) = data.split_first_chunk::<2>() else { return };
    let status = u16::from_le_bytes(*status);
    let (body, header) = match rest.iter().position(|&b| b == 0) {
        Some(i) => (&rest[..i], Some(&rest[i + 1..])),
        None => (rest, None),
    };
    let body = String::from_utf8_lossy(body);
    let header = header.map(String::from_utf8_lossy);

    if let Some(v) = extract_json(&body) {
        assert!(v.is_object(), "extract_json gave a non-object");
    }
    if let Ok(a) = parse_answer(&body) {
        check(&a);
    }
    for provider in [Provider::OpenAi, Provider::Anthropic] {
        if let Ok(reply) = parse_reply(provider, &body)
            && let Ok(a) = parse_reply_answer(&reply)
        {
            check(&a);
        }
        if let Error::RateLimited { retry_after_secs: Some(s), .. } =
            classify_error(provider, status, header.as_deref(), &body)
        {
            assert!(s.is_finite() && s >= 0.0, "retry after {s}");
        }
    }
    if let Some(h) = header.as_deref() {
        for now in [0.0, 1.7e9, -1.0, f64::MAX] {
            if let Some(s) = retry_after_secs(h, now) {
                assert!(s.is_finite() && s >= 0.0, "retry_after_secs({h:?}, {now}) = {s}");
            }
        }
    }
});

fn check(a: &ModelAnswer) {
    let unit = |x: Option<f64>| x.is_none_or(|x| (0.0..=1.0).contains(&x));
    assert!(unit(a.self_confidence), "self confidence {:?}", a.self_confidence);
    for h in &a.hypotheses {
        assert!(unit(h.stated_confidence), "stated confidence {:?}", h.stated_confidence);
        assert!(!h.service.is_empty(), "a hypothesis without a service");
    }
    assert!(a.root_cause.is_some(), "an answer with no root cause was accepted");
}
