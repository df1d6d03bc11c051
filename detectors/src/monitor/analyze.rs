//! Ad-hoc analysis of one batch of values: no targets, no state kept.

use super::error::{MonitorError, MonitorResult};
use crate::AnyDetector;
use crate::stat::MAD_TO_SIGMA;
use oddsight_core::detector::verdict_from_z;
use oddsight_core::{Detector, Expectation, Notes, Point, ScaleFloor, Scorer, Severity, StudentT, Verdict, scale};
use serde::{Deserialize, Serialize};
use statrs::distribution::{ContinuousCDF, StudentsT};
use std::borrow::Cow;
use std::collections::HashMap;

/// The method [`analyze`] uses when given none: each point judged against the median and MAD
/// of all the *other* points of the batch.
///
/// Streaming detectors need tens of points before they judge anything; a batch of six has to be
/// judged as a whole. For point `i`, the expected value is the median of the other `m = n − 1`
/// points and the spread `1.4826 × MAD` of those (floored at 0.1 % of the median's magnitude,
/// so a constant batch never divides by zero). Leaving the point out keeps an outlier from
/// widening its own yardstick. Because five or ten points pin a spread down only loosely, the
/// deviation is judged with the core [`StudentT`] scorer: a t distribution with `m − 1`
/// degrees of freedom and the prediction spread `scale · √(1 + 1/m)`, turned into the common
/// z-equivalent. So the same deviation is less surprising in a batch of 6 than in one of 600,
/// and scores converge to the plain robust z-score as batches grow. Needs at least 3 points
/// (fewer are returned unjudged, `warm: false`). O(n log n).
pub const BATCH_ROBUST_Z: &str = "batch_robust_z";

/// One point of an [`Analysis`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnalysisPoint {
    /// Position in the batch.
    pub index: usize,
    /// Its timestamp (given, or `index` minutes from 0).
    pub timestamp: i64,
    /// Its value.
    pub value: f64,
    /// Whether any method flagged it.
    pub anomaly: bool,
    /// Highest anomaly score of any method.
    pub score: f64,
    /// How bad it is: the higher of the most severe method's statistical severity and the
    /// severity of the deviation's size ([`magnitude_severity`]); [`Severity::Normal`] when no
    /// method flags the point.
    pub severity: Severity,
    /// `|value − expected| / |expected|` (infinite when expected is 0 and value is not).
    pub relative_deviation: f64,
    /// The expected value according to the method that scored it highest.
    pub expected: f64,
    /// `value − expected`.
    pub deviation: f64,
    /// Index into [`Analysis::methods`] of the method that scored it highest (the first on ties).
    pub method: usize,
    /// One verdict per method, in the order of [`Analysis::methods`].
    pub verdicts: Vec<Verdict>,
}

/// The result of [`analyze`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Analysis {
    /// The methods, as given (or `[batch_robust_z]`).
    pub methods: Vec<String>,
    /// One entry per input value.
    pub points: Vec<AnalysisPoint>,
}

impl Analysis {
    /// Indices of the points any method flagged.
    pub fn flagged(&self) -> Vec<usize> {
        self.points.iter().filter(|p| p.anomaly).map(|p| p.index).collect()
    }
}

