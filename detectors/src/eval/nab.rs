//! A loader and scorer for the Numenta Anomaly Benchmark (NAB) format, written from the method
//! described in NAB's documentation (v1.1 scoring).
//!
//! # The corpus
//!
//! A NAB corpus is a data folder of CSV files (`timestamp,value`, timestamps written
//! `YYYY-MM-DD HH:MM:SS`, no time zone: read as UTC) and a `windows.json` that maps each file's
//! path relative to the data folder (always with `/`) to a list of `[start, end]` timestamp
//! pairs (`YYYY-MM-DD HH:MM:SS.ffffff`). A window covers every row from the first row stamped
//! `start` to the first row stamped `end` at or after it, both ends included. Every CSV under
//! the data folder must have an entry and every entry a CSV: a mismatch is an error rather
//! than a silently different benchmark.
//!
//! # The score
//!
//! For a file of `n` rows, the first `P = min(floor(0.15 n), 750)` rows are *probation*: their
//! detections count for nothing and they take no part in the threshold sweep. With
//! `σ(x) = 2 / (1 + e^{5x}) − 1` and a profile's weights `(A_TP, A_FP, A_FN)`, at a threshold
//! `θ` (row `i` is a detection when its score is `≥ θ`):
//!
//! - a window `L..=R` (width `w = R − L + 1`) whose earliest detection is row `i` earns
//!   `A_TP · σ(−(R − i + 1) / w) / σ(−1)`; later detections in it neither add nor cost;
//! - a window without detection costs `−A_FN` (a window lying wholly in probation can never be
//!   detected, so it always costs `−A_FN`; no window of NAB's corpus does);
//! - a detection outside every window adds `A_FP · σ((i − R′) / (w′ − 1))`, where `R′`, `w′`
//!   are the end row and width of the most recent window that ended before `i`; with no such
//!   window, or when `(i − R′) / (w′ − 1) > 3` (or `w′ = 1`), it adds `−A_FP`.
//!
//! The raw score of a corpus is the sum over its files. One threshold per [`Profile`] is chosen
//! for the whole corpus: the one, among every distinct score and "no detections at all", that
//! maximises the raw score (on a tie, the highest threshold, i.e. the fewest detections). The
//! reported score is `100 · (raw − null) / (perfect − null)` with `perfect = A_TP · windows` and
//! `null = −A_FN · windows`: 0 is "as good as never alarming", 100 is perfect.
//!
//! # Cost
//!
//! The sweep sorts the `(score, row)` pairs of all files once, `O(n log n)`, then walks them
//! from the highest score down, updating four running sums (the earliest-detection credit of
//! the windows detected so far, how many there are, the false-positive weight and count), so
//! every threshold costs `O(1)` beyond the sort. The whole NAB corpus (~190 k rows) is swept in
//! a few milliseconds.
//!
//! ```
//! use oddsight_detectors::eval::nab::{NabCorpus, NabFile, Profile};
//! // 20 rows (probation: the first 3), one window over rows 10..=14.
//! let file = NabFile::new("a.csv", (0..20).map(|i| i * 60_000).collect(), vec![0.0; 20], vec![(10, 14)])?;
//! let corpus = NabCorpus::from_files(vec![file])?;
//! let mut scores = vec![0.1; 20];
//! scores[10] = 0.9; // a detection at the window's left edge
//! let report = corpus.score_with(|_| Ok(scores.clone()))?;
//! let standard = report.profile(Profile::STANDARD.name).unwrap();
//! assert!((standard.score - 100.0).abs() < 1e-9);
//! assert_eq!(standard.threshold, Some(0.9));
//! # Ok::<(), oddsight_detectors::Error>(())
//! ```

use crate::error::{Error, Result};
use oddsight_core::{Detector, Point};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};

/// The weights of one NAB application profile.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Profile {
    /// NAB's name for the profile (`standard`, `reward_low_FP_rate`, `reward_low_FN_rate`).
    pub name: &'static str,
    /// Weight of a window detected at its left edge (`A_TP`).
    pub tp_weight: f64,
    /// Weight of a false positive far from any window (`A_FP`).
    pub fp_weight: f64,
    /// Cost of a missed window (`A_FN`).
    pub fn_weight: f64,
}

