//! Multi-metric PCA reconstruction error and cross-series peer outliers.

use ndarray::{Array2, s};
use oddsight_core::Direction;
use oddsight_core::snapshot::Stateful;
use oddsight_detectors::Error;
use oddsight_detectors::multi::{PcaDetector, PcaParams, PeerBandParams, PeerClusterParams, ScaleMethod};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

/// `n` minutes of one service: traffic drifts (a daily-ish wave plus noise); CPU %, latency ms
/// and queries/s follow it with their own noise. Columns: cpu, latency_ms, queries.
fn service(n: usize, seed: u64) -> Array2<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut rows = Array2::zeros((n, 3));
    for (i, mut row) in rows.outer_iter_mut().enumerate() {
        let traffic = 100.0 + 40.0 * (i as f64 / 90.0).sin() + 5.0 * rng.sample::<f64, _>(StandardNormal);
        let e: [f64; 3] = [rng.sample(StandardNormal), rng.sample(StandardNormal), rng.sample(StandardNormal)];
        row[0] = 0.4 * traffic + 0.8 * e[0];
        row[1] = 20.0 + 0.1 * traffic + 0.3 * e[1];
        row[2] = 3.0 * traffic + 4.0 * e[2];
    }
    rows
}

const NAMES: [&str; 3] = ["cpu", "latency_ms", "queries"];

#[test]
fn a_joint_move_that_breaks_the_correlation_is_one_anomaly() {
    let train = service(2000, 1);
    let pca = PcaParams::default().fit_named(&NAMES, train.view()).unwrap();
    assert_eq!(pca.kept_components(), 1);
    assert!(pca.explained_variance() > 0.9);
    // CPU of a busy minute (traffic 135), latency and queries of a quiet one (traffic 70)
    let odd = [0.4 * 135.0, 20.0 + 0.1 * 70.0, 3.0 * 70.0];
    // each metric alone is well inside its own training range and robust band
    for (j, &v) in odd.iter().enumerate() {
        let col = train.column(j);
        let (lo, hi) = col.iter().fold((f64::MAX, f64::MIN), |(lo, hi), &x| (lo.min(x), hi.max(x)));
        assert!(v > lo && v < hi, "{} = {v} outside [{lo}, {hi}]", NAMES[j]);
        let scale = pca.column_scales()[j];
        assert!(scale.z(v).abs() < 3.0, "{}: robust z {}", NAMES[j], scale.z(v));
    }
    let v = pca.score_row(&odd).unwrap();
    assert!(v.is_anomaly, "{}", v.explain());
    assert!(v.z > 6.0, "{}", v.z);
    assert_eq!(v.severity, oddsight_core::scale::severity(v.anomaly_score));
    // cpu broke the pattern (latency and queries agree with each other): the largest share
    assert_eq!(v.contributions[0].metric, "cpu", "{:?}", v.contributions);
    assert!(v.contributions[0].expected < v.contributions[0].actual);
    let shares: f64 = v.contributions.iter().map(|c| c.share).sum();
    assert!((shares - 1.0).abs() < 1e-9);
    // the same metrics moving together, to the same busy level, are ordinary
    let together = [0.4 * 135.0, 20.0 + 0.1 * 135.0, 3.0 * 135.0];
    let v = pca.score_row(&together).unwrap();
    assert!(!v.is_anomaly, "{}", v.explain());
}

#[test]
fn held_out_normal_rows_are_rarely_flagged() {
    let pca = PcaParams::default().fit(service(2000, 2).view()).unwrap();
    let test = service(2000, 3);
    let verdicts = pca.score_rows(test.view()).unwrap();
    let flagged = verdicts.iter().filter(|v| v.is_anomaly).count();
    assert!(flagged < 40, "{flagged} of 2000");
    assert!(verdicts.iter().all(|v| (0.0..=1.0).contains(&v.anomaly_score) && v.p_value.is_finite()));
    // batch equals row by row
    for (i, v) in verdicts.iter().enumerate().take(50) {
        assert_eq!(*v, pca.score_row(test.row(i).as_slice().unwrap()).unwrap());
    }
}

#[test]
fn component_count_by_variance_or_fixed() {
    let train = service(1000, 4);
    assert_eq!(PcaParams::default().components(Some(2)).fit(train.view()).unwrap().kept_components(), 2);
    // at most width - 1, so a residual always remains
    assert_eq!(PcaParams::default().explained_variance(0.999_999).fit(train.view()).unwrap().kept_components(), 2);
    // four independent metrics need more than one component for 90 %
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let iid = Array2::from_shape_fn((800, 4), |_| rng.sample::<f64, _>(StandardNormal));
    assert!(PcaParams::default().fit(iid.view()).unwrap().kept_components() >= 3);
}

