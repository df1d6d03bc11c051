//! Per (target, series) state and the per-point loop.
//!
//! Every watched series carries one [`Slot`] per target: the detector, the core
//! [`StrikePolicy`], and two counters that let the loop skip work that cannot change anything.
//! The result is exactly that of a [`Watch`](oddsight_core::Watch) pushing every point (a test
//! compares the two point by point); the skipping is what makes a million series affordable.
//!
//! ## The quiet state
//!
//! A strike policy with no open alert, no run of strikes under way (for `k of n`, a window of
//! `n` calm verdicts) and no shift being counted is *quiet*: feeding it one more verdict below
//! its `enter` level changes nothing and lets the point be learned. The slot tracks whether the
//! policy is quiet from the verdicts it has fed it (it cannot look inside). While quiet, a point
//! whose `|z|` is below the level that could score `enter` is learned directly: no verdict (no
//! p-value, no confidence, no band) is built and the policy is not stepped. Anything else takes
//! the full path: verdict, policy step, learn, skip or re-baseline as the policy says.
//!
//! This holds for detectors that are a baseline plus the plain z-score (`ewma`, `window`,
//! `mad`, `seasonal`): their `|z|` comes straight from the baseline's expectation. Other
//! detectors always take the full path.

use super::ewma::LeanEwma;
use super::target::Compiled;
use crate::AnyDetector;
use oddsight_core::{
    Alert, AlertEvent, AlertPolicy, Baseline, BaselineDetector, Detector, Direction, Learn, Point, Result, Scorer,
    Severity, Stateful, StrikePolicy, Verdict, ZScore,
};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;

/// The detector of one slot. EWMA, the small one, is kept inline; everything else is boxed so
/// that the inline part stays small.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Model {
    Ewma(LeanEwma),
    Boxed(Box<AnyDetector>),
}

impl Model {
    pub(crate) fn new(c: &Compiled) -> Self {
        match &c.detector {
            AnyDetector::Ewma(d) => Model::Ewma(LeanEwma::from(d)),
            // A clone of a sliding window holds no capacity and grows by doubling, up to 1.4x
            // the window; building one reserves exactly the window.
            AnyDetector::Mad(_) | AnyDetector::Window(_) | AnyDetector::Iqr(_) | AnyDetector::RateOfChange(_) => {
                Model::Boxed(Box::new(AnyDetector::from_spec(&c.spec).unwrap_or_else(|_| c.detector.clone())))
            }
            other => Model::Boxed(Box::new(other.clone())),
        }
    }
    pub(crate) fn kind_name(&self) -> &'static str {
        match self {
            Model::Ewma(_) => "ewma",
            Model::Boxed(d) => d.kind_name(),
        }
    }
    pub(crate) fn detector(&self) -> &dyn Detector {
        match self {
            Model::Ewma(d) => d,
            Model::Boxed(d) => &**d,
        }
    }
    pub(crate) fn validate(&self) -> Result<()> {
        match self {
            Model::Ewma(d) => d.validate(),
            Model::Boxed(d) => d.validate(),
        }
    }
}

/// What the policy raised, as the monitor keeps it until the target reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(crate) enum RawEvent {
    /// A new alert (or one whose severity just reached the target's minimum).
    Fired { alert: Alert },
    /// The open alert's severity rose.
    Escalated { from: Severity, to: Severity },
    /// The alert ended.
    Resolved { alert: Alert },
}

/// An event judged but not yet reported.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Pending {
    /// Series index.
    pub(crate) series: u32,
    /// Judging order, compared only between events of one series.
    pub(crate) seq: u64,
    /// The policy's own id of the alert.
    pub(crate) local: u64,
    pub(crate) event: RawEvent,
    /// The verdict that raised it.
    pub(crate) verdict: Verdict,
}

