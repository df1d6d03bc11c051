//! Statistical point detectors: z-scores over an EWMA or a sliding window, the robust
//! median/MAD z-score, Tukey (IQR) fences, and rate of change.
//!
//! Every detector here is streaming (`update`, `score`, `observe` from
//! [`oddsight_core::Detector`]), snapshots through [`oddsight_core::Stateful`], and reports
//! scores on the common z-equivalent scale of [`oddsight_core::scale`] (built with
//! [`verdict_from_z`]), so their verdicts are comparable with each other and with every other
//! oddsight detector.
//!
//! | detector | normal is | z-equivalent | state per series |
//! |---|---|---|---|
//! | [`EwmaZScore`] | exponentially weighted mean and spread | `(x − mean) / sd` | 104 bytes |
//! | [`WindowZScore`] | exact mean and spread of the last `w` points | `(x − mean) / sd` | 136 + 8·w bytes |
//! | [`MadZScore`] | median and MAD of the last `w` points | `(x − median) / (1.4826·MAD)` | 136 + 16·w bytes |
//! | [`IqrDetector`] | quartiles of the last `w` points | `3 × distance beyond the quartile / (k·IQR)` | 176 + 16·w bytes |
//! | [`RateOfChangeDetector`] | median and MAD of the last `w` changes | `(Δx − median Δ) / (1.4826·MAD Δ)` | 264 + 16·(w + lookback) bytes |
//!
//! (Sizes are `size_of` plus the heap each series holds, pinned by a test.)
//!
//! The three z-score detectors are [`BaselineDetector`]s (a core baseline plus the core
//! [`ZScore`] scorer) with a flat `…Params` struct whose `build()` validates everything once;
//! their snapshot kinds are the core ones (`BaselineDetector<EwmaBaseline,ZScore>`, …).

use oddsight_core::detector::verdict_from_z;
use oddsight_core::{
    Baseline, BaselineDetector, Detector, DetectorParams, Error, EwmaBaseline, EwmaParams, LevelShift, Notes, Point,
    QuantileWindow, QuantileWindowParams, Result, ScaleFloor, Stateful, Verdict, WindowBaseline, WindowParams, ZScore,
};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::fmt::Display;

/// Consistency constant that makes a MAD a Gaussian standard deviation.
pub(crate) const MAD_TO_SIGMA: f64 = 1.482_602_218_505_602;

/// Consuming setters for a params struct: `name: Type;` per field, each with its doc comment.
macro_rules! setters {
    ($($(#[$m:meta])* $name:ident: $t:ty;)*) => {$(
        $(#[$m])*
        #[must_use]
        pub fn $name(mut self, $name: $t) -> Self {
            self.$name = $name;
            self
        }
    )*};
}
pub(crate) use setters;

/// The setters every detector params struct shares (`threshold`, `band_z`, `max_gap_ms`).
macro_rules! verdict_setters {
    () => {
        $crate::stat::setters! {
            /// Sets `threshold`: the anomaly score at or above which a verdict is anomalous.
            threshold: f64;
            /// Sets `band_z`: half-width of the reported normal band, in z-equivalents.
            band_z: f64;
            /// Sets `max_gap_ms`: a point more than this long after the previous one is flagged
            /// `gap`.
            max_gap_ms: Option<i64>;
        }
    };
}
pub(crate) use verdict_setters;

/// An [`Error::InvalidParameter`] naming the offending value.
pub(crate) fn invalid(name: &'static str, reason: &'static str, value: impl Display) -> Error {
    Error::InvalidParameter { name, reason, value: value.to_string() }
}

/// An [`Error::Snapshot`] without an underlying parse error.
pub(crate) fn bad_snapshot(reason: impl Into<String>) -> Error {
    Error::Snapshot { reason: reason.into(), source: None }
}

/// The finite-value and timestamp-order checks every streaming verb starts with.
#[inline]
pub(crate) fn check_point(last: Option<i64>, point: Point) -> Result<()> {
    if !point.value.is_finite() {
        return Err(Error::NonFinite { what: "value", value: point.value });
    }
    match last {
        Some(last) if point.timestamp < last => Err(Error::OutOfOrder { timestamp: point.timestamp, last }),
        _ => Ok(()),
    }
}

/// Validated core [`DetectorParams`] from the three shared fields.
pub(crate) fn detector_params(threshold: f64, band_z: f64, max_gap_ms: Option<i64>) -> Result<DetectorParams> {
    let p = DetectorParams::default().threshold(threshold).band_z(band_z).max_gap_ms(max_gap_ms);
    p.validate()?;
    Ok(p)
}

/// Whether `timestamp` comes more than `max_gap_ms` after `last`.
#[inline]
pub(crate) fn is_gap(max_gap_ms: Option<i64>, last: Option<i64>, timestamp: i64) -> bool {
    matches!((max_gap_ms, last), (Some(g), Some(l)) if timestamp.saturating_sub(l) > g)
}

/// Median of a slice (reordered in place), `None` when empty.
pub(crate) fn median_of(values: &mut [f64]) -> Option<f64> {
    values.sort_by(f64::total_cmp);
    type7(values, 0.5)
}

/// Type-7 quantile (numpy's default) of an ascending slice, `None` when empty.
#[inline]
pub(crate) fn type7(sorted: &[f64], q: f64) -> Option<f64> {
    let n = sorted.len();
    if n == 0 {
        return None;
    }
    let h = (n - 1) as f64 * q;
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(n - 1);
    Some(sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo]))
}

