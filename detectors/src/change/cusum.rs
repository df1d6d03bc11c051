//! Two-sided CUSUM on standardised residuals against a sliding median/MAD baseline.

use super::{
    ShiftReport, VALUE_LIMIT, anchored_z, band, band_z, check_order, check_value, param, plausible, positive,
    range_usize, snapshot_error,
};
use oddsight_core::detector::verdict_from_z;
use oddsight_core::{
    Baseline, Detector, Direction, LevelShift, Notes, Point, QuantileWindow, QuantileWindowParams, Result, ScaleFloor,
    Stateful, Verdict,
};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::collections::VecDeque;

/// A shift's size is the median deviation over at most this many of its latest points.
const SIZE_POINTS: usize = 32;

/// Parameters of a [`Cusum`] detector.
///
/// ```
/// use oddsight_detectors::change::CusumParams;
/// let cusum = CusumParams::default().drift(0.5).threshold(6.0).window(120).build()?;
/// assert!(CusumParams::default().threshold(-1.0).build().is_err());
/// # Ok::<(), oddsight_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CusumParams {
    /// Allowance `k`, in standard deviations: half the smallest shift worth detecting quickly.
    /// Residuals smaller than `k` pull the sums back toward zero. In `(0, clip)`. Default 0.5
    /// (tuned for shifts of about 1σ and more).
    pub drift: f64,
    /// Decision threshold `h`, in standard deviations: a sum at or above `h` confirms a shift.
    /// Finite and > 0. Default 8: measured on Gaussian noise (with the baseline estimated as it
    /// goes), about one false confirmation per 3,000 points, both sides together; a 2σ shift is
    /// confirmed in a median of 4–5 points, a 1σ shift in about 15.
    pub threshold: f64,
    /// Residuals are clipped to `±clip` standard deviations before they are summed, so a
    /// single spike can add at most `clip − drift` to a sum and cannot confirm a shift on its
    /// own while `clip − drift < threshold`. Must exceed `drift`. Default 5.
    pub clip: f64,
    /// Length of the sliding median/MAD baseline, in points, 8..=1,000,000. Default 240.
    pub window: usize,
    /// Points the baseline needs before the detector judges, 3..=`window`. Default 30.
    pub warmup: usize,
    /// Points after a confirmed shift during which its size keeps being re-estimated (the
    /// median deviation from the old level over the excursion and the points since) and the
    /// baseline moved with it, so that an estimate made from the few points that confirmed the
    /// shift does not leave an offset that a second, corrective alarm would have to remove.
    /// At the end the baseline is rebuilt from the points of the new level alone.
    /// 0..=`window`. Default 60.
    pub settle: usize,
    /// Half-width of the reported band, in baseline standard deviations, (0, 100]. Default 3.
    pub band_z: f64,
    /// Spread floor of the baseline.
    pub floor: ScaleFloor,
}

impl Default for CusumParams {
    fn default() -> Self {
        CusumParams {
            drift: 0.5,
            threshold: 8.0,
            clip: 5.0,
            window: 240,
            warmup: 30,
            settle: 60,
            band_z: 3.0,
            floor: ScaleFloor::default(),
        }
    }
}

impl CusumParams {
    /// Sets `drift` (`k`).
    pub fn drift(mut self, drift: f64) -> Self {
        self.drift = drift;
        self
    }
    /// Sets `threshold` (`h`).
    pub fn threshold(mut self, threshold: f64) -> Self {
        self.threshold = threshold;
        self
    }
    /// Sets `clip`.
    pub fn clip(mut self, clip: f64) -> Self {
        self.clip = clip;
        self
    }
    /// Sets `window`.
    pub fn window(mut self, window: usize) -> Self {
        self.window = window;
        self
    }
    /// Sets `warmup`.
    pub fn warmup(mut self, warmup: usize) -> Self {
        self.warmup = warmup;
        self
    }
    /// Sets `settle`.
    pub fn settle(mut self, points: usize) -> Self {
        self.settle = points;
        self
    }
    /// Sets `band_z`.
    pub fn band_z(mut self, band_z: f64) -> Self {
        self.band_z = band_z;
        self
    }
    /// Sets the baseline's spread floor.
    pub fn floor(mut self, floor: ScaleFloor) -> Self {
        self.floor = floor;
        self
    }

