//! Runnable examples for oddsight; see `examples/`.
