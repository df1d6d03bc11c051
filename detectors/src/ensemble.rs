//! Several detectors in one pass, one verdict per point.

use oddsight_core::detector::verdict_from_z;
use oddsight_core::{Detector, Direction, Error, Notes, Point, Result, Stateful, Verdict, check_batch, scale};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;

/// How member scores become one score.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Combine {
    /// Weighted mean of the members' surprises (−log10 p): a weighted geometric mean of their
    /// tail probabilities. One member alone at 10σ against two calm ones reads as a moderate
    /// anomaly; all three at 4σ read as a stronger one. The default.
    #[default]
    #[serde(rename = "logp")]
    LogP,
    /// The largest weighted member score: any member can raise the alarm.
    Max,
    /// Weighted share of members that flag the point, times their mean score: an anomaly needs
    /// a (weighted) majority.
    Vote,
}

/// Parameters of an [`Ensemble`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct EnsembleParams {
    /// How member scores are combined.
    pub combine: Combine,
    /// Anomaly-score threshold of the combined verdict. Default 0.5.
    pub threshold: f64,
    /// Step of the multiplicative weight update on feedback, in (0, 1]. Default 0.3.
    pub learning_rate: f64,
    /// No member's weight falls below this share of an equal weight. Default 0.1.
    pub min_weight: f64,
}

impl Default for EnsembleParams {
    fn default() -> Self {
        EnsembleParams { combine: Combine::LogP, threshold: 0.5, learning_rate: 0.3, min_weight: 0.1 }
    }
}

impl EnsembleParams {
    /// Sets `combine`.
    pub fn combine(mut self, combine: Combine) -> Self {
        self.combine = combine;
        self
    }
    /// Sets `threshold`.
    pub fn threshold(mut self, threshold: f64) -> Self {
        self.threshold = threshold;
        self
    }
    /// Sets `learning_rate`.
    pub fn learning_rate(mut self, rate: f64) -> Self {
        self.learning_rate = rate;
        self
    }
    /// # Errors
    /// [`Error::InvalidParameter`] naming the first bad parameter.
    pub fn validate(&self) -> Result<()> {
        let bad = |name: &'static str, reason: &'static str, v: f64| Error::InvalidParameter {
            name,
            reason,
            value: v.to_string(),
        };
        if !(self.threshold > 0.0 && self.threshold < 1.0) {
            return Err(bad("threshold", "must be in (0, 1)", self.threshold));
        }
        if !(self.learning_rate > 0.0 && self.learning_rate <= 1.0) {
            return Err(bad("learning_rate", "must be in (0, 1]", self.learning_rate));
        }
        if !(0.0..1.0).contains(&self.min_weight) {
            return Err(bad("min_weight", "must be in [0, 1)", self.min_weight));
        }
        Ok(())
    }
}

/// One member's part in an ensemble verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemberVerdict {
    /// The member's name in the ensemble.
    pub name: String,
    /// Its weight when the verdict was made (weights sum to 1).
    pub weight: f64,
    /// Its own verdict.
    pub verdict: Verdict,
    /// Whether it agreed with the ensemble's decision.
    pub agreed: bool,
}

/// An ensemble verdict with each member's part: who agreed and how strongly.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnsembleVerdict {
    /// The combined verdict.
    pub verdict: Verdict,
    /// Every member's verdict, in member order.
    pub members: Vec<MemberVerdict>,
    /// Weighted share of warm members that agreed with the decision, in [0, 1].
    pub agreement: f64,
}

