//! Isolation forest: agreement with the reference crate, detection quality, determinism,
//! input validation and snapshots.

use ndarray::{Array2, s};
use oddsight_core::snapshot::Stateful;
use oddsight_detectors::forest::{self, MAX_REFERENCE_WIDTH, roc_auc, synthetic_rows};
use oddsight_detectors::{Error, ForestParams, IsolationForest};

fn code(e: &Error) -> &'static str {
    e.code()
}

#[test]
fn flat_scores_agree_with_the_reference_crate() {
    for (width, extension, seed) in [(5, None, 1u64), (1, None, 2), (3, Some(0), 3), (8, Some(2), 4), (20, None, 5)] {
        let (rows, _) = synthetic_rows(3000, width, 0.02, seed);
        let forest = ForestParams::default().extension_level(extension).seed(seed).fit(rows.view()).unwrap();
        let (probe, _) = synthetic_rows(2000, width, 0.05, seed + 100);
        let fast = forest.score_rows(probe.view()).unwrap();
        let reference = forest.to_reference_scores(probe.view()).unwrap();
        let worst = fast.iter().zip(&reference).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
        assert!(worst <= 1e-9, "width {width}: worst difference {worst}");
    }
}

#[test]
fn crate_trained_forests_score_the_same_through_the_flat_layout() {
    // The crate trains with thread-local randomness, so the trees differ run to run; the
    // agreement between the two scorers on whatever trees it built holds every time.
    let (rows, labels) = synthetic_rows(4000, 4, 0.01, 11);
    let forest = ForestParams::default().fit_with_crate(rows.view()).unwrap();
    let fast = forest.score_rows(rows.view()).unwrap();
    let reference = forest.to_reference_scores(rows.view()).unwrap();
    let worst = fast.iter().zip(&reference).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
    assert!(worst <= 1e-9, "worst difference {worst}");
    assert!(roc_auc(&fast, &labels).unwrap() > 0.99);
}

#[test]
fn separates_injected_outliers() {
    let (rows, labels) = synthetic_rows(20_000, 5, 0.01, 42);
    let forest = ForestParams::default().fit(rows.view()).unwrap();
    let scores = forest.score_rows(rows.view()).unwrap();
    let auc = roc_auc(&scores, &labels).unwrap();
    assert!(auc >= 0.999, "auc {auc}");
    assert!(scores.iter().all(|s| (0.0..=1.0).contains(s)));
    let flagged = scores.iter().filter(|&&s| forest.is_outlier(s)).count();
    // contamination 0.1 flags about a tenth of the training rows
    assert!((1600..=2400).contains(&flagged), "{flagged}");
    // every injected outlier is above the threshold
    assert!(scores.iter().zip(&labels).filter(|(_, l)| **l).all(|(s, _)| forest.is_outlier(*s)));
}

#[test]
fn classic_axis_parallel_forest_also_separates() {
    let (rows, labels) = synthetic_rows(10_000, 3, 0.01, 9);
    let forest = ForestParams::default().extension_level(Some(0)).fit(rows.view()).unwrap();
    let auc = roc_auc(&forest.score_rows(rows.view()).unwrap(), &labels).unwrap();
    assert!(auc >= 0.99, "auc {auc}");
}

#[test]
fn contamination_sets_the_threshold_quantile() {
    let (rows, _) = synthetic_rows(3000, 2, 0.0, 5);
    for c in [0.01, 0.1, 0.5] {
        let forest = ForestParams::default().contamination(c).fit(rows.view()).unwrap();
        let scores = forest.score_rows(rows.view()).unwrap();
        let above = scores.iter().filter(|&&s| forest.is_outlier(s)).count() as f64 / 3000.0;
        assert!((above - c).abs() < 0.005, "contamination {c}: {above}");
    }
}