/// One target's state for one series.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Slot {
    /// Index of the target.
    pub(crate) target: u32,
    /// Warm, judged verdicts below `enter` since the last strike (saturating).
    pub(crate) calm: u32,
    /// Whether a verdict since the last strike cleared the policy's shift count.
    pub(crate) clean: bool,
    /// Whether the policy is known to be quiet.
    pub(crate) quiet: bool,
    /// Whether the policy may hold capacity left by a run of strikes (shed at the end of the
    /// batch if it is quiet by then). Not state: a restored policy has no spare capacity.
    #[serde(skip)]
    pub(crate) spare: bool,
    /// Direction of the last strike the policy counted towards a shift (it remembers it; see
    /// [`Compiled::lone_strikes_vanish`]).
    #[serde(default)]
    pub(crate) shift_direction: Direction,
    pub(crate) model: Model,
    pub(crate) policy: StrikePolicy,
}

/// Where a batch's events go.
pub(crate) struct Sink<'a> {
    pub(crate) series: u32,
    pub(crate) seq: &'a mut u64,
    pub(crate) min_severity: Severity,
    pub(crate) out: &'a mut Vec<Pending>,
}

impl Slot {
    pub(crate) fn new(target: u32, compiled: &Compiled) -> Self {
        Slot {
            target,
            calm: 0,
            clean: true,
            quiet: compiled.quiet_after == 0,
            spare: false,
            shift_direction: Direction::Neutral,
            model: Model::new(compiled),
            policy: compiled.policy.clone(),
        }
    }

    /// Judges a batch already checked (finite, in order, accepted by the detector).
    ///
    /// # Errors
    /// A detector error, which the checks made beforehand rule out.
    pub(crate) fn run(&mut self, c: &Compiled, ts: &[i64], xs: &[f64], sink: &mut Sink<'_>) -> Result<()> {
        let Slot { calm, clean, quiet, spare, shift_direction, model, policy, .. } = self;
        let mut st = Quiet { calm, clean, quiet, spare, shift_direction };
        let result = match model {
            Model::Ewma(d) => run_ewma(d, policy, &mut st, c, ts, xs, sink),
            Model::Boxed(b) => match &mut **b {
                AnyDetector::Seasonal(d) => {
                    let exclusions = !d.baseline().params().exclusions.is_empty();
                    fast(d, exclusions, policy, &mut st, c, ts, xs, sink)
                }
                AnyDetector::Mad(d) => fast(d, false, policy, &mut st, c, ts, xs, sink),
                AnyDetector::Window(d) => fast(d, false, policy, &mut st, c, ts, xs, sink),
                other => {
                    for (&t, &x) in ts.iter().zip(xs) {
                        let p = Point::new(t, x);
                        judge(other, policy, &mut st, c, p, None, sink)?;
                    }
                    Ok(())
                }
            },
        };
        if self.quiet && self.spare {
            // Quiet again after a run of strikes: shed the capacity it left behind (a clone
            // keeps only what is in use), so a series that once alerted costs no more than one
            // that never did. Once a batch, not once a run: a batch with many short runs
            // reuses the room instead of allocating it again each time.
            self.policy = self.policy.clone();
            self.spare = false;
        }
        result
    }

    /// Checks that the detector accepts every point of the batch (for detectors that refuse
    /// some finite values), without changing anything.
    ///
    /// # Errors
    /// The first point refused, with its index.
    pub(crate) fn probe(&self, ts: &[i64], xs: &[f64]) -> std::result::Result<(), (usize, oddsight_core::Error)> {
        let d = self.model.detector();
        for (i, (&t, &x)) in ts.iter().zip(xs).enumerate() {
            d.score(Point::new(t, x)).map_err(|e| (i, e))?;
        }
        Ok(())
    }

    /// Closes the open alert by hand; the policy is no longer known to be quiet.
    pub(crate) fn resolve(&mut self, at: i64) -> Option<AlertEvent> {
        self.quiet = false;
        self.policy.resolve(at)
    }
}

struct Quiet<'a> {
    calm: &'a mut u32,
    clean: &'a mut bool,
    quiet: &'a mut bool,
    spare: &'a mut bool,
    shift_direction: &'a mut Direction,
}

