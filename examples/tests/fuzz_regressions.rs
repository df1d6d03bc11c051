//! Inputs found by the fuzz targets in `fuzz/`, replayed as ordinary tests.

use oddsight_examples::detector_choice::build_detector;
use oddsight_examples::score_csv::{ScoreOptions, score_csv};

/// `score_csv`: a value field with a carriage return in it (`\r45`, read as 45) was echoed
/// unquoted, so the output row broke in two for any CSV reader. It is quoted now.
#[test]
fn a_carriage_return_in_an_echoed_field_is_quoted() {
    let input = b"value,extra,Timestamp\r\n1.5,a,1397146620\n\r45,\re,1397146680\r\n";
    let mut detector = build_detector("ewma(warmup=3)").expect("a valid spec");
    let mut out = Vec::new();
    let summary = score_csv(&input[..], &mut out, detector.as_mut(), ScoreOptions::default()).expect("scores");
    assert_eq!(summary.rows, 2);
    let text = String::from_utf8(out).expect("UTF-8");
    let lines: Vec<&str> = text.split('\n').collect();
    assert_eq!(lines[2], "1397146680,\"\r45\",0", "{text:?}");
    assert_eq!(lines.len(), 4, "{text:?}");
}
