//! The NAB scorer: hand-worked cases, a brute-force cross-check, loading errors, and the
//! reference check against published NAB results in `../shared/nab`.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

use oddsight_detectors::Error;
use oddsight_detectors::eval::nab::{NabCorpus, NabFile, Profile, ProfileScore, probation, scaled_sigmoid};
use std::collections::HashMap;
use std::path::PathBuf;

fn file(path: &str, rows: usize, windows: Vec<(usize, usize)>) -> NabFile {
    NabFile::new(path, (0..rows as i64).map(|i| i * 300_000).collect(), vec![0.0; rows], windows).unwrap()
}

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol
}

fn get(r: &oddsight_detectors::eval::nab::NabReport, p: Profile) -> &ProfileScore {
    r.profile(p.name).unwrap()
}

#[test]
fn one_file_by_hand() {
    // 20 rows: probation floor(0.15·20) = 3 rows (0..=2). One window, rows 10..=14, w = 5.
    let corpus = NabCorpus::from_files(vec![file("a.csv", 20, vec![(10, 14)])]).unwrap();
    let mut s = vec![0.0; 20];
    s[1] = 0.95; // in probation: not a candidate threshold, counts for nothing
    s[5] = 0.3; // before any window: −A_FP
    s[12] = 0.8; // in the window: σ(−(14−12+1)/5)/σ(−1) = σ(−0.6)/σ(−1) = 0.905148/0.986614 = 0.917428
    s[17] = 0.6; // (17−14)/(5−1) = 0.75 after the window: A_FP·σ(0.75) = 0.11 · −0.954045
    let r = corpus.score_with(|_| Ok(s.clone())).unwrap();
    assert_eq!((r.files, r.rows, r.windows), (1, 20, 1));
    // Standard, null −1, perfect 1. Candidates:
    //   none: −1
    //   0.8:  0.917428                                           ← best
    //   0.6:  0.917428 − 0.104945 = 0.812483
    //   0.3:  0.812483 − 0.11     = 0.702483
    //   0.0:  window detected at row 10 (credit 1), FPs rows 3..=9 (7 × −1) and 15..=19
    //         (σ(0.25)+σ(0.5)+σ(0.75)+σ(1)+σ(1.25) = −4.339689): 1 − 0.11·11.339689 = −0.247366
    // score = 100 · (0.917428 + 1) / 2 = 95.8714
    let st = get(&r, Profile::STANDARD);
    assert_eq!(st.threshold, Some(0.8));
    assert!(close(st.raw, 0.917_428, 1e-6), "{}", st.raw);
    assert!(close(st.score, 95.8714, 1e-4), "{}", st.score);
    assert_eq!((st.detected_windows, st.missed_windows, st.false_positives), (1, 0, 0));
    assert_eq!((st.null, st.perfect), (-1.0, 1.0));
    // Low FP: same threshold and raw (no FP at 0.8).
    let fp = get(&r, Profile::REWARD_LOW_FP);
    assert_eq!(fp.threshold, Some(0.8));
    assert!(close(fp.score, 95.8714, 1e-4));
    // Low FN: null −2, perfect 1: 100 · (0.917428 + 2) / 3 = 97.2476.
    let fnr = get(&r, Profile::REWARD_LOW_FN);
    assert_eq!(fnr.threshold, Some(0.8));
    assert!(close(fnr.score, 97.2476, 1e-4), "{}", fnr.score);
    // The per-file breakdown adds up.
    assert_eq!(st.files.len(), 1);
    assert!(close(st.files[0].raw, st.raw, 1e-12));

    // A constant output: the only candidates are "none" (−1) and θ = 0, which detects every
    // row after probation: −0.247366 as above, better than nothing in so short a file.
    // score = 100 · (1 − 0.247366) / 2 = 37.6317.
    let zeros = corpus.score_with(|_| Ok(vec![0.0; 20])).unwrap();
    let st = get(&zeros, Profile::STANDARD);
    assert_eq!(st.threshold, Some(0.0));
    assert!(close(st.raw, -0.247_366, 1e-6), "{}", st.raw);
    assert!(close(st.score, 37.6317, 1e-4), "{}", st.score);
    assert_eq!((st.detected_windows, st.false_positives), (1, 12));
    // With A_FP doubled the FPs cost 2.494732: raw −1.494732 < −1, so nothing is detected.
    let fp = get(&zeros, Profile::REWARD_LOW_FP);
    assert_eq!((fp.threshold, fp.raw, fp.score, fp.detected_windows, fp.false_positives), (None, -1.0, 0.0, 0, 0));
}

