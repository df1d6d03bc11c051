//! Malformed snapshots: wrong kind, wrong version, wrong format tag, truncated JSON, non-JSON,
//! a float replaced by `null` (how JSON writes NaN), negative variances, mismatched bucket
//! counts and inconsistent states are each a typed error (`Error::Snapshot` or
//! `Error::SnapshotVersion`), never a panic; and random mutations of valid snapshots never
//! panic on restore.

// clippy's allow-unwrap-in-tests covers `#[test]` functions only, not the helpers here.
#![allow(clippy::unwrap_used)]

mod common;

use common::SplitMix64;
use oddsight_core::{
    Aggregator, AggregatorParams, AlertPolicy, Baseline, BaselineDetector, Calibrator, CalibratorParams, Detector,
    Direction, Error, EwmaBaseline, Point, QuantileSketch, QuantileSketchParams, QuantileWindow, RatioScorer,
    SeasonalBaseline, Stateful, StrikePolicy, StrikePolicyParams, StudentT, Verdict, Watch, WindowBaseline, ZScore,
};
use proptest::prelude::*;
use serde_json::{Value, json};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::OnceLock;

type EwmaZ = BaselineDetector<EwmaBaseline, ZScore>;
type SeasonalRatio = BaselineDetector<SeasonalBaseline, RatioScorer>;
type QuantileT = BaselineDetector<QuantileWindow, StudentT>;
type WindowZ = BaselineDetector<WindowBaseline, ZScore>;
type SeasonalWatch = Watch<BaselineDetector<SeasonalBaseline, ZScore>, StrikePolicy>;

/// Every snapshotting type, for dispatch.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Ewma,
    Window,
    QuantileWindow,
    Sketch,
    Seasonal,
    AggregatorExact,
    AggregatorSketch,
    Calibrator,
    Policy,
    EwmaZ,
    WindowZ,
    SeasonalRatio,
    QuantileT,
    Watch,
}

const ALL: [Kind; 14] = [
    Kind::Ewma,
    Kind::Window,
    Kind::QuantileWindow,
    Kind::Sketch,
    Kind::Seasonal,
    Kind::AggregatorExact,
    Kind::AggregatorSketch,
    Kind::Calibrator,
    Kind::Policy,
    Kind::EwmaZ,
    Kind::WindowZ,
    Kind::SeasonalRatio,
    Kind::QuantileT,
    Kind::Watch,
];

/// Ten minutes of per-second data around 100 with a spike and a level shift, so that every
/// type has non-trivial state (open alerts, pending strikes, a sketch in the aggregator).
fn data() -> Vec<Point> {
    let mut rng = SplitMix64::new(42);
    (0..600)
        .map(|i| {
            let level = if i > 450 { 300.0 } else { 100.0 };
            let spike = if i == 200 { 1_000.0 } else { 0.0 };
            Point::new(i * 1_000, level + spike + 5.0 * rng.normal())
        })
        .collect()
}

fn fed<B: Baseline>(mut b: B) -> B {
    for p in data() {
        b.update(p).unwrap();
    }
    b
}

fn observed<D: Detector>(mut d: D) -> D {
    for p in data() {
        d.observe(p).unwrap();
    }
    d
}

fn policy() -> StrikePolicy {
    let mut p = StrikePolicyParams::k_of_n(2, 4).max_verdicts(5).build().unwrap();
    let mut rng = SplitMix64::new(5);
    for t in 0..50 {
        let mut v = Verdict::neutral(Point::new(t, 1.0), 0.0, "test".into(), true);
        v.anomaly_score = if t > 40 { 0.95 } else { rng.uniform() * 0.6 };
        v.severity = oddsight_core::scale::severity(v.anomaly_score);
        v.direction = Direction::Up;
        p.step(&v);
    }
    assert!(p.open_alert().is_some());
    p
}