    /// Checks every parameter.
    ///
    /// # Errors
    /// [`oddsight_core::Error::InvalidParameter`] naming the first bad one.
    pub fn validate(&self) -> Result<()> {
        positive("clip", self.clip)?;
        if !(self.drift > 0.0 && self.drift < self.clip) {
            return Err(param("drift", "must be in (0, clip)", self.drift));
        }
        positive("threshold", self.threshold)?;
        range_usize("window", self.window, 8, 1_000_000)?;
        range_usize("warmup", self.warmup, 3, self.window)?;
        range_usize("settle", self.settle, 0, self.window)?;
        band_z(self.band_z)?;
        self.floor.validate()
    }

    /// Builds the detector.
    ///
    /// # Errors
    /// As [`CusumParams::validate`].
    pub fn build(self) -> Result<Cusum> {
        self.validate()?;
        let baseline =
            QuantileWindowParams::default().window(self.window).warmup(self.warmup).floor(self.floor).build()?;
        Ok(Cusum {
            params: self,
            baseline,
            up: Side::default(),
            down: Side::default(),
            recent: VecDeque::with_capacity(SIZE_POINTS),
            settling: None,
            last: None,
            last_shift: None,
            shifts: 0,
        })
    }
}

/// One side of the CUSUM: the sum and the excursion it belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
struct Side {
    /// The cumulative sum, ≥ 0.
    sum: f64,
    /// Timestamp at which the sum last left zero (meaningful while `points > 0`).
    start: i64,
    /// Points since the sum left zero.
    points: u64,
}

impl Side {
    /// The side after one standardised residual `r`, already signed for this side.
    #[inline]
    fn step(self, r: f64, drift: f64, timestamp: i64) -> Side {
        let sum = (self.sum + r - drift).max(0.0);
        if sum <= 0.0 {
            Side::default()
        } else if self.points == 0 {
            Side { sum, start: timestamp, points: 1 }
        } else {
            Side { sum, start: self.start, points: self.points + 1 }
        }
    }
}

/// The re-estimation that follows a confirmed shift.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Settling {
    /// Points left.
    remaining: usize,
    /// The baseline centre before the shift: deviations are measured from it.
    anchor: f64,
    /// The shift applied to the baseline so far.
    applied: f64,
    /// Deviations from `anchor` since the shift began (excursion, then settling points).
    deviations: Vec<f64>,
}

/// What one point does to the detector, computed without changing it.
#[derive(Debug, Clone, Copy)]
struct Advance {
    warm: bool,
    /// Raw deviation of the point from the baseline centre.
    deviation: f64,
    center: f64,
    scale: f64,
    floored: bool,
    up: Side,
    down: Side,
    /// The side that reached the threshold, if one did.
    fired: Option<Direction>,
}