#[test]
fn the_threshold_is_shared_by_all_files() {
    // A: 20 rows, window 10..=14; its only high score is at the window's right edge (row 14):
    //    credit σ(−1/5)/σ(−1) = 0.462117/0.986614 = 0.468387.
    // B: 20 rows, no window; rows 3..=11 score 0.7 (9 FPs, −1 each: no window before them),
    //    row 12 scores 0.9 (one more FP).
    let corpus = NabCorpus::from_files(vec![file("b.csv", 20, vec![]), file("a.csv", 20, vec![(10, 14)])]).unwrap();
    assert_eq!(corpus.files()[0].path, "a.csv"); // sorted by path
    let r = corpus
        .score_with(|f| {
            let mut s = vec![0.1; 20];
            if f.path == "a.csv" {
                s[14] = 0.7;
            } else {
                s[3..12].fill(0.7);
                s[12] = 0.9;
            }
            Ok(s)
        })
        .unwrap();
    // Standard: none −1; 0.9: −1 − 0.11 = −1.11; 0.7: 0.468387 − 10·0.11 = −0.631613 ← best;
    //           0.1: everything, far worse. score = 100 · 0.368387 / 2 = 18.4194.
    let st = get(&r, Profile::STANDARD);
    assert_eq!(st.threshold, Some(0.7));
    assert!(close(st.raw, -0.631_613, 1e-6), "{}", st.raw);
    assert!(close(st.score, 18.4194, 1e-4), "{}", st.score);
    assert_eq!((st.detected_windows, st.false_positives), (1, 10));
    // Low FP: 0.7 gives 0.468387 − 10·0.22 = −1.731613 < −1: detect nothing, score 0.
    let fp = get(&r, Profile::REWARD_LOW_FP);
    assert_eq!((fp.threshold, fp.raw, fp.score), (None, -1.0, 0.0));
    assert_eq!((fp.detected_windows, fp.missed_windows, fp.false_positives), (0, 1, 0));
    // Low FN: 0.7 gives −0.631613 vs −2 for nothing: 100 · 1.368387 / 3 = 45.6129.
    let fnr = get(&r, Profile::REWARD_LOW_FN);
    assert_eq!(fnr.threshold, Some(0.7));
    assert!(close(fnr.score, 45.6129, 1e-4), "{}", fnr.score);
    // Per file at the standard threshold: A earns its credit, B pays its 10 FPs.
    let per: HashMap<_, _> = st.files.iter().map(|f| (f.path.as_str(), f)).collect();
    assert!(close(per["a.csv"].raw, 0.468_387, 1e-6));
    assert!(close(per["b.csv"].raw, -1.1, 1e-12));
    assert_eq!(per["b.csv"].false_positives, 10);
}

#[test]
fn early_detection_counts_once_and_ties_take_the_higher_threshold() {
    // 40 rows, probation 6, window 20..=29 (w = 10). Two detections in the window: only the
    // earliest counts, whatever its score. Rows 20 and 25 score 0.6 and 0.9.
    let corpus = NabCorpus::from_files(vec![file("a.csv", 40, vec![(20, 29)])]).unwrap();
    let mut s = vec![0.0; 40];
    s[25] = 0.9; // credit σ(−5/10)/σ(−1) = 0.848284/0.986614 = 0.859794
    s[20] = 0.6; // credit 1
    let r = corpus.score_with(|_| Ok(s.clone())).unwrap();
    let st = get(&r, Profile::STANDARD);
    // 0.9: 0.859794; 0.6: 1.0 (row 25 adds nothing more) ← best.
    assert_eq!(st.threshold, Some(0.6));
    assert!(close(st.raw, 1.0, 1e-12) && close(st.score, 100.0, 1e-9));

    // Ties: with only the left edge set, thresholds 0.6 and anything in (0, 0.6] score the
    // same until zeros join; here all other rows are 0, so the candidates are none, 0.6, 0.
    // Put a second window row at exactly the same score: still one window, same raw.
    s[25] = 0.6;
    let r = corpus.score_with(|_| Ok(s.clone())).unwrap();
    assert_eq!(get(&r, Profile::STANDARD).threshold, Some(0.6));

    // A false positive just after the window costs almost nothing: row 30 is
    // (30−29)/(10−1) = 0.111 after it: 0.11·σ(0.111) = 0.11·(−0.273..).
    s[30] = 0.6;
    let r = corpus.score_with(|_| Ok(s.clone())).unwrap();
    let st = get(&r, Profile::STANDARD);
    let expected = 1.0 + 0.11 * scaled_sigmoid(1.0 / 9.0);
    assert!(close(st.raw, expected, 1e-12), "{} vs {expected}", st.raw);
    assert_eq!(st.false_positives, 1);
}

