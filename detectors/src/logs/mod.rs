//! Log anomaly detection: parse log lines (JSON lines, logfmt, plain text), measure each
//! record, and find the records that do not fit, with a type and the features that drove
//! each verdict.
//!
//! # Pipeline
//!
//! 1. **Parse** ([`LogParser`]): bytes to [`LogRecord`]s, borrowing text from the input.
//!    The format is given or detected ([`LogFormat::detect`]); common field aliases are
//!    understood (the table is on [`LogParser`]). Malformed lines are counted with their line
//!    index ([`ParseReport`]), never fatal.
//! 2. **Measure** ([`FeatureExtractor`]): six features per record, [`FEATURE_NAMES`]:
//!    message length, error keyword count ([`DEFAULT_ERROR_KEYWORDS`], configurable), level
//!    severity (DEBUG 1 … CRITICAL 5), response time, memory, and template rarity: the message
//!    with numbers, ids, UUIDs, hex, IPs and quoted values masked ([`mask_template`]), counted
//!    in a bounded table ([`TemplateCounts`]), rare and new templates scoring higher.
//! 3. **Judge** ([`LogDetector`]): an isolation forest ([`crate::forest`]) over the features
//!    scaled to robust z-scores against the training set. A record is an anomaly when its
//!    forest score is above the contamination threshold (default 0.1) and its confidence (how
//!    deep into that outlying tail it is) is at least 0.7. Each anomaly gets an
//!    [`AnomalyType`] (performance, memory, error, pattern) and every verdict carries each
//!    feature's robust z ([`LogVerdict::evidence`]).
//!
//! ```
//! use oddsight_detectors::logs::{AnomalyType, LogDetectorParams, LogFormat, LogParser};
//!
//! // Twenty seconds of ordinary request logs, then one very slow request.
//! let mut text = String::new();
//! for i in 0..400 {
//!     let ms = 80 + (i * 37) % 40;
//!     text += &format!("{{\"ts\":{},\"level\":\"info\",\"msg\":\"GET /cart/{i} 200\",\"duration_ms\":{ms}}}\n", 1_700_000_000_000i64 + i * 50);
//! }
//! text += "{\"ts\":1700000020000,\"level\":\"info\",\"msg\":\"GET /cart/9 200\",\"duration_ms\":4800}\n";
//!
//! let parser = LogParser::new(LogFormat::detect(text.as_bytes()).expect("a known format"));
//! let (records, report) = parser.parse_all(text.as_bytes());
//! assert_eq!(report.malformed, 0);
//! let records: Vec<_> = records.into_iter().map(|(_, r)| r).collect();
//! let detector = LogDetectorParams::default().fit(&records)?;
//! let verdicts = detector.score_records(&records)?;
//! let slow = &verdicts[400];
//! assert!(slow.is_anomaly);
//! assert_eq!(slow.anomaly_type, Some(AnomalyType::Performance));
//! assert_eq!(slow.evidence()[0].feature.name(), "response_time_ms");
//! # Ok::<(), oddsight_detectors::Error>(())
//! ```
//!
//! # Speed
//!
//! Parsing and measuring are written over bytes with no allocation for most lines; the
//! batch path [`LogDetector::detect_bytes`] goes from bytes to verdicts in blocks of 256
//! records so that the forest scores a block at a time. `benches/benches/logs.rs` measures it.

mod detector;
mod features;
mod parse;
mod record;
pub mod synth;

pub use detector::{
    AnomalyType, Feature, FeatureEvidence, LogDetector, LogDetectorParams, LogVerdict, MIN_SERVICE_VALUES,
};
pub use features::{
    DEFAULT_ERROR_KEYWORDS, DEFAULT_PERFORMANCE_KEYWORDS, FEATURE_COUNT, FEATURE_NAMES, FeatureExtractor,
    FeatureParams, KeywordSet, LogFeatures, MAX_KEYWORD_LEN, MAX_KEYWORDS, TemplateCounts, mask_template, template_id,
    template_id_of_template,
};
pub use parse::{Lines, LogFormat, LogParser, Malformed, MalformedReason, ParseReport, parse_timestamp};
pub use record::{Level, LogRecord};
