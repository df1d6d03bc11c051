//! Bayesian online change-point detection (Adams & MacKay, 2007) with a Normal-Gamma model.

use super::{
    MAX_SURPRISE, ShiftReport, anchored_z, band, band_z, check_order, check_value, log_add_exp, param, plausible,
    range_usize, snapshot_error,
};
use oddsight_core::detector::verdict_from_z;
use oddsight_core::{Detector, Direction, Notes, Point, Result, ScaleFloor, Stateful, Verdict};
use serde::{Deserialize, Serialize};
use statrs::function::gamma::ln_gamma;
use std::borrow::Cow;
use std::collections::VecDeque;

/// Consistency constant that makes the MAD a Gaussian standard deviation.
const MAD_TO_SIGMA: f64 = 1.482_602_218_505_602;

/// Hypotheses whose normalised log-weight falls below this are dropped: `e^-700 ≈ 1e-304` of
/// the posterior can never matter again, and dropping them keeps quiet series cheap.
const LOG_PRUNE: f64 = -700.0;

/// A restored state's `β` may not exceed this: `max_run_length` squared deviations of values
/// within the accepted range stay far below it, and no predictive variance built on it can
/// overflow.
const BETA_LIMIT: f64 = 1e306;

/// The contamination component of each run's predictive is that run's Student-t widened by
/// this factor.
const OUTLIER_SCALE: f64 = 10.0;
const OUTLIER_SCALE2: f64 = OUTLIER_SCALE * OUTLIER_SCALE;
const LN_OUTLIER_SCALE: f64 = std::f64::consts::LN_10;

/// Parameters of a [`Bocpd`] detector.
///
/// ```
/// use oddsight_detectors::change::BocpdParams;
/// let d = BocpdParams::default().expected_run_length(500.0).max_run_length(400).build()?;
/// assert!(BocpdParams::default().threshold(1.5).build().is_err());
/// # Ok::<(), oddsight_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct BocpdParams {
    /// Expected run length between changes, `1 / hazard`, in points; the hazard is constant.
    /// In (1, 1e12]. Default 250.
    pub expected_run_length: f64,
    /// Run lengths are truncated here, so each point costs O(`max_run_length`): a run that would
    /// grow longer is merged into the longest kept one, whose statistics then cover the most
    /// recent `max_run_length` points. 16..=100,000. Default 300.
    pub max_run_length: usize,
    /// Points a new run must stay the most likely one before it becomes the reference level.
    /// The change probability is the posterior mass on runs that began more than this many
    /// points after the reference run did, so a declared change lasts about this long and then
    /// the new level is normal.
    /// 1..`max_run_length`. Default 10.
    pub confirm: usize,
    /// Change probability at or above which a change is declared (|z| = 3 on the common
    /// scale). In (0, 1). Default 0.9: on Gaussian noise about one false declaration per
    /// 10,000 points, while a 2σ shift is declared in a median of 4 points and a 1σ shift in 14.
    pub threshold: f64,
    /// Points used to set the prior (their median and MAD) before the detector judges,
    /// 3..=`max_run_length`. Default 20.
    pub warmup: usize,
    /// Prior strength `κ₀` of the mean, in pseudo-points: small values let a new run's mean
    /// be set by its own first points. In [1e-6, 1e6]. Default 0.1.
    pub prior_strength: f64,
    /// Prior shape `α₀` of the precision, in half pseudo-points: a new run's predictive is a
    /// Student-t with `2α₀` degrees of freedom. In [1e-3, 1e6]. Default 1.
    pub prior_shape: f64,
    /// Probability that a single point is a stray outlier rather than data from the current
    /// run, in `[0, 0.5)`. Each run predicts with `(1 − ε)·t + ε·t_wide`, the second a Student-t
    /// ten times wider, and does not learn points the wide part explains better. A lone spike then
    /// costs the current run a factor of about `ε` instead of its life, so it is not mistaken for
    /// a change of level; a real shift still wins within a point or two. 0 gives the plain
    /// Adams & MacKay model. Default 0.01.
    pub outlier_probability: f64,
    /// Half-width of the reported band, in predictive standard deviations, (0, 100]. Default 3.
    pub band_z: f64,
    /// Floor of the prior standard deviation (a constant warm-up).
    pub floor: ScaleFloor,
}

impl Default for BocpdParams {
    fn default() -> Self {
        BocpdParams {
            expected_run_length: 250.0,
            max_run_length: 300,
            confirm: 10,
            threshold: 0.9,
            warmup: 20,
            prior_strength: 0.1,
            prior_shape: 1.0,
            outlier_probability: 0.01,
            band_z: 3.0,
            floor: ScaleFloor::default(),
        }
    }
}