#[test]
fn fitting_is_deterministic_per_seed() {
    let (rows, _) = synthetic_rows(2000, 3, 0.01, 1);
    let a = ForestParams::default().seed(7).fit(rows.view()).unwrap();
    let b = ForestParams::default().seed(7).fit(rows.view()).unwrap();
    let c = ForestParams::default().seed(8).fit(rows.view()).unwrap();
    assert_eq!(a, b);
    assert_ne!(a, c);
    assert_eq!(a.score_rows(rows.view()).unwrap(), b.score_rows(rows.view()).unwrap());
}

#[test]
fn batch_equals_row_by_row_and_any_layout() {
    let (rows, _) = synthetic_rows(700, 4, 0.02, 3);
    let forest = ForestParams::default().trees(30).fit(rows.view()).unwrap();
    let batch = forest.score_rows(rows.view()).unwrap();
    let single: Vec<f64> = rows.outer_iter().map(|r| forest.score_row(r.as_slice().unwrap()).unwrap()).collect();
    assert_eq!(batch, single);
    // column-major and strided views give the same scores
    let fortran = rows.t().to_owned();
    assert_eq!(forest.score_rows(fortran.t()).unwrap(), batch);
    let every_other = forest.score_rows(rows.slice(s![..;2, ..])).unwrap();
    assert_eq!(every_other, batch.iter().step_by(2).copied().collect::<Vec<_>>());
}

#[test]
fn small_and_degenerate_training_sets() {
    // two rows: sample size clamps to 2, depth 1
    let rows = Array2::from_shape_vec((2, 2), vec![0.0, 0.0, 1.0, 1.0]).unwrap();
    let forest = ForestParams::default().fit(rows.view()).unwrap();
    assert_eq!((forest.samples_per_tree(), forest.max_depth()), (2, 1));
    let s = forest.score_row(&[0.5, 0.5]).unwrap();
    assert!((0.0..=1.0).contains(&s));
    // constant columns: no split separates anything, every score is the same
    let constant = Array2::from_elem((50, 3), 4.0);
    let forest = ForestParams::default().fit(constant.view()).unwrap();
    let scores = forest.score_rows(constant.view()).unwrap();
    assert!(scores.iter().all(|&s| s == scores[0] && s.is_finite()));
    // the reference agrees on these too
    assert_eq!(forest.to_reference_scores(constant.view()).unwrap(), scores);
}

#[test]
fn bad_parameters_are_typed_errors() {
    let (rows, _) = synthetic_rows(100, 3, 0.0, 1);
    let cases = [
        ForestParams::default().trees(0),
        ForestParams::default().trees(forest::MAX_TREES + 1),
        ForestParams::default().sample_size(1),
        ForestParams::default().contamination(0.0),
        ForestParams::default().contamination(0.6),
        ForestParams::default().contamination(f64::NAN),
        ForestParams::default().extension_level(Some(3)),
    ];
    for p in cases {
        let e = p.fit(rows.view()).unwrap_err();
        assert_eq!(code(&e), "InvalidParameter", "{p:?}: {e}");
    }
    assert!(ForestParams::default().validate().is_ok());
}

#[test]
fn bad_training_data_is_rejected() {
    let one_row = Array2::<f64>::zeros((1, 3));
    assert_eq!(code(&ForestParams::default().fit(one_row.view()).unwrap_err()), "ShapeMismatch");
    let no_cols = Array2::<f64>::zeros((10, 0));
    assert_eq!(code(&ForestParams::default().fit(no_cols.view()).unwrap_err()), "EmptyInput");
    for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        let mut rows = Array2::<f64>::zeros((10, 3));
        rows[[7, 2]] = bad;
        let e = ForestParams::default().fit(rows.view()).unwrap_err();
        assert!(matches!(e, Error::NonFiniteAt { row: 7, column: 2, .. }), "{e}");
        assert_eq!(code(&e), "NonFiniteValue");
    }
    // finite values whose range overflows: no intercept can be drawn in it
    let mut rows = Array2::<f64>::zeros((10, 3));
    rows[[2, 1]] = f64::MAX;
    rows[[5, 1]] = -f64::MAX;
    for fit in [ForestParams::fit, ForestParams::fit_with_crate] {
        let e = fit(&ForestParams::default(), rows.view()).unwrap_err();
        assert_eq!(code(&e), "InvalidData", "{e}");
        assert!(e.to_string().contains("metric 1"), "{e}");
    }
}

