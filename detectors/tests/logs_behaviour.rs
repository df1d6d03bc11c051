//! The log detector on seeded logs: each kind of anomaly is found and typed, ordinary traffic
//! mostly is not, malformed lines are accounted for, and the detector keeps its contracts
//! (score never mutates, batch equals loop, snapshots restore exactly, bad input is refused
//! and changes nothing).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use oddsight_core::Stateful;
use oddsight_detectors::logs::synth::{IncidentLogParams, label_counts};
use oddsight_detectors::logs::{
    AnomalyType, Feature, FeatureParams, Level, LogDetector, LogDetectorParams, LogFormat, LogParser, LogRecord,
    LogVerdict, MalformedReason,
};
use oddsight_detectors::{Error, ForestParams};

fn records_of(text: &str, format: LogFormat) -> Vec<LogRecord<'_>> {
    let (records, report) = LogParser::new(format).parse_all(text.as_bytes());
    assert_eq!(report.malformed, 0, "{:?}", report.examples);
    records.into_iter().map(|(_, r)| r).collect()
}

/// Per label (performance, memory, error, pattern, none), how many lines got each verdict type
/// (same order; the last column is "not an anomaly").
fn confusion(labels: &[Option<AnomalyType>], verdicts: &[LogVerdict]) -> [[usize; 5]; 5] {
    let mut m = [[0usize; 5]; 5];
    for (l, v) in labels.iter().zip(verdicts) {
        m[l.map_or(4, |t| t as usize)][v.anomaly_type.map_or(4, |t| t as usize)] += 1;
    }
    m
}

#[test]
fn incident_anomalies_are_found_and_typed() {
    for format in [LogFormat::Jsonl, LogFormat::Logfmt, LogFormat::Plain] {
        let logs = IncidentLogParams::default().format(format).generate().unwrap();
        let records = records_of(&logs.text, format);
        assert_eq!(records.len(), logs.labels.len());
        let detector = LogDetectorParams::default().fit(&records).unwrap();
        let verdicts = detector.score_records(&records).unwrap();
        let m = confusion(&logs.labels, &verdicts);
        let counts = label_counts(&logs.labels);
        // Every injected kind: nearly all found, and found as what it is.
        for (t, name) in ["performance", "memory", "error"].iter().enumerate() {
            assert!(m[t][t] * 10 >= counts[t] * 9, "{format} {name}: {m:?} of {counts:?}");
        }
        assert!(m[3][3] >= 4, "{format} pattern: {m:?}");
        // Few ordinary lines flagged: under 1.2 % (the declined payments, ERROR lines that
        // are rare in ordinary traffic, are most of them).
        let false_alarms: usize = m[4][..4].iter().sum();
        assert!(false_alarms * 1000 <= 12 * logs.labels.len(), "{format}: {m:?}");
    }
}

#[test]
fn calm_logs_flag_about_the_configured_fraction() {
    let logs = IncidentLogParams::default().incident(false).generate().unwrap();
    let records = records_of(&logs.text, LogFormat::Jsonl);
    let detector = LogDetectorParams::default().fit(&records).unwrap();
    let flagged = detector.score_records(&records).unwrap().iter().filter(|v| v.is_anomaly).count();
    // On its own training data the detector flags about contamination × (1 − threshold) =
    // 3 % of the records.
    assert!((100..=200).contains(&flagged), "{flagged}");
    let stricter = LogDetectorParams::default().confidence_threshold(0.95).fit(&records).unwrap();
    let fewer = stricter.score_records(&records).unwrap().iter().filter(|v| v.is_anomaly).count();
    assert!(fewer < flagged / 3, "{fewer} vs {flagged}");
}

/// 1,000 ordinary request records of two services.
fn ordinary() -> Vec<LogRecord<'static>> {
    (0..1000u32)
        .map(|i| {
            let (service, rt, mem) = if i % 3 == 0 { ("api", 80.0, 500.0) } else { ("worker", 30.0, 250.0) };
            let jitter = f64::from((i * 7919) % 41) - 20.0;
            LogRecord::new(format!("handled request {} for user{} in {}ms", i, i % 97, rt + jitter))
                .timestamp(1_700_000_000_000 + i64::from(i) * 100)
                .level(if i % 50 == 0 { Level::Debug } else { Level::Info })
                .service(service)
                .response_time_ms(rt + jitter)
                .memory_mb(mem + jitter / 4.0)
        })
        .collect()
}

