//! Tumbling-window aggregation: raw events (one per request) into per-interval statistics.

use crate::baseline::{QuantileSketch, QuantileSketchParams};
use crate::error::{Error, Result, check, finite};
use crate::snapshot::{Stateful, ensure, ensure_finite};
use serde::{Deserialize, Serialize};

/// Statistics of one closed interval `[start, end)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Aggregate {
    /// First millisecond of the interval.
    pub start: i64,
    /// First millisecond after it.
    pub end: i64,
    /// Events in the interval.
    pub count: u64,
    /// Sum of their values.
    pub sum: f64,
    /// Mean, `None` for an empty interval.
    pub mean: Option<f64>,
    /// 95th percentile (exact, type-7 interpolation, up to `exact_limit` events; within the
    /// sketch's 1 % relative accuracy beyond), `None` for an empty interval.
    pub p95: Option<f64>,
    /// Minimum, `None` for an empty interval.
    pub min: Option<f64>,
    /// Maximum, `None` for an empty interval.
    pub max: Option<f64>,
}

/// Parameters of an [`Aggregator`].
///
/// ```
/// use oddsight_core::AggregatorParams;
/// let mut agg = AggregatorParams::default().width_ms(60_000).build()?;
/// assert!(agg.push(1_000, 120.0)?.is_empty());
/// assert!(agg.push(30_000, 80.0)?.is_empty());
/// let closed = agg.push(61_000, 95.0)?; // the first event of the next minute closes the first
/// assert_eq!(closed.len(), 1);
/// assert_eq!((closed[0].start, closed[0].count, closed[0].mean), (0, 2, Some(100.0)));
/// assert_eq!(closed[0].max, Some(120.0));
/// # Ok::<(), oddsight_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AggregatorParams {
    /// Interval width. Default 60 s.
    pub width_ms: i64,
    /// Where intervals are aligned (an interval starts at `origin_ms + k × width_ms`). Default 0.
    pub origin_ms: i64,
    /// Events kept exactly per interval before the p95 switches to a bounded sketch.
    /// Default 10,000.
    pub exact_limit: usize,
    /// Most empty intervals emitted for a gap; a longer gap emits this many and skips the rest
    /// (so one wild timestamp cannot allocate without bound). Default 10,080 (a week of minutes).
    pub max_gap_intervals: usize,
}

impl Default for AggregatorParams {
    fn default() -> Self {
        AggregatorParams { width_ms: 60_000, origin_ms: 0, exact_limit: 10_000, max_gap_intervals: 10_080 }
    }
}

impl AggregatorParams {
    /// Sets `width_ms`.
    pub fn width_ms(mut self, width_ms: i64) -> Self {
        self.width_ms = width_ms;
        self
    }
    /// Sets `origin_ms`.
    pub fn origin_ms(mut self, origin_ms: i64) -> Self {
        self.origin_ms = origin_ms;
        self
    }
    /// Sets `exact_limit`.
    pub fn exact_limit(mut self, exact_limit: usize) -> Self {
        self.exact_limit = exact_limit;
        self
    }
    /// # Errors
    /// [`Error::InvalidParameter`] naming the first bad parameter.
    pub fn validate(&self) -> Result<()> {
        check::positive_ms("width_ms", self.width_ms)?;
        check::range_usize("exact_limit", self.exact_limit, 1, 100_000_000)?;
        check::range_usize("max_gap_intervals", self.max_gap_intervals, 0, 10_000_000)
    }
    /// # Errors
    /// As [`AggregatorParams::validate`].
    pub fn build(self) -> Result<Aggregator> {
        self.validate()?;
        Ok(Aggregator { params: self, open: None, closed_until: None })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Open {
    start: i64,
    count: u64,
    sum: f64,
    min: f64,
    max: f64,
    exact: Vec<f64>,
    sketch: Option<QuantileSketch>,
}

/// Turns events into per-interval [`Aggregate`]s (count, sum, mean, p95, min, max): what a
/// seasonal baseline of "p95 latency per minute" compares against.
///
/// An interval closes when the first event of a later one arrives (or on [`Aggregator::flush`]);
/// empty intervals in between are emitted with `count = 0`, since zero requests in a minute is
/// itself a signal. An event for an interval that has already closed is [`Error::LateEvent`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Aggregator {
    params: AggregatorParams,
    open: Option<Open>,
    closed_until: Option<i64>,
}

impl Aggregator {
    fn interval_start(&self, ts: i64) -> i64 {
        // In i128, so that timestamps near i64::MIN neither overflow nor fall outside their interval.
        let (w, origin) = (i128::from(self.params.width_ms), i128::from(self.params.origin_ms));
        ((i128::from(ts) - origin).div_euclid(w) * w + origin).clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
    }

