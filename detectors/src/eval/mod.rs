//! Evaluation instruments, inside the library so that every detector is measured the same way.
//!
//! - [`nab`]: a loader and scorer for the Numenta Anomaly Benchmark format, written from NAB's
//!   published scoring method (probation, windows, scaled sigmoid, three profiles, one
//!   threshold per profile swept over every score, normalisation).
//! - [`synthetic`]: a seeded synthetic efficacy suite (spikes, dips, level shifts, trend drift,
//!   variance change, seasonality breaks, count bursts at three difficulties) with event-level
//!   precision, recall, F1 and detection delay, at a fixed unsupervised threshold and at the
//!   best one.

pub mod nab;
pub mod synthetic;