impl BocpdParams {
    /// Sets `expected_run_length` (`1 / hazard`).
    pub fn expected_run_length(mut self, points: f64) -> Self {
        self.expected_run_length = points;
        self
    }
    /// Sets `max_run_length`.
    pub fn max_run_length(mut self, points: usize) -> Self {
        self.max_run_length = points;
        self
    }
    /// Sets `confirm`.
    pub fn confirm(mut self, points: usize) -> Self {
        self.confirm = points;
        self
    }
    /// Sets `threshold`.
    pub fn threshold(mut self, probability: f64) -> Self {
        self.threshold = probability;
        self
    }
    /// Sets `warmup`.
    pub fn warmup(mut self, points: usize) -> Self {
        self.warmup = points;
        self
    }
    /// Sets `prior_strength` (`κ₀`).
    pub fn prior_strength(mut self, kappa0: f64) -> Self {
        self.prior_strength = kappa0;
        self
    }
    /// Sets `prior_shape` (`α₀`).
    pub fn prior_shape(mut self, alpha0: f64) -> Self {
        self.prior_shape = alpha0;
        self
    }
    /// Sets `outlier_probability` (`ε`; 0 for the plain model).
    pub fn outlier_probability(mut self, epsilon: f64) -> Self {
        self.outlier_probability = epsilon;
        self
    }
    /// Sets `band_z`.
    pub fn band_z(mut self, band_z: f64) -> Self {
        self.band_z = band_z;
        self
    }
    /// Sets the prior's spread floor.
    pub fn floor(mut self, floor: ScaleFloor) -> Self {
        self.floor = floor;
        self
    }

    /// Checks every parameter.
    ///
    /// # Errors
    /// [`oddsight_core::Error::InvalidParameter`] naming the first bad one.
    pub fn validate(&self) -> Result<()> {
        if !(self.expected_run_length > 1.0 && self.expected_run_length <= 1e12) {
            return Err(param("expected_run_length", "must be in (1, 1e12]", self.expected_run_length));
        }
        range_usize("max_run_length", self.max_run_length, 16, 100_000)?;
        range_usize("confirm", self.confirm, 1, self.max_run_length - 1)?;
        if !(self.threshold > 0.0 && self.threshold < 1.0) {
            return Err(param("threshold", "must be in (0, 1)", self.threshold));
        }
        range_usize("warmup", self.warmup, 3, self.max_run_length)?;
        if !(1e-6..=1e6).contains(&self.prior_strength) {
            return Err(param("prior_strength", "must be in [1e-6, 1e6]", self.prior_strength));
        }
        if !(1e-3..=1e6).contains(&self.prior_shape) {
            return Err(param("prior_shape", "must be in [1e-3, 1e6]", self.prior_shape));
        }
        if !(self.outlier_probability >= 0.0 && self.outlier_probability < 0.5) {
            return Err(param("outlier_probability", "must be in [0, 0.5)", self.outlier_probability));
        }
        band_z(self.band_z)?;
        self.floor.validate()
    }

    /// Builds the detector.
    ///
    /// # Errors
    /// As [`BocpdParams::validate`].
    pub fn build(self) -> Result<Bocpd> {
        self.validate()?;
        Ok(Bocpd::from_state(State {
            params: self,
            warm: Vec::new(),
            prior: None,
            runs: Vec::new(),
            times: VecDeque::new(),
            last: None,
            last_shift: None,
            stable_level: 0.0,
            change_probability: 0.0,
            map_run: 0,
            alarm: false,
            seen: 0,
            reference: 0,
            map_id: 0,
            map_streak: 0,
        }))
    }
}

/// `ln Γ((ν+1)/2) − ln Γ(ν/2) − ½ ln(νπ)` for the predictive of a run that has learned
/// `0..=max_run_length` points (`ν = 2α₀ + n`): the only costly part of a Student-t density,
/// computed once instead of twice per hypothesis per point.
fn student_constants(p: &BocpdParams) -> Vec<f64> {
    (0..=p.max_run_length)
        .map(|n| {
            let nu = 2.0 * p.prior_shape + n as f64;
            ln_gamma(0.5 * (nu + 1.0)) - ln_gamma(0.5 * nu) - 0.5 * (nu * std::f64::consts::PI).ln()
        })
        .collect()
}

/// The Normal-Gamma prior set from the warm-up points (its `κ₀` and `α₀` are parameters).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
struct Prior {
    mean: f64,
    beta: f64,
}