#[test]
fn pca_rejects_bad_input_with_typed_errors() {
    let train = service(100, 6);
    for p in [
        PcaParams::default().components(Some(0)),
        PcaParams::default().components(Some(3)),
        PcaParams::default().explained_variance(1.0),
        PcaParams::default().explained_variance(f64::NAN),
        PcaParams::default().threshold(0.0),
        PcaParams::default().min_scale(-1.0),
    ] {
        assert_eq!(p.fit(train.view()).unwrap_err().code(), "InvalidParameter", "{p:?}");
    }
    assert_eq!(PcaParams::default().fit(train.slice(s![.., ..1])).unwrap_err().code(), "ShapeMismatch");
    assert_eq!(PcaParams::default().fit(train.slice(s![..2, ..])).unwrap_err().code(), "ShapeMismatch");
    assert_eq!(PcaParams::default().fit_named(&["a", "b"], train.view()).unwrap_err().code(), "ShapeMismatch");
    let mut bad = train.clone();
    bad[[40, 1]] = f64::NAN;
    assert!(matches!(PcaParams::default().fit(bad.view()).unwrap_err(), Error::NonFiniteAt { row: 40, column: 1, .. }));
    let pca = PcaParams::default().fit(train.view()).unwrap();
    assert_eq!(pca.score_row(&[1.0, 2.0]).unwrap_err().code(), "ShapeMismatch");
    assert!(matches!(pca.score_row(&[1.0, f64::INFINITY, 2.0]).unwrap_err(), Error::NonFiniteAt { column: 1, .. }));
    assert!(matches!(pca.score_rows(bad.view()).unwrap_err(), Error::NonFiniteAt { row: 40, .. }));
}

#[test]
fn constant_metrics_do_not_break_the_fit() {
    // a metric that never moved (robust scale falls to the floor) next to two moving ones
    let mut train = service(500, 7);
    train.column_mut(1).fill(25.0);
    let pca = PcaParams::default().fit(train.view()).unwrap();
    assert_eq!(pca.column_scales()[1].method, ScaleMethod::Floor);
    let v = pca.score_row(&[40.0, 25.0, 300.0]).unwrap();
    assert!(v.anomaly_score.is_finite() && !v.is_anomaly, "{}", v.explain());
    // the constant metric moving is extreme
    assert!(pca.score_row(&[40.0, 26.0, 300.0]).unwrap().is_anomaly);
}

#[test]
fn pca_snapshots_round_trip_and_reject_malformed_state() {
    let pca = PcaParams::default().fit_named(&NAMES, service(600, 8).view()).unwrap();
    let snap = pca.to_snapshot().unwrap();
    let back = PcaDetector::from_snapshot(&snap).unwrap();
    assert_eq!(back, pca);
    let probe = service(50, 9);
    assert_eq!(back.score_rows(probe.view()).unwrap(), pca.score_rows(probe.view()).unwrap());
    let env: serde_json::Value = serde_json::from_str(&snap).unwrap();
    type Edit = Box<dyn Fn(&mut serde_json::Value)>;
    let edits: Vec<Edit> = vec![
        Box::new(|s| s["kept"] = 3.into()),
        Box::new(|s| s["kept"] = 0.into()),
        Box::new(|s| s["basis"].as_array_mut().unwrap().truncate(4)),
        Box::new(|s| s["names"].as_array_mut().unwrap().truncate(2)),
        Box::new(|s| s["columns"][0]["scale"] = 0.0.into()),
        Box::new(|s| s["variances"][1] = (-1.0).into()),
        Box::new(|s| s["params"]["threshold"] = 2.0.into()),
        Box::new(|s| s["mean"] = "x".into()),
    ];
    for (i, edit) in edits.iter().enumerate() {
        let mut e = env.clone();
        edit(&mut e["state"]);
        assert_eq!(PcaDetector::from_snapshot(&e.to_string()).unwrap_err().code(), "MalformedSnapshot", "edit {i}");
    }
}

/// `n` hosts' request latency at one minute: N(120, 8²).
fn hosts(n: usize, seed: u64) -> Vec<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n).map(|_| 120.0 + 8.0 * rng.sample::<f64, _>(StandardNormal)).collect()
}

#[test]
fn peer_band_flags_the_host_unlike_the_others() {
    let band = PeerBandParams::default().build().unwrap();
    let mut values = hosts(40, 10);
    let calm = band.judge(&values).unwrap();
    assert!(calm.outliers.len() <= 1, "{:?}", calm.outliers);
    assert_eq!(calm.peers.method, ScaleMethod::Mad);
    values[17] = 220.0;
    values[3] = 60.0;
    let r = band.judge(&values).unwrap();
    assert_eq!(r.outliers, vec![17, 3], "{}", r.explain());
    assert_eq!(r.verdicts[17].direction, Direction::Up);
    assert_eq!(r.verdicts[3].direction, Direction::Down);
    assert!(r.verdicts[17].anomaly_score > 0.8);
    assert!(r.lower < 110.0 && r.upper > 130.0 && r.upper < 160.0);
}