fn judge(extra: LogRecord<'static>) -> LogVerdict {
    let mut records = ordinary();
    records.push(extra);
    let detector = LogDetectorParams::default().fit(&records).unwrap();
    detector.score(records.last().unwrap()).unwrap()
}

#[test]
fn each_type_on_its_own() {
    let base = |msg: &str| LogRecord::new(msg.to_string()).level(Level::Info).service("api");
    let slow = judge(base("handled request 5 for user3 in 4000ms").response_time_ms(4000.0).memory_mb(500.0));
    assert!(slow.is_anomaly, "{slow:?}");
    assert_eq!(slow.anomaly_type, Some(AnomalyType::Performance));
    assert_eq!(slow.evidence()[0].feature, Feature::ResponseTimeMs);

    let memory = judge(base("handled request 5 for user3 in 80ms").response_time_ms(80.0).memory_mb(1900.0));
    assert!(memory.is_anomaly, "{memory:?}");
    assert_eq!(memory.anomaly_type, Some(AnomalyType::Memory));
    assert_eq!(memory.evidence()[0].feature, Feature::MemoryMb);

    let error = judge(
        base("java.lang.NullPointerException: failed to render cart")
            .level(Level::Error)
            .response_time_ms(80.0)
            .memory_mb(500.0),
    );
    assert!(error.is_anomaly, "{error:?}");
    assert_eq!(error.anomaly_type, Some(AnomalyType::Error));
    assert_eq!(error.features.error_keywords, 2.0);

    let timeout = judge(base("upstream timed out").level(Level::Error).response_time_ms(80.0).memory_mb(500.0));
    assert!(timeout.is_anomaly, "{timeout:?}");
    assert_eq!(timeout.anomaly_type, Some(AnomalyType::Performance));

    let odd = judge(base(&format!("unexpected payload {}", "x".repeat(400))).response_time_ms(80.0).memory_mb(500.0));
    assert!(odd.is_anomaly, "{odd:?}");
    assert_eq!(odd.anomaly_type, Some(AnomalyType::Pattern));
    let drivers: Vec<Feature> = odd.drivers(2.0).iter().map(|e| e.feature).collect();
    assert!(drivers.contains(&Feature::MessageLength) && drivers.contains(&Feature::TemplateRarity), "{drivers:?}");

    // An ordinary record is not an anomaly, and its confidence is low.
    let calm = judge(ordinary()[501].clone());
    assert!(!calm.is_anomaly && calm.anomaly_type.is_none() && calm.confidence < 0.7, "{calm:?}");
}

#[test]
fn missing_numbers_are_neutral() {
    let records = ordinary();
    let detector = LogDetectorParams::default().fit(&records).unwrap();
    let v = detector.score(&LogRecord::new("handled request 5 for user3 in 80ms").service("api")).unwrap();
    assert_eq!((v.z[3], v.z[4]), (0.0, 0.0));
    assert_eq!(v.evidence().iter().find(|e| e.feature == Feature::MemoryMb).unwrap().value, None);
    // Response time and memory are judged per service: 80 ms is ordinary for `api`, slow for
    // `worker`.
    let api = detector.score(&LogRecord::new("x").service("api").response_time_ms(80.0)).unwrap();
    let worker = detector.score(&LogRecord::new("x").service("worker").response_time_ms(80.0)).unwrap();
    assert!(api.z[3].abs() < 1.0 && worker.z[3] > 3.0, "{} {}", api.z[3], worker.z[3]);
}