impl Profile {
    /// NAB's standard profile: (1, 0.11, 1).
    pub const STANDARD: Profile = Profile { name: "standard", tp_weight: 1.0, fp_weight: 0.11, fn_weight: 1.0 };
    /// Rewards a low false-positive rate: (1, 0.22, 1).
    pub const REWARD_LOW_FP: Profile =
        Profile { name: "reward_low_FP_rate", tp_weight: 1.0, fp_weight: 0.22, fn_weight: 1.0 };
    /// Rewards a low false-negative rate: (1, 0.11, 2).
    pub const REWARD_LOW_FN: Profile =
        Profile { name: "reward_low_FN_rate", tp_weight: 1.0, fp_weight: 0.11, fn_weight: 2.0 };
    /// The three profiles, in NAB's order.
    pub const ALL: [Profile; 3] = [Profile::STANDARD, Profile::REWARD_LOW_FP, Profile::REWARD_LOW_FN];
}

/// NAB's scaled sigmoid, `σ(x) = 2 / (1 + e^{5x}) − 1`: σ(−1) ≈ 0.9866, σ(0) = 0, σ(∞) = −1.
#[inline]
pub fn scaled_sigmoid(x: f64) -> f64 {
    2.0 / (1.0 + (5.0 * x).exp()) - 1.0
}

/// The probation length of a file of `rows` rows: `min(floor(0.15 · rows), 750)`.
#[inline]
pub fn probation(rows: usize) -> usize {
    // floor(0.15 n) computed in integers, so no rounding can move it by one.
    (rows * 15 / 100).min(750)
}

/// One file of a NAB corpus: its rows and its anomaly windows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NabFile {
    /// Path relative to the data folder, with `/` separators (`realKnownCause/nyc_taxi.csv`).
    pub path: String,
    /// Row timestamps in Unix milliseconds (UTC), as written; NAB files may repeat a timestamp.
    pub timestamps: Vec<i64>,
    /// Row values.
    pub values: Vec<f64>,
    /// Anomaly windows as inclusive row ranges `(first, last)`, in order, not overlapping.
    pub windows: Vec<(usize, usize)>,
}

impl NabFile {
    /// A file from its rows and windows (inclusive row ranges).
    ///
    /// # Errors
    /// [`Error::Data`] (row 0: the file as a whole) if the lengths differ, a window is empty,
    /// out of range, out of order or overlaps the one before.
    pub fn new(
        path: impl Into<String>,
        timestamps: Vec<i64>,
        values: Vec<f64>,
        windows: Vec<(usize, usize)>,
    ) -> Result<Self> {
        let path = path.into();
        let bad = |reason: String| Error::Data { path: path.clone(), row: 0, reason };
        if timestamps.len() != values.len() {
            return Err(bad(format!("{} timestamps but {} values", timestamps.len(), values.len())));
        }
        let mut next_free = 0;
        for &(a, b) in &windows {
            if a > b || b >= values.len() {
                return Err(bad(format!("window rows {a}..={b} do not fit in {} rows", values.len())));
            }
            if a < next_free {
                return Err(bad(format!("window rows {a}..={b} overlap or precede the window before")));
            }
            next_free = b + 1;
        }
        Ok(NabFile { path, timestamps, values, windows })
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Whether the file has no rows.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Rows in probation at the start of the file.
    pub fn probation(&self) -> usize {
        probation(self.len())
    }
}

/// A NAB corpus: files and their anomaly windows, sorted by path.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NabCorpus {
    files: Vec<NabFile>,
}

