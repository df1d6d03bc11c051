//! `oddsight score`'s CSV path: arbitrary bytes as the input file, through a cheap detector.
//!
//! Invariants: nothing panics; a successful run writes a valid CSV of `timestamp,value,
//! anomaly_score` with one row per scored row, every score in [0, 1], every echoed timestamp
//! readable again and every echoed value a finite number.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oddsight_examples::detector_choice::build_detector;
use oddsight_examples::score_csv::{ScoreOptions, score_csv};
use oddsight_examples::timestamp::{NumericUnit, TimestampParser};

const SPECS: [&str; 4] = ["ewma(warmup=3)", "mad(window=16, warmup=4)", "cusum", "iqr(window=8)"];

fuzz_target!(|data: &[u8]| {
    let Some((&choice, input)) = data.split_first() else { return };
    let spec = SPECS[usize::from(choice & 3)];
    let unit = match (choice >> 2) & 3 {
        0 | 3 => NumericUnit::Auto,
        1 => NumericUnit::Seconds,
        _ => NumericUnit::Millis,
    };
    let mut detector = build_detector(spec).expect("a fixed, valid specification");
    let mut out = Vec::new();
    let Ok(summary) = score_csv(input, &mut out, detector.as_mut(), ScoreOptions { unit }) else { return };
    assert!((0.0..=1.0).contains(&summary.max_score), "max_score {}", summary.max_score);
    assert!(summary.anomalies <= summary.rows && summary.clamped <= summary.rows, "{summary:?}");

    let mut reader = csv::ReaderBuilder::new().has_headers(true).from_reader(out.as_slice());
    let header = reader.headers().expect("the output has a header").clone();
    assert_eq!(header.iter().collect::<Vec<_>>(), ["timestamp", "value", "anomaly_score"]);
    let mut parser = TimestampParser::new(unit);
    let mut rows = 0u64;
    for record in reader.byte_records() {
        let record = record.unwrap_or_else(|e| panic!("the output is not valid CSV: {e}"));
        assert_eq!(record.len(), 3, "an output row of {} fields", record.len());
        let score: f64 = std::str::from_utf8(&record[2]).ok().and_then(|s| s.parse().ok()).expect("a numeric score");
        assert!((0.0..=1.0).contains(&score), "score {score}");
        parser.parse(&record[0]).unwrap_or_else(|e| panic!("echoed timestamp {:?} unreadable: {e}", &record[0]));
        let value = std::str::from_utf8(&record[1]).ok().and_then(|s| s.trim().parse::<f64>().ok());
        assert!(value.is_some_and(f64::is_finite), "echoed value {:?} is not a finite number", &record[1]);
        rows += 1;
    }
    assert_eq!(rows, summary.rows, "output rows and the summary disagree");
});