/// Two-sided CUSUM level-shift detector on robust standardised residuals.
///
/// Each point is standardised against a sliding median and `1.4826 × MAD` of the last
/// `window` points, clipped to `±clip`, and fed to two cumulative sums,
/// `S⁺ = max(0, S⁺ + r − k)` and `S⁻ = max(0, S⁻ − r − k)`. When one reaches `h` the shift is
/// confirmed: a [`ShiftReport`] records where that sum last left zero (the start of the shift),
/// the confirming timestamp and the size (the median deviation over the excursion), the baseline
/// is moved by that size (so a deploy re-baselines rather than alarming forever), and both sums
/// restart at zero. For the next `settle` points the size is re-estimated from the growing
/// evidence, the baseline follows it and `last_shift().size` is refined with it; then the
/// baseline is rebuilt from the points of the new level.
///
/// **Scale.** `z = ±anchored(2k·(S − h) / ln 10)`: `2k·S` is the log-likelihood ratio of a
/// `2k`σ shift against none, so `S = h` is exactly |z| = 3 and each further unit of `S` adds
/// `2k / ln 10` decimal orders of surprise. The sign is the side with the larger sum;
/// `is_anomaly` is `S ≥ h`.
///
/// **State per series:** `16·window` bytes for the baseline, a 352-byte struct, 256 bytes of
/// recent deviations and, for `settle` points after a shift, up to `8·(32 + settle)` bytes:
/// 4.4 KiB at the defaults (5.1 KiB while settling). About 0.5 µs per point (the sliding
/// median dominates).
///
/// ```
/// use oddsight_core::{Detector, Direction, Point};
/// use oddsight_detectors::change::CusumParams;
/// let mut d = CusumParams::default().build()?;
/// let noise = |i: i64| ((i * 7919) % 13) as f64 / 13.0 - 0.5; // deterministic, sd ≈ 0.29
/// let mut first_alarm = None;
/// for i in 0..300 {
///     let level = if i >= 200 { 1.0 } else { 0.0 }; // a shift of about 3.5σ at t = 200 s
///     let v = d.observe(Point::new(i * 1000, level + noise(i)))?;
///     if v.is_anomaly && first_alarm.is_none() {
///         first_alarm = Some(i);
///         println!("{}", v.explain());
///     }
/// }
/// let shift = d.last_shift().expect("the shift is confirmed");
/// assert!(first_alarm.unwrap() < 210);
/// assert_eq!(shift.direction, Direction::Up);
/// assert!((shift.start - 200_000).abs() <= 3_000);
/// assert!((shift.size - 1.0).abs() < 0.3);
/// # Ok::<(), oddsight_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cusum {
    params: CusumParams,
    baseline: QuantileWindow,
    up: Side,
    down: Side,
    /// Raw deviations of the last [`SIZE_POINTS`] judged points, for the size of a shift.
    recent: VecDeque<f64>,
    /// Re-estimation of the last shift's size, while it lasts.
    settling: Option<Settling>,
    last: Option<i64>,
    last_shift: Option<ShiftReport>,
    shifts: u64,
}

impl Cusum {
    /// The parameters.
    pub fn params(&self) -> &CusumParams {
        &self.params
    }

    /// The most recent confirmed shift, if any.
    pub fn last_shift(&self) -> Option<&ShiftReport> {
        self.last_shift.as_ref()
    }

    /// Shifts confirmed since the detector was built or reset.
    pub fn shifts(&self) -> u64 {
        self.shifts
    }

    /// The current sums `(S⁺, S⁻)`, in standard deviations.
    pub fn sums(&self) -> (f64, f64) {
        (self.up.sum, self.down.sum)
    }

    fn advance(&self, point: Point) -> Result<Advance> {
        check_value(point.value)?;
        check_order(self.last, point.timestamp)?;
        let e = self.baseline.expect(point.timestamp);
        if !e.warm {
            return Ok(Advance {
                warm: false,
                deviation: 0.0,
                center: e.center,
                scale: e.scale,
                floored: e.floored,
                up: self.up,
                down: self.down,
                fired: None,
            });
        }
        let p = &self.params;
        let deviation = point.value - e.center;
        let r = (deviation / e.scale).clamp(-p.clip, p.clip);
        let up = self.up.step(r, p.drift, point.timestamp);
        let down = self.down.step(-r, p.drift, point.timestamp);
        let fired = if up.sum >= p.threshold && up.sum >= down.sum {
            Some(Direction::Up)
        } else if down.sum >= p.threshold {
            Some(Direction::Down)
        } else {
            None
        };
        Ok(Advance { warm: true, deviation, center: e.center, scale: e.scale, floored: e.floored, up, down, fired })
    }

    /// The shift confirmed by `a` on `side`: its size is the median raw deviation over the
    /// excursion (its last [`SIZE_POINTS`] points at most), which a few pre-shift points at the
    /// start of the excursion or a spike inside it barely move.
    fn report(&self, a: &Advance, side: Direction, detected_at: i64) -> (ShiftReport, Vec<f64>) {
        let s = if side == Direction::Up { a.up } else { a.down };
        let take = (s.points as usize).min(SIZE_POINTS).saturating_sub(1).min(self.recent.len());
        let mut devs: Vec<f64> = self.recent.iter().skip(self.recent.len() - take).copied().collect();
        devs.push(a.deviation);
        let size = median(&devs);
        (ShiftReport { start: s.start, detected_at, size, direction: side, points: s.points }, devs)
    }
}