impl NabCorpus {
    /// Loads every `*.csv` under `data_dir` (recursively) and the windows in `windows_json`.
    ///
    /// # Errors
    /// [`Error::Io`] if a file cannot be read; [`Error::Data`] for a malformed CSV (naming the
    /// 1-based line, the header being line 1), malformed JSON, a window timestamp that is not
    /// a row of its file, a CSV without an entry in `windows_json` or an entry without a CSV.
    pub fn load(data_dir: impl AsRef<Path>, windows_json: impl AsRef<Path>) -> Result<Self> {
        let data_dir = data_dir.as_ref();
        let windows_path = windows_json.as_ref();
        let windows = read_windows(windows_path)?;
        let mut csvs = Vec::new();
        find_csvs(data_dir, data_dir, &mut csvs)?;
        csvs.sort();
        let shown = windows_path.display().to_string();
        for (rel, _) in &csvs {
            if !windows.contains_key(rel) {
                return Err(Error::Data {
                    path: shown,
                    row: 0,
                    reason: format!("no entry for {rel}, a CSV under {}", data_dir.display()),
                });
            }
        }
        let on_disk: HashMap<&str, &PathBuf> = csvs.iter().map(|(r, p)| (r.as_str(), p)).collect();
        if let Some(missing) = windows.keys().find(|k| !on_disk.contains_key(k.as_str())) {
            return Err(Error::Data {
                path: shown,
                row: 0,
                reason: format!("entry {missing} has no CSV under {}", data_dir.display()),
            });
        }
        let mut files = Vec::with_capacity(csvs.len());
        for (rel, full) in &csvs {
            let (timestamps, values) = read_series(full)?;
            let mut rows = Vec::new();
            for (start, end) in &windows[rel] {
                let find = |from: usize, t: i64, text: &str| {
                    timestamps[from.min(timestamps.len())..].iter().position(|&x| x == t).map(|i| i + from).ok_or_else(
                        || Error::Data {
                            path: shown.clone(),
                            row: 0,
                            reason: format!("window timestamp {text:?} of {rel} is not a row of that file"),
                        },
                    )
                };
                let a = find(0, start.0, &start.1)?;
                let b = find(a, end.0, &end.1)?;
                rows.push((a, b));
            }
            files.push(NabFile::new(rel.clone(), timestamps, values, rows)?);
        }
        Ok(NabCorpus { files })
    }

    /// A corpus from files built in memory (tests, synthetic benchmarks). Sorted by path.
    ///
    /// # Errors
    /// [`Error::Data`] if two files share a path.
    pub fn from_files(mut files: Vec<NabFile>) -> Result<Self> {
        files.sort_by(|a, b| a.path.cmp(&b.path));
        if let Some(w) = files.windows(2).find(|w| w[0].path == w[1].path) {
            return Err(Error::Data { path: w[0].path.clone(), row: 0, reason: "file given twice".into() });
        }
        Ok(NabCorpus { files })
    }

    /// The files, sorted by path.
    pub fn files(&self) -> &[NabFile] {
        &self.files
    }

    /// Total number of anomaly windows.
    pub fn window_count(&self) -> usize {
        self.files.iter().map(|f| f.windows.len()).sum()
    }

    /// Total number of rows.
    pub fn row_count(&self) -> usize {
        self.files.iter().map(NabFile::len).sum()
    }

    /// Reads published NAB result files (`timestamp,value,anomaly_score`, any further columns
    /// ignored) laid out like the data folder: `results_dir/<path>` for every file of the
    /// corpus. Returns the `anomaly_score` column of each, keyed by path.
    ///
    /// # Errors
    /// [`Error::Io`] for a missing file, [`Error::Data`] for a missing column, an unparsable
    /// score or a row whose timestamp differs from the corpus file's.
    pub fn load_results(&self, results_dir: impl AsRef<Path>) -> Result<HashMap<String, Vec<f64>>> {
        let mut out = HashMap::with_capacity(self.files.len());
        for f in &self.files {
            let full = results_dir.as_ref().join(&f.path);
            let shown = full.display().to_string();
            let mut reader = csv_reader(&full)?;
            let headers = reader.byte_headers().map_err(|e| csv_error(&shown, e))?.clone();
            let col = |name: &str| headers.iter().position(|h| h.eq_ignore_ascii_case(name.as_bytes()));
            let (Some(tc), Some(sc)) = (col("timestamp"), col("anomaly_score")) else {
                return Err(Error::Data {
                    path: shown,
                    row: 1,
                    reason: "expected columns timestamp and anomaly_score".into(),
                });
            };
            let mut scores = Vec::with_capacity(f.len());
            let mut record = csv::ByteRecord::new();
            while reader.read_byte_record(&mut record).map_err(|e| csv_error(&shown, e))? {
                let line = scores.len() + 2;
                let bad = |reason: String| Error::Data { path: shown.clone(), row: line, reason };
                let t = record.get(tc).and_then(|t| parse_timestamp(std::str::from_utf8(t).ok()?));
                let Some(&expected) = f.timestamps.get(scores.len()) else {
                    return Err(bad(format!("more rows than the {} of {}", f.len(), f.path)));
                };
                if t != Some(expected) {
                    return Err(bad(format!("timestamp differs from row {} of {}", line, f.path)));
                }
                let s = record.get(sc).and_then(|s| std::str::from_utf8(s).ok()?.trim().parse::<f64>().ok());
                match s {
                    Some(s) if s.is_finite() => scores.push(s),
                    _ => return Err(bad("anomaly_score is not a finite number".into())),
                }
            }
            if scores.len() != f.len() {
                return Err(Error::Data {
                    path: shown,
                    row: scores.len() + 1,
                    reason: format!("{} rows, but {} has {}", scores.len(), f.path, f.len()),
                });
            }
            out.insert(f.path.clone(), scores);
        }
        Ok(out)
    }

