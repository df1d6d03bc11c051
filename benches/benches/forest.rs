//! Isolation forest: training time, and scoring throughput of the flattened scorer against the
//! `extended-isolation-forest` crate's own scorer on the same trees.
//!
//! Data: `oddsight_detectors::forest::synthetic_rows(100_000, 5, 0.01, 2026)`: 100,000 rows of
//! 5 correlated Gaussian metrics (unit variance, correlation 0.6 with the first), of which 1 %,
//! at seeded positions, are outliers at Mahalanobis radius 6 to 9. Parameters are the
//! defaults: 100 trees, 256 samples per tree, fully extended hyperplanes; the `_level0` benches
//! train and score the classic axis-parallel forest (extension level 0) instead. Every bench
//! runs on one thread. Before timing, the bench prints the ROC-AUC of both forests' scores on
//! the full data (0.99944 fully extended, 0.99552 at level 0).
//!
//! Run: `ODDSIGHT_BENCH_CLOCK=thread cargo bench -p oddsight-benches --bench forest` (thread CPU
//! time, honest on a shared machine; add `-- --test` for a smoke run).
//!
//! Measured on a shared, loaded 2-core Xeon at 2.8 GHz (criterion medians of several runs;
//! expect ±25 % from run to run there): fit 15.4 to 23.0 ms (the previous trainer, whose
//! threshold rows were scored one at a time, 43 to 63 ms in the same sessions); score 259 to
//! 298 ms for the 100,000 rows, 335 to 387 k rows/s (previous scorer 271 to 388 ms); at level
//! 0, fit 14.9 to 17.4 ms and score 167 to 170 ms (588 to 598 k rows/s). The reference crate
//! scores 18 to 22 k rows/s. A step is bound by its instruction count: about 21 for 5 metrics
//! fully extended (five products and a column-order sum that a vector unit cannot shorten,
//! the comparison and the child) and about 15 at level 0, against the 2.9 cycles a step that
//! 1.2 M rows/s needs.

use criterion::measurement::Measurement;
use criterion::{Criterion, Throughput};
use oddsight_benches::{ThreadTime, thread_clock_requested};
use oddsight_detectors::ForestParams;
use oddsight_detectors::forest::{roc_auc, synthetic_rows};
use std::hint::black_box;

const ROWS: usize = 100_000;
const WIDTH: usize = 5;
/// Rows scored per iteration by the (slow) reference scorer.
const REFERENCE_ROWS: usize = 5_000;

fn forest<M: Measurement>(c: &mut Criterion<M>) {
    let (rows, labels) = synthetic_rows(ROWS, WIDTH, 0.01, 2026);
    let params = ForestParams::default();
    let model = params.fit(rows.view()).expect("valid data");
    let scores = model.score_rows(rows.view()).expect("valid data");
    let auc = roc_auc(&scores, &labels).expect("both classes present");
    println!("forest: ROC-AUC on {ROWS} x {WIDTH} rows with 1 % outliers: {auc:.5}");
    // The classic axis-parallel forest (extension level 0), scored with one comparison a step.
    let classic = params.clone().extension_level(Some(0));
    let classic_model = classic.fit(rows.view()).expect("valid data");
    let classic_scores = classic_model.score_rows(rows.view()).expect("valid data");
    let auc0 = roc_auc(&classic_scores, &labels).expect("both classes present");
    println!("forest: ROC-AUC with extension level 0: {auc0:.5}");

    let mut g = c.benchmark_group("forest");
    g.sample_size(20);
    g.throughput(Throughput::Elements(ROWS as u64));
    g.bench_function("fit/100k_x5", |b| b.iter(|| params.fit(black_box(rows.view())).expect("valid data")));
    g.bench_function("fit_with_crate/100k_x5", |b| {
        b.iter(|| params.fit_with_crate(black_box(rows.view())).expect("valid data"))
    });
    let mut out = vec![0.0; ROWS];
    g.bench_function("score/100k_x5", |b| {
        b.iter(|| model.score_rows_into(black_box(rows.view()), &mut out).expect("valid data"))
    });
    g.bench_function("fit_level0/100k_x5", |b| b.iter(|| classic.fit(black_box(rows.view())).expect("valid data")));
    g.bench_function("score_level0/100k_x5", |b| {
        b.iter(|| classic_model.score_rows_into(black_box(rows.view()), &mut out).expect("valid data"))
    });
    g.throughput(Throughput::Elements(REFERENCE_ROWS as u64));
    let slice = rows.slice(ndarray::s![..REFERENCE_ROWS, ..]);
    g.bench_function("score_reference_crate/5k_x5", |b| {
        b.iter(|| model.to_reference_scores(black_box(slice)).expect("valid data"))
    });
    g.finish();
}

/// `criterion_main!`, with the clock chosen by `ODDSIGHT_BENCH_CLOCK` (see `ThreadTime`).
fn main() {
    if thread_clock_requested() {
        forest(&mut Criterion::default().with_measurement(ThreadTime).configure_from_args());
    } else {
        forest(&mut Criterion::default().configure_from_args());
    }
    Criterion::default().configure_from_args().final_summary();
}
