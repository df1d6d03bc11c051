//! Synthetic efficacy suite.