/// Runs several detectors over one series and returns one verdict per point.
///
/// The combined verdict's expected value and band are the first member's (put the main
/// baseline first); its component lists the members that flagged the point; its confidence is
/// the weighted agreement times the members' mean confidence. Weights start equal and adapt
/// online from labelled feedback ([`Ensemble::feedback`]); they are part of the snapshot.
///
/// ```
/// use oddsight_core::{BaselineDetector, Detector, DetectorParams, EwmaParams, Point, QuantileWindowParams, ZScore};
/// use oddsight_detectors::ensemble::{Ensemble, EnsembleParams};
/// let ewma = BaselineDetector::new(EwmaParams::default().build()?, ZScore, DetectorParams::default())?;
/// let mad = BaselineDetector::new(QuantileWindowParams::default().build()?, ZScore, DetectorParams::default())?;
/// // Members of one type here; `AnyDetector` mixes kinds.
/// let mut e = Ensemble::new(vec![("ewma".into(), ewma.clone()), ("ewma-2".into(), ewma)], EnsembleParams::default())?;
/// for i in 0..100 {
///     e.observe(Point::new(i, 10.0 + (i % 3) as f64))?;
/// }
/// let v = e.explain(Point::new(100, 50.0))?;
/// assert!(v.verdict.is_anomaly && v.agreement == 1.0);
/// assert_eq!(v.verdict.component, "ensemble[ewma+ewma-2]");
/// e.feedback(&v, false)?; // "this was noise": both flagged it, so both lose weight equally
/// assert_eq!(e.weights(), &[0.5, 0.5]);
/// # let _ = mad;
/// # Ok::<(), oddsight_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ensemble<M> {
    params: EnsembleParams,
    names: Vec<String>,
    members: Vec<M>,
    weights: Vec<f64>,
    last: Option<i64>,
}

impl<M: Detector + Clone> Ensemble<M> {
    /// An ensemble of named members with equal weights.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for bad params, no members, or duplicate names.
    pub fn new(members: Vec<(String, M)>, params: EnsembleParams) -> Result<Self> {
        params.validate()?;
        if members.is_empty() {
            return Err(Error::Empty { what: "ensemble members" });
        }
        let (names, members): (Vec<String>, Vec<M>) = members.into_iter().unzip();
        for (i, n) in names.iter().enumerate() {
            if names[..i].contains(n) {
                return Err(Error::InvalidParameter {
                    name: "members",
                    reason: "names must be unique",
                    value: n.clone(),
                });
            }
        }
        let w = 1.0 / members.len() as f64;
        let last = members.iter().filter_map(|m| m.last_timestamp()).max();
        Ok(Ensemble { params, weights: vec![w; members.len()], names, members, last })
    }

    /// Current weights, in member order; they sum to 1.
    pub fn weights(&self) -> &[f64] {
        &self.weights
    }

    /// Member names, in order.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// The members.
    pub fn members(&self) -> &[M] {
        &self.members
    }

    /// The parameters.
    pub fn params(&self) -> &EnsembleParams {
        &self.params
    }

    /// Judges `point` with every member and combines, keeping every member's verdict. Pure.
    ///
    /// # Errors
    /// The first member error ([`Error::NonFinite`], [`Error::OutOfOrder`], …).
    pub fn explain(&self, point: Point) -> Result<EnsembleVerdict> {
        if let Some(last) = self.last
            && point.timestamp < last
        {
            return Err(Error::OutOfOrder { timestamp: point.timestamp, last });
        }
        let verdicts = self.members.iter().map(|m| m.score(point)).collect::<Result<Vec<_>>>()?;
        Ok(self.combine(point, verdicts))
    }