/// How a confirmed shift moves a baseline, as the core [`BaselineDetector`] decides it: by the
/// median ratio to what was expected when every value and expectation is positive (latency and
/// counts, where a regression multiplies), by the median residual otherwise. A median, because
/// the first, most extreme points of a shift would dominate a mean. `None` when `recent` is
/// empty or the move is not finite.
pub(crate) fn level_shift(recent: &[Point], expected: impl Fn(i64) -> f64) -> Option<LevelShift> {
    let expected: Vec<f64> = recent.iter().map(|p| expected(p.timestamp)).collect();
    let positive = recent.iter().zip(&expected).all(|(p, &e)| p.value > 0.0 && e > 0.0);
    let mut moves: Vec<f64> =
        recent.iter().zip(&expected).map(|(p, &e)| if positive { p.value / e } else { p.value - e }).collect();
    let m = median_of(&mut moves)?;
    let shift = if positive { LevelShift::Scale(m) } else { LevelShift::Add(m) };
    shift.apply(1.0).is_finite().then_some(shift)
}

/// Checks that every value is finite, before anything is applied (all-or-nothing rebaselines).
pub(crate) fn all_finite(points: &[Point]) -> Result<()> {
    points.iter().try_for_each(|p| check_point(None, *p))
}

// ---------------------------------------------------------------------------------------------
// z-score over an EWMA
// ---------------------------------------------------------------------------------------------

/// z-score against an exponentially weighted mean and standard deviation: the classic
/// "3σ from the moving average" rule, O(1) per point.
///
/// A [`BaselineDetector`] of an [`EwmaBaseline`] and the plain [`ZScore`]; build it with
/// [`EwmaZScoreParams::build`]. State: 104 bytes, no heap. Snapshot kind
/// `BaselineDetector<EwmaBaseline,ZScore>`.
///
/// ```
/// use oddsight_core::{Detector, Point};
/// use oddsight_detectors::stat::EwmaZScoreParams;
/// let mut d = EwmaZScoreParams::default().alpha(0.1).warmup(20).build()?;
/// for i in 0..100 {
///     d.observe(Point::new(i * 60_000, 10.0 + (i % 3) as f64))?;
/// }
/// let v = d.observe(Point::new(100 * 60_000, 30.0))?;
/// assert!(v.is_anomaly && v.z > 3.0);
/// # Ok::<(), oddsight_core::Error>(())
/// ```
pub type EwmaZScore = BaselineDetector<EwmaBaseline, ZScore>;

/// Parameters of an [`EwmaZScore`].
///
/// ```
/// use oddsight_detectors::stat::EwmaZScoreParams;
/// let p = EwmaZScoreParams::default().alpha(0.02).threshold(0.6);
/// assert!(p.clone().build().is_ok());
/// assert!(p.alpha(0.0).build().is_err()); // alpha must be in (0, 1]
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct EwmaZScoreParams {
    /// Weight of the newest point, in (0, 1]. Default 0.05 (about the last 40 points).
    pub alpha: f64,
    /// Points needed before judging. Default 30.
    pub warmup: u64,
    /// Smallest spread used, so a constant series never divides by zero.
    pub floor: ScaleFloor,
    /// Anomaly-score threshold for `is_anomaly`, in (0, 1). Default 0.5 (|z| = 3).
    pub threshold: f64,
    /// Half-width of the reported band in z-equivalents. Default 3.
    pub band_z: f64,
    /// Points more than this long after the previous one are flagged `gap`. Default none.
    pub max_gap_ms: Option<i64>,
}

impl Default for EwmaZScoreParams {
    fn default() -> Self {
        let b = EwmaParams::default();
        let d = DetectorParams::default();
        EwmaZScoreParams {
            alpha: b.alpha,
            warmup: b.warmup,
            floor: b.floor,
            threshold: d.threshold,
            band_z: d.band_z,
            max_gap_ms: d.max_gap_ms,
        }
    }
}

impl EwmaZScoreParams {
    setters! {
        /// Sets `alpha`.
        alpha: f64;
        /// Sets `warmup`.
        warmup: u64;
        /// Sets the spread floor.
        floor: ScaleFloor;
    }
    verdict_setters!();

    /// Builds the detector.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] naming the first parameter out of range.
    pub fn build(self) -> Result<EwmaZScore> {
        let baseline = EwmaParams::default().alpha(self.alpha).warmup(self.warmup).floor(self.floor).build()?;
        BaselineDetector::new(baseline, ZScore, detector_params(self.threshold, self.band_z, self.max_gap_ms)?)
    }
}

// ---------------------------------------------------------------------------------------------
// z-score over a sliding window
// ---------------------------------------------------------------------------------------------

