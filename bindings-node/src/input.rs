//! JavaScript inputs to Rust slices: values and timestamps.

use crate::error::{Result, error};
use napi::bindgen_prelude::{BigInt64Array, Either, Either3, Float64Array};

/// Values: a `Float64Array` (read in place) or an array of numbers.
pub(crate) type Values = Either<Float64Array, Vec<f64>>;

/// Timestamps in Unix milliseconds: a `Float64Array`, a `BigInt64Array` or an array of numbers.
pub(crate) type Timestamps = Either3<Float64Array, BigInt64Array, Vec<f64>>;

/// The values as a slice.
pub(crate) fn values(values: &Values) -> &[f64] {
    match values {
        Either::A(typed) => typed,
        Either::B(numbers) => numbers,
    }
}

/// One timestamp given as a JavaScript number: finite, fractions of a millisecond dropped
/// (toward zero, as `Math.trunc`).
pub(crate) fn millis(t: f64) -> Result<i64> {
    // 2^63 ms is about 292 million years: anything beyond is not a time.
    if !t.is_finite() || t.abs() >= 9.223_372_036_854_775e18 {
        return Err(error("NonFiniteValue", format!("non-finite timestamp: {t}")));
    }
    Ok(t.trunc() as i64)
}

/// Spacing of points that come without timestamps: one minute, as in the monitor's `analyze`
/// and the Python bindings.
pub(crate) const IMPLICIT_STEP_MS: i64 = 60_000;

/// The timestamp of the next point when none is given: one minute after the newest learned (0
/// for a fresh detector).
pub(crate) fn next_implicit(last: Option<i64>) -> i64 {
    last.map_or(0, |t| t.saturating_add(IMPLICIT_STEP_MS))
}

/// The timestamp of one point: as given, or the next implicit one.
pub(crate) fn timestamp(t: Option<f64>, last: Option<i64>) -> Result<i64> {
    match t {
        Some(t) => millis(t),
        None => Ok(next_implicit(last)),
    }
}

/// Timestamps for a batch of `n` values, or `None` when they are to be implicit (decided
/// against the detector's state when the batch runs). The lengths are checked by the batch
/// call itself, so a mismatch is the core's `ShapeMismatch`.
pub(crate) fn timestamps(t: Option<&Timestamps>) -> Result<Option<Vec<i64>>> {
    let Some(t) = t else { return Ok(None) };
    Ok(Some(match t {
        Either3::A(typed) => typed.iter().map(|&t| millis(t)).collect::<Result<_>>()?,
        Either3::B(big) => big.to_vec(),
        Either3::C(numbers) => numbers.iter().map(|&t| millis(t)).collect::<Result<_>>()?,
    }))
}

/// `n` implicit timestamps following `last`.
pub(crate) fn implicit(n: usize, last: Option<i64>) -> Vec<i64> {
    let first = next_implicit(last);
    (0..n as i64).map(|i| first.saturating_add(i.saturating_mul(IMPLICIT_STEP_MS))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn millis_truncates_and_refuses_non_finite() {
        assert_eq!(millis(1000.9).ok(), Some(1000));
        assert_eq!(millis(-1.5).ok(), Some(-1));
        for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 1e19] {
            assert_eq!(millis(bad).map_err(|e| e.status.0).err(), Some("NonFiniteValue"));
        }
    }

    #[test]
    fn implicit_timestamps_follow_the_newest() {
        assert_eq!(implicit(3, None), [0, 60_000, 120_000]);
        assert_eq!(implicit(2, Some(10)), [60_010, 120_010]);
        assert_eq!(timestamp(None, Some(i64::MAX)).ok(), Some(i64::MAX));
        assert_eq!(timestamp(Some(5.0), Some(100)).ok(), Some(5));
    }
}
