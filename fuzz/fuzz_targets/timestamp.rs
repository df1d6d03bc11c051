//! The command line's timestamp parser (`oddsight_examples::timestamp`).
//!
//! The input is two timestamps separated by a NUL byte. Invariants: nothing panics; the date
//! the parser caches from the first never changes how the second reads (a fresh parser in the
//! same unit agrees); a result is within the documented ±8.64e15 ms; and a timestamp both it
//! and `jiff` read as RFC 3339 gets the same millisecond.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oddsight_examples::timestamp::{NumericUnit, TimestampParser};

fuzz_target!(|data: &[u8]| {
    let (first, second) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, data),
    };
    for unit in [NumericUnit::Auto, NumericUnit::Seconds, NumericUnit::Millis] {
        let mut parser = TimestampParser::new(unit);
        let a = parser.parse(first);
        let mut fresh = TimestampParser::new(parser.unit());
        let b = parser.parse(second);
        assert_eq!(b, fresh.parse(second), "the first timestamp {first:?} changed how {second:?} reads");
        for ms in [&a, &b].into_iter().flatten() {
            assert!(ms.unsigned_abs() <= 8_640_000_000_000_000, "{ms} ms is out of range");
        }
        if let Ok(text) = std::str::from_utf8(first)
            && let Ok(ts) = text.parse::<jiff::Timestamp>()
            && !text.contains(":60")
            && ts.as_millisecond() >= 0
            && let Ok(ms) = a
        {
            // The parser may refuse what jiff takes (offsets past ±23:59), never read it otherwise.
            assert_eq!(ms, ts.as_millisecond(), "{text:?} reads differently from jiff");
        }
    }
});