/// z-score against the exact mean and standard deviation of the last `window` points (O(1)
/// amortised per point).
///
/// A [`BaselineDetector`] of a [`WindowBaseline`] and [`ZScore`]; build it with
/// [`WindowZScoreParams::build`]. State: 136 bytes + 8 per point of window. Snapshot kind
/// `BaselineDetector<WindowBaseline,ZScore>`.
///
/// ```
/// use oddsight_core::{Detector, Point};
/// use oddsight_detectors::stat::WindowZScoreParams;
/// let mut d = WindowZScoreParams::default().window(30).warmup(10).build()?;
/// for i in 0..60 {
///     d.observe(Point::new(i, if i % 2 == 0 { 9.0 } else { 11.0 }))?;
/// }
/// let v = d.score(Point::new(60, 4.0))?;
/// assert!(v.is_anomaly && v.z < -3.0);
/// # Ok::<(), oddsight_core::Error>(())
/// ```
pub type WindowZScore = BaselineDetector<WindowBaseline, ZScore>;

/// Parameters of a [`WindowZScore`].
///
/// ```
/// use oddsight_detectors::stat::WindowZScoreParams;
/// assert!(WindowZScoreParams::default().window(120).build().is_ok());
/// assert!(WindowZScoreParams::default().window(1).build().is_err()); // at least 2
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct WindowZScoreParams {
    /// Window length in points, 2..=10,000,000. Default 60.
    pub window: usize,
    /// Points needed before judging (capped at `window`). Default 30.
    pub warmup: usize,
    /// Smallest spread used.
    pub floor: ScaleFloor,
    /// Anomaly-score threshold for `is_anomaly`, in (0, 1). Default 0.5 (|z| = 3).
    pub threshold: f64,
    /// Half-width of the reported band in z-equivalents. Default 3.
    pub band_z: f64,
    /// Points more than this long after the previous one are flagged `gap`. Default none.
    pub max_gap_ms: Option<i64>,
}

impl Default for WindowZScoreParams {
    fn default() -> Self {
        let b = WindowParams::default();
        let d = DetectorParams::default();
        WindowZScoreParams {
            window: b.window,
            warmup: b.warmup,
            floor: b.floor,
            threshold: d.threshold,
            band_z: d.band_z,
            max_gap_ms: d.max_gap_ms,
        }
    }
}

impl WindowZScoreParams {
    setters! {
        /// Sets `window`.
        window: usize;
        /// Sets `warmup`.
        warmup: usize;
        /// Sets the spread floor.
        floor: ScaleFloor;
    }
    verdict_setters!();

    /// Builds the detector.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] naming the first parameter out of range.
    pub fn build(self) -> Result<WindowZScore> {
        let baseline = WindowParams::default().window(self.window).warmup(self.warmup).floor(self.floor).build()?;
        BaselineDetector::new(baseline, ZScore, detector_params(self.threshold, self.band_z, self.max_gap_ms)?)
    }
}

// ---------------------------------------------------------------------------------------------
// Robust z-score: median and MAD
// ---------------------------------------------------------------------------------------------

/// Robust z-score: `(x − median) / (1.4826 × MAD)` over the last `window` points, so the
/// outliers it is looking for cannot inflate the spread they are judged against (a mean and
/// standard deviation break down with a single wild value; the median and MAD need half the
/// window to be wild).
///
/// A [`BaselineDetector`] of a [`QuantileWindow`] and [`ZScore`]; build it with
/// [`MadZScoreParams::build`]. State: 136 bytes + 16 per point of window (23 KiB at the
/// default 1440). Snapshot kind `BaselineDetector<QuantileWindow,ZScore>`.
///
/// ```
/// use oddsight_core::{Detector, Point};
/// use oddsight_detectors::stat::MadZScoreParams;
/// let mut d = MadZScoreParams::default().window(100).warmup(20).build()?;
/// for i in 0..100 {
///     // Noise of ±2 around 50 with a few wild values mixed in.
///     let v = if i % 25 == 0 { 500.0 } else { 50.0 + (i % 5) as f64 - 2.0 };
///     d.observe(Point::new(i, v))?;
/// }
/// let v = d.score(Point::new(100, 58.0))?;
/// assert!(v.is_anomaly, "the wild values did not widen the band: {}", v.explain());
/// assert_eq!(v.expected, 50.0);
/// # Ok::<(), oddsight_core::Error>(())
/// ```
pub type MadZScore = BaselineDetector<QuantileWindow, ZScore>;

/// Parameters of a [`MadZScore`].
///
/// ```
/// use oddsight_detectors::stat::MadZScoreParams;
/// assert!(MadZScoreParams::default().window(720).build().is_ok());
/// assert!(MadZScoreParams::default().window(0).build().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct MadZScoreParams {
    /// Window length in points, 1..=1,000,000. Default 1440 (a day of minutes).
    pub window: usize,
    /// Points needed before judging (capped at `window`). Default 30.
    pub warmup: usize,
    /// Smallest spread used when the MAD is zero (a mostly constant series).
    pub floor: ScaleFloor,
    /// Anomaly-score threshold for `is_anomaly`, in (0, 1). Default 0.5 (|z| = 3).
    pub threshold: f64,
    /// Half-width of the reported band in z-equivalents. Default 3.
    pub band_z: f64,
    /// Points more than this long after the previous one are flagged `gap`. Default none.
    pub max_gap_ms: Option<i64>,
}