#[test]
fn malformed_lines_are_counted_not_fatal() {
    let logs = IncidentLogParams::default().lines(600).generate().unwrap();
    let mut text = String::new();
    let mut bad = Vec::new();
    for (i, line) in logs.text.lines().enumerate() {
        text.push_str(line);
        text.push('\n');
        if i % 100 == 50 {
            bad.push(i + 1 + bad.len() * 2);
            text.push_str("{\"level\":\"info\",\"msg\":\"truncated\n\n");
        }
    }
    let (records, report) = LogParser::new(LogFormat::Jsonl).parse_all(text.as_bytes());
    assert_eq!(report.malformed, bad.len());
    assert_eq!(report.empty, bad.len());
    assert_eq!(report.parsed, 600);
    assert_eq!(report.lines, 600 + 2 * bad.len());
    assert_eq!(report.examples.iter().map(|m| m.line_index).collect::<Vec<_>>(), bad);
    assert!(report.examples.iter().all(|m| m.reason == MalformedReason::InvalidJson));
    // The byte path reports the same and judges every good line under its own index.
    let records: Vec<(usize, LogRecord<'_>)> = records;
    let plain: Vec<LogRecord<'_>> = records.iter().map(|(_, r)| r.clone()).collect();
    let mut detector = LogDetectorParams::default().fit(&plain).unwrap();
    let mut seen = Vec::new();
    let report2 = detector
        .detect_bytes(LogParser::new(LogFormat::Jsonl), text.as_bytes(), false, |i, _, _| seen.push(i))
        .unwrap();
    assert_eq!(report2, report);
    assert_eq!(seen, records.iter().map(|(i, _)| *i).collect::<Vec<_>>());
}

#[test]
fn batch_equals_loop_and_score_never_mutates() {
    let logs = IncidentLogParams::default().lines(1500).seed(9).generate().unwrap();
    let records = records_of(&logs.text, LogFormat::Jsonl);
    let (train, rest) = records.split_at(1000);
    let fitted = LogDetectorParams::default().fit(train).unwrap();
    let before = fitted.clone();
    let batch = fitted.score_records(rest).unwrap();
    let looped: Vec<LogVerdict> = rest.iter().map(|r| fitted.score(r).unwrap()).collect();
    for (i, (a, b)) in batch.iter().zip(&looped).enumerate() {
        assert_eq!(a, b, "record {i}: {} vs {}", a.score, b.score);
    }
    assert_eq!(fitted, before);

    // detect_bytes without learning = score_records; with learning = the observe loop.
    let tail_text: String = logs.text.lines().skip(1000).map(|l| format!("{l}\n")).collect();
    let mut d = fitted.clone();
    let mut got = Vec::new();
    d.detect_bytes(LogParser::new(LogFormat::Jsonl), tail_text.as_bytes(), false, |_, _, v| got.push(*v)).unwrap();
    assert_eq!(got, batch);
    assert_eq!(d, before);
    let mut observed = fitted.clone();
    let prequential: Vec<LogVerdict> = rest.iter().map(|r| observed.observe(r).unwrap()).collect();
    let mut streamed = fitted.clone();
    let mut got = Vec::new();
    streamed
        .detect_bytes(LogParser::new(LogFormat::Jsonl), tail_text.as_bytes(), true, |_, _, v| got.push(*v))
        .unwrap();
    assert_eq!(got, prequential);
    assert_eq!(streamed, observed);
    assert_ne!(observed, before);
    assert!(observed.templates().total() > before.templates().total());
}

#[test]
fn snapshots_restore_exactly() {
    let logs = IncidentLogParams::default().lines(800).generate().unwrap();
    let records = records_of(&logs.text, LogFormat::Jsonl);
    let mut d = LogDetectorParams::default().fit(&records).unwrap();
    d.observe(&LogRecord::new("brand new message").level(Level::Warn)).unwrap();
    let snap = d.to_snapshot().unwrap();
    let restored = LogDetector::from_snapshot(&snap).unwrap();
    assert_eq!(restored, d);
    assert_eq!(restored.score_records(&records).unwrap(), d.score_records(&records).unwrap());
    assert_eq!(restored.to_snapshot().unwrap(), snap);

    // Malformed snapshots are typed errors.
    for bad in [
        String::from("not json"),
        snap.replace("\"LogDetector\"", "\"Other\""),
        snap.replace("\"confidence_threshold\":0.7", "\"confidence_threshold\":7.0"),
        snap.replace("\"tail\":[", "\"tail\":[2.0,"),
        snap[..snap.len() / 2].to_string(),
    ] {
        let e = LogDetector::from_snapshot(&bad).unwrap_err();
        assert!(
            matches!(e, oddsight_core::Error::Snapshot { .. } | oddsight_core::Error::SnapshotVersion { .. }),
            "{e}"
        );
    }
}

#[test]
fn fits_are_deterministic() {
    let logs = IncidentLogParams::default().lines(700).generate().unwrap();
    let records = records_of(&logs.text, LogFormat::Jsonl);
    let a = LogDetectorParams::default().fit(&records).unwrap();
    let b = LogDetectorParams::default().fit(&records).unwrap();
    assert_eq!(a, b);
    let c = LogDetectorParams::default().forest(ForestParams::default().seed(99)).fit(&records).unwrap();
    assert_ne!(a.forest(), c.forest());
}

#[test]
fn bad_input_is_refused_and_changes_nothing() {
    let records = ordinary();
    let mut d = LogDetectorParams::default().fit(&records).unwrap();
    let before = d.clone();
    for bad in [
        LogRecord::new("x").response_time_ms(f64::NAN),
        LogRecord::new("x").memory_mb(f64::INFINITY),
        LogRecord::new("x").response_time_ms(f64::NEG_INFINITY),
    ] {
        assert!(matches!(d.score(&bad), Err(Error::Core(oddsight_core::Error::NonFinite { .. }))));
        assert!(d.observe(&bad).is_err());
        assert!(d.learn(&bad).is_err());
        assert!(d.score_records(&[records[0].clone(), bad.clone()]).is_err());
    }
    assert_eq!(d, before);

    let mut with_nan = records.clone();
    with_nan[3].memory_mb = Some(f64::NAN);
    assert!(matches!(LogDetectorParams::default().fit(&with_nan), Err(Error::NonFiniteAt { row: 3, column: 4, .. })));
    assert!(matches!(LogDetectorParams::default().fit(&[]), Err(Error::Core(oddsight_core::Error::Empty { .. }))));
    assert!(matches!(
        LogDetectorParams::default().fit(&records[..1]),
        Err(Error::Core(oddsight_core::Error::Shape { .. }))
    ));
}

#[test]
fn bad_parameters_are_typed_errors() {
    let records = ordinary();
    let invalid = |p: LogDetectorParams, name: &str| match p.fit(&records) {
        Err(Error::Core(oddsight_core::Error::InvalidParameter { name: n, .. })) => assert_eq!(n, name),
        other => panic!("{name}: {other:?}"),
    };
    invalid(LogDetectorParams::default().contamination(0.0), "contamination");
    invalid(LogDetectorParams::default().contamination(0.9), "contamination");
    invalid(LogDetectorParams::default().contamination(f64::NAN), "contamination");
    invalid(LogDetectorParams::default().confidence_threshold(1.5), "confidence_threshold");
    invalid(LogDetectorParams::default().confidence_threshold(f64::NAN), "confidence_threshold");
    invalid(LogDetectorParams::default().driver_z(0.0), "driver_z");
    invalid(LogDetectorParams::default().forest(ForestParams::default().trees(0)), "trees");
    invalid(LogDetectorParams::default().forest(ForestParams::default().extension_level(Some(6))), "extension_level");
    invalid(LogDetectorParams::default().features(FeatureParams::default().error_keywords([""])), "error_keywords");
    invalid(
        LogDetectorParams::default().features(FeatureParams::default().performance_keywords(vec!["x"; 65])),
        "performance_keywords",
    );
    invalid(LogDetectorParams::default().features(FeatureParams::default().max_templates(0)), "max_templates");
    assert!("yaml".parse::<LogFormat>().is_err());
}

#[test]
fn custom_keywords_count() {
    let records = ordinary();
    let params = LogDetectorParams::default().features(FeatureParams::default().error_keywords(["kaput", "broken"]));
    let d = params.fit(&records).unwrap();
    let v = d.score(&LogRecord::new("widget kaput, pipeline broken, error ignored")).unwrap();
    assert_eq!(v.features.error_keywords, 2.0);
}