#[test]
fn every_extension_level_agrees_with_the_reference_and_is_deterministic() {
    // Level 0 is scored with one comparison per step, the others with hyperplane records of one
    // cache line (up to 6 metrics) or more; all must follow the reference's paths.
    for (width, seed) in [(2, 21u64), (6, 22), (7, 23)] {
        let (rows, _) = synthetic_rows(2500, width, 0.02, seed);
        let (probe, _) = synthetic_rows(1500, width, 0.05, seed + 100);
        for level in 0..width {
            let params = ForestParams::default().trees(40).extension_level(Some(level)).seed(seed);
            let forest = params.fit(rows.view()).unwrap();
            assert_eq!(forest, params.fit(rows.view()).unwrap(), "width {width} level {level}");
            let fast = forest.score_rows(probe.view()).unwrap();
            let reference = forest.to_reference_scores(probe.view()).unwrap();
            let worst = fast.iter().zip(&reference).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
            assert!(worst <= 1e-9, "width {width} level {level}: worst difference {worst}");
        }
    }
}

#[test]
fn the_threshold_from_drawn_training_rows_flags_the_contamination() {
    // More rows than THRESHOLD_ROWS: the threshold comes from the scores of a seeded draw of
    // them, and still flags about `contamination` of all the rows.
    let (rows, _) = synthetic_rows(forest::THRESHOLD_ROWS + 3000, 3, 0.01, 4);
    let contamination = 0.05;
    let model = ForestParams::default().trees(20).contamination(contamination).fit(rows.view()).unwrap();
    let scores = model.score_rows(rows.view()).unwrap();
    let above = scores.iter().filter(|&&s| model.is_outlier(s)).count() as f64 / scores.len() as f64;
    assert!((above - contamination).abs() < 0.01, "{above}");
}

#[test]
fn bad_scoring_input_is_rejected_and_nothing_written() {
    let (rows, _) = synthetic_rows(300, 3, 0.0, 1);
    let forest = ForestParams::default().trees(10).fit(rows.view()).unwrap();
    assert_eq!(code(&forest.score_row(&[1.0, 2.0]).unwrap_err()), "ShapeMismatch");
    assert!(matches!(forest.score_row(&[1.0, f64::NAN, 0.0]).unwrap_err(), Error::NonFiniteAt { column: 1, .. }));
    let mut probe = rows.slice(s![..20, ..]).to_owned();
    probe[[13, 0]] = f64::INFINITY;
    let mut out = vec![-1.0; 20];
    let e = forest.score_rows_into(probe.view(), &mut out).unwrap_err();
    assert!(matches!(e, Error::NonFiniteAt { row: 13, column: 0, .. }), "{e}");
    assert!(out.iter().all(|&v| v == -1.0));
    let mut short = vec![0.0; 19];
    assert_eq!(code(&forest.score_rows_into(rows.slice(s![..20, ..]), &mut short).unwrap_err()), "ShapeMismatch");
    let wide = Array2::<f64>::zeros((4, 4));
    assert_eq!(code(&forest.score_rows(wide.view()).unwrap_err()), "ShapeMismatch");
}

#[test]
fn the_reference_bridge_has_a_width_limit() {
    let rows = Array2::from_shape_fn((64, MAX_REFERENCE_WIDTH + 1), |(i, j)| ((i * 31 + j * 7) % 17) as f64);
    let forest = ForestParams::default().trees(5).fit(rows.view()).unwrap();
    // the flat scorer has no limit
    assert_eq!(forest.score_rows(rows.view()).unwrap().len(), 64);
    let e = forest.to_reference_scores(rows.view()).unwrap_err();
    assert!(matches!(e, Error::Unsupported { .. }), "{e}");
    assert!(matches!(ForestParams::default().fit_with_crate(rows.view()).unwrap_err(), Error::Unsupported { .. }));
}