/// Judges one batch of values with each of `methods`, and combines: a point is flagged when
/// any method flags it, with the expected value of the method that scored it highest.
///
/// Severity answers two questions, and a flagged point gets the worse answer: how surprising is
/// it (the methods' statistical severity), and how large is it ([`magnitude_severity`] of the
/// relative deviation). Five points pin the noise down too loosely for a 2.5× jump to be more
/// than "medium" on surprise alone, yet a latency that went from 102 to 250 ms is a high
/// severity incident by size. Size alone never flags a point.
///
/// A method is [`BATCH_ROBUST_Z`] (also `robust`), the default when `methods` is empty, or any
/// detector [specification](crate::spec) (`ewma`, `mad(window=60)`, `seasonal(period=1d)`,
/// …), run prequentially over the batch (each point judged, then learned), so streaming
/// detectors judge nothing until they are warm. Without `timestamps`, points are one minute
/// apart from 0.
///
/// ```
/// use oddsight_core::Severity;
/// use oddsight_detectors::monitor::analyze;
/// let a = analyze(&[100.0, 105.0, 102.0, 98.0, 250.0, 103.0], None, &[])?;
/// assert_eq!(a.flagged(), vec![4]);
/// let p = &a.points[4];
/// assert_eq!(p.expected, 102.0);
/// assert_eq!(p.deviation, 148.0);
/// // A 50-sigma outlier against five points: t with 4 degrees of freedom, p ≈ 1.4e-6, which
/// // is medium on surprise; +145 % of the expected value makes it high.
/// assert_eq!(p.verdicts[0].severity, Severity::Medium);
/// assert!((p.verdicts[0].z - 4.83).abs() < 0.01);
/// assert_eq!(p.severity, Severity::High);
/// # Ok::<(), oddsight_detectors::monitor::MonitorError>(())
/// ```
///
/// # Errors
/// [`MonitorError::Core`] with an empty-input error for no values; [`MonitorError::Shape`]
/// when `timestamps` has another length; [`MonitorError::NonFinite`] or
/// [`MonitorError::OutOfOrder`] for a bad point (series `"(batch)"`);
/// [`MonitorError::UnknownMethod`] for a method that is neither.
pub fn analyze(values: &[f64], timestamps: Option<&[i64]>, methods: &[&str]) -> MonitorResult<Analysis> {
    if values.is_empty() {
        return Err(oddsight_core::Error::Empty { what: "values" }.into());
    }
    const SERIES: &str = "(batch)";
    if let Some((index, &value)) = values.iter().enumerate().find(|(_, v)| !v.is_finite()) {
        return Err(MonitorError::NonFinite { series: SERIES.into(), index, value });
    }
    let timestamps: Cow<'_, [i64]> = match timestamps {
        Some(t) if t.len() != values.len() => {
            return Err(MonitorError::Shape { values: values.len(), timestamps: t.len() });
        }
        Some(t) => {
            if let Some(w) = t.windows(2).find(|w| w[1] < w[0]) {
                return Err(MonitorError::OutOfOrder { series: SERIES.into(), timestamp: w[1], last: w[0] });
            }
            Cow::Borrowed(t)
        }
        None => Cow::Owned((0..values.len() as i64).map(|i| i * 60_000).collect()),
    };
    let names: Vec<String> = if methods.is_empty() {
        vec![BATCH_ROBUST_Z.to_string()]
    } else {
        methods.iter().map(|m| m.to_string()).collect()
    };
    let mut columns: Vec<Vec<Verdict>> = Vec::with_capacity(names.len());
    for name in &names {
        let column = match name.trim() {
            BATCH_ROBUST_Z | "robust" | "robust_z" => batch_robust_z(values, &timestamps),
            spec => {
                let mut d = AnyDetector::parse(spec)
                    .map_err(|source| MonitorError::UnknownMethod { method: name.clone(), source })?;
                d.observe_batch(&timestamps, values)?
            }
        };
        columns.push(column);
    }
    let points = (0..values.len())
        .map(|i| {
            let verdicts: Vec<Verdict> = columns.iter().map(|c| c[i].clone()).collect();
            let mut best = 0;
            for (k, v) in verdicts.iter().enumerate() {
                if v.anomaly_score > verdicts[best].anomaly_score {
                    best = k;
                }
            }
            let b = &verdicts[best];
            let anomaly = verdicts.iter().any(|v| v.is_anomaly);
            let deviation = values[i] - b.expected;
            let relative_deviation = relative(deviation, b.expected);
            let statistical = verdicts.iter().map(|v| v.severity).max().unwrap_or_default();
            let severity =
                if anomaly { statistical.max(magnitude_severity(relative_deviation)) } else { Severity::Normal };
            AnalysisPoint {
                index: i,
                timestamp: timestamps[i],
                value: values[i],
                anomaly,
                score: b.anomaly_score,
                severity,
                relative_deviation,
                expected: b.expected,
                deviation,
                method: best,
                verdicts,
            }
        })
        .collect();
    Ok(Analysis { methods: names, points })
}

/// `|deviation| / |expected|`: 0 for no deviation, infinite for any deviation from 0.
fn relative(deviation: f64, expected: f64) -> f64 {
    if deviation == 0.0 { 0.0 } else { deviation.abs() / expected.abs() }
}