    /// Scores precomputed anomaly scores, one vector per file keyed by its path.
    ///
    /// # Errors
    /// [`Error::Data`] if a file has no scores, the wrong number, or a non-finite one.
    pub fn score_results(&self, results: &HashMap<String, Vec<f64>>) -> Result<NabReport> {
        self.score_with(|f| {
            results.get(&f.path).cloned().ok_or_else(|| Error::Data {
                path: f.path.clone(),
                row: 0,
                reason: "no scores for this file".into(),
            })
        })
    }

    /// Scores the anomaly scores that `scores` returns for each file (one per row).
    ///
    /// # Errors
    /// What `scores` returns; [`Error::Data`] for a wrong number of scores or a non-finite one.
    pub fn score_with<F>(&self, mut scores: F) -> Result<NabReport>
    where
        F: FnMut(&NabFile) -> Result<Vec<f64>>,
    {
        let mut all = Vec::with_capacity(self.files.len());
        for f in &self.files {
            let s = scores(f)?;
            if s.len() != f.len() {
                return Err(Error::Data {
                    path: f.path.clone(),
                    row: 0,
                    reason: format!("{} scores for {} rows", s.len(), f.len()),
                });
            }
            if let Some(i) = s.iter().position(|x| !x.is_finite()) {
                return Err(Error::Data {
                    path: f.path.clone(),
                    row: i + 2,
                    reason: format!("anomaly score {} is not finite", s[i]),
                });
            }
            all.push(s);
        }
        Ok(self.sweep(&all))
    }

    /// Streams every file through a fresh detector from `factory` ([`Detector::observe`], so
    /// each row is judged before it is learned) and scores the verdicts' `anomaly_score`.
    ///
    /// NAB files may repeat a timestamp; a timestamp earlier than the one before (none in
    /// NAB, but possible in other corpora) is clamped to it, so the detector always sees
    /// non-decreasing time.
    ///
    /// # Errors
    /// What `factory` returns; [`Error::Data`] naming the row if the detector rejects a point.
    pub fn score_detector<F>(&self, mut factory: F) -> Result<NabReport>
    where
        F: FnMut() -> Result<Box<dyn Detector>>,
    {
        self.score_with(|f| {
            let mut detector = factory()?;
            let mut last = i64::MIN;
            let mut out = Vec::with_capacity(f.len());
            for (i, (&t, &v)) in f.timestamps.iter().zip(&f.values).enumerate() {
                last = last.max(t);
                let verdict = detector.observe(Point::new(last, v)).map_err(|e| Error::Data {
                    path: f.path.clone(),
                    row: i + 2,
                    reason: e.to_string(),
                })?;
                out.push(verdict.anomaly_score);
            }
            Ok(out)
        })
    }

