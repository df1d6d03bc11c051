//! `oddsight monitor`'s long-format CSV (`timestamp,series,value`) and its targets file.
//!
//! The first byte picks the targets file: one of two fixed ones, or the fuzzer's own text up to
//! the first NUL byte. Invariants: nothing panics; a successful run writes exactly as many JSON
//! lines as it reports events, each an object with an `event` field.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oddsight_examples::monitor_csv::{EXAMPLE_TARGETS, monitor_csv};

const SMALL: &str = r#"{"targets": [
  {"name": "fast", "selector": "m", "detector": "ewma(warmup=3)", "interval": "1s",
   "policy": {"trigger": {"type": "k_of_n", "k": 1, "n": 1}, "recovery": 1}},
  {"name": "svc", "selector": "{service=\"a\"}", "detector": "mad(window=8, warmup=3)", "interval": 1}
]}"#;

fuzz_target!(|data: &[u8]| {
    let Some((&choice, rest)) = data.split_first() else { return };
    let (config, input): (String, &[u8]) = match choice % 4 {
        0 => (EXAMPLE_TARGETS.to_string(), rest),
        1 => match rest.iter().position(|&b| b == 0) {
            Some(i) => (String::from_utf8_lossy(&rest[..i]).into_owned(), &rest[i + 1..]),
            None => (String::from_utf8_lossy(rest).into_owned(), &[][..]),
        },
        _ => (SMALL.to_string(), rest),
    };
    let mut out = Vec::new();
    let Ok(events) = monitor_csv(&config, input, &mut out) else { return };
    let text = String::from_utf8(out).expect("the output is UTF-8");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), events, "event count and output lines disagree");
    for line in lines {
        let v: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{line:?}: {e}"));
        assert!(v["event"].is_string(), "no event field in {line}");
    }
});
