//! Streaming baselines: what is normal now.
//!
//! | baseline | per point | memory per series |
//! |---|---|---|
//! | [`EwmaBaseline`] | O(1) | 56 bytes |
//! | [`WindowBaseline`] (exact sliding mean/variance) | O(1) amortised | 88 + 8·w bytes |
//! | [`QuantileWindow`] (sliding median, MAD, any quantile) | O(log w) search + one shift of ≤ w floats | 88 + 16·w bytes (23 KiB at w = 1440) |
//! | [`QuantileSketch`] (unbounded p95/p99) | O(1) | 8 bytes per occupied bin, at most `max_bins` per sign (typically 2–4 KiB) |
//! | [`SeasonalBaseline`] (time of week) | O(1) | 48 bytes per bucket (193 by default, 9,264 bytes) |
//!
//! The figures are pinned by a test (`baseline_sizes`), not estimated.

mod ewma;
mod quantiles;
mod seasonal;
mod sketch;
mod window;

pub use ewma::{EwmaBaseline, EwmaParams};
pub use quantiles::{QuantileWindow, QuantileWindowParams};
pub use seasonal::{ColdStart, SeasonalBaseline, SeasonalParams, TimeWindow};
pub use sketch::{QuantileSketch, QuantileSketchParams};
pub use window::{WindowBaseline, WindowParams};

pub(crate) use quantiles::interpolated_quantile as quantiles_interpolated;

use crate::error::{Result, check};
use serde::{Deserialize, Serialize};

/// The smallest spread a baseline will report, so that a constant series (spread 0) never
/// divides by zero. The floor is `max(absolute, relative × |center|)`; when it is used the
/// expectation says so (`floored`), and so does the verdict.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ScaleFloor {
    /// Absolute floor, in the series' units. Default `1e-9`.
    pub absolute: f64,
    /// Floor relative to the magnitude of the expected value. Default `1e-3` (0.1 %).
    pub relative: f64,
}

impl Default for ScaleFloor {
    fn default() -> Self {
        ScaleFloor { absolute: 1e-9, relative: 1e-3 }
    }
}

impl ScaleFloor {
    /// A floor with the given absolute and relative parts.
    pub fn new(absolute: f64, relative: f64) -> Self {
        ScaleFloor { absolute, relative }
    }

    /// # Errors
    /// [`crate::Error::InvalidParameter`] unless `absolute > 0` and `relative >= 0`, both finite.
    pub fn validate(&self) -> Result<()> {
        check::positive("floor.absolute", self.absolute)?;
        check::non_negative("floor.relative", self.relative)
    }

    /// Applies the floor: returns the scale to use and whether the floor was used.
    #[inline]
    pub fn apply(&self, scale: f64, center: f64) -> (f64, bool) {
        let floor = self.absolute.max(self.relative * center.abs());
        if scale >= floor { (scale, false) } else { (floor, true) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn baseline_sizes() {
        // The table in this module's docs quotes these; change both together.
        assert_eq!(std::mem::size_of::<EwmaBaseline>(), 56);
        assert_eq!(std::mem::size_of::<WindowBaseline>(), 88);
        assert_eq!(std::mem::size_of::<QuantileWindow>(), 88);
        let s = SeasonalParams::default().build().unwrap();
        assert_eq!(s.bucket_count(), 168 + 24 + 1);
        assert_eq!(s.state_bytes(), (168 + 24 + 1) * 48);
    }
}