    /// The sweep: see the module docs. `scores[k]` belongs to `self.files[k]` and is valid.
    fn sweep(&self, scores: &[Vec<f64>]) -> NabReport {
        const FP: u32 = u32::MAX;
        // (score, unweighted value, window id or FP). For a window row the value is its
        // earliest-detection credit σ(−(R−i+1)/w)/σ(−1); for any other row the unweighted
        // false-positive term (σ(...) or −1).
        let mut entries: Vec<(f64, f64, u32)> = Vec::new();
        let mut window_id = 0u32;
        for (f, s) in self.files.iter().zip(scores) {
            entries.reserve(f.len() - f.probation().min(f.len()));
            for (i, kind) in RowKinds::new(f) {
                match kind {
                    RowKind::Window { id, credit } => entries.push((s[i], credit, window_id + id as u32)),
                    RowKind::Outside { fp } => entries.push((s[i], fp, FP)),
                }
            }
            window_id += f.windows.len() as u32;
        }
        // Highest score first; a stable order among equal scores is not needed because the
        // sums are only read between groups of equal scores.
        entries.sort_unstable_by(|a, b| b.0.total_cmp(&a.0));

        let windows = window_id as usize;
        let mut best_credit = vec![0.0f64; windows];
        let mut state = SweepPoint { threshold: None, credit: 0.0, detected: 0, fp_sum: 0.0, fp_count: 0 };
        let mut best: Vec<(f64, SweepPoint)> =
            Profile::ALL.iter().map(|p| (state.raw(p, windows), state.clone())).collect();
        let mut k = 0;
        while k < entries.len() {
            let theta = entries[k].0;
            while k < entries.len() && entries[k].0 == theta {
                let (_, value, w) = entries[k];
                if w == FP {
                    state.fp_sum += value;
                    state.fp_count += 1;
                } else {
                    let b = &mut best_credit[w as usize];
                    if *b == 0.0 {
                        state.detected += 1;
                    }
                    if value > *b {
                        state.credit += value - *b;
                        *b = value;
                    }
                }
                k += 1;
            }
            state.threshold = Some(theta);
            for (p, (raw, at)) in Profile::ALL.iter().zip(best.iter_mut()) {
                let r = state.raw(p, windows);
                // Strictly greater: on a tie the higher threshold, met first, stays.
                if r > *raw {
                    *raw = r;
                    *at = state.clone();
                }
            }
        }

        let profiles = Profile::ALL
            .iter()
            .zip(best)
            .map(|(p, (raw, at))| {
                let null = -p.fn_weight * windows as f64;
                let perfect = p.tp_weight * windows as f64;
                let score = if windows == 0 { 0.0 } else { 100.0 * (raw - null) / (perfect - null) };
                ProfileScore {
                    profile: *p,
                    score,
                    raw,
                    null,
                    perfect,
                    threshold: at.threshold,
                    detected_windows: at.detected,
                    missed_windows: windows - at.detected,
                    false_positives: at.fp_count,
                    files: self.per_file(scores, p, at.threshold),
                }
            })
            .collect();
        NabReport { files: self.files.len(), rows: self.row_count(), windows, profiles }
    }

    fn per_file(&self, scores: &[Vec<f64>], p: &Profile, threshold: Option<f64>) -> Vec<FileScore> {
        self.files
            .iter()
            .zip(scores)
            .map(|(f, s)| {
                let mut credit = vec![0.0f64; f.windows.len()];
                let (mut fp_sum, mut fp_count) = (0.0, 0);
                if let Some(theta) = threshold {
                    for (i, kind) in RowKinds::new(f) {
                        if s[i] < theta {
                            continue;
                        }
                        match kind {
                            RowKind::Window { id, credit: c } => credit[id] = credit[id].max(c),
                            RowKind::Outside { fp } => {
                                fp_sum += fp;
                                fp_count += 1;
                            }
                        }
                    }
                }
                let detected = credit.iter().filter(|&&c| c > 0.0).count();
                let tp: f64 = credit.iter().sum();
                let raw = p.tp_weight * tp - p.fn_weight * (f.windows.len() - detected) as f64 + p.fp_weight * fp_sum;
                FileScore {
                    path: f.path.clone(),
                    rows: f.len(),
                    windows: f.windows.len(),
                    detected_windows: detected,
                    false_positives: fp_count,
                    raw,
                }
            })
            .collect()
    }
}

/// The running sums of the sweep at one threshold.
#[derive(Debug, Clone)]
struct SweepPoint {
    threshold: Option<f64>,
    /// Sum of the earliest-detection credits of the detected windows.
    credit: f64,
    detected: usize,
    /// Sum of the unweighted false-positive terms.
    fp_sum: f64,
    fp_count: usize,
}

impl SweepPoint {
    fn raw(&self, p: &Profile, windows: usize) -> f64 {
        p.tp_weight * self.credit - p.fn_weight * (windows - self.detected) as f64 + p.fp_weight * self.fp_sum
    }
}

#[derive(Debug, Clone, Copy)]
enum RowKind {
    /// In window `id` of its file; `credit` = σ(−(R−i+1)/w)/σ(−1), in (0, 1].
    Window { id: usize, credit: f64 },
    /// Outside every window; `fp` is the unweighted false-positive term, in [−1, 0].
    Outside { fp: f64 },
}

/// The scored rows of a file (after probation) with what a detection there is worth.
#[derive(Debug)]
struct RowKinds<'a> {
    windows: &'a [(usize, usize)],
    i: usize,
    n: usize,
    /// Index of the first window that does not end before row `i`.
    next: usize,
}

impl<'a> RowKinds<'a> {
    fn new(f: &'a NabFile) -> Self {
        RowKinds { windows: &f.windows, i: f.probation(), n: f.len(), next: 0 }
    }
}