#[test]
fn scores_are_checked() {
    let corpus = NabCorpus::from_files(vec![file("a.csv", 20, vec![])]).unwrap();
    let err = corpus.score_with(|_| Ok(vec![0.0; 19])).unwrap_err();
    assert!(matches!(err, Error::Data { .. }), "{err}");
    let mut s = vec![0.0; 20];
    s[7] = f64::NAN;
    let err = corpus.score_with(|_| Ok(s.clone())).unwrap_err();
    assert!(matches!(err, Error::Data { row: 9, .. }), "{err}");
    assert!(corpus.score_results(&HashMap::new()).is_err());
    // An empty corpus scores 0 with no threshold.
    let empty = NabCorpus::from_files(vec![]).unwrap();
    let r = empty.score_with(|_| Ok(vec![])).unwrap();
    assert_eq!(r.scores(), [0.0, 0.0, 0.0]);
}

/// A direct transcription of the rules, one threshold at a time: O(n) per threshold.
fn brute_force(corpus: &NabCorpus, scores: &[Vec<f64>], p: Profile) -> (f64, Option<f64>) {
    let mut candidates: Vec<f64> =
        corpus.files().iter().zip(scores).flat_map(|(f, s)| s[probation(f.len())..].iter().copied()).collect();
    candidates.sort_by(|a, b| b.total_cmp(a));
    candidates.dedup();
    let raw_at = |theta: f64| -> f64 {
        let mut raw = 0.0;
        for (f, s) in corpus.files().iter().zip(scores) {
            let prob = probation(f.len());
            for &(a, b) in &f.windows {
                let w = (b - a + 1) as f64;
                match (a.max(prob)..=b).find(|&i| s[i] >= theta) {
                    Some(i) => raw += p.tp_weight * scaled_sigmoid(-((b - i + 1) as f64) / w) / scaled_sigmoid(-1.0),
                    None => raw -= p.fn_weight,
                }
            }
            for (i, &score) in s.iter().enumerate().skip(prob) {
                if score < theta || f.windows.iter().any(|&(a, b)| a <= i && i <= b) {
                    continue;
                }
                let prev = f.windows.iter().rev().find(|&&(_, b)| b < i);
                raw += p.fp_weight
                    * match prev {
                        Some(&(a, b)) if ((i - b) as f64 / (b - a) as f64) <= 3.0 => {
                            scaled_sigmoid((i - b) as f64 / (b - a) as f64)
                        }
                        _ => -1.0,
                    };
            }
        }
        raw
    };
    let mut best = (raw_at(f64::INFINITY), None);
    for &c in &candidates {
        let r = raw_at(c);
        if r > best.0 + 1e-12 {
            best = (r, Some(c));
        }
    }
    best
}