/// One run-length hypothesis: a run of `len` points, `n` of them learned (the rest judged
/// outliers), with Normal-Gamma posterior `mean`, `beta` (`κ = κ₀ + n`, `α = α₀ + n/2`), and its
/// log posterior weight.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
struct Run {
    len: u32,
    n: u32,
    log_w: f64,
    mean: f64,
    beta: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct State {
    params: BocpdParams,
    /// Warm-up values, until the prior is set.
    warm: Vec<f64>,
    prior: Option<Prior>,
    /// Hypotheses in ascending `len`, log-weights normalised.
    runs: Vec<Run>,
    /// Timestamps of the last `max_run_length` points, newest last.
    times: VecDeque<i64>,
    last: Option<i64>,
    last_shift: Option<ShiftReport>,
    /// The level of the runs that are not a change (the current level), as of the last point
    /// without a declared change: what a shift is measured from.
    stable_level: f64,
    change_probability: f64,
    map_run: u32,
    alarm: bool,
    /// Points seen, warm-up included: point numbers are 1-based.
    seen: u64,
    /// Identity (see [`Bocpd::run_id`]) of the reference run, the current level.
    reference: u64,
    /// Identity of the most likely run, and for how many points it has been.
    map_id: u64,
    map_streak: u32,
}

/// Bayesian online change-point detector (Adams & MacKay 2007).
///
/// Keeps the posterior distribution of the current **run length** (points since the last
/// change). Within a run, values are Gaussian with unknown mean and variance under a
/// Normal-Gamma prior, so each run predicts the next value with a Student-t; the hazard of a
/// change is constant (`1 / expected_run_length`). The prior's centre and spread come from the
/// median and MAD of the first `warmup` points, so the detector needs no units. Run lengths are
/// truncated at `max_run_length` (O(R) per point, R bounded) and negligible hypotheses are
/// pruned.
///
/// The **change probability** is the posterior mass on runs that began more than `confirm`
/// points after the *reference* run, the run that has been the most likely for `confirm`
/// consecutive points (the current level). It spikes when the level changes, and falls back once the new run has led for
/// `confirm` points and becomes the reference. Counting from the reference rather than over a
/// fixed recent window keeps a change visible even when the new run is dated a few points
/// early (a dip just before a drop).
/// **Scale:** `z = ±anchored(log10 odds(change) − log10 odds(threshold))`, so
/// `change_probability = threshold` is exactly |z| = 3 and every further factor of ten in the
/// posterior odds adds one decimal order of surprise; the sign is the direction of the new
/// run's mean against the level before the change. `is_anomaly` is
/// `change_probability ≥ threshold`. The first declaring point records a [`ShiftReport`],
/// refined (start, size) at every further point of the alarm.
///
/// **State per series:** 32 bytes per live hypothesis, 8 per point of the timestamp ring and
/// 8 per cached Student-t constant, plus a 344-byte struct: at most `48·max_run_length + 350`
/// bytes, 14.8 KiB at the default 300 (a quiet series keeps all 300 hypotheses alive).
///
/// **Cost:** O(`max_run_length`) per point, about ten transcendental functions per
/// hypothesis: roughly 25–40 µs per point at the default 300 on one x86 core (the price of the
/// full run-length posterior; `max_run_length(100)` is three times cheaper).
///
/// ```
/// use oddsight_core::{Detector, Direction, Point};
/// use oddsight_detectors::change::BocpdParams;
/// let mut d = BocpdParams::default().build()?;
/// let noise = |i: i64| ((i * 7919) % 13) as f64 / 13.0 - 0.5; // deterministic, sd ≈ 0.29
/// let mut declared = None;
/// for i in 0..300 {
///     let level = if i >= 200 { 2.0 } else { 0.0 };
///     let v = d.observe(Point::new(i * 1000, level + noise(i)))?;
///     if v.is_anomaly && declared.is_none() {
///         declared = Some(i);
///     }
/// }
/// assert!((200..205).contains(&declared.unwrap()));
/// let shift = d.last_shift().unwrap();
/// assert_eq!((shift.start, shift.direction), (200_000, Direction::Up));
/// assert!(d.change_probability() < 0.5 && d.run_length() > 90);
/// # Ok::<(), oddsight_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "State", into = "State")]
pub struct Bocpd {
    state: State,
    /// Derived from the parameters; rebuilt on restore, never serialised.
    consts: Vec<f64>,
    /// `ln(1 − ε)` and `ln ε`, likewise derived.
    log_inlier: f64,
    log_outlier: f64,
}

impl TryFrom<State> for Bocpd {
    type Error = String;
    fn try_from(state: State) -> std::result::Result<Self, String> {
        // Validate before allocating the constants table: a hand-edited snapshot must not be
        // able to ask for a huge one.
        state.params.validate().map_err(|e| e.to_string())?;
        Ok(Bocpd::from_state(state))
    }
}

impl From<Bocpd> for State {
    fn from(d: Bocpd) -> State {
        d.state
    }
}

/// Everything one point does to the posterior, summarised without changing it.
#[derive(Debug, Clone, Copy)]
struct Summary {
    /// `ln` of the mass on runs that began after the reference run, and on the others
    /// (unnormalised).
    log_short: f64,
    log_long: f64,
    /// Most likely short run after the point: its length and posterior mean.
    short_len: u32,
    short_mean: f64,
    /// Posterior mean level of the other runs (the current level), if they hold any mass.
    long_mean: Option<f64>,
}

impl Summary {
    fn probability(&self) -> f64 {
        if self.log_long == f64::NEG_INFINITY {
            return 1.0;
        }
        // p = 1 / (1 + e^(long − short)), stable on both sides.
        let d = self.log_long - self.log_short;
        if d > 0.0 {
            let e = (-d).exp();
            e / (1.0 + e)
        } else {
            1.0 / (1.0 + d.exp())
        }
    }