impl Iterator for RowKinds<'_> {
    type Item = (usize, RowKind);

    fn next(&mut self) -> Option<Self::Item> {
        if self.i >= self.n {
            return None;
        }
        let i = self.i;
        self.i += 1;
        while self.next < self.windows.len() && self.windows[self.next].1 < i {
            self.next += 1;
        }
        let kind = match self.windows.get(self.next) {
            Some(&(a, b)) if a <= i => {
                let w = (b - a + 1) as f64;
                RowKind::Window {
                    id: self.next,
                    credit: scaled_sigmoid(-((b - i + 1) as f64) / w) / scaled_sigmoid(-1.0),
                }
            }
            _ => {
                let fp = match self.next.checked_sub(1).map(|k| self.windows[k]) {
                    Some((a, b)) => {
                        // (i − R′)/(w′ − 1); a one-row window gives +∞, i.e. the far rule.
                        let x = (i - b) as f64 / (b - a) as f64;
                        if x > 3.0 { -1.0 } else { scaled_sigmoid(x) }
                    }
                    None => -1.0,
                };
                RowKind::Outside { fp }
            }
        };
        Some((i, kind))
    }
}

/// A NAB evaluation: the score under each profile.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NabReport {
    /// Files scored.
    pub files: usize,
    /// Rows in those files (probation included).
    pub rows: usize,
    /// Anomaly windows in those files.
    pub windows: usize,
    /// One entry per profile, in the order of [`Profile::ALL`].
    pub profiles: Vec<ProfileScore>,
}

impl NabReport {
    /// The entry for the profile named `name` (see [`Profile::name`]).
    pub fn profile(&self, name: &str) -> Option<&ProfileScore> {
        self.profiles.iter().find(|p| p.profile.name == name)
    }

    /// The normalised scores (standard, low-FP, low-FN).
    pub fn scores(&self) -> [f64; 3] {
        let get = |i: usize| self.profiles.get(i).map_or(f64::NAN, |p| p.score);
        [get(0), get(1), get(2)]
    }
}

impl fmt::Display for NabReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "NAB: {} files, {} rows, {} windows", self.files, self.rows, self.windows)?;
        writeln!(
            f,
            "{:<20} {:>8} {:>10} {:>10} {:>9} {:>7}",
            "profile", "score", "threshold", "raw", "detected", "FP rows"
        )?;
        for p in &self.profiles {
            let threshold = p.threshold.map_or_else(|| "none".to_string(), |t| format!("{t:.6}"));
            writeln!(
                f,
                "{:<20} {:>8.2} {:>10} {:>10.3} {:>9} {:>7}",
                p.profile.name,
                p.score,
                threshold,
                p.raw,
                format!("{}/{}", p.detected_windows, self.windows),
                p.false_positives
            )?;
        }
        Ok(())
    }
}

/// The score under one profile, at the threshold that maximises it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProfileScore {
    /// The profile.
    pub profile: Profile,
    /// Normalised score: 100 is perfect, 0 is as good as never alarming.
    pub score: f64,
    /// Raw score at the chosen threshold.
    pub raw: f64,
    /// Raw score of never alarming, `−A_FN · windows`.
    pub null: f64,
    /// Raw score of a detection at every window's left edge and nowhere else, `A_TP · windows`.
    pub perfect: f64,
    /// The chosen threshold (a row is a detection when its score is `≥` it); `None` when the
    /// best is to detect nothing.
    pub threshold: Option<f64>,
    /// Windows with at least one detection.
    pub detected_windows: usize,
    /// Windows without any.
    pub missed_windows: usize,
    /// Detections outside every window, after probation (each row counts).
    pub false_positives: usize,
    /// The same figures per file, at the chosen threshold.
    pub files: Vec<FileScore>,
}

/// One file's share of a [`ProfileScore`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FileScore {
    /// Path relative to the data folder.
    pub path: String,
    /// Rows in the file.
    pub rows: usize,
    /// Windows in the file.
    pub windows: usize,
    /// Windows detected.
    pub detected_windows: usize,
    /// False-positive rows.
    pub false_positives: usize,
    /// The file's raw score.
    pub raw: f64,
}