#[test]
fn peer_band_never_fails_on_zeros() {
    let band = PeerBandParams::default().build().unwrap();
    let zeros = vec![0.0; 50];
    let r = band.judge(&zeros).unwrap();
    assert_eq!(r.peers.method, ScaleMethod::Floor);
    assert!(r.outliers.is_empty());
    assert!(r.verdicts.iter().all(|v| v.z == 0.0 && v.anomaly_score == 0.0 && v.direction == Direction::Neutral));
    // one host with errors among 49 silent ones: the MAD and IQR are 0, the mean absolute
    // deviation is not
    let mut errors = zeros.clone();
    errors[9] = 3.0;
    let r = band.judge(&errors).unwrap();
    assert_eq!(r.peers.method, ScaleMethod::MeanAbsDev);
    assert_eq!(r.outliers, vec![9]);
    assert!(r.verdicts.iter().all(|v| v.z.is_finite()));
    assert!(r.explain().contains("mean absolute deviation"));
    // a floor in the data's units says one error is not remarkable
    let floored = PeerBandParams::default().min_scale(1.0).build().unwrap();
    let mut one = zeros.clone();
    one[2] = 1.0;
    assert!(floored.judge(&one).unwrap().outliers.is_empty());
    // a third of hosts busy: the IQR takes over
    let mut mixed = zeros;
    for v in mixed.iter_mut().take(15) {
        *v = 2.0;
    }
    assert_eq!(band.judge(&mixed).unwrap().peers.method, ScaleMethod::Iqr);
}

#[test]
fn peer_band_rejects_bad_input() {
    let band = PeerBandParams::default().build().unwrap();
    assert_eq!(band.judge(&[]).unwrap_err().code(), "EmptyInput");
    assert_eq!(band.judge(&[1.0, 2.0]).unwrap_err().code(), "ShapeMismatch");
    assert!(matches!(band.judge(&[1.0, 2.0, f64::NAN, 3.0]).unwrap_err(), Error::NonFiniteAt { row: 2, .. }));
    for p in [
        PeerBandParams::default().threshold_z(0.0),
        PeerBandParams::default().threshold_z(f64::INFINITY),
        PeerBandParams::default().min_scale(f64::NAN),
        PeerBandParams::default().min_peers(2),
    ] {
        assert_eq!(p.build().unwrap_err().code(), "InvalidParameter");
    }
}

/// `groups` groups of hosts whose last `window` values sit around different levels.
fn windows(per_group: usize, levels: &[f64], window: usize, seed: u64) -> Array2<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let n = per_group * levels.len();
    Array2::from_shape_fn((n, window), |(i, _)| levels[i / per_group] + rng.sample::<f64, _>(StandardNormal))
}

#[test]
fn dbscan_marks_hosts_unlike_any_group_as_noise() {
    let mut features = windows(20, &[20.0, 60.0], 4, 11);
    // one host oscillating between the two levels, one far above both
    features.row_mut(5).assign(&ndarray::arr1(&[20.0, 60.0, 20.0, 60.0]));
    features.row_mut(33).assign(&ndarray::arr1(&[120.0, 121.0, 119.0, 120.0]));
    let report = PeerClusterParams::default().build().unwrap().judge(features.view()).unwrap();
    assert_eq!(report.clusters, 2, "{report:?}");
    assert_eq!(report.outliers, vec![5, 33]);
    assert_eq!(report.labels[0], report.labels[19]);
    assert_ne!(report.labels[0], report.labels[20]);
}

#[test]
fn dbscan_on_all_zero_features_is_one_cluster() {
    let zeros = Array2::<f64>::zeros((30, 5));
    let report = PeerClusterParams::default().build().unwrap().judge(zeros.view()).unwrap();
    assert_eq!((report.clusters, report.outliers.len()), (1, 0));
    assert!(report.features.iter().all(|f| f.method == ScaleMethod::Floor));
    // one host with a burst of errors among silent ones
    let mut counts = zeros;
    counts.row_mut(12).fill(4.0);
    let report = PeerClusterParams::default().build().unwrap().judge(counts.view()).unwrap();
    assert_eq!(report.outliers, vec![12]);
}

#[test]
fn dbscan_rejects_bad_input() {
    let p = PeerClusterParams::default().build().unwrap();
    assert_eq!(p.judge(Array2::<f64>::zeros((0, 3)).view()).unwrap_err().code(), "EmptyInput");
    assert_eq!(p.judge(Array2::<f64>::zeros((5, 0)).view()).unwrap_err().code(), "EmptyInput");
    assert_eq!(p.judge(Array2::<f64>::zeros((2, 3)).view()).unwrap_err().code(), "ShapeMismatch");
    let mut bad = Array2::<f64>::zeros((6, 2));
    bad[[4, 1]] = f64::NEG_INFINITY;
    assert!(matches!(p.judge(bad.view()).unwrap_err(), Error::NonFiniteAt { row: 4, column: 1, .. }));
    for q in [
        PeerClusterParams::default().eps(0.0),
        PeerClusterParams::default().eps(f64::NAN),
        PeerClusterParams::default().min_samples(1),
        PeerClusterParams::default().min_scale(-0.5),
    ] {
        assert_eq!(q.build().unwrap_err().code(), "InvalidParameter");
    }
}
