//! Inputs found by the fuzz targets in `fuzz/`, replayed as ordinary tests.

use oddsight_detectors::logs::{LogFormat, LogParser, parse_timestamp};

/// `log_parsers`: a numeric timestamp far past the year 9999 was read, then written by
/// `write_json` as `+056289-…`, which does not read back. Such numbers are no log timestamp:
/// the field is kept as text, and the record survives the round trip.
#[test]
fn log_timestamps_past_year_9999_are_not_timestamps() {
    let parser = LogParser::new(LogFormat::Jsonl);
    for line in [
        r#"{"ts":1714564800000000000000,"level":"info","msg":"far future"}"#,
        r#"{"ts":-99999999999999,"level":"info","msg":"far past"}"#,
    ] {
        let record = parser.parse_line(line.as_bytes()).expect("a JSON line");
        assert_eq!(record.timestamp, None, "{line}");
        assert_eq!(record.fields.first().map(|(k, _)| k.as_ref()), Some("ts"), "{line}");
        let mut written = String::new();
        record.write_json(&mut written);
        assert_eq!(parser.parse_line(written.as_bytes()).expect("its own output"), record, "{written}");
    }
    // The last second of 9999 (in nanoseconds, as the magnitude rules read it) still reads,
    // and writes back exactly.
    let last = parser.parse_line(br#"{"ts":253402300799000000000,"msg":"m"}"#).expect("a JSON line");
    assert_eq!(last.timestamp, Some(253_402_300_799_000));
    let mut written = String::new();
    last.write_json(&mut written);
    assert_eq!(parser.parse_line(written.as_bytes()).expect("its own output"), last, "{written}");
    assert_eq!(parse_timestamp("1714564800"), Some(1_714_564_800_000));
    assert_eq!(parse_timestamp("99999999999999999999999"), None);
}

/// `detector_stream`: `ensemble(poisson, poisson)` given a batch whose later point a member
/// refuses (a negative count) had already learned the earlier points: batches, updates in
/// batch and re-baselining of an ensemble are all-or-nothing.
#[test]
fn a_refused_ensemble_batch_changes_nothing() {
    use oddsight_core::{Detector, Point};
    use oddsight_detectors::AnyDetector;
    let mut d = AnyDetector::parse("ensemble(poisson, poisson)").expect("a valid spec");
    let ts: Vec<i64> = (0..50).map(|i| i * 60_000).collect();
    let xs: Vec<f64> = (0..50).map(|i| (i % 4) as f64).collect();
    d.observe_batch(&ts, &xs).expect("counts");
    let before = d.snapshot().expect("a snapshot");
    let (ts2, mut xs2): (Vec<i64>, Vec<f64>) = (50..60).map(|i| (i * 60_000, 2.0)).unzip();
    xs2[7] = -3.0;
    assert!(d.score(Point::new(ts2[7], -3.0)).is_err(), "a negative count is refused");
    assert!(d.observe_batch(&ts2, &xs2).is_err());
    assert_eq!(d.snapshot().expect("a snapshot"), before);
    assert!(d.update_batch(&ts2, &xs2).is_err());
    assert_eq!(d.snapshot().expect("a snapshot"), before);
    let recent: Vec<Point> = ts2.iter().zip(&xs2).map(|(&t, &x)| Point::new(t, x)).collect();
    if d.rebaseline(&recent).is_err() {
        assert_eq!(d.snapshot().expect("a snapshot"), before);
    }
    // The same batch without the bad point is taken whole.
    xs2[7] = 2.0;
    assert_eq!(d.observe_batch(&ts2, &xs2).expect("counts").len(), 10);
    assert_eq!(d.last_timestamp(), Some(59 * 60_000));
}