impl Detector for Cusum {
    fn score(&self, point: Point) -> Result<Verdict> {
        let a = self.advance(point)?;
        if !a.warm {
            return Ok(Verdict::neutral(point, a.center, Cow::Borrowed("cusum"), false));
        }
        let p = &self.params;
        let (stat, sign) = if a.up.sum >= a.down.sum { (a.up.sum, 1.0) } else { (a.down.sum, -1.0) };
        let z = if stat > 0.0 {
            sign * anchored_z(2.0 * p.drift * (stat - p.threshold) / std::f64::consts::LN_10)
        } else {
            0.0
        };
        let component = match a.fired {
            Some(side) => Cow::Owned(self.report(&a, side, point.timestamp).0.describe("cusum")),
            None => Cow::Borrowed("cusum"),
        };
        let band = band(a.center, p.band_z * a.scale);
        let notes = Notes { scale_floored: a.floored, ..Notes::default() };
        let count = self.baseline.len() as u64;
        let mut v = verdict_from_z(point, z, a.center, band, 0.5, count, p.warmup as u64, component, notes);
        v.is_anomaly = a.fired.is_some();
        Ok(v)
    }

    fn update(&mut self, point: Point) -> Result<()> {
        let a = self.advance(point)?;
        if let Some(side) = a.fired {
            let (report, deviations) = self.report(&a, side, point.timestamp);
            self.baseline.shift(LevelShift::Add(report.size));
            if self.params.settle > 0 {
                self.settling = Some(Settling {
                    remaining: self.params.settle,
                    anchor: a.center,
                    applied: report.size,
                    deviations,
                });
            }
            self.last_shift = Some(report);
            self.shifts += 1;
            self.up = Side::default();
            self.down = Side::default();
        } else {
            self.up = a.up;
            self.down = a.down;
            if let Some(st) = &mut self.settling {
                st.deviations.push(point.value - st.anchor);
                let size = median(&st.deviations);
                self.baseline.shift(LevelShift::Add(size - st.applied));
                st.applied = size;
                st.remaining = st.remaining.saturating_sub(1);
                if let Some(s) = &mut self.last_shift {
                    s.size = size;
                    s.direction = Direction::of(size);
                }
            }
        }
        match self.settling.take() {
            Some(st) if st.remaining == 0 => {
                // Settled: the baseline becomes the points of the new level alone, so that the
                // shifted history cannot hold it at the estimate for another half window.
                Baseline::reset(&mut self.baseline);
                for d in &st.deviations[..st.deviations.len() - 1] {
                    self.baseline.learn(st.anchor + d);
                }
            }
            other => self.settling = other,
        }
        self.baseline.learn(point.value);
        if a.warm {
            if self.recent.len() == SIZE_POINTS {
                self.recent.pop_front();
            }
            self.recent.push_back(a.deviation);
        }
        self.last = Some(point.timestamp);
        Ok(())
    }

    fn last_timestamp(&self) -> Option<i64> {
        self.last
    }

    fn rebaseline(&mut self, recent: &[Point]) -> Result<()> {
        let Some(newest) = recent.last() else { return Ok(()) };
        for p in recent {
            check_value(p.value)?;
        }
        if let Some((center, _, _)) = self.baseline.robust() {
            // The median residual: the first, most extreme points of a shift must not dominate.
            let residuals: Vec<f64> = recent.iter().map(|p| p.value - center).collect();
            self.baseline.shift(LevelShift::Add(median(&residuals)));
        }
        self.up = Side::default();
        self.down = Side::default();
        self.recent.clear();
        self.settling = None;
        self.last = Some(self.last.map_or(newest.timestamp, |l| l.max(newest.timestamp)));
        Ok(())
    }

    fn reset(&mut self) {
        self.baseline.reset();
        self.recent.clear();
        self.settling = None;
        self.up = Side::default();
        self.down = Side::default();
        self.last = None;
        self.last_shift = None;
        self.shifts = 0;
    }

    fn snapshot(&self) -> Result<String> {
        self.to_snapshot()
    }

    fn name(&self) -> Cow<'static, str> {
        Cow::Borrowed("cusum")
    }
}

impl Stateful for Cusum {
    fn kind() -> String {
        "Cusum".into()
    }