/// The severity of a deviation by its size alone, given as a fraction of the expected value
/// (`|value − expected| / |expected|`): low below 0.5, medium from 0.5 (+50 %, or a drop to
/// half), high from 1 (double, or a drop to zero), critical from 4 (five times the expected
/// value, or anything at all where zero was expected).
///
/// ```
/// use oddsight_core::Severity;
/// use oddsight_detectors::monitor::magnitude_severity;
/// assert_eq!(magnitude_severity(0.2), Severity::Low);
/// assert_eq!(magnitude_severity(0.6), Severity::Medium);
/// assert_eq!(magnitude_severity(1.45), Severity::High);
/// assert_eq!(magnitude_severity(f64::INFINITY), Severity::Critical);
/// ```
pub fn magnitude_severity(relative_deviation: f64) -> Severity {
    let r = if relative_deviation.is_nan() { 0.0 } else { relative_deviation };
    if r >= 4.0 {
        Severity::Critical
    } else if r >= 1.0 {
        Severity::High
    } else if r >= 0.5 {
        Severity::Medium
    } else {
        Severity::Low
    }
}

/// Type-7 median of the ascending `sorted` with the element at `skip` left out.
fn median_without(sorted: &[f64], skip: usize) -> f64 {
    let m = sorted.len() - 1;
    let at = |k: usize| if k < skip { sorted[k] } else { sorted[k + 1] };
    let h = (m - 1) as f64 * 0.5;
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(m - 1);
    at(lo) + (h - lo as f64) * (at(hi) - at(lo))
}

/// Where `x` sits in the ascending `sorted` (any copy of it).
fn rank_of(sorted: &[f64], x: f64) -> usize {
    sorted.partition_point(|v| v.total_cmp(&x).is_lt()).min(sorted.len() - 1)
}