impl Default for MadZScoreParams {
    fn default() -> Self {
        let b = QuantileWindowParams::default();
        let d = DetectorParams::default();
        MadZScoreParams {
            window: b.window,
            warmup: b.warmup,
            floor: b.floor,
            threshold: d.threshold,
            band_z: d.band_z,
            max_gap_ms: d.max_gap_ms,
        }
    }
}

impl MadZScoreParams {
    setters! {
        /// Sets `window`.
        window: usize;
        /// Sets `warmup`.
        warmup: usize;
        /// Sets the spread floor.
        floor: ScaleFloor;
    }
    verdict_setters!();

    /// Builds the detector.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] naming the first parameter out of range.
    pub fn build(self) -> Result<MadZScore> {
        let baseline =
            QuantileWindowParams::default().window(self.window).warmup(self.warmup).floor(self.floor).build()?;
        BaselineDetector::new(baseline, ZScore, detector_params(self.threshold, self.band_z, self.max_gap_ms)?)
    }
}

// ---------------------------------------------------------------------------------------------
// IQR (Tukey fences)
// ---------------------------------------------------------------------------------------------

/// Parameters of an [`IqrDetector`].
///
/// ```
/// use oddsight_detectors::stat::IqrParams;
/// let d = IqrParams::default().k(3.0).window(500).build()?; // "far out" fences
/// assert_eq!(d.params().k, 3.0);
/// assert!(IqrParams::default().k(-1.0).build().is_err());
/// # Ok::<(), oddsight_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct IqrParams {
    /// Window length in points, 2..=1,000,000. Default 1440.
    pub window: usize,
    /// Points needed before judging (capped at `window`). Default 30.
    pub warmup: usize,
    /// Fence multiplier: the fences sit `k × IQR` beyond the quartiles, and a value on a fence
    /// scores z = 3 (anomaly score 0.5, the default alert level). In (0, 100]. Default 1.5
    /// (Tukey's "outlier"; 3.0 is his "far out").
    pub k: f64,
    /// Smallest IQR used, when most of the window is one value.
    pub floor: ScaleFloor,
    /// Anomaly-score threshold for `is_anomaly`, in (0, 1). Default 0.5 (on the fence).
    pub threshold: f64,
    /// Half-width of the reported band in z-equivalents; the default 3 reports the fences.
    pub band_z: f64,
    /// Points more than this long after the previous one are flagged `gap`. Default none.
    pub max_gap_ms: Option<i64>,
}

impl Default for IqrParams {
    fn default() -> Self {
        let d = DetectorParams::default();
        IqrParams {
            window: 1440,
            warmup: 30,
            k: 1.5,
            floor: ScaleFloor::default(),
            threshold: d.threshold,
            band_z: d.band_z,
            max_gap_ms: d.max_gap_ms,
        }
    }
}

impl IqrParams {
    setters! {
        /// Sets `window`.
        window: usize;
        /// Sets `warmup`.
        warmup: usize;
        /// Sets `k`.
        k: f64;
        /// Sets the IQR floor.
        floor: ScaleFloor;
    }
    verdict_setters!();

    /// Checks every parameter.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] naming the first bad one.
    pub fn validate(&self) -> Result<()> {
        if !(2..=1_000_000).contains(&self.window) {
            return Err(invalid("window", "must be in 2..=1000000", self.window));
        }
        if !(self.k > 0.0 && self.k <= 100.0) {
            return Err(invalid("k", "must be in (0, 100]", self.k));
        }
        self.floor.validate()?;
        detector_params(self.threshold, self.band_z, self.max_gap_ms).map(|_| ())
    }

    /// Builds the detector.
    ///
    /// # Errors
    /// As [`IqrParams::validate`].
    pub fn build(self) -> Result<IqrDetector> {
        self.validate()?;
        let window = QuantileWindowParams::default().window(self.window).warmup(self.warmup).build()?;
        Ok(IqrDetector { params: self, window, last: None })
    }
}

/// Tukey's fences over a sliding window: a value is anomalous when it lies more than
/// `k × IQR` below the first quartile or above the third.
///
/// **Mapping to the common scale.** Inside the box (between the quartiles) z = 0. Beyond a
/// quartile, z grows linearly with the distance measured in fence widths:
///
/// ```text
/// z = +3 · (x − Q3) / (k · IQR)   above Q3        z = −3 · (Q1 − x) / (k · IQR)   below Q1
/// ```
///
/// so a value on a fence scores exactly z = 3 (anomaly score 0.5, the default alert level),
/// twice as far out z = 6, and so on; the verdict's band (at the default `band_z` 3) is the pair
/// of fences. For Gaussian data the k = 1.5 fences sit at ±2.70σ, so this z slightly overstates
/// a Gaussian z near the fence (2.70σ reads 3) and grows ~1.5× as fast beyond it: a fence-based
/// detector is meant to be decisive about what lies outside the fences. Quartiles use type-7
/// interpolation (numpy's default). When the IQR is zero (more than half the window is one
/// value) the floor is used and the verdict notes `scale_floored`.
///
/// State: 176 bytes + 16 per point of window (23 KiB at the default 1440). Snapshot kind
/// `IqrDetector`.
///
/// ```
/// use oddsight_core::{Detector, Point};
/// use oddsight_detectors::stat::IqrParams;
/// let mut d = IqrParams::default().window(101).warmup(20).build()?;
/// for i in 0..=100 {
///     d.observe(Point::new(i, i as f64))?; // quartiles 25 and 75, IQR 50
/// }
/// let upper_fence = 75.0 + 1.5 * 50.0;
/// let on_fence = d.score(Point::new(101, upper_fence))?;
/// assert!((on_fence.z - 3.0).abs() < 1e-9 && on_fence.is_anomaly);
/// assert!((on_fence.upper - upper_fence).abs() < 1e-9);
/// assert_eq!(d.score(Point::new(101, 60.0))?.z, 0.0); // inside the box
/// # Ok::<(), oddsight_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IqrDetector {
    params: IqrParams,
    window: QuantileWindow,
    last: Option<i64>,
}