    fn combine(&self, point: Point, verdicts: Vec<Verdict>) -> EnsembleVerdict {
        let warm_weight: f64 = verdicts.iter().zip(&self.weights).filter(|(v, _)| v.warm).map(|(_, w)| w).sum();
        let primary = &verdicts[0];
        if warm_weight <= 0.0 {
            let mut v = Verdict::neutral(point, primary.expected, Cow::Borrowed("ensemble"), false);
            v.lower = primary.lower;
            v.upper = primary.upper;
            let members = self.members_of(verdicts, false);
            return EnsembleVerdict { verdict: v, members, agreement: 0.0 };
        }
        let warm = || verdicts.iter().zip(&self.weights).filter(|(v, _)| v.warm);
        let score = match self.params.combine {
            Combine::LogP => {
                let s: f64 = warm().map(|(v, w)| w * scale::surprise(v.z)).sum::<f64>() / warm_weight;
                scale::score_from_surprise(s)
            }
            Combine::Max => {
                let wmax = warm().map(|(_, w)| *w).fold(0.0, f64::max);
                warm().map(|(v, w)| v.anomaly_score * (w / wmax)).fold(0.0, f64::max)
            }
            Combine::Vote => {
                let flagged: Vec<_> = warm().filter(|(v, _)| v.is_anomaly).collect();
                let share: f64 = flagged.iter().map(|(_, w)| *w).sum::<f64>() / warm_weight;
                let fw: f64 = flagged.iter().map(|(_, w)| *w).sum();
                let mean =
                    if fw > 0.0 { flagged.iter().map(|(v, w)| v.anomaly_score * *w).sum::<f64>() / fw } else { 0.0 };
                if share > 0.5 { mean } else { mean * share }
            }
        };
        let up: f64 = warm().filter(|(v, _)| v.direction == Direction::Up).map(|(v, w)| w * v.anomaly_score).sum();
        let down: f64 = warm().filter(|(v, _)| v.direction == Direction::Down).map(|(v, w)| w * v.anomaly_score).sum();
        let z = scale::z_for_score(score) * if down > up { -1.0 } else { 1.0 };
        let is_anomaly = score >= self.params.threshold;
        let agreement: f64 =
            warm().filter(|(v, _)| v.is_anomaly == is_anomaly).map(|(_, w)| w).sum::<f64>() / warm_weight;
        let mean_conf: f64 = warm().map(|(v, w)| w * v.confidence).sum::<f64>() / warm_weight;
        let flagged: Vec<&str> =
            verdicts.iter().zip(&self.names).filter(|(v, _)| v.warm && v.is_anomaly).map(|(_, n)| n.as_str()).collect();
        let component = if flagged.is_empty() {
            Cow::Borrowed("ensemble")
        } else {
            Cow::Owned(format!("ensemble[{}]", flagged.join("+")))
        };
        let notes = Notes {
            scale_floored: primary.notes.scale_floored,
            excluded: verdicts.iter().any(|v| v.notes.excluded),
            gap: verdicts.iter().any(|v| v.notes.gap),
            fallback: primary.notes.fallback,
        };
        let mut verdict = verdict_from_z(
            point,
            z,
            primary.expected,
            (primary.lower, primary.upper),
            self.params.threshold,
            1,
            0,
            component,
            notes,
        );
        // Keep the combined score exact rather than its round trip through z.
        verdict.anomaly_score = score;
        verdict.severity = scale::severity(score);
        verdict.severity_score = scale::severity_score(score);
        verdict.is_anomaly = is_anomaly;
        verdict.confidence = (agreement * mean_conf).clamp(0.0, 1.0);
        let members = self.members_of(verdicts, is_anomaly);
        EnsembleVerdict { verdict, members, agreement }
    }

    fn members_of(&self, verdicts: Vec<Verdict>, decision: bool) -> Vec<MemberVerdict> {
        verdicts
            .into_iter()
            .zip(&self.names)
            .zip(&self.weights)
            .map(|((verdict, name), &weight)| MemberVerdict {
                agreed: verdict.warm && verdict.is_anomaly == decision,
                name: name.clone(),
                weight,
                verdict,
            })
            .collect()
    }

    /// Judges then learns, keeping every member's verdict.
    ///
    /// # Errors
    /// As [`Ensemble::explain`]; on error nothing is learned.
    pub fn observe_explained(&mut self, point: Point) -> Result<EnsembleVerdict> {
        let explained = self.explain(point)?;
        self.learn_checked(point)?;
        Ok(explained)
    }

    /// Updates every member after all of them accepted `point` in `score`.
    fn learn_checked(&mut self, point: Point) -> Result<()> {
        for m in &mut self.members {
            m.update(point)?;
        }
        self.last = Some(point.timestamp);
        Ok(())
    }