/// Parses `YYYY-MM-DD HH:MM:SS` with an optional fraction (`.ffffff`) and an optional `T`
/// instead of the space, as UTC, into Unix milliseconds (the fraction is truncated to ms).
pub fn parse_timestamp(s: &str) -> Option<i64> {
    let b = s.trim().as_bytes();
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b' ' | b'T') || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        b[r].iter().try_fold(0i64, |acc, &c| c.is_ascii_digit().then(|| acc * 10 + i64::from(c - b'0')))
    };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let mut ms = 0;
    if b.len() > 19 {
        if b[19] != b'.' || b.len() == 20 || !b[20..].iter().all(u8::is_ascii_digit) {
            return None;
        }
        for k in 0..3 {
            ms = ms * 10 + b.get(20 + k).map_or(0, |c| i64::from(c - b'0'));
        }
    }
    if !(1..=12).contains(&mo) || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    Some(((days_from_civil(y, mo, d) * 24 + h) * 60 + mi) * 60_000 + sec * 1000 + ms)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

type Windows = BTreeMap<String, Vec<((i64, String), (i64, String))>>;

fn read_windows(path: &Path) -> Result<Windows> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io { path: shown.clone(), source })?;
    let raw: BTreeMap<String, Vec<Vec<String>>> = serde_json::from_str(&text).map_err(|e| Error::Data {
        path: shown.clone(),
        row: e.line(),
        reason: format!("expected {{\"<file>.csv\": [[start, end], ...]}}: {e}"),
    })?;
    let mut out = BTreeMap::new();
    for (file, pairs) in raw {
        let mut windows = Vec::with_capacity(pairs.len());
        for pair in pairs {
            let bad = |what: &str| Error::Data {
                path: shown.clone(),
                row: 0,
                reason: format!("{file}: {what} (in window {pair:?})"),
            };
            let [start, end] = pair.as_slice() else { return Err(bad("a window must be a [start, end] pair")) };
            let parse = |t: &String| parse_timestamp(t).map(|ms| (ms, t.clone())).ok_or_else(|| bad("bad timestamp"));
            let (s, e) = (parse(start)?, parse(end)?);
            if e.0 < s.0 {
                return Err(bad("window ends before it starts"));
            }
            windows.push((s, e));
        }
        out.insert(file.replace('\\', "/"), windows);
    }
    Ok(out)
}

fn find_csvs(root: &Path, dir: &Path, out: &mut Vec<(String, PathBuf)>) -> Result<()> {
    let io = |source| Error::Io { path: dir.display().to_string(), source };
    let mut entries: Vec<_> = std::fs::read_dir(dir).map_err(io)?.collect::<std::io::Result<_>>().map_err(io)?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let kind = entry.file_type().map_err(io)?;
        if kind.is_dir() || (kind.is_symlink() && path.is_dir()) {
            find_csvs(root, &path, out)?;
        } else if path.extension().is_some_and(|e| e.eq_ignore_ascii_case("csv")) {
            let rel = path.strip_prefix(root).unwrap_or(&path);
            let rel: Vec<String> = rel.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect();
            out.push((rel.join("/"), path));
        }
    }
    Ok(())
}

fn csv_reader(path: &Path) -> Result<csv::Reader<std::fs::File>> {
    let file = std::fs::File::open(path).map_err(|source| Error::Io { path: path.display().to_string(), source })?;
    Ok(csv::ReaderBuilder::new().has_headers(true).from_reader(file))
}

fn csv_error(path: &str, e: csv::Error) -> Error {
    let row = e.position().map_or(0, |p| p.line() as usize);
    Error::Data { path: path.to_string(), row, reason: e.to_string() }
}