#[test]
fn snapshots_round_trip_exactly() {
    let (rows, _) = synthetic_rows(1500, 4, 0.01, 8);
    let forest = ForestParams::default().trees(40).seed(3).fit(rows.view()).unwrap();
    let snap = forest.to_snapshot().unwrap();
    let back = IsolationForest::from_snapshot(&snap).unwrap();
    assert_eq!(back, forest);
    assert_eq!(back.score_rows(rows.view()).unwrap(), forest.score_rows(rows.view()).unwrap());
    assert_eq!(back.threshold().to_bits(), forest.threshold().to_bits());
    assert_eq!(back.to_snapshot().unwrap(), snap);
}

#[test]
fn malformed_snapshots_are_typed_errors() {
    let (rows, _) = synthetic_rows(200, 2, 0.01, 8);
    let forest = ForestParams::default().trees(3).fit(rows.view()).unwrap();
    let snap = forest.to_snapshot().unwrap();
    let mut env: serde_json::Value = serde_json::from_str(&snap).unwrap();
    type Edit = Box<dyn Fn(&mut serde_json::Value)>;
    let edits: Vec<(&str, Edit)> = vec![
        ("width", Box::new(|s| s["width"] = 3.into())),
        ("zero width", Box::new(|s| s["width"] = 0.into())),
        ("threshold", Box::new(|s| s["threshold"] = 1.5.into())),
        ("trees", Box::new(|s| s["trees"].as_array_mut().unwrap().pop().map(|_| ()).unwrap_or(()))),
        ("cycle", Box::new(|s| s["trees"][0]["left"][0] = 0.into())),
        ("child out of range", Box::new(|s| s["trees"][0]["left"][0] = 100_000.into())),
        ("sizes", Box::new(|s| s["trees"][0]["size"].as_array_mut().unwrap().push(1.into()))),
        ("normal", Box::new(|s| s["trees"][0]["normal"].as_array_mut().unwrap().pop().map(|_| ()).unwrap_or(()))),
        ("sample size", Box::new(|s| s["sample_size"] = 7.into())),
        ("params", Box::new(|s| s["params"]["contamination"] = 0.9.into())),
        ("unknown field", Box::new(|s| s["extra"] = 1.into())),
    ];
    for (what, edit) in edits {
        let mut e = env.clone();
        edit(&mut e["state"]);
        let err = IsolationForest::from_snapshot(&e.to_string()).unwrap_err();
        assert_eq!(err.code(), "MalformedSnapshot", "{what}: {err}");
    }
    env["kind"] = "Other".into();
    assert_eq!(IsolationForest::from_snapshot(&env.to_string()).unwrap_err().code(), "IncompatibleSnapshot");
    assert_eq!(IsolationForest::from_snapshot("{").unwrap_err().code(), "MalformedSnapshot");
    assert_eq!(IsolationForest::from_snapshot(&snap[..snap.len() / 2]).unwrap_err().code(), "MalformedSnapshot");
}

#[test]
fn auc_helper() {
    assert_eq!(roc_auc(&[0.1, 0.2, 0.9], &[false, false, true]).unwrap(), 1.0);
    assert_eq!(roc_auc(&[0.5, 0.5], &[false, true]).unwrap(), 0.5);
    assert_eq!(roc_auc(&[0.9, 0.1], &[false, true]).unwrap(), 0.0);
    assert_eq!(roc_auc(&[0.1], &[true]).unwrap_err().code(), "EmptyInput");
    assert_eq!(roc_auc(&[0.1], &[true, false]).unwrap_err().code(), "ShapeMismatch");
}

#[test]
fn forests_are_send_and_sync() {
    fn check<T: Send + Sync + Clone + std::fmt::Debug>() {}
    check::<IsolationForest>();
}