/// The loop for EWMA. While the policy is quiet, runs of calm points are learned on a local
/// copy of the baseline (mean and variance stay in registers, as in the core's own
/// `z`-then-`learn` loop) until a point needs judging; everything else goes through [`judge`].
#[inline]
fn run_ewma(
    d: &mut LeanEwma,
    policy: &mut StrikePolicy,
    st: &mut Quiet<'_>,
    c: &Compiled,
    ts: &[i64],
    xs: &[f64],
    sink: &mut Sink<'_>,
) -> Result<()> {
    let (z_enter, z_calm, warmup) = (c.z_enter, c.z_calm, d.baseline.params().warmup.max(1));
    let n = ts.len().min(xs.len());
    let mut i = 0;
    while i < n {
        if *st.quiet {
            let mut b = d.baseline.clone();
            let mut count = b.count();
            let start = i;
            while i < n {
                let x = xs[i];
                // Judged (and quiet) only once warm, and only a point that may strike.
                let calm = b.z(x).abs() < z_enter; // false for NaN: judged
                if count >= warmup && !calm {
                    break;
                }
                b.learn(x);
                count += 1;
                i += 1;
            }
            d.baseline = b;
            if i > start {
                d.last = Some(ts[i - 1]);
            }
            if i == n {
                break;
            }
        } else if d.baseline.count() < warmup {
            // Cold: the policy ignores the verdict and lets the point be learned.
            d.learn(Point::new(ts[i], xs[i]));
            i += 1;
            continue;
        }
        let (p, z) = (Point::new(ts[i], xs[i]), d.baseline.z(xs[i]));
        // A lone strike (a spike) while quiet, followed by a calm point: the policy would count
        // the strike, keep it out of the baseline, then forget it on the calm point, ending
        // exactly where it started (it remembers the direction of the last strike, so the
        // strike must go the same way); the detector learns only the calm point. Settled here
        // without building either verdict (most strikes in telemetry are such spikes).
        if *st.quiet
            && c.lone_strikes_vanish
            && i + 1 < n
            && z.abs() >= c.z_strike
            && Direction::of(z) == *st.shift_direction
        {
            let next = d.baseline.z(xs[i + 1]);
            if next.abs() < z_calm {
                d.learn(Point::new(ts[i + 1], xs[i + 1]));
                *st.calm = 1;
                *st.clean = true;
                i += 2;
                continue;
            }
        }
        judge(d, policy, st, c, p, (z.abs() < z_calm).then_some(false), sink)?;
        i += 1;
    }
    Ok(())
}

/// The loop for a baseline plus the plain z-score (`exclusions`: whether the baseline has
/// exclusion windows to look up).
#[inline]
#[allow(clippy::too_many_arguments)]
fn fast<B>(
    d: &mut BaselineDetector<B, ZScore>,
    exclusions: bool,
    policy: &mut StrikePolicy,
    st: &mut Quiet<'_>,
    c: &Compiled,
    ts: &[i64],
    xs: &[f64],
    sink: &mut Sink<'_>,
) -> Result<()>
where
    B: Baseline + Clone + Serialize + DeserializeOwned + Stateful,
{
    let z_enter = c.z_enter;
    for (&t, &x) in ts.iter().zip(xs) {
        let p = Point::new(t, x);
        let b = d.baseline();
        if exclusions && b.is_excluded(t) {
            // The policy skips excluded points without a trace: neither judged nor learned.
            continue;
        }
        let e = b.expect(t);
        // A cold verdict leaves the policy untouched and is learned; so is a calm point while
        // the policy is quiet.
        if !e.warm || (*st.quiet && ZScore.z(x, &e).abs() < z_enter) {
            d.update(p)?;
            continue;
        }
        let z = ZScore.z(x, &e);
        judge(d, policy, st, c, p, (z.abs() < c.z_calm).then_some(e.fallback), sink)?;
    }
    Ok(())
}