    /// Labelled feedback on a verdict this ensemble made: `real` says whether it was a real
    /// incident. Members are re-weighted multiplicatively by how wrong they were (a member
    /// that scored a real incident low, or noise high, loses weight), weights renormalise to 1,
    /// and none falls below `min_weight / n`.
    ///
    /// # Errors
    /// [`Error::Shape`] if `verdict` has a different number of members.
    pub fn feedback(&mut self, verdict: &EnsembleVerdict, real: bool) -> Result<()> {
        if verdict.members.len() != self.members.len() {
            return Err(Error::Shape {
                what: "member verdicts",
                expected: self.members.len(),
                got: verdict.members.len(),
            });
        }
        let eta = self.params.learning_rate;
        let mut w: Vec<f64> = self
            .weights
            .iter()
            .zip(&verdict.members)
            .map(|(&w, m)| {
                let s = m.verdict.anomaly_score.clamp(0.0, 1.0);
                let loss = if !m.verdict.warm {
                    0.0
                } else if real {
                    1.0 - s
                } else {
                    s
                };
                w * (-eta * loss).exp()
            })
            .collect();
        // Renormalise to 1 with a floor: members at the floor stay there, the rest share what is
        // left in proportion; repeat while someone new falls under the floor.
        let floor = self.params.min_weight / w.len() as f64;
        let mut pinned = vec![false; w.len()];
        loop {
            let free: f64 = w.iter().zip(&pinned).filter(|(_, p)| !**p).map(|(x, _)| x).sum();
            let left = 1.0 - floor * pinned.iter().filter(|p| **p).count() as f64;
            let mut changed = false;
            for (x, p) in w.iter_mut().zip(pinned.iter_mut()) {
                if *p {
                    *x = floor;
                } else {
                    *x = if free > 0.0 { *x * left / free } else { left };
                    if *x < floor {
                        *p = true;
                        changed = true;
                    }
                }
            }
            if !changed {
                break;
            }
        }
        self.weights = w;
        Ok(())
    }
}

impl<M> Detector for Ensemble<M>
where
    M: Detector + Clone + Stateful,
{
    fn score(&self, point: Point) -> Result<Verdict> {
        Ok(self.explain(point)?.verdict)
    }

    fn update(&mut self, point: Point) -> Result<()> {
        // Every member must accept the point before any learns it.
        self.explain(point)?;
        self.learn_checked(point)
    }

    fn observe(&mut self, point: Point) -> Result<Verdict> {
        Ok(self.observe_explained(point)?.verdict)
    }

    fn last_timestamp(&self) -> Option<i64> {
        self.last
    }

    /// All-or-nothing: the batch runs on a copy, kept only if every point was accepted (a
    /// member may refuse a finite value part way, e.g. a negative count).
    fn observe_batch(&mut self, timestamps: &[i64], values: &[f64]) -> Result<Vec<Verdict>> {
        check_batch(self.last, timestamps, values)?;
        let mut next = self.clone();
        let verdicts =
            timestamps.iter().zip(values).map(|(&t, &v)| next.observe(Point::new(t, v))).collect::<Result<Vec<_>>>()?;
        *self = next;
        Ok(verdicts)
    }

    /// All-or-nothing, as [`observe_batch`](Detector::observe_batch).
    fn update_batch(&mut self, timestamps: &[i64], values: &[f64]) -> Result<()> {
        check_batch(self.last, timestamps, values)?;
        let mut next = self.clone();
        timestamps.iter().zip(values).try_for_each(|(&t, &v)| next.update(Point::new(t, v)))?;
        *self = next;
        Ok(())
    }

    /// All-or-nothing: no member is re-baselined unless every member accepts `recent`.
    fn rebaseline(&mut self, recent: &[Point]) -> Result<()> {
        let mut members = self.members.clone();
        for m in &mut members {
            m.rebaseline(recent)?;
        }
        self.members = members;
        if let Some(p) = recent.last() {
            self.last = Some(self.last.map_or(p.timestamp, |l| l.max(p.timestamp)));
        }
        Ok(())
    }

    fn reset(&mut self) {
        self.members.iter_mut().for_each(|m| m.reset());
        self.last = None;
    }

    fn snapshot(&self) -> Result<String> {
        self.to_snapshot()
    }

    fn name(&self) -> Cow<'static, str> {
        Cow::Owned(format!("ensemble({})", self.names.join(",")))
    }
}

