#![doc = include_str!("../README.md")]

mod any;
pub mod change;
pub mod counts;
pub mod ensemble;
mod error;
pub mod esd;
pub mod eval;
pub mod forest;
pub mod logs;
pub mod monitor;
pub mod multi;
pub mod novelty;
pub mod period;
pub mod seasonal;
pub mod spec;
pub mod stat;
pub mod trend;

pub use any::{AnyDetector, DEFAULT_SPEC, NAMES};
pub use error::{Error, Result};
pub use forest::{ForestParams, IsolationForest};