/// A small deterministic generator (SplitMix64), so the cross-check needs no dependency.
fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[test]
fn sweep_matches_brute_force() {
    let mut rng = 7u64;
    for case in 0..200 {
        let n_files = 1 + (splitmix(&mut rng) % 3) as usize;
        let mut files = Vec::new();
        for k in 0..n_files {
            let rows = 10 + (splitmix(&mut rng) % 60) as usize;
            let mut windows = Vec::new();
            let mut at = (splitmix(&mut rng) % 12) as usize;
            while at < rows && !splitmix(&mut rng).is_multiple_of(3) {
                let w = 1 + (splitmix(&mut rng) % 8) as usize;
                let end = (at + w - 1).min(rows - 1);
                windows.push((at, end));
                at = end + 1 + (splitmix(&mut rng) % 15) as usize;
            }
            files.push(file(&format!("f{k}.csv"), rows, windows));
        }
        let corpus = NabCorpus::from_files(files).unwrap();
        // Few distinct levels, so ties are common.
        let levels = 1 + splitmix(&mut rng) % 6;
        let scores: Vec<Vec<f64>> = corpus
            .files()
            .iter()
            .map(|f| (0..f.len()).map(|_| (splitmix(&mut rng) % (levels + 1)) as f64 / levels as f64).collect())
            .collect();
        let report = corpus.score_with(|f| Ok(scores[corpus.files().iter().position(|g| g == f).unwrap()].clone()));
        let report = report.unwrap();
        for p in Profile::ALL {
            let (raw, threshold) = brute_force(&corpus, &scores, p);
            let got = get(&report, p);
            assert!(close(got.raw, raw, 1e-9), "case {case} {}: sweep {} vs brute {raw}", p.name, got.raw);
            assert_eq!(got.threshold, threshold, "case {case} {}", p.name);
            let per_file: f64 = got.files.iter().map(|f| f.raw).sum();
            assert!(close(per_file, raw, 1e-9), "case {case}: per-file sum {per_file} vs {raw}");
        }
    }
}