impl IqrDetector {
    /// The parameters it was built with.
    pub fn params(&self) -> &IqrParams {
        &self.params
    }

    /// Current quartiles `(Q1, median, Q3)`, `None` before the first point.
    pub fn quartiles(&self) -> Option<(f64, f64, f64)> {
        let s = self.window.sorted();
        Some((type7(s, 0.25)?, type7(s, 0.5)?, type7(s, 0.75)?))
    }

    fn warmup(&self) -> usize {
        self.params.warmup.clamp(1, self.params.window)
    }
}

// The provided batch methods are all-or-nothing here: everything these detectors reject
// (non-finite values, timestamps going backwards) is caught by `check_batch` up front.
impl Detector for IqrDetector {
    fn score(&self, point: Point) -> Result<Verdict> {
        check_point(self.last, point)?;
        let gap = is_gap(self.params.max_gap_ms, self.last, point.timestamp);
        let n = self.window.len();
        let Some((q1, med, q3)) = self.quartiles().filter(|_| n >= self.warmup()) else {
            let expected = self.quartiles().map_or(point.value, |q| q.1);
            let mut v = Verdict::neutral(point, expected, Cow::Borrowed("iqr"), false);
            v.notes.gap = gap;
            return Ok(v);
        };
        let (iqr, floored) = self.params.floor.apply(q3 - q1, med);
        let fence = self.params.k * iqr;
        let x = point.value;
        let z = if x > q3 {
            3.0 * (x - q3) / fence
        } else if x < q1 {
            -3.0 * (q1 - x) / fence
        } else {
            0.0
        };
        let reach = self.params.band_z / 3.0 * fence;
        let notes = Notes { scale_floored: floored, gap, ..Notes::default() };
        Ok(verdict_from_z(
            point,
            z,
            med,
            (q1 - reach, q3 + reach),
            self.params.threshold,
            n as u64,
            self.warmup() as u64,
            Cow::Borrowed("iqr"),
            notes,
        ))
    }

    fn update(&mut self, point: Point) -> Result<()> {
        check_point(self.last, point)?;
        self.window.learn(point.value);
        self.last = Some(point.timestamp);
        Ok(())
    }

    fn last_timestamp(&self) -> Option<i64> {
        self.last
    }

    fn rebaseline(&mut self, recent: &[Point]) -> Result<()> {
        all_finite(recent)?;
        let (Some(newest), Some(med)) = (recent.last(), self.window.median()) else {
            return Ok(());
        };
        if let Some(shift) = level_shift(recent, |_| med) {
            self.window.shift(shift);
        }
        self.last = Some(self.last.map_or(newest.timestamp, |l| l.max(newest.timestamp)));
        Ok(())
    }

    fn reset(&mut self) {
        self.window.reset();
        self.last = None;
    }

    fn snapshot(&self) -> Result<String> {
        self.to_snapshot()
    }

    fn name(&self) -> Cow<'static, str> {
        Cow::Borrowed("iqr")
    }
}