    fn log10_odds(&self) -> f64 {
        if self.log_long == f64::NEG_INFINITY {
            return MAX_SURPRISE;
        }
        ((self.log_short - self.log_long) / std::f64::consts::LN_10).clamp(-MAX_SURPRISE, MAX_SURPRISE)
    }
}

impl Bocpd {
    /// Attaches the derived tables to a state whose parameters are valid.
    fn from_state(state: State) -> Bocpd {
        let consts = student_constants(&state.params);
        let eps = state.params.outlier_probability;
        Bocpd { consts, log_inlier: (-eps).ln_1p(), log_outlier: eps.ln(), state }
    }

    /// The parameters.
    pub fn params(&self) -> &BocpdParams {
        &self.state.params
    }

    /// Posterior probability, after the last learned point, that the current run began more
    /// than `confirm` points after the reference run (a change since the current level was
    /// established). 0 while warming up.
    pub fn change_probability(&self) -> f64 {
        self.state.change_probability
    }

    /// Most likely current run length after the last learned point (0 while warming up).
    pub fn run_length(&self) -> u32 {
        self.state.map_run
    }

    /// The posterior over run lengths after the last learned point, as `(length, probability)`
    /// in ascending length (pruned hypotheses omitted).
    pub fn run_length_distribution(&self) -> Vec<(u32, f64)> {
        self.state.runs.iter().map(|r| (r.len, r.log_w.exp())).collect()
    }

    /// The most recent declared change, if any.
    pub fn last_shift(&self) -> Option<&ShiftReport> {
        self.state.last_shift.as_ref()
    }

    /// Live run-length hypotheses (at most `max_run_length`).
    pub fn hypotheses(&self) -> usize {
        self.state.runs.len()
    }

    #[inline]
    fn hazards(&self) -> (f64, f64) {
        let h = 1.0 / self.state.params.expected_run_length;
        (h.ln(), (-h).ln_1p())
    }

    /// Log predictive density of `x` under a run that has learned `n` points with posterior
    /// `mean`, `beta` (the contaminated mixture), and whether the run would learn `x` (its
    /// Student-t explains `x` at least as well as the wide outlier component).
    #[inline]
    fn log_predictive(&self, n: u32, mean: f64, beta: f64, x: f64) -> (f64, bool) {
        let p = &self.state.params;
        let kappa = p.prior_strength + n as f64;
        let alpha = p.prior_shape + 0.5 * n as f64;
        let nu = 2.0 * alpha;
        let var = beta * (kappa + 1.0) / (alpha * kappa);
        let d2 = (x - mean) * (x - mean);
        let c = self.consts.get(n as usize).copied().unwrap_or(0.0);
        let eps = p.outlier_probability;
        if eps <= 0.0 {
            return (c - 0.5 * var.ln() - 0.5 * (nu + 1.0) * (d2 / (nu * var)).ln_1p(), true);
        }
        let ln_var = var.ln();
        let wide = c - 0.5 * ln_var - LN_OUTLIER_SCALE - 0.5 * (nu + 1.0) * (d2 / (nu * var * OUTLIER_SCALE2)).ln_1p();
        let t = c - 0.5 * ln_var - 0.5 * (nu + 1.0) * (d2 / (nu * var)).ln_1p();
        let inlier = self.log_inlier + t;
        let outlier = self.log_outlier + wide;
        (log_add_exp(inlier, outlier), inlier >= outlier)
    }

    /// The run's posterior after learning `x` (`n` points learned so far).
    #[inline]
    fn absorb(&self, n: u32, mean: f64, beta: f64, x: f64) -> (f64, f64) {
        let kappa = self.state.params.prior_strength + n as f64;
        let d = x - mean;
        ((kappa * mean + x) / (kappa + 1.0), beta + kappa * d * d / (2.0 * (kappa + 1.0)))
    }

    /// One hypothesis after `x`: its predictive log density and its next statistics.
    #[inline]
    fn advance_run(&self, n: u32, mean: f64, beta: f64, x: f64) -> (f64, u32, f64, f64) {
        let (lp, inlier) = self.log_predictive(n, mean, beta, x);
        let max = self.state.params.max_run_length as u32;
        if inlier && n < max {
            let (m, b) = self.absorb(n, mean, beta, x);
            (lp, n + 1, m, b)
        } else {
            (lp, n, mean, beta)
        }
    }

