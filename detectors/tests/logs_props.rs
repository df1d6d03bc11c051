//! Invariants of the log parsers and feature extractor, checked with proptest: parsing never
//! panics on arbitrary bytes, generated records round-trip through every format, template
//! masking is idempotent and its streamed id matches, keyword counts ignore ASCII case, and
//! template counts stay bounded and consistent.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use oddsight_detectors::logs::{
    FeatureParams, KeywordSet, Level, LogFormat, LogParser, LogRecord, TemplateCounts, mask_template, template_id,
    template_id_of_template,
};
use proptest::prelude::*;
use std::borrow::Cow;

const FORMATS: [LogFormat; 3] = [LogFormat::Jsonl, LogFormat::Logfmt, LogFormat::Plain];

fn level() -> impl Strategy<Value = Level> {
    prop::sample::select(Level::ALL.to_vec())
}

/// Finite numbers of the sizes logs carry, written exactly by `{}` and read back by `parse`.
fn number() -> impl Strategy<Value = f64> {
    prop_oneof![(0u32..100_000).prop_map(f64::from), (0.0f64..1e7), (0u32..1000).prop_map(|v| f64::from(v) / 10.0)]
}

/// Text for JSON and logfmt: any characters, quotes, backslashes and controls included.
fn any_text() -> impl Strategy<Value = String> {
    prop_oneof![".{0,40}", "[a-z0-9 =\"'\\\\\t\n{}:,.-]{0,40}", "[a-zA-Z0-9_ ]{0,20}"]
}