impl<M: Stateful> Stateful for Ensemble<M> {
    fn kind() -> String {
        format!("Ensemble<{}>", M::kind())
    }
    fn validate(&self) -> Result<()> {
        self.params.validate()?;
        let n = self.members.len();
        if n == 0 || self.names.len() != n || self.weights.len() != n {
            return Err(Error::Snapshot {
                reason: format!(
                    "{n} members, {} names and {} weights must agree",
                    self.names.len(),
                    self.weights.len()
                ),
                source: None,
            });
        }
        let total: f64 = self.weights.iter().sum();
        if self.weights.iter().any(|w| !w.is_finite() || *w < 0.0) || (total - 1.0).abs() > 1e-6 {
            return Err(Error::Snapshot { reason: "weights must be finite, >= 0 and sum to 1".into(), source: None });
        }
        self.members.iter().try_for_each(|m| m.validate())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oddsight_core::{BaselineDetector, DetectorParams, EwmaBaseline, EwmaParams, ZScore};

    type Ewma = BaselineDetector<EwmaBaseline, ZScore>;

    fn ewma(alpha: f64) -> Ewma {
        BaselineDetector::new(
            EwmaParams::default().alpha(alpha).warmup(5).build().unwrap(),
            ZScore,
            DetectorParams::default(),
        )
        .unwrap()
    }

    fn trained(combine: Combine) -> Ensemble<Ewma> {
        let mut e = Ensemble::new(
            vec![("slow".into(), ewma(0.01)), ("fast".into(), ewma(0.9))],
            EnsembleParams::default().combine(combine),
        )
        .unwrap();
        for i in 0..200 {
            e.observe(Point::new(i, 10.0 + (i % 2) as f64)).unwrap();
        }
        // A jump the fast member has absorbed and the slow one has not.
        for i in 200..203 {
            e.observe(Point::new(i, 30.0 + (i % 2) as f64 * 0.1)).unwrap();
        }
        e
    }

    #[test]
    fn combine_rules_order_as_documented() {
        let p = Point::new(203, 30.05);
        let by = |c| trained(c).explain(p).unwrap();
        let (logp, max, vote) = (by(Combine::LogP), by(Combine::Max), by(Combine::Vote));
        let slow = logp.members[0].verdict.anomaly_score;
        let fast = logp.members[1].verdict.anomaly_score;
        assert!(slow > 0.5 && fast < 0.5, "slow {slow} fast {fast}");
        assert!((max.verdict.anomaly_score - slow).abs() < 1e-12);
        assert!(logp.verdict.anomaly_score < slow && logp.verdict.anomaly_score > fast);
        assert!(vote.verdict.anomaly_score < 0.5 * slow + 1e-12); // half the weight flagged it
        assert!((logp.agreement - 0.5).abs() < 1e-12);
        assert_eq!(max.verdict.component, "ensemble[slow]");
    }

    #[test]
    fn feedback_moves_weight_to_the_member_that_was_right() {
        let mut e = trained(Combine::LogP);
        let v = e.explain(Point::new(203, 30.05)).unwrap();
        e.feedback(&v, true).unwrap();
        assert!(e.weights()[0] > 0.5 && (e.weights().iter().sum::<f64>() - 1.0).abs() < 1e-12);
        for _ in 0..100 {
            e.feedback(&v, true).unwrap();
        }
        assert!((e.weights()[1] - 0.1 / 2.0).abs() < 1e-12, "floor holds: {:?}", e.weights());
        let snap = e.to_snapshot().unwrap();
        let back = Ensemble::<Ewma>::from_snapshot(&snap).unwrap();
        assert_eq!(back.weights(), e.weights());
        let mut short = v.clone();
        short.members.pop();
        assert!(matches!(e.feedback(&short, true), Err(Error::Shape { .. })));
    }

    #[test]
    fn rejected_points_leave_every_member_untouched() {
        let mut e = trained(Combine::LogP);
        let before = e.clone();
        assert!(e.observe(Point::new(5, 1.0)).is_err());
        assert!(e.update(Point::new(300, f64::NAN)).is_err());
        assert_eq!(e, before);
        assert!(Ensemble::<Ewma>::new(vec![], EnsembleParams::default()).is_err());
        assert!(
            Ensemble::new(vec![("a".into(), ewma(0.1)), ("a".into(), ewma(0.2))], EnsembleParams::default()).is_err()
        );
    }
}