/// Reads a NAB data file: header `timestamp,value`, then one row per observation.
fn read_series(path: &Path) -> Result<(Vec<i64>, Vec<f64>)> {
    let shown = path.display().to_string();
    let mut reader = csv_reader(path)?;
    let headers = reader.byte_headers().map_err(|e| csv_error(&shown, e))?.clone();
    let col = |name: &str| headers.iter().position(|h| h.eq_ignore_ascii_case(name.as_bytes()));
    let (Some(tc), Some(vc)) = (col("timestamp"), col("value")) else {
        return Err(Error::Data { path: shown, row: 1, reason: "expected a header timestamp,value".into() });
    };
    let (mut timestamps, mut values) = (Vec::new(), Vec::new());
    let mut record = csv::ByteRecord::new();
    while reader.read_byte_record(&mut record).map_err(|e| csv_error(&shown, e))? {
        let line = values.len() + 2;
        let field = |c: usize| record.get(c).and_then(|b| std::str::from_utf8(b).ok()).unwrap_or("");
        let Some(t) = parse_timestamp(field(tc)) else {
            return Err(Error::Data {
                path: shown,
                row: line,
                reason: format!("timestamp {:?} is not YYYY-MM-DD HH:MM:SS", field(tc)),
            });
        };
        let v = field(vc).trim().parse::<f64>().ok().filter(|v| v.is_finite());
        let Some(v) = v else {
            return Err(Error::Data {
                path: shown,
                row: line,
                reason: format!("value {:?} is not a finite number", field(vc)),
            });
        };
        timestamps.push(t);
        values.push(v);
    }
    Ok((timestamps, values))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_parse_as_utc() {
        assert_eq!(parse_timestamp("1970-01-01 00:00:00"), Some(0));
        assert_eq!(parse_timestamp("2014-04-10 16:15:00.000000"), Some(1_397_146_500_000));
        assert_eq!(parse_timestamp("2014-04-10T16:15:00.123"), Some(1_397_146_500_123));
        assert_eq!(parse_timestamp("2000-02-29 00:00:00"), Some(951_782_400_000));
        assert_eq!(parse_timestamp("1969-12-31 23:59:59"), Some(-1000));
        for bad in ["2014-04-10", "2014-13-01 00:00:00", "2013-02-29 00:00:00", "2014-04-10 16:15:00.", "x"] {
            assert_eq!(parse_timestamp(bad), None, "{bad}");
        }
    }

    #[test]
    fn probation_length() {
        assert_eq!(probation(100), 15);
        assert_eq!(probation(1624), 243);
        assert_eq!(probation(5000), 750);
        assert_eq!(probation(22_695), 750);
        assert_eq!(probation(0), 0);
    }

    #[test]
    fn sigmoid_values() {
        assert!((scaled_sigmoid(-1.0) - 0.986_614_298_151_430_3).abs() < 1e-12);
        assert_eq!(scaled_sigmoid(0.0), 0.0);
        assert!((scaled_sigmoid(1.0) + 0.986_614_298_151_430_3).abs() < 1e-12);
    }

    #[test]
    fn row_kinds_follow_the_rules() {
        // 40 rows, probation 6; windows 10..=14 (w = 5) and 30..=30 (w = 1).
        let f = NabFile::new("f", vec![0; 40], vec![0.0; 40], vec![(10, 14), (30, 30)]).unwrap();
        let kinds: Vec<_> = RowKinds::new(&f).collect();
        assert_eq!(kinds.len(), 34);
        assert_eq!(kinds[0].0, 6);
        let at = |i: usize| kinds[i - 6].1;
        // Before any window: −1.
        assert!(matches!(at(9), RowKind::Outside { fp } if fp == -1.0));
        // Left edge: σ(−5/5)/σ(−1) = 1; right edge σ(−1/5)/σ(−1).
        assert!(matches!(at(10), RowKind::Window { id: 0, credit } if (credit - 1.0).abs() < 1e-15));
        let right = scaled_sigmoid(-0.2) / scaled_sigmoid(-1.0);
        assert!(matches!(at(14), RowKind::Window { id: 0, credit } if (credit - right).abs() < 1e-15));
        // Row 15: x = 1/4 → σ(0.25); row 26: x = 12/4 = 3 → still σ(3); row 27: 13/4 > 3 → −1.
        assert!(matches!(at(15), RowKind::Outside { fp } if (fp - scaled_sigmoid(0.25)).abs() < 1e-15));
        assert!(matches!(at(26), RowKind::Outside { fp } if (fp - scaled_sigmoid(3.0)).abs() < 1e-15));
        assert!(matches!(at(27), RowKind::Outside { fp } if fp == -1.0));
        assert!(matches!(at(30), RowKind::Window { id: 1, credit } if (credit - 1.0).abs() < 1e-15));
        // After a one-row window (w′ − 1 = 0): the far rule.
        assert!(matches!(at(31), RowKind::Outside { fp } if fp == -1.0));
    }

    #[test]
    fn bad_windows_are_rejected() {
        assert!(NabFile::new("f", vec![0; 10], vec![0.0; 10], vec![(5, 10)]).is_err());
        assert!(NabFile::new("f", vec![0; 10], vec![0.0; 10], vec![(5, 4)]).is_err());
        assert!(NabFile::new("f", vec![0; 10], vec![0.0; 10], vec![(2, 4), (4, 6)]).is_err());
        assert!(NabFile::new("f", vec![0; 10], vec![0.0; 9], vec![]).is_err());
    }
}