    /// Visits the posterior after `x`, unnormalised, hypothesis by hypothesis in ascending
    /// length: `Run { len, n, log_w, mean, beta }`. The new run comes first (it always learns
    /// `x`); a run that would pass `max_run_length` is reported at that length (the caller
    /// merges).
    fn for_each_next(&self, prior: Prior, x: f64, mut f: impl FnMut(Run)) {
        let (log_h, log_1h) = self.hazards();
        let max = self.state.params.max_run_length as u32;
        let (lp0, _) = self.log_predictive(0, prior.mean, prior.beta, x);
        let (m0, b0) = self.absorb(0, prior.mean, prior.beta, x);
        f(Run { len: 1, n: 1, log_w: log_h + lp0, mean: m0, beta: b0 });
        for r in &self.state.runs {
            let (lp, n, mean, beta) = self.advance_run(r.n, r.mean, r.beta, x);
            f(Run { len: (r.len + 1).min(max), n, log_w: r.log_w + log_1h + lp, mean, beta });
        }
    }

    /// The posterior after `x`, summarised; with `next`, also collected (merged at the cap,
    /// not yet normalised). `score` and `observe` share this pass, so their verdicts agree to
    /// the bit.
    fn step(&self, prior: Prior, x: f64, mut next: Option<&mut Vec<Run>>) -> Summary {
        let index = self.state.seen + 1;
        // Runs that began within `confirm` points of the reference are the same level, dated
        // a little later: they are not a change.
        let reference = self.state.reference.saturating_add(self.state.params.confirm as u64);
        let (mut short, mut long) = (Lse::default(), WeightedMean::default());
        let (mut best, mut short_len, mut short_mean) = (f64::NEG_INFINITY, 1, x);
        self.for_each_next(prior, x, |r| {
            if self.run_id(r.len, index) > reference {
                short.add(r.log_w);
                if r.log_w > best {
                    best = r.log_w;
                    short_len = r.len;
                    short_mean = r.mean;
                }
            } else {
                long.add(r.log_w, r.mean);
            }
            if let Some(next) = next.as_deref_mut() {
                match next.last_mut() {
                    // Runs past the cap land on it: merge the weight, keep the younger
                    // statistics (those of the most recent `max_run_length` points).
                    Some(last) if last.len == r.len => last.log_w = log_add_exp(last.log_w, r.log_w),
                    _ => next.push(r),
                }
            }
        });
        Summary { log_short: short.value(), log_long: long.log_total(), short_len, short_mean, long_mean: long.mean() }
    }

    /// Identity of a run of `len` points ending at point number `index` (1-based): the number
    /// of its first point, or 0 for the merged run at `max_run_length`, which stands for
    /// everything older.
    #[inline]
    fn run_id(&self, len: u32, index: u64) -> u64 {
        if len as usize >= self.state.params.max_run_length { 0 } else { (index + 1).saturating_sub(len as u64) }
    }

    /// Predictive mean and standard deviation of the next value (mixture over runs).
    fn predictive(&self) -> (f64, f64) {
        let p = &self.state.params;
        let (mut m1, mut m2) = (0.0, 0.0);
        for r in &self.state.runs {
            let w = r.log_w.exp();
            let kappa = p.prior_strength + r.n as f64;
            let alpha = p.prior_shape + 0.5 * r.n as f64;
            let nu = 2.0 * alpha;
            let scale2 = r.beta * (kappa + 1.0) / (alpha * kappa);
            let var = if nu > 2.5 { scale2 * nu / (nu - 2.0) } else { 5.0 * scale2 };
            m1 += w * r.mean;
            m2 += w * (var + r.mean * r.mean);
        }
        (m1, (m2 - m1 * m1).max(0.0).sqrt())
    }

    /// Timestamp of the first point of a run of `len` points ending at `timestamp` (not yet
    /// in the ring).
    fn run_start(&self, len: u32, timestamp: i64) -> i64 {
        let back = len.saturating_sub(1) as usize;
        let times = &self.state.times;
        if back == 0 {
            timestamp
        } else if back <= times.len() {
            times[times.len() - back]
        } else {
            times.front().copied().unwrap_or(timestamp)
        }
    }

    fn check(&self, point: Point) -> Result<()> {
        check_value(point.value)?;
        check_order(self.state.last, point.timestamp)
    }

    fn prior_from(&self, values: &[f64]) -> Prior {
        let mut v = values.to_vec();
        v.sort_by(f64::total_cmp);
        let median = median_sorted(&v);
        let mut dev: Vec<f64> = v.iter().map(|x| (x - median).abs()).collect();
        dev.sort_by(f64::total_cmp);
        let mut sigma = MAD_TO_SIGMA * median_sorted(&dev);
        if sigma <= 0.0 {
            // A mostly constant warm-up: fall back to the standard deviation, then the floor.
            let n = v.len() as f64;
            let mean = v.iter().sum::<f64>() / n;
            sigma = (v.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n - 1.0).max(1.0)).sqrt();
        }
        let (sigma, _) = self.state.params.floor.apply(sigma, median);
        Prior { mean: median, beta: self.state.params.prior_shape * sigma * sigma }
    }
}