/// A record with any text in its message, service and fields.
fn record(text: BoxedStrategy<String>, keys: BoxedStrategy<String>) -> impl Strategy<Value = LogRecord<'static>> {
    (
        prop::option::of(0i64..253_402_300_799_999),
        prop::option::of(level()),
        text.clone(),
        prop::option::of(text.clone().prop_filter("non-empty", |s| !s.is_empty())),
        prop::option::of(number()),
        prop::option::of(number()),
        prop::collection::vec((keys, text), 0..3),
    )
        .prop_map(|(timestamp, level, message, service, rt, mem, fields)| LogRecord {
            timestamp,
            level,
            message: Cow::Owned(message),
            service: service.map(Cow::Owned),
            response_time_ms: rt,
            memory_mb: mem,
            fields: fields.into_iter().map(|(k, v)| (Cow::Owned(format!("x_{k}")), Cow::Owned(v))).collect(),
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn parsing_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        for format in FORMATS {
            let parser = LogParser::new(format);
            let (records, report) = parser.parse_all(&bytes);
            prop_assert_eq!(report.parsed, records.len());
            prop_assert_eq!(report.lines, report.parsed + report.malformed + report.empty);
            for (_, r) in &records {
                prop_assert!(r.response_time_ms.is_none_or(f64::is_finite));
                prop_assert!(r.memory_mb.is_none_or(f64::is_finite));
            }
        }
        let _ = LogFormat::detect(&bytes);
    }

    #[test]
    fn parsing_json_shaped_noise_never_panics(text in "\\{(\"[a-z@._]{0,8}\" ?: ?(\"[^\"]{0,10}\"|-?[0-9.eE+]{1,8}|true|null|\\[[^\\]]{0,6}\\]|\\{[^}]{0,6}\\}) ?,? ?){0,5}\\}?") {
        let parser = LogParser::new(LogFormat::Jsonl);
        let _ = parser.parse_line(text.as_bytes());
        let _ = LogParser::new(LogFormat::Logfmt).parse_line(text.as_bytes());
        let _ = LogParser::new(LogFormat::Plain).parse_line(text.as_bytes());
    }

    #[test]
    fn json_lines_round_trip(r in record(any_text().boxed(), "[a-z_]{1,8}".boxed())) {
        let mut line = String::new();
        r.write_json(&mut line);
        let parsed = LogParser::new(LogFormat::Jsonl).parse_line(line.as_bytes()).map_err(|e| TestCaseError::fail(format!("{e}: {line}")))?;
        prop_assert_eq!(parsed, r, "{}", line);
    }

    #[test]
    fn logfmt_round_trips(r in record(any_text().boxed(), "[a-z_]{1,8}".boxed())) {
        let mut line = String::new();
        r.write_logfmt(&mut line);
        // Logfmt is one line: newlines in values are escaped.
        prop_assert!(!line.contains('\n'));
        let parsed = LogParser::new(LogFormat::Logfmt).parse_line(line.as_bytes()).map_err(|e| TestCaseError::fail(format!("{e}: {line}")))?;
        prop_assert_eq!(parsed, r, "{}", line);
    }

    #[test]
    fn plain_round_trips(
        r in record("[a-zA-Z][a-zA-Z0-9 ,.:/_-]{0,30}[a-zA-Z0-9]".boxed(), "[a-z]{1,4}".boxed()),
        has_ts in any::<bool>(),
    ) {
        // Plain lines carry no free-form fields, and always a timestamp and a level.
        let mut r = r;
        r.fields.clear();
        r.timestamp = Some(if has_ts { r.timestamp.unwrap_or(0) } else { 0 });
        r.level = Some(r.level.unwrap_or(Level::Info));
        r.service = r.service.map(|s| Cow::Owned(s.replace(' ', "_")));
        let mut line = String::new();
        r.write_plain(&mut line);
        let parsed = LogParser::new(LogFormat::Plain).parse_line(line.as_bytes()).map_err(|e| TestCaseError::fail(format!("{e}: {line}")))?;
        prop_assert_eq!(parsed, r, "{}", line);
    }

    #[test]
    fn masking_is_idempotent(message in prop_oneof![
        ".{0,60}",
        "[a-f0-9 .:'\"=x-]{0,60}",
        "(([a-z]{1,6}|[0-9]{1,5}|[0-9]{1,3}(\\.[0-9]{1,3}){3}|0x[0-9a-f]{1,8}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|'[a-z ]{0,5}'|\"[a-z ]{0,5}\")( |, |:|=|/){0,1}){0,8}",
    ]) {
        let template = mask_template(&message);
        prop_assert_eq!(&mask_template(&template), &template, "{:?}", message);
        prop_assert_eq!(template_id(&message), template_id_of_template(&template));
        prop_assert_eq!(template_id(&template), template_id(&message));
        // Every digit is masked.
        prop_assert!(!template.bytes().any(|b| b.is_ascii_digit()), "{:?} -> {:?}", message, template);
    }

    #[test]
    fn numbers_never_change_a_template(words in prop::collection::vec("[a-z]{1,8}", 1..6), a in 0u32..100_000, b in 0u32..100_000) {
        let m1 = format!("{} {a} {}", words.join(" "), words[0]);
        let m2 = format!("{} {b} {}", words.join(" "), words[0]);
        prop_assert_eq!(template_id(&m1), template_id(&m2));
    }

    #[test]
    fn keyword_counts_ignore_ascii_case(text in "[a-zA-Z ]{0,80}", words in prop::collection::vec("[a-z]{1,6}", 1..5)) {
        let set = KeywordSet::new("keywords", &words).unwrap();
        let lower = set.count(&text.to_ascii_lowercase());
        prop_assert_eq!(set.count(&text), lower);
        prop_assert_eq!(set.count(&text.to_ascii_uppercase()), lower);
        let shortest = words.iter().map(String::len).min().unwrap();
        prop_assert!(lower as usize <= text.len() / shortest);
    }

    #[test]
    fn template_counts_stay_bounded(ids in prop::collection::vec(0u64..40, 0..400), capacity in 1usize..16) {
        let mut t = TemplateCounts::new(capacity);
        for &id in &ids {
            t.add(id);
            prop_assert!(t.len() <= capacity);
            prop_assert!(t.count(id) >= 1);
        }
        let entries = t.entries();
        prop_assert_eq!(t.total(), entries.iter().map(|&(_, c)| u64::from(c)).sum::<u64>());
        prop_assert_eq!(TemplateCounts::from_entries(capacity, &entries).unwrap(), t.clone());
        let unseen = t.rarity(1_000);
        for (id, _) in entries {
            prop_assert!(t.rarity(id) <= unseen && t.rarity(id) >= 0.0);
        }
    }

    #[test]
    fn features_never_mutate_and_observe_counts(messages in prop::collection::vec("[a-z0-9 ]{0,20}", 1..30)) {
        let mut fx = FeatureParams::default().build().unwrap();
        for m in &messages {
            let r = LogRecord::new(m.as_str());
            let before = fx.clone();
            let f = fx.features(&r).unwrap();
            prop_assert_eq!(&fx, &before);
            prop_assert!(f.template_rarity.is_finite() && f.template_rarity >= 0.0);
            prop_assert_eq!(fx.observe(&r).unwrap(), f);
            prop_assert_eq!(fx.templates().total(), before.templates().total() + 1);
        }
    }
}