fn make(kind: Kind) -> String {
    match kind {
        Kind::Ewma => fed(common::ewma()).to_snapshot(),
        Kind::Window => fed(common::window()).to_snapshot(),
        Kind::QuantileWindow => fed(common::quantile_window()).to_snapshot(),
        Kind::Sketch => {
            let mut s = QuantileSketchParams::default().build().unwrap();
            data().iter().for_each(|p| s.add(p.value - 150.0).unwrap());
            s.add(0.0).unwrap();
            s.to_snapshot()
        }
        Kind::Seasonal => fed(common::seasonal()).to_snapshot(),
        Kind::AggregatorExact | Kind::AggregatorSketch => {
            let limit = if kind == Kind::AggregatorExact { 1_000 } else { 10 };
            let mut a = AggregatorParams::default().width_ms(100_000).exact_limit(limit).build().unwrap();
            data().iter().for_each(|p| drop(a.push(p.timestamp, p.value).unwrap()));
            a.to_snapshot()
        }
        Kind::Calibrator => {
            let mut c = CalibratorParams::default().build().unwrap();
            data().iter().for_each(|p| c.update(p.value).unwrap());
            c.to_snapshot()
        }
        Kind::Policy => policy().to_snapshot(),
        Kind::EwmaZ => observed(common::detector(common::ewma(), ZScore)).to_snapshot(),
        Kind::WindowZ => observed(common::detector(common::window(), ZScore)).to_snapshot(),
        Kind::SeasonalRatio => observed(common::detector(common::seasonal(), RatioScorer::default())).to_snapshot(),
        Kind::QuantileT => observed(common::detector(common::quantile_window(), StudentT)).to_snapshot(),
        Kind::Watch => {
            let mut w: SeasonalWatch = Watch::new(
                common::detector(common::seasonal(), ZScore),
                StrikePolicyParams::strikes(2).build().unwrap(),
            );
            data().iter().for_each(|&p| drop(w.push(p).unwrap()));
            w.to_snapshot()
        }
    }
    .unwrap()
}

fn corpus() -> &'static [(Kind, String)] {
    static CORPUS: OnceLock<Vec<(Kind, String)>> = OnceLock::new();
    CORPUS.get_or_init(|| ALL.iter().map(|&k| (k, make(k))).collect())
}

fn snapshot_of(kind: Kind) -> &'static str {
    &corpus().iter().find(|(k, _)| *k == kind).unwrap().1
}

/// Restores `s` as `T`, checks the result snapshots back to an equivalent string, and (with
/// `use_it`) exercises it: a restored object must behave.
fn round<T: Stateful>(s: &str, use_it: bool, exercise: impl FnOnce(&mut T)) -> oddsight_core::Result<()> {
    let mut t = T::from_snapshot(s)?;
    let again = t.to_snapshot().unwrap();
    T::from_snapshot(&again).unwrap();
    if use_it {
        exercise(&mut t);
        let _ = t.to_snapshot();
    }
    Ok(())
}

fn probes() -> [Point; 4] {
    [Point::new(700_000, 1.0), Point::new(700_000, -5e3), Point::new(800_000, 1e9), Point::new(900_000, 0.0)]
}

/// Restores `s` as the type of `kind`; with `use_it`, feeds it a few points afterwards.
fn restore(kind: Kind, s: &str, use_it: bool) -> oddsight_core::Result<()> {
    fn baseline<B: Baseline>(b: &mut B) {
        for p in probes() {
            let _ = b.expect(p.timestamp);
            b.update(p).unwrap();
        }
    }
    fn detector<D: Detector>(d: &mut D) {
        for p in probes() {
            let _ = d.score(p);
            let _ = d.observe(p);
        }
    }
    match kind {
        Kind::Ewma => round::<EwmaBaseline>(s, use_it, baseline),
        Kind::Window => round::<WindowBaseline>(s, use_it, baseline),
        Kind::QuantileWindow => round::<QuantileWindow>(s, use_it, baseline),
        Kind::Seasonal => round::<SeasonalBaseline>(s, use_it, baseline),
        Kind::Sketch => round::<QuantileSketch>(s, use_it, |k| {
            for p in probes() {
                k.add(p.value).unwrap();
                let _ = (k.quantile(0.5), k.quantile(0.0), k.quantile(1.0), k.cdf(p.value), k.exceedance(p.value));
            }
        }),
        Kind::AggregatorExact | Kind::AggregatorSketch => round::<Aggregator>(s, use_it, |a| {
            for p in probes() {
                let _ = a.push(p.timestamp, p.value);
            }
            let _ = a.flush();
        }),
        Kind::Calibrator => round::<Calibrator>(s, use_it, |c| {
            for p in probes() {
                let _ = c.calibrate(p.value);
                let _ = c.observe(p.value);
            }
        }),
        Kind::Policy => round::<StrikePolicy>(s, use_it, |p| {
            for (i, score) in [0.9, 0.9, 0.1, 0.1, 0.1, 0.95].into_iter().enumerate() {
                let mut v = Verdict::neutral(Point::new(1_000 + i as i64, 1.0), 0.0, "test".into(), true);
                v.anomaly_score = score;
                v.direction = Direction::Down;
                let _ = p.step(&v);
            }
            let _ = p.resolve(2_000);
        }),
        Kind::EwmaZ => round::<EwmaZ>(s, use_it, detector),
        Kind::WindowZ => round::<WindowZ>(s, use_it, detector),
        Kind::SeasonalRatio => round::<SeasonalRatio>(s, use_it, detector),
        Kind::QuantileT => round::<QuantileT>(s, use_it, detector),
        Kind::Watch => round::<SeasonalWatch>(s, use_it, |w| {
            for p in probes() {
                let _ = w.push(p);
            }
        }),
    }
}

