//! Runnable examples for oddsight and the `oddsight` command-line program.
//!
//! The repository README follows; its Rust examples run as doc tests of this crate.
#![doc = include_str!("../../README.md")]

pub mod detect;
pub mod detector_choice;
pub mod logs_cmd;
pub mod monitor_csv;
pub mod progress;
pub mod score_csv;
pub mod svg;
pub mod timestamp;