impl Bocpd {
    fn verdict(&self, point: Point, s: &Summary) -> Verdict {
        let st = &self.state;
        let p = &st.params;
        let cp = s.probability();
        let alarm = cp >= p.threshold;
        let evidence = s.log10_odds() - (p.threshold / (1.0 - p.threshold)).log10();
        let change = s.short_mean - st.stable_level;
        let sign = if change < 0.0 { -1.0 } else { 1.0 };
        let z = sign * anchored_z(evidence);
        let (expected, sd) = self.predictive();
        let (sd, floored) = p.floor.apply(sd, expected);
        let component = if alarm {
            Cow::Owned(format!(
                "bocpd: change p={cp:.3}, run {} since {}, shift {change:+.4}",
                s.short_len,
                self.run_start(s.short_len, point.timestamp)
            ))
        } else {
            Cow::Borrowed("bocpd")
        };
        let band = band(expected, p.band_z * sd);
        let notes = Notes { scale_floored: floored, ..Notes::default() };
        let count = st.seen.min(p.max_run_length as u64);
        let mut v = verdict_from_z(point, z, expected, band, 0.5, count, p.warmup as u64, component, notes);
        v.is_anomaly = alarm;
        v
    }

    /// Learns a warm-up point; the last one sets the prior and the first run.
    fn warm_up(&mut self, point: Point) {
        let max_len = self.state.params.max_run_length;
        let st = &mut self.state;
        st.warm.push(point.value);
        push_time(&mut st.times, point.timestamp, max_len);
        st.last = Some(point.timestamp);
        st.seen += 1;
        if st.warm.len() >= st.params.warmup {
            self.finish_warm_up();
        }
    }

    /// Sets the prior from the warm-up points and makes them the first run.
    fn finish_warm_up(&mut self) {
        let prior = self.prior_from(&self.state.warm);
        // The warm-up is the first run: start with all mass on it.
        let (mut n, mut mean, mut beta) = (0, prior.mean, prior.beta);
        for &w in &self.state.warm {
            (_, n, mean, beta) = self.advance_run(n, mean, beta, w);
        }
        let len = self.state.warm.len() as u32;
        let id = self.run_id(len, self.state.seen);
        let st = &mut self.state;
        (st.reference, st.map_id, st.map_streak) = (id, id, st.params.confirm as u32);
        st.runs = vec![Run { len, n, log_w: 0.0, mean, beta }];
        st.prior = Some(prior);
        st.stable_level = mean;
        st.map_run = len;
        st.warm = Vec::new();
    }

    /// Makes `next` (from [`Bocpd::step`]) the posterior.
    fn commit(&mut self, point: Point, s: &Summary, mut next: Vec<Run>) {
        // The same mass the summary counted, short and long (merging at the cap moves weight
        // between entries, not in or out).
        let total = log_add_exp(s.log_short, s.log_long);
        for r in &mut next {
            r.log_w -= total;
        }
        next.retain(|r| r.log_w > LOG_PRUNE);
        let cp = s.probability();
        let start = self.run_start(s.short_len, point.timestamp);
        let max_len = self.state.params.max_run_length;
        let index = self.state.seen + 1;
        let map_run = next.iter().max_by(|a, b| a.log_w.total_cmp(&b.log_w)).map_or(0, |r| r.len);
        let map_id = self.run_id(map_run, index);
        let st = &mut self.state;
        st.runs = next;
        st.map_run = map_run;
        // A run that has led for `confirm` points becomes the reference level.
        if map_id == st.map_id {
            st.map_streak = st.map_streak.saturating_add(1);
        } else {
            (st.map_id, st.map_streak) = (map_id, 1);
        }
        if st.map_streak as usize >= st.params.confirm {
            st.reference = map_id;
        }
        st.change_probability = cp;
        let alarm = cp >= st.params.threshold;
        if alarm {
            // Declared at the first alarming point; dated and sized again at every point of the
            // alarm, as the new run gathers evidence.
            let size = s.short_mean - st.stable_level;
            let detected_at = match &st.last_shift {
                Some(prev) if st.alarm => prev.detected_at,
                _ => point.timestamp,
            };
            let points = s.short_len as u64;
            st.last_shift = Some(ShiftReport { start, detected_at, size, direction: Direction::of(size), points });
        }
        if let (false, Some(level)) = (alarm, s.long_mean) {
            st.stable_level = level;
        }
        st.alarm = alarm;
        push_time(&mut st.times, point.timestamp, max_len);
        st.last = Some(point.timestamp);
        st.seen += 1;
    }
}

/// A streaming mean weighted by log-weights, and the log of the total weight, rescaled like
/// [`Lse`]: one `exp` per term for both.
#[derive(Debug, Clone, Copy)]
struct WeightedMean {
    max: f64,
    weight: f64,
    sum: f64,
}

impl Default for WeightedMean {
    fn default() -> Self {
        WeightedMean { max: f64::NEG_INFINITY, weight: 0.0, sum: 0.0 }
    }
}