impl Stateful for IqrDetector {
    fn kind() -> String {
        "IqrDetector".into()
    }
    fn validate(&self) -> Result<()> {
        self.params.validate()?;
        Stateful::validate(&self.window)?;
        if self.window.len() > self.params.window {
            return Err(bad_snapshot(format!(
                "iqr window holds {} points, more than its length {}",
                self.window.len(),
                self.params.window
            )));
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Rate of change
// ---------------------------------------------------------------------------------------------

/// Parameters of a [`RateOfChangeDetector`].
///
/// ```
/// use oddsight_detectors::stat::RateOfChangeParams;
/// // Compare each value with the median of the previous five, judged against the last
/// // 500 such changes.
/// let d = RateOfChangeParams::default().lookback(5).window(500).build()?;
/// assert_eq!(d.params().lookback, 5);
/// assert!(RateOfChangeParams::default().lookback(0).build().is_err());
/// # Ok::<(), oddsight_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct RateOfChangeParams {
    /// The reference a value is compared with: the median of the previous `lookback` values,
    /// 1..=10,000. Default 1 (the previous value). A longer lookback makes the reference robust
    /// to a lone spike, so the return from a spike is not flagged as a second, opposite jump.
    pub lookback: usize,
    /// Changes remembered to judge a new change against (their median and MAD),
    /// 2..=1,000,000. Default 240.
    pub window: usize,
    /// Changes needed before judging (capped at `window`). Default 30.
    pub warmup: usize,
    /// Smallest spread of changes used, relative to the series' level (so a series that never
    /// moved is not divided by zero).
    pub floor: ScaleFloor,
    /// Anomaly-score threshold for `is_anomaly`, in (0, 1). Default 0.5 (|z| = 3).
    pub threshold: f64,
    /// Half-width of the reported band in z-equivalents. Default 3.
    pub band_z: f64,
    /// Points more than this long after the previous one are flagged `gap`. Default none.
    pub max_gap_ms: Option<i64>,
}

impl Default for RateOfChangeParams {
    fn default() -> Self {
        let d = DetectorParams::default();
        RateOfChangeParams {
            lookback: 1,
            window: 240,
            warmup: 30,
            floor: ScaleFloor::default(),
            threshold: d.threshold,
            band_z: d.band_z,
            max_gap_ms: d.max_gap_ms,
        }
    }
}

impl RateOfChangeParams {
    setters! {
        /// Sets `lookback`.
        lookback: usize;
        /// Sets `window`.
        window: usize;
        /// Sets `warmup`.
        warmup: usize;
        /// Sets the spread floor.
        floor: ScaleFloor;
    }
    verdict_setters!();

    /// Checks every parameter.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] naming the first bad one.
    pub fn validate(&self) -> Result<()> {
        if !(1..=10_000).contains(&self.lookback) {
            return Err(invalid("lookback", "must be in 1..=10000", self.lookback));
        }
        if !(2..=1_000_000).contains(&self.window) {
            return Err(invalid("window", "must be in 2..=1000000", self.window));
        }
        self.floor.validate()?;
        detector_params(self.threshold, self.band_z, self.max_gap_ms).map(|_| ())
    }

    /// Builds the detector.
    ///
    /// # Errors
    /// As [`RateOfChangeParams::validate`].
    pub fn build(self) -> Result<RateOfChangeDetector> {
        self.validate()?;
        let reference = QuantileWindowParams::default().window(self.lookback).warmup(1).build()?;
        let changes = QuantileWindowParams::default().window(self.window).warmup(self.warmup).build()?;
        Ok(RateOfChangeDetector { params: self, reference, changes, last: None })
    }
}

/// Sudden spikes and drops: the change from a reference (the previous value, or the median of
/// the previous `lookback` values) judged robustly against the recent changes,
///
/// ```text
/// z = (Δ − median of recent Δ) / (1.4826 × MAD of recent Δ),   Δ = x − reference
/// ```
///
/// A steady trend has a steady Δ and is not flagged; a jump is, whatever the level. The
/// verdict's expected value is `reference + median Δ`, in the series' own units. Each point is
/// one step (changes are per point, not per second: resample irregular series first). When
/// the MAD of changes is zero the floor (relative to the series' level) is used and the verdict
/// notes `scale_floored`.
///
/// State: 264 bytes + 16 per remembered change and per lookback value (about 4 KiB with the
/// defaults). Snapshot kind `RateOfChangeDetector`.
///
/// ```
/// use oddsight_core::{Detector, Point};
/// use oddsight_detectors::stat::RateOfChangeParams;
/// let mut d = RateOfChangeParams::default().build()?;
/// for i in 0..200 {
///     // A steady climb with a little wobble: never flagged.
///     let v = d.observe(Point::new(i * 1000, 2.0 * i as f64 + (0.7 * i as f64).sin()))?;
///     assert!(!v.is_anomaly);
/// }
/// let jump = d.observe(Point::new(200_000, 480.0))?; // expected about 400
/// assert!(jump.is_anomaly && jump.z > 3.0);
/// # Ok::<(), oddsight_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RateOfChangeDetector {
    params: RateOfChangeParams,
    reference: QuantileWindow,
    changes: QuantileWindow,
    last: Option<i64>,
}

impl RateOfChangeDetector {
    /// The parameters it was built with.
    pub fn params(&self) -> &RateOfChangeParams {
        &self.params
    }

    /// The current reference value (median of the last `lookback` values), `None` before the
    /// first point.
    pub fn reference(&self) -> Option<f64> {
        self.reference.median()
    }

    fn warmup(&self) -> usize {
        self.params.warmup.clamp(1, self.params.window)
    }
}

impl Detector for RateOfChangeDetector {
    fn score(&self, point: Point) -> Result<Verdict> {
        check_point(self.last, point)?;
        let gap = is_gap(self.params.max_gap_ms, self.last, point.timestamp);
        let reference = self.reference.median();
        let n = self.changes.len();
        let (Some(r), Some(m), Some(mad)) = (reference, self.changes.median(), self.changes.mad()) else {
            let mut v =
                Verdict::neutral(point, reference.unwrap_or(point.value), Cow::Borrowed("rate-of-change"), false);
            v.notes.gap = gap;
            return Ok(v);
        };
        let expected = r + m;
        if n < self.warmup() {
            let mut v = Verdict::neutral(point, expected, Cow::Borrowed("rate-of-change"), false);
            v.notes.gap = gap;
            return Ok(v);
        }
        let (scale, floored) = self.params.floor.apply(MAD_TO_SIGMA * mad, r);
        let z = (point.value - expected) / scale;
        let half = self.params.band_z * scale;
        let notes = Notes { scale_floored: floored, gap, ..Notes::default() };
        Ok(verdict_from_z(
            point,
            z,
            expected,
            (expected - half, expected + half),
            self.params.threshold,
            n as u64,
            self.warmup() as u64,
            Cow::Borrowed("rate-of-change"),
            notes,
        ))
    }