    fn validate(&self) -> Result<()> {
        self.params.validate()?;
        Stateful::validate(&self.baseline)?;
        if self.baseline.len() > self.params.window {
            return Err(snapshot_error(format!(
                "baseline holds {} points, more than the window {}",
                self.baseline.len(),
                self.params.window
            )));
        }
        if self.baseline.sorted().iter().any(|v| v.abs() > VALUE_LIMIT) {
            return Err(snapshot_error("baseline holds a value beyond the accepted range"));
        }
        if self.recent.len() > SIZE_POINTS || self.recent.iter().any(|&d| !plausible(d)) {
            return Err(snapshot_error("invalid recent deviations"));
        }
        if let Some(st) = &self.settling {
            let finite = plausible(st.anchor) && plausible(st.applied) && st.deviations.iter().all(|&d| plausible(d));
            if !finite || st.remaining > self.params.settle || st.deviations.len() > SIZE_POINTS + self.params.settle {
                return Err(snapshot_error("invalid settling state"));
            }
        }
        for side in [&self.up, &self.down] {
            if !(side.sum.is_finite() && side.sum >= 0.0) {
                return Err(snapshot_error(format!("cusum sums must be finite and >= 0, got {side:?}")));
            }
            if (side.sum > 0.0) != (side.points > 0) {
                return Err(snapshot_error(format!("cusum excursion is inconsistent: {side:?}")));
            }
        }
        if let Some(s) = &self.last_shift
            && !plausible(s.size)
        {
            return Err(snapshot_error(format!("shift size must be finite, got {}", s.size)));
        }
        Ok(())
    }
}

/// Median of a short, unsorted slice (0 when empty).
fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    match n {
        0 => 0.0,
        _ if n % 2 == 1 => v[n / 2],
        _ => 0.5 * (v[n / 2 - 1] + v[n / 2]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn noise(seed: &mut u64) -> f64 {
        // Sum of four uniforms, centred and scaled to sd 1: close enough to Gaussian here.
        let mut s = 0.0;
        for _ in 0..4 {
            *seed ^= *seed << 13;
            *seed ^= *seed >> 7;
            *seed ^= *seed << 17;
            s += (*seed >> 11) as f64 / (1u64 << 53) as f64;
        }
        (s - 2.0) * 3f64.sqrt()
    }

    #[test]
    fn z_is_three_exactly_at_the_threshold() {
        let p = CusumParams::default();
        let z = anchored_z(2.0 * p.drift * 0.0 / std::f64::consts::LN_10);
        assert!((z - 3.0).abs() < 1e-9);
    }

    #[test]
    fn quiet_noise_rarely_alarms_and_a_down_shift_is_found() {
        let mut d = CusumParams::default().build().unwrap();
        let mut seed = 0x9e37_79b9_7f4a_7c15;
        let mut alarms = 0;
        for i in 0..3000 {
            let v = d.observe(Point::new(i, 10.0 + noise(&mut seed))).unwrap();
            alarms += v.is_anomaly as u32;
        }
        assert!(alarms <= 2, "{alarms} alarms on white noise");
        let mut found = None;
        let mut first_report = None;
        for i in 3000..3100 {
            let v = d.observe(Point::new(i, 7.0 + noise(&mut seed))).unwrap();
            if v.is_anomaly && found.is_none() {
                found = Some(i);
                first_report = d.last_shift().cloned();
                assert_eq!(v.direction, Direction::Down);
                assert!(v.component.starts_with("cusum: level shift -"), "{}", v.component);
            }
        }
        let at = found.expect("a 3σ drop is confirmed");
        assert!(at < 3010, "confirmed at {at}");
        let s: ShiftReport = first_report.unwrap();
        assert!((s.start - 3000).abs() <= 3, "{s:?}");
        assert!((s.size + 3.0).abs() < 0.6, "{s:?}");
        // After the shift the baseline has moved: no endless alarm.
        let late: u32 =
            (3100..3400).map(|i| d.observe(Point::new(i, 7.0 + noise(&mut seed))).unwrap().is_anomaly as u32).sum();
        assert!(late <= 1, "{late} alarms after re-baselining");
    }

    #[test]
    fn a_single_spike_cannot_confirm_a_shift() {
        let mut d = CusumParams::default().build().unwrap();
        let mut seed = 7;
        for i in 0..200 {
            d.observe(Point::new(i, noise(&mut seed))).unwrap();
        }
        let v = d.observe(Point::new(200, 1e6)).unwrap();
        assert!(!v.is_anomaly);
        assert!(v.z > 0.0 && v.z < 3.0);
    }
}