    /// Adds one event; returns the intervals it closed (usually none).
    ///
    /// # Errors
    /// [`Error::NonFinite`] or [`Error::LateEvent`]; state is unchanged.
    pub fn push(&mut self, timestamp: i64, value: f64) -> Result<Vec<Aggregate>> {
        finite("value", value)?;
        let start = self.interval_start(timestamp);
        if let Some(closed) = self.closed_until
            && start < closed
        {
            return Err(Error::LateEvent { timestamp, closed_at: closed });
        }
        let mut out = Vec::new();
        if let Some(open) = &self.open
            && open.start != start
        {
            if start < open.start {
                return Err(Error::LateEvent { timestamp, closed_at: open.start });
            }
            let open_start = open.start;
            out.extend(self.flush());
            let w = self.params.width_ms;
            let mut s = open_start.saturating_add(w);
            while s < start && out.len() <= self.params.max_gap_intervals {
                out.push(Aggregate {
                    start: s,
                    end: s.saturating_add(w),
                    count: 0,
                    sum: 0.0,
                    mean: None,
                    p95: None,
                    min: None,
                    max: None,
                });
                s = s.saturating_add(w);
            }
        }
        let limit = self.params.exact_limit;
        let open = self.open.get_or_insert_with(|| Open {
            start,
            count: 0,
            sum: 0.0,
            min: value,
            max: value,
            exact: Vec::new(),
            sketch: None,
        });
        open.count += 1;
        open.sum += value;
        open.min = open.min.min(value);
        open.max = open.max.max(value);
        match &mut open.sketch {
            Some(s) => s.add(value)?,
            None if open.exact.len() < limit => open.exact.push(value),
            None => {
                let mut s = QuantileSketchParams::default().build()?;
                for &x in open.exact.iter().chain([&value]) {
                    s.add(x)?;
                }
                open.exact = Vec::new();
                open.sketch = Some(s);
            }
        }
        Ok(out)
    }

    /// Closes the open interval, if any, and returns it.
    pub fn flush(&mut self) -> Option<Aggregate> {
        let mut open = self.open.take()?;
        let end = open.start.saturating_add(self.params.width_ms);
        self.closed_until = Some(end);
        let p95 = match &open.sketch {
            Some(s) => s.quantile(0.95).ok().flatten(),
            None => {
                open.exact.sort_by(f64::total_cmp);
                crate::baseline::quantiles_interpolated(&open.exact, 0.95)
            }
        };
        Some(Aggregate {
            start: open.start,
            end,
            count: open.count,
            sum: open.sum,
            mean: Some(open.sum / open.count as f64),
            p95,
            min: Some(open.min),
            max: Some(open.max),
        })
    }
}

impl Stateful for Aggregator {
    fn kind() -> String {
        "Aggregator".into()
    }
    fn validate(&self) -> Result<()> {
        self.params.validate()?;
        if let Some(o) = &self.open {
            ensure_finite("Aggregator", o.exact.iter().chain([&o.sum, &o.min, &o.max]))?;
            ensure(o.count as usize >= o.exact.len(), || "more exact values than events".into())?;
            if let Some(s) = &o.sketch {
                s.validate()?;
            }
        }
        Ok(())
    }
}