    fn update(&mut self, point: Point) -> Result<()> {
        check_point(self.last, point)?;
        if let Some(r) = self.reference.median() {
            self.changes.learn(point.value - r);
        }
        self.reference.learn(point.value);
        self.last = Some(point.timestamp);
        Ok(())
    }

    fn last_timestamp(&self) -> Option<i64> {
        self.last
    }

    fn rebaseline(&mut self, recent: &[Point]) -> Result<()> {
        all_finite(recent)?;
        let Some(newest) = recent.last() else { return Ok(()) };
        // The new level becomes the reference; the remembered changes (the series' step-to-step
        // noise) stay as they were, so the step itself is not learned as a normal change.
        for p in recent {
            self.reference.learn(p.value);
        }
        self.last = Some(self.last.map_or(newest.timestamp, |l| l.max(newest.timestamp)));
        Ok(())
    }

    fn reset(&mut self) {
        self.reference.reset();
        self.changes.reset();
        self.last = None;
    }

    fn snapshot(&self) -> Result<String> {
        self.to_snapshot()
    }

    fn name(&self) -> Cow<'static, str> {
        Cow::Borrowed("rate-of-change")
    }
}

impl Stateful for RateOfChangeDetector {
    fn kind() -> String {
        "RateOfChangeDetector".into()
    }
    fn validate(&self) -> Result<()> {
        self.params.validate()?;
        Stateful::validate(&self.reference)?;
        Stateful::validate(&self.changes)?;
        if self.reference.len() > self.params.lookback || self.changes.len() > self.params.window {
            return Err(bad_snapshot("rate-of-change windows hold more points than their lengths"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn noisy(i: i64) -> f64 {
        // Deterministic uniform noise in [-1, 1] (splitmix64 of the index).
        let mut x = (i as u64).wrapping_add(0x9E37_79B9_7F4A_7C15);
        x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        x ^= x >> 31;
        ((x >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
    }

    #[test]
    fn state_sizes() {
        // The module docs quote these; change both together.
        use std::mem::size_of;
        assert_eq!(size_of::<EwmaZScore>(), 104);
        assert_eq!(size_of::<WindowZScore>(), 136);
        assert_eq!(size_of::<MadZScore>(), 136);
        assert_eq!(size_of::<IqrDetector>(), 176);
        assert_eq!(size_of::<RateOfChangeDetector>(), 264);
    }

    #[test]
    fn params_defaults_match_core() {
        let e = EwmaZScoreParams::default();
        assert_eq!((e.alpha, e.warmup, e.threshold, e.band_z), (0.05, 30, 0.5, 3.0));
        let w = WindowZScoreParams::default();
        assert_eq!((w.window, w.warmup), (60, 30));
        assert_eq!(MadZScoreParams::default().window, 1440);
    }

    #[test]
    fn params_reject_absurd_values() {
        assert!(EwmaZScoreParams::default().alpha(f64::NAN).build().is_err());
        assert!(EwmaZScoreParams::default().threshold(1.0).build().is_err());
        assert!(EwmaZScoreParams::default().band_z(0.0).build().is_err());
        assert!(WindowZScoreParams::default().max_gap_ms(Some(0)).build().is_err());
        assert!(MadZScoreParams::default().floor(ScaleFloor::new(0.0, 0.0)).build().is_err());
        assert!(IqrParams::default().window(1).build().is_err());
        assert!(IqrParams::default().k(f64::INFINITY).build().is_err());
        assert!(IqrParams::default().k(f64::NAN).build().is_err());
        assert!(RateOfChangeParams::default().window(1).build().is_err());
        assert!(RateOfChangeParams::default().lookback(10_001).build().is_err());
        let e = IqrParams::default().k(0.0).build().unwrap_err();
        assert_eq!(e.to_string(), "invalid parameter k: must be in (0, 100], got 0");
    }

    #[test]
    fn params_serde_is_partial_and_strict() {
        let p: IqrParams = serde_json::from_str(r#"{"k": 3.0}"#).unwrap();
        assert_eq!(p, IqrParams::default().k(3.0));
        assert!(serde_json::from_str::<IqrParams>(r#"{"kk": 3.0}"#).is_err());
        let p: EwmaZScoreParams = serde_json::from_str("{}").unwrap();
        assert_eq!(p, EwmaZScoreParams::default());
    }

    #[test]
    fn ewma_and_window_flag_a_spike() {
        let mut e = EwmaZScoreParams::default().build().unwrap();
        let mut w = WindowZScoreParams::default().build().unwrap();
        for i in 0..300 {
            let p = Point::new(i, 100.0 + noisy(i));
            assert!(!e.observe(p).unwrap().is_anomaly);
            assert!(!w.observe(p).unwrap().is_anomaly);
        }
        let spike = Point::new(300, 110.0);
        assert!(e.score(spike).unwrap().is_anomaly);
        assert!(w.score(spike).unwrap().is_anomaly);
        assert_eq!(e.name(), "EwmaBaseline/z");
    }

    #[test]
    fn iqr_maps_fences_to_z3_and_is_linear_beyond() {
        let mut d = IqrParams::default().window(101).warmup(10).build().unwrap();
        for i in 0..=100 {
            d.update(Point::new(i, i as f64)).unwrap(); // Q1 25, median 50, Q3 75, IQR 50
        }
        assert_eq!(d.quartiles(), Some((25.0, 50.0, 75.0)));
        let at = |x: f64| d.score(Point::new(200, x)).unwrap();
        assert_eq!(at(150.0).z, 3.0); // 75 + 1.5 × 50
        assert_eq!(at(225.0).z, 6.0);
        assert_eq!(at(-50.0).z, -3.0);
        assert_eq!(at(50.0).z, 0.0);
        assert_eq!(at(100.0).z, 1.0);
        let v = at(150.0);
        assert!(v.is_anomaly && v.expected == 50.0 && v.lower == -50.0 && v.upper == 150.0);
    }

    #[test]
    fn iqr_constant_series_uses_the_floor() {
        let mut d = IqrParams::default().warmup(5).build().unwrap();
        for i in 0..20 {
            d.update(Point::new(i, 7.0)).unwrap();
        }
        let same = d.score(Point::new(20, 7.0)).unwrap();
        assert_eq!(same.z, 0.0);
        let off = d.score(Point::new(20, 8.0)).unwrap();
        assert!(off.is_anomaly && off.notes.scale_floored && off.z.is_finite());
    }

    #[test]
    fn iqr_cold_and_rebaseline() {
        let mut d = IqrParams::default().window(50).warmup(10).build().unwrap();
        let v = d.observe(Point::new(0, 3.0)).unwrap();
        assert!(!v.warm && v.anomaly_score == 0.0);
        for i in 1..50 {
            d.update(Point::new(i, 10.0 + noisy(i))).unwrap();
        }
        let shifted: Vec<Point> = (50..60).map(|i| Point::new(i, 50.0 + noisy(i))).collect();
        assert!(d.score(shifted[0]).unwrap().is_anomaly);
        d.rebaseline(&shifted).unwrap();
        assert_eq!(d.last_timestamp(), Some(59));
        assert!(!d.score(Point::new(60, 50.0)).unwrap().is_anomaly);
        assert!(d.rebaseline(&[Point::new(61, f64::NAN)]).is_err());
        d.reset();
        assert_eq!(d.last_timestamp(), None);
        assert_eq!(d.quartiles(), None);
    }

    #[test]
    fn rate_of_change_flags_jumps_not_trends() {
        let mut d = RateOfChangeParams::default().build().unwrap();
        for i in 0..300 {
            let v = d.observe(Point::new(i, 5.0 * i as f64 + noisy(i))).unwrap();
            assert!(!v.is_anomaly, "{i}: {}", v.explain());
        }
        let drop = d.score(Point::new(300, 1400.0)).unwrap(); // expected ≈ 1500
        assert!(drop.is_anomaly && drop.z < -3.0);
        assert!((drop.expected - 1500.0).abs() < 2.0);
    }

    #[test]
    fn rate_of_change_lookback_suppresses_the_echo() {
        let run = |lookback| {
            let mut d = RateOfChangeParams::default().lookback(lookback).build().unwrap();
            let mut flagged = Vec::new();
            for i in 0..200 {
                let x = if i == 150 { 200.0 } else { 100.0 + noisy(i) };
                if d.observe(Point::new(i, x)).unwrap().is_anomaly {
                    flagged.push(i);
                }
            }
            flagged
        };
        assert_eq!(run(1), vec![150, 151]); // the spike, then the return from it
        assert_eq!(run(5), vec![150]);
    }

    #[test]
    fn rate_of_change_rebaseline_takes_the_new_level() {
        let mut d = RateOfChangeParams::default().lookback(3).build().unwrap();
        for i in 0..100 {
            d.update(Point::new(i, 10.0 + noisy(i))).unwrap();
        }
        let recent: Vec<Point> = (100..105).map(|i| Point::new(i, 40.0)).collect();
        d.rebaseline(&recent).unwrap();
        assert_eq!(d.reference(), Some(40.0));
        assert!(!d.score(Point::new(105, 40.5)).unwrap().is_anomaly);
    }

    #[test]
    fn snapshots_round_trip() {
        let mut d = RateOfChangeParams::default().lookback(2).build().unwrap();
        let mut q = IqrParams::default().build().unwrap();
        for i in 0..100 {
            d.update(Point::new(i, noisy(i) * 10.0)).unwrap();
            q.update(Point::new(i, noisy(i) * 10.0)).unwrap();
        }
        let d2 = RateOfChangeDetector::from_snapshot(&d.snapshot().unwrap()).unwrap();
        let q2 = IqrDetector::from_snapshot(&q.snapshot().unwrap()).unwrap();
        assert_eq!(d, d2);
        assert_eq!(q, q2);
        assert!(d.snapshot().unwrap().contains(r#""kind":"RateOfChangeDetector""#));
        // A snapshot whose parameters are out of range is refused.
        let bad = q.snapshot().unwrap().replace(r#""k":1.5"#, r#""k":-1.0"#);
        assert!(IqrDetector::from_snapshot(&bad).is_err());
    }
}
