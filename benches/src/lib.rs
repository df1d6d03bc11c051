//! Benchmarks for oddsight; see `benches/`.