#[test]
fn the_sweep_is_fast_on_a_large_corpus() {
    // 10 files × 20 000 rows, all distinct scores: O(n²) would take minutes even in release.
    let mut rng = 11u64;
    let files: Vec<NabFile> = (0..10).map(|k| file(&format!("f{k}.csv"), 20_000, vec![(9_000, 9_999)])).collect();
    let corpus = NabCorpus::from_files(files).unwrap();
    let start = std::time::Instant::now();
    let r = corpus
        .score_with(|_| Ok((0..20_000).map(|_| (splitmix(&mut rng) >> 11) as f64 / (1u64 << 53) as f64).collect()))
        .unwrap();
    let took = start.elapsed();
    assert_eq!(r.rows, 200_000);
    // Generous, for debug builds on a loaded machine; in release it takes a few milliseconds.
    assert!(took.as_secs_f64() < 5.0, "sweep took {took:?}");
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("oddsight-eval-nab-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("data/cat")).unwrap();
    dir
}

#[test]
fn loads_a_corpus_from_disk() {
    let dir = temp_dir("load");
    let mut csv = String::from("timestamp,value\n");
    for i in 0..30 {
        // Rows 10 and 11 share a timestamp, as a few NAB files do.
        let m = if i >= 11 { i - 1 } else { i };
        csv.push_str(&format!("2014-04-01 00:{m:02}:00,{}\n", i as f64 * 0.5));
    }
    std::fs::write(dir.join("data/cat/a.csv"), &csv).unwrap();
    std::fs::write(dir.join("data/b.csv"), "timestamp,value\n2014-04-01 00:00:00,1\n").unwrap();
    let windows = r#"{"cat/a.csv": [["2014-04-01 00:05:00.000000", "2014-04-01 00:10:00.000000"]], "b.csv": []}"#;
    std::fs::write(dir.join("windows.json"), windows).unwrap();
    let corpus = NabCorpus::load(dir.join("data"), dir.join("windows.json")).unwrap();
    let paths: Vec<_> = corpus.files().iter().map(|f| f.path.as_str()).collect();
    assert_eq!(paths, ["b.csv", "cat/a.csv"]);
    let a = &corpus.files()[1];
    assert_eq!(a.len(), 30);
    // The end timestamp is repeated (rows 10 and 11): the window ends at its first row.
    assert_eq!(a.windows, vec![(5, 10)]);
    assert_eq!(a.values[3], 1.5);
    assert_eq!(a.timestamps[1] - a.timestamps[0], 60_000);
    assert_eq!(corpus.window_count(), 1);

    // Results laid out like the data folder.
    std::fs::create_dir_all(dir.join("results/cat")).unwrap();
    let mut res = String::from("timestamp,value,anomaly_score,label\n");
    for (i, line) in csv.lines().skip(1).enumerate() {
        res.push_str(&format!("{line},{},0\n", if i == 5 { 0.9 } else { 0.1 }));
    }
    std::fs::write(dir.join("results/cat/a.csv"), res).unwrap();
    std::fs::write(dir.join("results/b.csv"), "timestamp,value,anomaly_score\n2014-04-01 00:00:00,1,0\n").unwrap();
    let results = corpus.load_results(dir.join("results")).unwrap();
    let r = corpus.score_results(&results).unwrap();
    assert_eq!(r.scores(), [100.0, 100.0, 100.0]);

    // Errors name the file and the row.
    let bad = |data: &str, windows: &str| {
        std::fs::write(dir.join("data/b.csv"), data).unwrap();
        std::fs::write(dir.join("windows.json"), windows).unwrap();
        NabCorpus::load(dir.join("data"), dir.join("windows.json")).unwrap_err()
    };
    let ok_windows = r#"{"cat/a.csv": [], "b.csv": []}"#;
    let e = bad("timestamp,value\n2014-04-01 00:00:00,1\n2014-04-01 00:05:00,x\n", ok_windows);
    assert!(matches!(&e, Error::Data { row: 3, path, .. } if path.ends_with("b.csv")), "{e}");
    let e = bad("timestamp,value\n2014-04-01 25:00:00,1\n", ok_windows);
    assert!(matches!(&e, Error::Data { row: 2, .. }), "{e}");
    let e = bad("time,value\n", ok_windows);
    assert!(matches!(&e, Error::Data { row: 1, .. }), "{e}");
    let e = bad("timestamp,value\n2014-04-01 00:00:00,1\n", r#"{"cat/a.csv": []}"#);
    assert!(e.to_string().contains("no entry for b.csv"), "{e}");
    let e = bad("timestamp,value\n2014-04-01 00:00:00,1\n", r#"{"cat/a.csv": [], "b.csv": [], "c.csv": []}"#);
    assert!(e.to_string().contains("c.csv"), "{e}");
    let e = bad(
        "timestamp,value\n2014-04-01 00:00:00,1\n",
        r#"{"cat/a.csv": [], "b.csv": [["2014-04-01 00:00:01.000000", "2014-04-01 00:00:01.000000"]]}"#,
    );
    assert!(e.to_string().contains("not a row"), "{e}");
    let e = bad("timestamp,value\n", "{not json");
    assert!(matches!(e, Error::Data { .. }), "{e}");
    std::fs::write(dir.join("windows.json"), "{}").unwrap();
    let e = NabCorpus::load(dir.join("nowhere"), dir.join("windows.json")).unwrap_err();
    assert!(matches!(e, Error::Io { .. }), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `../shared/nab` beside the workspace root, if present.
fn shared_nab() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/nab");
    if dir.join("labels/windows.json").is_file() {
        Some(dir)
    } else {
        println!("note: {} is absent; skipping the NAB reference check", dir.display());
        None
    }
}

#[test]
fn reproduces_published_nab_scores() {
    let Some(nab) = shared_nab() else { return };
    let corpus = NabCorpus::load(nab.join("data"), nab.join("labels/windows.json")).unwrap();
    assert_eq!(corpus.files().len(), 29);
    assert_eq!(corpus.window_count(), 59);
    let round2 = |x: f64| (x * 100.0).round() / 100.0;
    for (detector, expected) in [("numenta", [69.83, 63.27, 74.24]), ("windowedGaussian", [29.20, 8.65, 37.89])] {
        let dir = nab.join("reference_results").join(detector);
        if !dir.is_dir() {
            println!("note: {} is absent; skipping", dir.display());
            continue;
        }
        let results = corpus.load_results(&dir).unwrap();
        let report = corpus.score_results(&results).unwrap();
        println!("{detector}:\n{report}");
        let got = report.scores().map(round2);
        assert_eq!(got, expected, "{detector}");
        let thresholds: Vec<f64> = report.profiles.iter().map(|p| p.threshold.unwrap()).collect();
        if detector == "numenta" {
            assert!(close(thresholds[0], 0.5444, 5e-5), "{thresholds:?}");
            assert!(close(thresholds[1], 0.5816, 5e-5), "{thresholds:?}");
            assert!(close(thresholds[2], 0.5444, 5e-5), "{thresholds:?}");
        } else {
            // Saturated: the best threshold is (within 1e-9 of) 1.0 for every profile.
            assert!(thresholds.iter().all(|&t| t > 1.0 - 1e-9), "{thresholds:?}");
        }
    }
}