/// The full path: verdict, policy step, learning as the policy says, events, quiet bookkeeping.
///
/// `calm` is `Some(fallback)` when the caller knows the point is warm, not excluded, and
/// scores below the policy's `exit` level (its `|z|` is below [`Compiled::z_calm`]): the policy
/// then needs no more than that (it keeps no calm verdict, and treats every score below `exit`
/// alike), so it is stepped with a stand-in, and the real verdict is built only if the step
/// raises an event. Otherwise the detector's verdict is built first.
fn judge<D: Detector>(
    d: &mut D,
    policy: &mut StrikePolicy,
    st: &mut Quiet<'_>,
    c: &Compiled,
    p: Point,
    calm: Option<bool>,
    sink: &mut Sink<'_>,
) -> Result<()> {
    let v = match calm {
        Some(fallback) => {
            let mut v = Verdict::neutral(p, p.value, Cow::Borrowed("calm"), true);
            v.notes.fallback = fallback;
            v
        }
        None => d.score(p)?,
    };
    let decision = policy.step(&v);
    // Before learning: the events carry the verdict as the detector saw the point.
    let reported = match (&calm, decision.events.is_empty()) {
        (_, true) => None,
        (Some(_), false) => Some(d.score(p)?),
        (None, false) => Some(v.clone()),
    };
    match &decision.learn {
        Learn::Learn => d.update(p)?,
        Learn::Skip => {}
        Learn::Rebaseline { points } => d.rebaseline(points)?,
    }
    if v.warm && !v.notes.excluded {
        let params = policy.params();
        if v.anomaly_score >= params.enter {
            *st.calm = 0;
            *st.clean = false;
            if params.protect_baseline && !v.notes.fallback {
                *st.shift_direction = v.direction;
            }
        } else {
            *st.calm = st.calm.saturating_add(1);
            if !params.protect_baseline || (!v.notes.fallback && v.anomaly_score < params.exit) {
                *st.clean = true;
            }
        }
        let was = *st.quiet;
        *st.quiet = *st.clean && *st.calm >= c.quiet_after && policy.open_alert().is_none();
        *st.spare |= *st.quiet && !was;
    }
    if let Some(v) = reported {
        emit(decision.events, policy, &v, sink);
    }
    Ok(())
}

/// Turns policy events into pending events, applying the target's minimum severity: an alert
/// is reported from the moment its peak severity reaches the minimum (as `fired`, even if the
/// policy fired it earlier), and only reported alerts report escalations and resolution.
fn emit(events: Vec<AlertEvent>, policy: &StrikePolicy, v: &Verdict, sink: &mut Sink<'_>) {
    let min = sink.min_severity;
    let mut push = |local: u64, event: RawEvent, verdict: &Verdict| {
        *sink.seq += 1;
        sink.out.push(Pending { series: sink.series, seq: *sink.seq, local, event, verdict: verdict.clone() });
    };
    for (i, e) in events.iter().enumerate() {
        match e {
            AlertEvent::Fired { alert } => {
                if alert.peak_severity >= min {
                    push(alert.id, RawEvent::Fired { alert: alert.clone() }, v);
                }
            }
            AlertEvent::Escalated { id, from, to, verdict } => {
                if *from >= min {
                    push(*id, RawEvent::Escalated { from: *from, to: *to }, verdict);
                } else if *to >= min {
                    // First report: the alert as it stands (it may have been closed by a
                    // re-baseline in this same step).
                    let alert = match policy.open_alert() {
                        Some(a) if a.id == *id => Some(a.clone()),
                        _ => events[i..].iter().find_map(|e| match e {
                            AlertEvent::Resolved { alert } if alert.id == *id => {
                                let mut a = alert.clone();
                                a.end = None;
                                a.resolution = None;
                                Some(a)
                            }
                            _ => None,
                        }),
                    };
                    if let Some(alert) = alert {
                        push(*id, RawEvent::Fired { alert }, verdict);
                    }
                }
            }
            AlertEvent::Resolved { alert } => {
                if alert.peak_severity >= min {
                    push(alert.id, RawEvent::Resolved { alert: alert.clone() }, v);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The per-series figures the module documentation states.
    #[test]
    fn slot_sizes() {
        assert_eq!(std::mem::size_of::<Model>(), 104);
        assert_eq!(std::mem::size_of::<StrikePolicy>(), 312);
        assert_eq!(std::mem::size_of::<Slot>(), 432);
    }
}
