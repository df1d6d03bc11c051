#![doc = include_str!("../README.md")]

pub mod aggregate;
pub mod baseline;
pub mod calibrate;
pub mod detector;
mod error;
pub mod policy;
pub mod scale;
pub mod scorer;
pub mod snapshot;
mod traits;
mod types;
pub mod watch;

pub use aggregate::{Aggregate, Aggregator, AggregatorParams};
pub use baseline::{
    ColdStart, EwmaBaseline, EwmaParams, QuantileSketch, QuantileSketchParams, QuantileWindow, QuantileWindowParams,
    ScaleFloor, SeasonalBaseline, SeasonalParams, TimeWindow, WindowBaseline, WindowParams,
};
pub use calibrate::{Calibrated, Calibrator, CalibratorParams};
pub use detector::{BaselineDetector, DetectorParams};
pub use error::{Error, Result, SnapshotSource};
pub use policy::{ShiftRule, StrikePolicy, StrikePolicyParams, Trigger};
pub use scorer::{RatioScorer, StudentT, ZScore};
pub use snapshot::{Envelope, Stateful};
pub use traits::{AlertPolicy, Baseline, Decision, Detector, Expectation, Fit, Learn, LevelShift, Scorer, check_batch};
pub use types::{Alert, AlertEvent, Direction, Notes, Point, Resolution, Severity, Verdict};
pub use watch::{Learned, Step, Watch};
