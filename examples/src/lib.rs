//! Runnable examples for oddsight and the `oddsight` command-line program.
//!
//! The repository README follows; its Rust examples run as doc tests of this crate.
#![doc = include_str!("../../README.md")]

pub mod detector_choice;
pub mod monitor_csv;
pub mod score_csv;
pub mod timestamp;