fn expected_kind(kind: Kind) -> String {
    serde_json::from_str::<Value>(snapshot_of(kind)).unwrap()["kind"].as_str().unwrap().to_string()
}

/// Applies `edit` to the parsed snapshot of `kind` and restores the result.
fn edited(kind: Kind, edit: impl FnOnce(&mut Value)) -> oddsight_core::Result<()> {
    let mut v: Value = serde_json::from_str(snapshot_of(kind)).unwrap();
    edit(&mut v);
    restore(kind, &v.to_string(), true)
}

#[track_caller]
fn assert_malformed(r: oddsight_core::Result<()>, what: &str) {
    match r {
        Err(e @ Error::Snapshot { .. }) => assert_eq!(e.code(), "MalformedSnapshot"),
        other => panic!("{what}: expected Error::Snapshot, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------

#[test]
fn every_snapshot_round_trips() {
    for &(kind, ref s) in corpus() {
        restore(kind, s, true).unwrap_or_else(|e| panic!("{kind:?}: {e}"));
        let env = oddsight_core::Envelope::parse(s).unwrap();
        assert_eq!((env.format.as_str(), env.version), ("oddsight", 1), "{kind:?}");
    }
}

#[test]
fn wrong_kind_and_wrong_version_are_incompatible() {
    for kind in ALL {
        let expected = expected_kind(kind);
        for (k, version) in [("SomethingElse", 1u32), (expected.as_str(), 2), (expected.as_str(), 0)] {
            let r = edited(kind, |v| {
                v["kind"] = json!(k);
                v["version"] = json!(version);
            });
            match r {
                Err(
                    ref e @ Error::SnapshotVersion { kind: ref got, version: v, ref expected_kind, expected_version },
                ) => {
                    assert_eq!((got.as_str(), v), (k, version), "{kind:?}");
                    assert_eq!((expected_kind.as_str(), expected_version), (expected.as_str(), 1), "{kind:?}");
                    assert_eq!(e.code(), "IncompatibleSnapshot");
                    assert!(e.to_string().contains(&format!("expected {expected} v1")), "{e}");
                }
                other => panic!("{kind:?} as {k} v{version}: {other:?}"),
            }
        }
    }
    // A detector's snapshot is not another detector's, nor its baseline's.
    let ewma = snapshot_of(Kind::EwmaZ);
    assert!(matches!(WindowZ::from_snapshot(ewma), Err(Error::SnapshotVersion { .. })));
    assert!(matches!(
        BaselineDetector::<EwmaBaseline, StudentT>::from_snapshot(ewma),
        Err(Error::SnapshotVersion { .. })
    ));
    assert!(matches!(EwmaBaseline::from_snapshot(ewma), Err(Error::SnapshotVersion { .. })));
    assert!(matches!(EwmaZ::from_snapshot(snapshot_of(Kind::Ewma)), Err(Error::SnapshotVersion { .. })));
}

#[test]
fn wrong_or_missing_format_tag_is_malformed() {
    for kind in ALL {
        assert_malformed(edited(kind, |v| v["format"] = json!("other")), "format other");
        assert_malformed(edited(kind, |v| v["format"] = json!("Oddsight")), "format case");
        assert_malformed(edited(kind, |v| drop(v.as_object_mut().unwrap().remove("format"))), "no format");
        assert_malformed(edited(kind, |v| drop(v.as_object_mut().unwrap().remove("state"))), "no state");
        assert_malformed(edited(kind, |v| v["version"] = json!(-1)), "negative version");
        assert_malformed(edited(kind, |v| v["version"] = json!("1")), "string version");
        assert_malformed(edited(kind, |v| v["state"] = json!(null)), "null state");
        assert_malformed(edited(kind, |v| v["state"] = json!({})), "empty state");
    }
}

#[test]
fn non_json_is_malformed() {
    for kind in ALL {
        for s in [
            "",
            " ",
            "not json",
            "{",
            "}",
            "null",
            "[]",
            "42",
            "\"oddsight\"",
            "{\"format\":\"oddsight\"}",
            "\u{feff}{}",
            "\0",
        ] {
            assert_malformed(restore(kind, s, true), s);
        }
    }
}

#[test]
fn every_truncation_is_malformed() {
    for &(kind, ref s) in corpus() {
        // Every prefix of small snapshots; a spread of them for large ones.
        let step = (s.len() / 400).max(1);
        for cut in (0..s.len()).step_by(step).chain([s.len() - 1]) {
            if !s.is_char_boundary(cut) {
                continue;
            }
            let r = catch_unwind(AssertUnwindSafe(|| restore(kind, &s[..cut], true)));
            match r {
                Ok(r) => assert_malformed(r, &format!("{kind:?} cut at {cut}")),
                Err(_) => panic!("{kind:?}: restoring the first {cut} bytes panicked"),
            }
        }
    }
}

/// The JSON path of every number in the state, e.g. `["state", "mean"]`.
fn number_paths(v: &Value, path: &mut Vec<Value>, out: &mut Vec<Vec<Value>>) {
    match v {
        Value::Number(_) => out.push(path.clone()),
        Value::Array(xs) => xs.iter().enumerate().for_each(|(i, x)| {
            path.push(json!(i));
            number_paths(x, path, out);
            path.pop();
        }),
        Value::Object(m) => m.iter().for_each(|(k, x)| {
            path.push(json!(k));
            number_paths(x, path, out);
            path.pop();
        }),
        _ => {}
    }
}

fn at<'a>(v: &'a mut Value, path: &[Value]) -> &'a mut Value {
    path.iter().fold(v, |v, k| match k {
        Value::String(k) => &mut v[k.as_str()],
        k => &mut v[k.as_u64().unwrap() as usize],
    })
}

#[test]
fn nan_written_as_null_is_malformed() {
    // serde_json writes NaN and ±inf as `null`: every required float of a state must refuse it.
    for (kind, fields) in [
        (Kind::Ewma, vec!["mean", "var"]),
        (Kind::Window, vec!["mean", "m2"]),
        (Kind::Sketch, vec!["sum", "min", "max", "gamma"]),
    ] {
        for f in fields {
            assert_malformed(edited(kind, |v| v["state"][f] = Value::Null), &format!("{kind:?}.{f} = null"));
        }
    }
    assert_malformed(edited(Kind::Window, |v| v["state"]["ring"][3] = Value::Null), "window value null");
    assert_malformed(edited(Kind::QuantileWindow, |v| v["state"]["ring"][0] = Value::Null), "quantile value null");
    for f in ["mean", "ss", "p95", "weight"] {
        assert_malformed(edited(Kind::Seasonal, |v| v["state"]["levels"][2][f] = Value::Null), f);
    }
    assert_malformed(edited(Kind::EwmaZ, |v| v["state"]["baseline"]["mean"] = Value::Null), "detector mean");
    assert_malformed(edited(Kind::Calibrator, |v| v["state"]["sketch"]["sum"] = Value::Null), "calibrator sum");
}

#[test]
fn any_number_replaced_by_null_is_an_error_or_valid_never_a_panic() {
    for &(kind, ref s) in corpus() {
        let root: Value = serde_json::from_str(s).unwrap();
        let mut paths = Vec::new();
        number_paths(&root["state"], &mut vec![json!("state")], &mut paths);
        let step = (paths.len() / 150).max(1);
        for path in paths.iter().step_by(step) {
            let mut v = root.clone();
            *at(&mut v, path) = Value::Null;
            let r = catch_unwind(AssertUnwindSafe(|| restore(kind, &v.to_string(), true)))
                .unwrap_or_else(|_| panic!("{kind:?}: null at {path:?} panicked"));
            // Optional fields (an open interval's start, a gap limit) may legitimately be null.
            assert!(
                matches!(r, Ok(()) | Err(Error::Snapshot { .. } | Error::InvalidParameter { .. })),
                "{kind:?} null at {path:?}: {r:?}"
            );
        }
    }
}

#[test]
fn negative_variance_is_malformed() {
    assert_malformed(edited(Kind::Ewma, |v| v["state"]["var"] = json!(-1.0)), "ewma var");
    assert_malformed(edited(Kind::EwmaZ, |v| v["state"]["baseline"]["var"] = json!(-1e-300)), "detector var");
    assert_malformed(edited(Kind::Seasonal, |v| v["state"]["levels"][0]["ss"] = json!(-4.0)), "seasonal ss");
    assert_malformed(edited(Kind::Seasonal, |v| v["state"]["levels"][0]["weight"] = json!(-1.0)), "seasonal weight");
    assert_malformed(edited(Kind::SeasonalRatio, |v| v["state"]["baseline"]["levels"][3]["ss"] = json!(-4.0)), "det");
}

#[test]
fn mismatched_counts_and_lengths_are_malformed() {
    let drop_last = |v: &mut Value| drop(v.as_array_mut().unwrap().pop());
    // Seasonal: one bucket too few, one too many, and a `fine` that disagrees.
    assert_malformed(edited(Kind::Seasonal, |v| drop_last(&mut v["state"]["levels"])), "levels - 1");
    assert_malformed(
        edited(Kind::Seasonal, |v| {
            let b = v["state"]["levels"][0].clone();
            v["state"]["levels"].as_array_mut().unwrap().push(b);
        }),
        "levels + 1",
    );
    assert_malformed(edited(Kind::Seasonal, |v| v["state"]["fine"] = json!(9)), "fine");
    assert_malformed(edited(Kind::Watch, |v| drop_last(&mut v["state"]["detector"]["baseline"]["levels"])), "watch");
    // Seasonal: exclusions out of order or overlapping (build() merges them; a snapshot must not
    // smuggle in unmerged ones).
    assert_malformed(
        edited(Kind::Seasonal, |v| {
            v["state"]["params"]["exclusions"] = json!([{"start": 0, "end": 10}, {"start": 5, "end": 20}])
        }),
        "overlapping exclusions",
    );
    // Windows: the sorted copy disagrees with the ring, or the ring outgrew the window.
    assert_malformed(edited(Kind::QuantileWindow, |v| drop_last(&mut v["state"]["sorted"])), "sorted - 1");
    assert_malformed(edited(Kind::QuantileWindow, |v| v["state"]["sorted"][0] = json!(-12345.0)), "sorted value");
    assert_malformed(
        edited(Kind::QuantileWindow, |v| {
            let ring = v["state"]["ring"].as_array_mut().unwrap();
            ring.push(ring[0].clone());
            let sorted = v["state"]["sorted"].as_array_mut().unwrap();
            sorted.insert(0, json!(-1e9));
            v["state"]["ring"].as_array_mut().unwrap().push(json!(-1e9));
        }),
        "ring longer than window",
    );
    assert_malformed(
        edited(Kind::Window, |v| {
            let x = v["state"]["ring"][0].clone();
            v["state"]["ring"].as_array_mut().unwrap().push(x);
        }),
        "window ring + 1",
    );
    // Sketch: counts that do not add up, too many bins, a bin ratio that does not match.
    assert_malformed(edited(Kind::Sketch, |v| v["state"]["count"] = json!(3)), "sketch count");
    assert_malformed(edited(Kind::Sketch, |v| v["state"]["zeros"] = json!(7)), "sketch zeros");
    assert_malformed(
        edited(Kind::Sketch, |v| v["state"]["pos"]["bins"] = json!(vec![0; 2049])),
        "sketch bins > max_bins",
    );
    assert_malformed(edited(Kind::Sketch, |v| v["state"]["gamma"] = json!(1.5)), "sketch gamma");
    assert_malformed(edited(Kind::Calibrator, |v| v["state"]["sketch"]["count"] = json!(1)), "calibrator count");
    // Policy: more k-of-n flags than n, more pending verdicts than kept, alert ids from 0.
    assert_malformed(edited(Kind::Policy, |v| v["state"]["window"] = json!([true, false, true, true, true])), "window");
    assert_malformed(
        edited(Kind::Policy, |v| {
            let p = v["state"]["pending"][0].clone();
            v["state"]["pending"] = json!(vec![p; 6]);
        }),
        "pending",
    );
    assert_malformed(edited(Kind::Policy, |v| v["state"]["next_id"] = json!(0)), "next_id");
    // Aggregator: more exact values than events.
    assert_malformed(edited(Kind::AggregatorExact, |v| v["state"]["open"]["count"] = json!(0)), "aggregator count");
}

#[test]
fn out_of_range_parameters_in_a_snapshot_are_rejected() {
    // Parameters are validated on restore as on build. The error is InvalidParameter (as
    // `Stateful::validate` documents), naming the parameter.
    let cases: Vec<(Kind, &[&str], Value, &str)> = vec![
        (Kind::Ewma, &["params", "alpha"], json!(1.5), "alpha"),
        (Kind::Window, &["params", "window"], json!(1), "window"),
        (Kind::QuantileWindow, &["params", "window"], json!(0), "window"),
        (Kind::Sketch, &["params", "relative_accuracy"], json!(0.75), "relative_accuracy"),
        (Kind::Seasonal, &["params", "bucket_ms"], json!(7), "bucket_ms"),
        (Kind::Seasonal, &["params", "floor", "absolute"], json!(0.0), "floor.absolute"),
        (Kind::AggregatorExact, &["params", "width_ms"], json!(0), "width_ms"),
        (Kind::Calibrator, &["params", "false_alarm_rate"], json!(1.0), "false_alarm_rate"),
        (Kind::Policy, &["params", "exit"], json!(0.9), "exit"),
        (Kind::EwmaZ, &["params", "threshold"], json!(0.0), "threshold"),
        (Kind::SeasonalRatio, &["scorer", "multiple"], json!(1.0), "multiple"),
    ];
    for (kind, path, value, name) in cases {
        let r = edited(kind, |v| {
            let mut at = &mut v["state"];
            for k in path {
                at = &mut at[*k];
            }
            *at = value.clone();
        });
        assert!(
            matches!(&r, Err(Error::InvalidParameter { name: n, .. }) if *n == name),
            "{kind:?} {path:?} = {value}: {r:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Fuzz-like: random mutations

/// Replacements for a number token: extremes of every integer width, huge and tiny floats,
/// and values of the wrong type.
const TOKENS: &[&str] = &[
    "0",
    "-0",
    "-1",
    "1",
    "0.5",
    "1.5",
    "-1.5",
    "1e308",
    "-1e308",
    "1e-320",
    "1e400",
    "255",
    "4294967295",
    "4294967296",
    "2147483647",
    "-2147483648",
    "9223372036854775807",
    "-9223372036854775808",
    "18446744073709551615",
    "18446744073709551616",
    "null",
    "true",
    "[]",
    "{}",
    "\"x\"",
    "NaN",
];

#[derive(Debug, Clone)]
enum Mutation {
    /// Replace the n-th number with a token.
    Number(prop::sample::Index, usize),
    /// Overwrite one byte with a JSON-significant character.
    Byte(prop::sample::Index, char),
    /// Delete a short run.
    Delete(prop::sample::Index, usize),
    /// Insert a token.
    Insert(prop::sample::Index, usize),
    /// Duplicate a short run (repeats array elements, keys…).
    Duplicate(prop::sample::Index, usize),
    /// Truncate.
    Truncate(prop::sample::Index),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let idx = any::<prop::sample::Index>();
    let tok = 0..TOKENS.len();
    prop_oneof![
        6 => (idx.clone(), tok.clone()).prop_map(|(i, t)| Mutation::Number(i, t)),
        2 => (idx.clone(), prop::sample::select(&['{', '}', '[', ']', '"', ',', ':', '-', '.', 'e', '0', '9', ' ', 'x'][..]))
            .prop_map(|(i, c)| Mutation::Byte(i, c)),
        1 => (idx.clone(), 1usize..12).prop_map(|(i, n)| Mutation::Delete(i, n)),
        1 => (idx.clone(), tok).prop_map(|(i, t)| Mutation::Insert(i, t)),
        1 => (idx.clone(), 1usize..40).prop_map(|(i, n)| Mutation::Duplicate(i, n)),
        1 => idx.prop_map(Mutation::Truncate),
    ]
}

/// Byte ranges of the number tokens in `s`.
fn numbers(s: &str) -> Vec<(usize, usize)> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let starts = b[i].is_ascii_digit() || (b[i] == b'-' && b.get(i + 1).is_some_and(u8::is_ascii_digit));
        let in_word = i > 0 && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_');
        if starts && !in_word {
            let j = (i + 1..b.len())
                .find(|&j| !matches!(b[j], b'0'..=b'9' | b'.' | b'e' | b'E' | b'+' | b'-'))
                .unwrap_or(b.len());
            out.push((i, j));
            i = j;
        } else {
            i += 1;
        }
    }
    out
}

fn apply(s: &str, m: &Mutation) -> String {
    // Snapshots are ASCII (labels included), so byte positions are char boundaries.
    let mut s = s.to_string();
    let n = s.len().max(1);
    match m {
        Mutation::Number(i, t) => {
            let nums = numbers(&s);
            if !nums.is_empty() {
                let (a, b) = nums[i.index(nums.len())];
                s.replace_range(a..b, TOKENS[*t]);
            }
        }
        Mutation::Byte(i, c) => {
            let at = i.index(n).min(s.len().saturating_sub(1));
            if !s.is_empty() {
                s.replace_range(at..at + 1, &c.to_string());
            }
        }
        Mutation::Delete(i, len) => {
            let at = i.index(n).min(s.len());
            s.replace_range(at..(at + len).min(s.len()), "");
        }
        Mutation::Insert(i, t) => s.insert_str(i.index(n).min(s.len()), TOKENS[*t]),
        Mutation::Duplicate(i, len) => {
            let at = i.index(n).min(s.len());
            let run = s[at..(at + len).min(s.len())].to_string();
            s.insert_str(at, &run);
        }
        Mutation::Truncate(i) => s.truncate(i.index(n)),
    }
    s
}

fn fuzz(name: &str, kinds: &[Kind], cases: u32, use_it: bool) {
    assert!(corpus().iter().all(|(_, s)| s.is_ascii()));
    let which = prop::sample::select(kinds.to_vec());
    common::check(name, cases, (which, prop::collection::vec(mutation(), 1..4)), |(kind, mutations)| {
        let s = mutations.iter().fold(snapshot_of(kind).to_string(), |s, m| apply(&s, m));
        let r = catch_unwind(AssertUnwindSafe(|| restore(kind, &s, use_it)));
        prop_assert!(r.is_ok(), "{:?}: a mutated snapshot panicked: {}", kind, s);
        // Whatever is not restorable must say so with a snapshot-level error.
        prop_assert!(
            matches!(
                r,
                Ok(Ok(())
                    | Err(Error::Snapshot { .. } | Error::SnapshotVersion { .. } | Error::InvalidParameter { .. }))
            ),
            "{:?}: {:?}",
            kind,
            r
        );
        Ok(())
    });
}

/// The types whose state holds no quantile sketch (see `regressions.rs` for the sketch's).
const WITHOUT_SKETCH: &[Kind] = &[
    Kind::Ewma,
    Kind::Window,
    Kind::QuantileWindow,
    Kind::Seasonal,
    Kind::AggregatorExact,
    Kind::Policy,
    Kind::EwmaZ,
    Kind::WindowZ,
    Kind::SeasonalRatio,
    Kind::QuantileT,
    Kind::Watch,
];

#[test]
fn mutated_snapshots_never_panic_on_restore() {
    fuzz("fuzz/restore", WITHOUT_SKETCH, 3000, false);
}

#[test]
#[ignore = "BUG sketch.rs QuantileSketch::validate: a bin count near u64::MAX makes the sum overflow (panic); see regressions.rs"]
fn mutated_sketch_snapshots_never_panic_on_restore() {
    fuzz("fuzz/restore-sketch", &[Kind::Sketch, Kind::Calibrator, Kind::AggregatorSketch], 3000, false);
}

#[test]
#[ignore = "BUG: restored states are not fully validated (counters at their maximum, sketch min > max, offsets, since_exact), so using them can panic; see regressions.rs"]
fn restored_mutants_never_panic_when_used() {
    fuzz("fuzz/use", &ALL, 3000, true);
}