impl WeightedMean {
    #[inline]
    fn add(&mut self, log_w: f64, x: f64) {
        if log_w == f64::NEG_INFINITY || log_w.is_nan() {
            return;
        }
        if log_w <= self.max {
            let w = (log_w - self.max).exp();
            self.weight += w;
            self.sum += w * x;
        } else {
            let scale = (self.max - log_w).exp();
            self.weight = self.weight * scale + 1.0;
            self.sum = self.sum * scale + x;
            self.max = log_w;
        }
    }

    fn mean(&self) -> Option<f64> {
        (self.weight > 0.0).then(|| self.sum / self.weight)
    }

    fn log_total(&self) -> f64 {
        if self.max == f64::NEG_INFINITY { f64::NEG_INFINITY } else { self.max + self.weight.ln() }
    }
}

/// A streaming log-sum-exp: one `exp` per term.
#[derive(Debug, Clone, Copy)]
struct Lse {
    max: f64,
    sum: f64,
}

impl Default for Lse {
    fn default() -> Self {
        Lse { max: f64::NEG_INFINITY, sum: 0.0 }
    }
}

impl Lse {
    #[inline]
    fn add(&mut self, x: f64) {
        if x == f64::NEG_INFINITY || x.is_nan() {
            return;
        }
        if x <= self.max {
            self.sum += (x - self.max).exp();
        } else {
            self.sum = self.sum * (self.max - x).exp() + 1.0;
            self.max = x;
        }
    }

    fn value(&self) -> f64 {
        if self.max == f64::NEG_INFINITY { f64::NEG_INFINITY } else { self.max + self.sum.ln() }
    }
}

fn median_sorted(s: &[f64]) -> f64 {
    let n = s.len();
    if n == 0 {
        0.0
    } else if n % 2 == 1 {
        s[n / 2]
    } else {
        0.5 * (s[n / 2 - 1] + s[n / 2])
    }
}

impl Detector for Bocpd {
    fn score(&self, point: Point) -> Result<Verdict> {
        self.check(point)?;
        let Some(prior) = self.state.prior else {
            return Ok(Verdict::neutral(point, point.value, Cow::Borrowed("bocpd"), false));
        };
        let s = self.step(prior, point.value, None);
        Ok(self.verdict(point, &s))
    }

    fn observe(&mut self, point: Point) -> Result<Verdict> {
        self.check(point)?;
        let Some(prior) = self.state.prior else {
            let v = Verdict::neutral(point, point.value, Cow::Borrowed("bocpd"), false);
            self.warm_up(point);
            return Ok(v);
        };
        let mut next = Vec::with_capacity(self.state.runs.len() + 1);
        let s = self.step(prior, point.value, Some(&mut next));
        let v = self.verdict(point, &s);
        self.commit(point, &s, next);
        Ok(v)
    }

    fn update(&mut self, point: Point) -> Result<()> {
        self.check(point)?;
        let Some(prior) = self.state.prior else {
            self.warm_up(point);
            return Ok(());
        };
        let mut next = Vec::with_capacity(self.state.runs.len() + 1);
        let s = self.step(prior, point.value, Some(&mut next));
        self.commit(point, &s, next);
        Ok(())
    }

    fn last_timestamp(&self) -> Option<i64> {
        self.state.last
    }

    fn rebaseline(&mut self, recent: &[Point]) -> Result<()> {
        let Some(newest) = recent.last() else { return Ok(()) };
        for p in recent {
            check_value(p.value)?;
        }
        let last = Some(self.state.last.map_or(newest.timestamp, |l| l.max(newest.timestamp)));
        // Start again from the new level: the recent points (the last `max_run_length`) become
        // the warm-up, and the first run as soon as there are `warmup` of them.
        let last_shift = self.state.last_shift.take();
        self.reset();
        let max_len = self.state.params.max_run_length;
        let take = recent.len().min(max_len);
        let st = &mut self.state;
        for p in &recent[recent.len() - take..] {
            st.warm.push(p.value);
            push_time(&mut st.times, p.timestamp, max_len);
        }
        st.seen = take as u64;
        st.last = last;
        st.last_shift = last_shift;
        if st.warm.len() >= st.params.warmup {
            self.finish_warm_up();
        }
        Ok(())
    }

    fn reset(&mut self) {
        let st = &mut self.state;
        st.warm.clear();
        st.prior = None;
        st.runs.clear();
        st.times.clear();
        st.last = None;
        st.last_shift = None;
        st.stable_level = 0.0;
        st.change_probability = 0.0;
        st.map_run = 0;
        st.alarm = false;
        st.seen = 0;
        (st.reference, st.map_id, st.map_streak) = (0, 0, 0);
    }

    fn snapshot(&self) -> Result<String> {
        self.to_snapshot()
    }

    fn name(&self) -> Cow<'static, str> {
        Cow::Borrowed("bocpd")
    }
}

fn push_time(times: &mut VecDeque<i64>, t: i64, cap: usize) {
    if times.len() == cap {
        times.pop_front();
    }
    times.push_back(t);
}

