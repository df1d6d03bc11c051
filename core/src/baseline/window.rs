use super::ScaleFloor;
use crate::error::{Result, check, finite};
use crate::snapshot::{Stateful, ensure, ensure_finite};
use crate::traits::{Baseline, Expectation, LevelShift};
use crate::types::Point;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::collections::VecDeque;

/// Parameters of a [`WindowBaseline`].
///
/// ```
/// use oddsight_core::{Baseline, Point, WindowParams};
/// let mut b = WindowParams::default().window(3).warmup(3).build()?;
/// for (i, v) in [1.0, 2.0, 3.0, 4.0].into_iter().enumerate() {
///     b.update(Point::new(i as i64, v))?;
/// }
/// assert_eq!(b.mean(), 3.0); // mean of the last three: 2, 3, 4
/// assert_eq!(b.variance(), 1.0);
/// # Ok::<(), oddsight_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct WindowParams {
    /// Window length in points, 2..=10,000,000. Default 60.
    pub window: usize,
    /// Points needed before the baseline is warm. Default 30 (capped at `window`).
    pub warmup: usize,
    /// Spread floor.
    pub floor: ScaleFloor,
}

impl Default for WindowParams {
    fn default() -> Self {
        WindowParams { window: 60, warmup: 30, floor: ScaleFloor::default() }
    }
}

impl WindowParams {
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
    /// Sets the spread floor.
    pub fn floor(mut self, floor: ScaleFloor) -> Self {
        self.floor = floor;
        self
    }
    /// # Errors
    /// [`crate::Error::InvalidParameter`] naming the first bad parameter.
    pub fn validate(&self) -> Result<()> {
        check::range_usize("window", self.window, 2, 10_000_000)?;
        self.floor.validate()
    }
    /// # Errors
    /// As [`WindowParams::validate`].
    pub fn build(self) -> Result<WindowBaseline> {
        self.validate()?;
        let cap = self.window;
        Ok(WindowBaseline { params: self, ring: VecDeque::with_capacity(cap), mean: 0.0, m2: 0.0, since_exact: 0 })
    }
}

/// Exact mean and variance over the last `w` points.
///
/// Adds and removes with Welford's updates, and recomputes from the window every `w` points so
/// that rounding error cannot accumulate: O(1) amortised, 8 bytes per point of window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WindowBaseline {
    params: WindowParams,
    ring: VecDeque<f64>,
    mean: f64,
    m2: f64,
    since_exact: usize,
}

impl WindowBaseline {
    /// Mean of the window (0 when empty).
    pub fn mean(&self) -> f64 {
        self.mean
    }
    /// Sample variance of the window (0 with fewer than two points).
    pub fn variance(&self) -> f64 {
        let n = self.ring.len();
        if n < 2 { 0.0 } else { (self.m2 / (n - 1) as f64).max(0.0) }
    }
    /// Points in the window.
    pub fn len(&self) -> usize {
        self.ring.len()
    }
    /// Whether the window is empty.
    pub fn is_empty(&self) -> bool {
        self.ring.is_empty()
    }

    fn recompute(&mut self) {
        let n = self.ring.len() as f64;
        self.mean = if n > 0.0 { self.ring.iter().sum::<f64>() / n } else { 0.0 };
        let m = self.mean;
        self.m2 = self.ring.iter().map(|x| (x - m) * (x - m)).sum();
        self.since_exact = 0;
    }

    /// Learns a value already known to be finite.
    #[inline]
    pub fn learn(&mut self, x: f64) {
        if self.ring.len() == self.params.window
            && let Some(old) = self.ring.pop_front()
        {
            let n = self.ring.len() as f64;
            if n == 0.0 {
                self.mean = 0.0;
                self.m2 = 0.0;
            } else {
                let d = old - self.mean;
                self.mean -= d / n;
                self.m2 -= d * (old - self.mean);
            }
        }
        self.ring.push_back(x);
        let n = self.ring.len() as f64;
        let d = x - self.mean;
        self.mean += d / n;
        self.m2 += d * (x - self.mean);
        self.since_exact += 1;
        if self.since_exact >= self.params.window {
            self.recompute();
        }
    }
}

impl Baseline for WindowBaseline {
    fn update(&mut self, point: Point) -> Result<()> {
        self.learn(finite("value", point.value)?);
        Ok(())
    }

    fn expect(&self, _timestamp: i64) -> Expectation {
        let (scale, floored) = self.params.floor.apply(self.variance().sqrt(), self.mean);
        Expectation {
            center: self.mean,
            scale,
            count: self.ring.len() as u64,
            min_count: self.params.warmup.clamp(1, self.params.window) as u64,
            warm: self.ring.len() >= self.params.warmup.clamp(1, self.params.window),
            floored,
            fallback: false,
            source: Cow::Borrowed("window"),
        }
    }

    fn shift(&mut self, shift: LevelShift) {
        for x in &mut self.ring {
            *x = shift.apply(*x);
        }
        self.recompute();
    }

    fn reset(&mut self) {
        self.ring.clear();
        self.mean = 0.0;
        self.m2 = 0.0;
        self.since_exact = 0;
    }

    fn count(&self) -> u64 {
        self.ring.len() as u64
    }
}

impl Stateful for WindowBaseline {
    fn kind() -> String {
        "WindowBaseline".into()
    }
    fn validate(&self) -> Result<()> {
        self.params.validate()?;
        ensure(self.ring.len() <= self.params.window, || {
            format!("window holds {} points, more than its length {}", self.ring.len(), self.params.window)
        })?;
        ensure_finite("WindowBaseline", self.ring.iter().chain([&self.mean, &self.m2]))
    }
}
