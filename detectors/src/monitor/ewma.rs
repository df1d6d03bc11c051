//! [`LeanEwma`]: the EWMA z-score detector in a form whose hot loop the monitor can run on a
//! local copy of the baseline.
//!
//! It is [`EwmaZScore`] (`BaselineDetector<EwmaBaseline, ZScore>`) field for field, with the
//! same verdicts, the same learning and re-baselining, and the same snapshot (kind and JSON),
//! so that a snapshot of either restores as the other. It exists because `BaselineDetector`
//! offers no mutable access to its baseline: learning through `Detector::update` re-checks
//! every point and keeps the baseline in memory between points, where a local copy lets the
//! compiler keep the mean and variance in registers (what the core's `EwmaBaseline::learn`
//! loop does). If the core grows a `baseline_mut`, this can go.

use crate::stat::{EwmaZScore, check_point, is_gap, level_shift};
use oddsight_core::detector::verdict_from_z;
use oddsight_core::{
    Baseline, Detector, DetectorParams, EwmaBaseline, Notes, Point, Result, Scorer, Stateful, Verdict, ZScore,
};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;

/// See the [module documentation](self).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct LeanEwma {
    params: DetectorParams,
    pub(crate) baseline: EwmaBaseline,
    scorer: ZScore,
    pub(crate) last: Option<i64>,
}

impl From<&EwmaZScore> for LeanEwma {
    fn from(d: &EwmaZScore) -> Self {
        LeanEwma {
            params: d.params().clone(),
            baseline: d.baseline().clone(),
            scorer: ZScore,
            last: d.last_timestamp(),
        }
    }
}

impl LeanEwma {
    /// Learns a point already checked (finite, in order).
    #[inline]
    pub(crate) fn learn(&mut self, p: Point) {
        self.baseline.learn(p.value);
        self.last = Some(p.timestamp);
    }
}

impl Detector for LeanEwma {
    fn score(&self, point: Point) -> Result<Verdict> {
        check_point(self.last, point)?;
        let e = self.baseline.expect(point.timestamp);
        let gap = is_gap(self.params.max_gap_ms, self.last, point.timestamp);
        if !e.warm {
            let mut v = Verdict::neutral(point, e.center, e.source, false);
            v.notes.gap = gap;
            return Ok(v);
        }
        let notes = Notes { scale_floored: e.floored, excluded: false, gap, fallback: e.fallback };
        let z = self.scorer.z(point.value, &e);
        let band = self.scorer.band(&e, self.params.band_z);
        Ok(verdict_from_z(point, z, e.center, band, self.params.threshold, e.count, e.min_count, e.source, notes))
    }

    fn update(&mut self, point: Point) -> Result<()> {
        check_point(self.last, point)?;
        self.learn(point);
        Ok(())
    }

    fn last_timestamp(&self) -> Option<i64> {
        self.last
    }

    fn rebaseline(&mut self, recent: &[Point]) -> Result<()> {
        let Some(newest) = recent.last() else { return Ok(()) };
        for p in recent {
            check_point(None, *p)?;
        }
        if let Some(shift) = level_shift(recent, |t| self.baseline.expect(t).center) {
            self.baseline.shift(shift);
        }
        self.last = Some(self.last.map_or(newest.timestamp, |l| l.max(newest.timestamp)));
        Ok(())
    }

    fn reset(&mut self) {
        self.baseline.reset();
        self.last = None;
    }

    fn snapshot(&self) -> Result<String> {
        self.to_snapshot()
    }

    fn name(&self) -> Cow<'static, str> {
        Cow::Owned(format!("{}/{}", EwmaBaseline::kind(), self.scorer.name()))
    }
}

impl Stateful for LeanEwma {
    fn kind() -> String {
        EwmaZScore::kind()
    }
    fn validate(&self) -> Result<()> {
        self.params.validate()?;
        self.baseline.validate()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stat::EwmaZScoreParams;
    use oddsight_core::LevelShift;

    /// Same verdicts, same state, interchangeable snapshots.
    #[test]
    fn is_the_core_detector_in_all_but_layout() {
        let mut core = EwmaZScoreParams::default().warmup(10).max_gap_ms(Some(90_000)).build().unwrap();
        let mut lean = LeanEwma::from(&core);
        for i in 0..300i64 {
            let t = i * 60_000 + if i > 200 { 60_000 } else { 0 };
            let x = 50.0 + ((i * 7919) % 11) as f64 + if i % 50 == 0 { 40.0 } else { 0.0 };
            let p = Point::new(t, x);
            assert_eq!(lean.score(p).unwrap(), core.score(p).unwrap(), "{i}");
            if i % 70 == 69 {
                let recent: Vec<Point> = (0..5).map(|k| Point::new(t, x + 30.0 + k as f64)).collect();
                lean.rebaseline(&recent).unwrap();
                core.rebaseline(&recent).unwrap();
            } else {
                lean.update(p).unwrap();
                core.update(p).unwrap();
            }
        }
        let snap = lean.snapshot().unwrap();
        assert_eq!(snap, core.snapshot().unwrap());
        assert_eq!(EwmaZScore::from_snapshot(&snap).unwrap(), core);
        assert_eq!(lean.name(), core.name());
        assert!(lean.update(Point::new(0, 1.0)).is_err());
        assert!(lean.update(Point::new(i64::MAX, f64::NAN)).is_err());
        // A shift moves both alike.
        lean.baseline.shift(LevelShift::Scale(2.0));
        assert_ne!(lean.snapshot().unwrap(), core.snapshot().unwrap());
    }
}
