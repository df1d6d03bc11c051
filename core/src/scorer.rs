//! Scorers: how surprising a value is against an expectation, as a z-equivalent.
//!
//! | scorer | z-equivalent | use for |
//! |---|---|---|
//! | [`ZScore`] | `(x − center) / scale` | Gaussian-ish noise; on a median/MAD baseline this *is* the robust z |
//! | [`RatioScorer`] | `3 · ln(x / center) / ln(multiple)` | "3× worse than normal" on positive metrics (latency, query counts) |
//! | [`StudentT`] | Student-t prediction tail with `n − 1` degrees of freedom, mapped to a z | small samples: honest about how little a cold bucket knows |
//!
//! ```
//! use oddsight_core::{Expectation, RatioScorer, Scorer, StudentT, ZScore};
//! let e = Expectation { center: 100.0, scale: 10.0, count: 5, min_count: 2, warm: true, floored: false, fallback: false, source: "doc".into() };
//! assert_eq!(ZScore.z(130.0, &e), 3.0);
//! assert!((RatioScorer::new(3.0)?.z(300.0, &e) - 3.0).abs() < 1e-12); // 3x expected = z 3
//! assert!(StudentT.z(130.0, &e) < 3.0); // four degrees of freedom: less sure
//! # Ok::<(), oddsight_core::Error>(())
//! ```

use crate::error::{Error, Result};
use crate::scale::{clamp_z, z_from_p};
use crate::snapshot::Stateful;
use crate::traits::{Expectation, Scorer};
use serde::{Deserialize, Serialize};
use statrs::distribution::{ContinuousCDF, StudentsT};

/// The plain z-score.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ZScore;

impl Scorer for ZScore {
    #[inline]
    fn z(&self, value: f64, e: &Expectation) -> f64 {
        clamp_z((value - e.center) / e.scale)
    }
    fn name(&self) -> &'static str {
        "z"
    }
}

/// Ratio to baseline: `value / expected`, with `multiple` (default 3.0) mapping to z = 3 and
/// `1 / multiple` to z = −3. For positive metrics whose noise grows with their level.
/// Falls back to the plain z-score when the value or the expectation is not positive.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RatioScorer {
    multiple: f64,
}

impl Default for RatioScorer {
    fn default() -> Self {
        RatioScorer { multiple: 3.0 }
    }
}

impl RatioScorer {
    /// A ratio scorer firing (z = 3) at `multiple` × expected.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] unless `multiple > 1` and finite.
    pub fn new(multiple: f64) -> Result<Self> {
        if !(multiple > 1.0 && multiple.is_finite()) {
            return Err(Error::param("multiple", "must be finite and > 1", multiple));
        }
        Ok(RatioScorer { multiple })
    }
    /// The multiple that maps to z = 3.
    pub fn multiple(&self) -> f64 {
        self.multiple
    }
}

impl Scorer for RatioScorer {
    #[inline]
    fn z(&self, value: f64, e: &Expectation) -> f64 {
        if value > 0.0 && e.center > 0.0 {
            clamp_z(3.0 * (value / e.center).ln() / self.multiple.ln())
        } else {
            ZScore.z(value, e)
        }
    }
    fn band(&self, e: &Expectation, band_z: f64) -> (f64, f64) {
        if e.center > 0.0 {
            let f = self.multiple.powf(band_z / 3.0);
            (e.center / f, e.center * f)
        } else {
            (e.center - band_z * e.scale, e.center + band_z * e.scale)
        }
    }
    fn name(&self) -> &'static str {
        "ratio"
    }
}

impl Stateful for RatioScorer {
    fn kind() -> String {
        "RatioScorer".into()
    }
    fn validate(&self) -> Result<()> {
        RatioScorer::new(self.multiple).map(|_| ())
    }
}

/// Student-t prediction scorer: the tail probability of a new value under a t distribution
/// with `count − 1` degrees of freedom and the prediction spread `scale · √(1 + 1/count)`,
/// turned into a z-equivalent. Converges to [`ZScore`] as samples grow, and is more cautious
/// before. Needs at least two samples (z = 0 otherwise).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct StudentT;

impl Scorer for StudentT {
    fn z(&self, value: f64, e: &Expectation) -> f64 {
        if e.count < 2 {
            return 0.0;
        }
        let n = e.count as f64;
        let t = (value - e.center) / (e.scale * (1.0 + 1.0 / n).sqrt());
        if !t.is_finite() {
            return clamp_z(t);
        }
        let Ok(dist) = StudentsT::new(0.0, 1.0, n - 1.0) else { return 0.0 };
        let p = 2.0 * dist.sf(t.abs());
        let z = if p > 1e-300 { z_from_p(p) } else { t.abs() };
        clamp_z(z.min(t.abs()).copysign(t))
    }
    fn name(&self) -> &'static str {
        "student-t"
    }
}

macro_rules! unit_stateful {
    ($($t:ty),*) => {$(
        impl Stateful for $t {
            fn kind() -> String {
                stringify!($t).into()
            }
        }
    )*};
}
unit_stateful!(ZScore, StudentT);