impl Stateful for Bocpd {
    fn kind() -> String {
        "Bocpd".into()
    }

    fn validate(&self) -> Result<()> {
        let st = &self.state;
        st.params.validate()?;
        let max = st.params.max_run_length;
        if st.warm.len() >= st.params.warmup.max(1) && st.prior.is_none() {
            return Err(snapshot_error("warm-up is complete but no prior was set"));
        }
        if st.warm.iter().any(|v| !v.is_finite()) {
            return Err(snapshot_error("warm-up holds a non-finite value"));
        }
        if let Some(p) = st.prior
            && !(plausible(p.mean) && p.beta > 0.0 && p.beta <= BETA_LIMIT)
        {
            return Err(snapshot_error(format!("invalid prior {p:?}")));
        }
        if st.runs.len() > max || st.times.len() > max {
            return Err(snapshot_error(format!("more than {max} run-length hypotheses or timestamps")));
        }
        let mut prev = 0;
        for r in &st.runs {
            if r.len <= prev || r.len as usize > max || r.n > r.len {
                return Err(snapshot_error("run lengths must be increasing and within max_run_length"));
            }
            let beta_ok = r.beta > 0.0 && r.beta <= BETA_LIMIT;
            if !(r.log_w.is_finite() && r.log_w <= 1e-9 && plausible(r.mean) && beta_ok) {
                return Err(snapshot_error(format!("invalid run-length hypothesis {r:?}")));
            }
            prev = r.len;
        }
        if st.reference > st.seen || st.map_id > st.seen {
            return Err(snapshot_error("run identities beyond the points seen"));
        }
        if st.prior.is_some() && st.runs.is_empty() {
            return Err(snapshot_error("no run-length hypothesis"));
        }
        if st.warm.iter().any(|&v| !plausible(v)) {
            return Err(snapshot_error("warm-up holds an implausible value"));
        }
        if !(plausible(st.stable_level) && (0.0..=1.0).contains(&st.change_probability)) {
            return Err(snapshot_error("invalid stable level or change probability"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gauss(seed: &mut u64) -> f64 {
        let mut s = 0.0;
        for _ in 0..12 {
            *seed = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = *seed;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^= z >> 31;
            s += (z >> 11) as f64 / (1u64 << 53) as f64;
        }
        s - 6.0
    }

    #[test]
    fn constants_match_statrs_student_t() {
        use statrs::distribution::{Continuous, StudentsT};
        let d = BocpdParams::default().build().unwrap();
        for &(len, mean, beta, x) in &[(0u32, 1.0, 2.0, 3.5), (5, -2.0, 7.0, 0.0), (120, 10.0, 60.0, 11.0)] {
            let p = &d.state.params;
            let kappa = p.prior_strength + len as f64;
            let alpha = p.prior_shape + 0.5 * len as f64;
            let scale = (beta * (kappa + 1.0) / (alpha * kappa)).sqrt();
            let t = StudentsT::new(mean, scale, 2.0 * alpha).unwrap();
            let d = BocpdParams::default().outlier_probability(0.0).build().unwrap();
            let (ours, inlier) = d.log_predictive(len, mean, beta, x);
            assert!(inlier);
            assert!((ours - t.ln_pdf(x)).abs() < 1e-10, "{ours} vs {}", t.ln_pdf(x));
        }
    }

    #[test]
    fn stays_bounded_and_quiet_on_noise() {
        let mut d = BocpdParams::default().build().unwrap();
        let mut seed = 42;
        let mut alarms = 0;
        for i in 0..3000 {
            let v = d.observe(Point::new(i, 5.0 + gauss(&mut seed))).unwrap();
            assert!(v.z.is_finite() && v.anomaly_score.is_finite());
            alarms += v.is_anomaly as u32;
            assert!(d.hypotheses() <= 300);
        }
        assert!(alarms <= 6, "{alarms} alarms on white noise");
    }

    #[test]
    fn declares_a_mean_change_and_its_start() {
        let mut d = BocpdParams::default().build().unwrap();
        let mut seed = 3;
        let mut first = None;
        let mut peak: f64 = 0.0;
        for i in 0..700 {
            let level = if i >= 400 { -2.0 } else { 0.0 };
            let v = d.observe(Point::new(i * 60_000, level + gauss(&mut seed))).unwrap();
            if (400..420).contains(&i) {
                peak = peak.max(d.change_probability());
            }
            if v.is_anomaly && first.is_none() && i >= 380 {
                first = Some(i);
                assert_eq!(v.direction, Direction::Down, "{}", v.explain());
            }
        }
        assert!(peak > 0.9, "peak change probability {peak}");
        let at = first.expect("a 2σ drop is declared");
        assert!((400..415).contains(&at), "declared at {at}");
        let s = d.last_shift().unwrap();
        assert!((s.start / 60_000 - 400).abs() <= 3, "{s:?}");
        assert!((s.size + 2.0).abs() < 1.0, "{s:?}");
    }
}