fn batch_robust_z(values: &[f64], timestamps: &[i64]) -> Vec<Verdict> {
    let n = values.len();
    let component: Cow<'static, str> = Cow::Borrowed(BATCH_ROBUST_Z);
    if n < 3 {
        return values
            .iter()
            .zip(timestamps)
            .map(|(&x, &t)| Verdict::neutral(Point::new(t, x), x, component.clone(), false))
            .collect();
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let m = n - 1;
    let centers: Vec<f64> = values.iter().map(|&x| median_without(&sorted, rank_of(&sorted, x))).collect();
    // The leave-one-out median takes two or three distinct values; the sorted deviations from
    // each are computed once.
    let mut deviations: HashMap<u64, Vec<f64>> = HashMap::new();
    for &c in &centers {
        deviations.entry(c.to_bits()).or_insert_with(|| {
            let mut d: Vec<f64> = values.iter().map(|x| (x - c).abs()).collect();
            d.sort_by(f64::total_cmp);
            d
        });
    }
    let floor = ScaleFloor::default();
    let band_t = StudentsT::new(0.0, 1.0, (m - 1) as f64)
        .map_or(3.0, |t| t.inverse_cdf(1.0 - scale::p_value(3.0) / 2.0))
        * (1.0 + 1.0 / m as f64).sqrt();
    values
        .iter()
        .zip(timestamps)
        .zip(&centers)
        .map(|((&x, &t), &center)| {
            let devs = deviations.get(&center.to_bits()).map_or(&[][..], Vec::as_slice);
            let mad = if devs.len() == n { median_without(devs, rank_of(devs, (x - center).abs())) } else { 0.0 };
            let (spread, floored) = floor.apply(MAD_TO_SIGMA * mad, center);
            let e = Expectation {
                center,
                scale: spread,
                count: m as u64,
                min_count: 2,
                warm: true,
                floored,
                fallback: false,
                source: component.clone(),
            };
            let z = StudentT.z(x, &e);
            let band = (center - band_t * spread, center + band_t * spread);
            let notes = Notes { scale_floored: floored, ..Notes::default() };
            verdict_from_z(Point::new(t, x), z, center, band, 0.5, m as u64, 2, component.clone(), notes)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The leave-one-out medians and MADs against a plain recomputation.
    #[test]
    fn leave_one_out_matches_the_naive_computation() {
        let median = |v: &mut Vec<f64>| {
            v.sort_by(f64::total_cmp);
            crate::stat::type7(v, 0.5).unwrap_or(0.0)
        };
        for data in [
            vec![100.0, 105.0, 102.0, 98.0, 250.0, 103.0],
            vec![1.0, 1.0, 1.0, 5.0],
            vec![3.0, -1.0, 4.0, 1.0, -5.0, 9.0, 2.0, 6.0, 5.0, 3.0, 5.0],
            vec![7.0, 7.0, 7.0],
        ] {
            let verdicts = batch_robust_z(&data, &(0..data.len() as i64).collect::<Vec<_>>());
            for (i, v) in verdicts.iter().enumerate() {
                let mut others: Vec<f64> = data.iter().enumerate().filter(|(j, _)| *j != i).map(|(_, x)| *x).collect();
                let c = median(&mut others);
                assert_eq!(v.expected, c, "{data:?} at {i}");
                let mut devs: Vec<f64> = others.iter().map(|x| (x - c).abs()).collect();
                let mad = median(&mut devs);
                let (s, floored) = ScaleFloor::default().apply(MAD_TO_SIGMA * mad, c);
                assert_eq!(v.notes.scale_floored, floored);
                let e = Expectation {
                    center: c,
                    scale: s,
                    count: others.len() as u64,
                    min_count: 2,
                    warm: true,
                    floored,
                    fallback: false,
                    source: "".into(),
                };
                assert_eq!(v.z, StudentT.z(data[i], &e), "{data:?} at {i}");
                assert!(((v.upper - c) - (c - v.lower)).abs() < 1e-9 * (1.0 + c.abs()) && v.upper > v.lower);
            }
        }
    }

    #[test]
    fn exact_example_and_errors() {
        let a = analyze(&[100.0, 105.0, 102.0, 98.0, 250.0, 103.0], None, &[]).unwrap();
        assert_eq!(a.flagged(), vec![4]);
        let p = &a.points[4];
        assert_eq!((p.expected, p.deviation, p.severity), (102.0, 148.0, Severity::High));
        assert_eq!(p.verdicts[0].severity, Severity::Medium);
        assert!((p.relative_deviation - 148.0 / 102.0).abs() < 1e-12);
        assert!(p.verdicts[0].z > 4.8 && p.verdicts[0].z < 4.9, "{}", p.verdicts[0].z);
        assert!(p.verdicts[0].warm && p.verdicts[0].is_anomaly);
        assert!(a.points.iter().filter(|p| p.index != 4).all(|p| p.severity == Severity::Normal));
        assert!(matches!(analyze(&[], None, &[]), Err(MonitorError::Core(_))));
        assert!(matches!(analyze(&[1.0, f64::NAN], None, &[]), Err(MonitorError::NonFinite { index: 1, .. })));
        assert!(matches!(analyze(&[1.0, 2.0], Some(&[1]), &[]), Err(MonitorError::Shape { .. })));
        assert!(matches!(analyze(&[1.0, 2.0], Some(&[5, 4]), &[]), Err(MonitorError::OutOfOrder { .. })));
        let e = analyze(&[1.0, 2.0], None, &["nope"]).unwrap_err();
        assert_eq!(e.code(), "InvalidSpec");
        let short = analyze(&[1.0, 2.0], None, &[]).unwrap();
        assert!(short.points.iter().all(|p| !p.verdicts[0].warm && !p.anomaly));
    }

    #[test]
    fn several_methods_combine() {
        let mut values: Vec<f64> = (0..120).map(|i| 50.0 + (i % 5) as f64).collect();
        values[100] = 500.0;
        let a = analyze(&values, None, &["batch_robust_z", "ewma(warmup=20)"]).unwrap();
        assert_eq!(a.methods.len(), 2);
        assert!(a.points[100].anomaly);
        assert!(a.points[100].verdicts.iter().all(|v| v.is_anomaly));
        assert!(!a.points[5].verdicts[1].warm);
        assert_eq!(a.flagged(), vec![100]);
    }

    #[test]
    fn size_raises_severity_only_of_flagged_points() {
        // A small but very surprising move stays at its statistical severity.
        let mut values: Vec<f64> = (0..200).map(|i| 1000.0 + (i % 3) as f64).collect();
        values[150] = 1030.0;
        let a = analyze(&values, None, &[]).unwrap();
        let p = &a.points[150];
        assert!(p.anomaly && p.relative_deviation < 0.05);
        assert_eq!(p.severity, p.verdicts[0].severity);
        // A large relative move among noisy values that is not flagged stays normal.
        let noisy = [1.0, 9.0, 2.0, 8.0, 3.0, 7.0, 4.0, 6.0];
        let b = analyze(&noisy, None, &[]).unwrap();
        assert!(b.points.iter().all(|p| !p.anomaly && p.severity == Severity::Normal));
        assert!(b.points[1].relative_deviation > 0.5);
        // A drop to zero is at least high.
        let mut drop: Vec<f64> = (0..30).map(|i| 40.0 + (i % 4) as f64).collect();
        drop[20] = 0.0;
        let c = analyze(&drop, None, &[]).unwrap();
        assert!(c.points[20].anomaly && c.points[20].severity >= Severity::High);
        assert_eq!(magnitude_severity(f64::NAN), Severity::Low);
    }
}
