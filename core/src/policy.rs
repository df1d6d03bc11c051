//! Alert policies: from verdicts to alert events, and guarding the baseline.

use crate::error::{Error, Result, check};
use crate::snapshot::{Stateful, ensure};
use crate::traits::{AlertPolicy, Decision, Learn};
use crate::types::{Alert, AlertEvent, Direction, Point, Resolution, Severity, Verdict};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

/// When enough anomalous verdicts have been seen to raise an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Trigger {
    /// `k` anomalous verdicts in a row (`k = 1` is a plain threshold).
    Consecutive {
        /// Strikes needed, 1..=10,000.
        k: u32,
    },
    /// At least `k` anomalous verdicts among the last `n`.
    KOfN {
        /// Strikes needed.
        k: u32,
        /// Window, `k..=10,000`.
        n: u32,
    },
}

/// When a run of same-direction anomalies is a new normal (a deploy, a migration) rather than
/// an incident that should alarm forever.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ShiftRule {
    /// Same-direction anomalous points needed. Default 60.
    pub min_points: u32,
    /// And the time they must span. Default 0.
    pub min_duration_ms: i64,
}

impl Default for ShiftRule {
    fn default() -> Self {
        ShiftRule { min_points: 60, min_duration_ms: 0 }
    }
}

impl ShiftRule {
    /// A rule needing `min_points` points spanning `min_duration_ms`.
    pub fn new(min_points: u32, min_duration_ms: i64) -> Self {
        ShiftRule { min_points, min_duration_ms }
    }
}

/// Parameters of a [`StrikePolicy`].
///
/// The default is the "3 strikes" rule: three anomalous verdicts in a row (anomaly score ≥ 0.5,
/// |z| ≥ 3) fire; three in a row below the exit level (0.4) resolve; anomalous points are kept
/// out of the baseline, and 60 same-direction anomalous points re-baseline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct StrikePolicyParams {
    /// Anomaly score at or above which a verdict is a strike. Default 0.5.
    pub enter: f64,
    /// Anomaly score below which a verdict counts toward recovery (hysteresis: between `exit`
    /// and `enter` neither strikes nor recovers). Default 0.4. Must be ≤ `enter`.
    pub exit: f64,
    /// What raises an alert.
    pub trigger: Trigger,
    /// The strikes must span at least this long before firing. Default 0.
    pub min_duration_ms: i64,
    /// Consecutive calm verdicts that resolve an alert. Default 3.
    pub recovery: u32,
    /// After an alert resolves, no new alert fires for this long (de-duplicates flapping).
    /// Default 0.
    pub cooldown_ms: i64,
    /// Keep strikes out of the baseline. Default true. Strikes judged against a cold-start
    /// fallback (`notes.fallback`) are learned regardless, so cold buckets warm up.
    pub protect_baseline: bool,
    /// Re-baseline on a confirmed shift (only with `protect_baseline`). Default `Some(60 points)`.
    pub rebaseline: Option<ShiftRule>,
    /// Verdicts kept in an alert. Default 100.
    pub max_verdicts: usize,
}

impl Default for StrikePolicyParams {
    fn default() -> Self {
        StrikePolicyParams {
            enter: 0.5,
            exit: 0.4,
            trigger: Trigger::Consecutive { k: 3 },
            min_duration_ms: 0,
            recovery: 3,
            cooldown_ms: 0,
            protect_baseline: true,
            rebaseline: Some(ShiftRule::default()),
            max_verdicts: 100,
        }
    }
}

impl StrikePolicyParams {
    /// A plain threshold: one verdict at or above `score` fires, one below resolves.
    pub fn threshold(score: f64) -> Self {
        StrikePolicyParams {
            enter: score,
            exit: score,
            trigger: Trigger::Consecutive { k: 1 },
            recovery: 1,
            ..Self::default()
        }
    }
    /// `k` strikes in a row.
    pub fn strikes(k: u32) -> Self {
        StrikePolicyParams { trigger: Trigger::Consecutive { k }, ..Self::default() }
    }
    /// `k` strikes among the last `n` verdicts.
    pub fn k_of_n(k: u32, n: u32) -> Self {
        StrikePolicyParams { trigger: Trigger::KOfN { k, n }, ..Self::default() }
    }
    /// Sets enter and exit levels (hysteresis).
    pub fn levels(mut self, enter: f64, exit: f64) -> Self {
        self.enter = enter;
        self.exit = exit;
        self
    }
    /// Sets `min_duration_ms`.
    pub fn min_duration_ms(mut self, ms: i64) -> Self {
        self.min_duration_ms = ms;
        self
    }
    /// Sets `recovery`.
    pub fn recovery(mut self, points: u32) -> Self {
        self.recovery = points;
        self
    }
    /// Sets `cooldown_ms`.
    pub fn cooldown_ms(mut self, ms: i64) -> Self {
        self.cooldown_ms = ms;
        self
    }
    /// Sets `protect_baseline`.
    pub fn protect_baseline(mut self, protect: bool) -> Self {
        self.protect_baseline = protect;
        self
    }
    /// Sets the re-baseline rule.
    pub fn rebaseline(mut self, rule: Option<ShiftRule>) -> Self {
        self.rebaseline = rule;
        self
    }
    /// Sets `max_verdicts`.
    pub fn max_verdicts(mut self, n: usize) -> Self {
        self.max_verdicts = n;
        self
    }

    /// # Errors
    /// [`Error::InvalidParameter`] naming the first bad parameter.
    pub fn validate(&self) -> Result<()> {
        check::open_unit("enter", self.enter)?;
        check::unit("exit", self.exit)?;
        if self.exit > self.enter {
            return Err(Error::param("exit", "must be <= enter", self.exit));
        }
        match self.trigger {
            Trigger::Consecutive { k } => check::range_usize("trigger.k", k as usize, 1, 10_000)?,
            Trigger::KOfN { k, n } => {
                check::range_usize("trigger.k", k as usize, 1, 10_000)?;
                check::range_usize("trigger.n", n as usize, k as usize, 10_000)?;
            }
        }
        check::non_negative_ms("min_duration_ms", self.min_duration_ms)?;
        check::range_usize("recovery", self.recovery as usize, 1, 1_000_000)?;
        check::non_negative_ms("cooldown_ms", self.cooldown_ms)?;
        if let Some(r) = self.rebaseline {
            check::range_usize("rebaseline.min_points", r.min_points as usize, 1, 10_000_000)?;
            check::non_negative_ms("rebaseline.min_duration_ms", r.min_duration_ms)?;
        }
        check::range_usize("max_verdicts", self.max_verdicts, 1, 1_000_000)
    }

    /// # Errors
    /// As [`StrikePolicyParams::validate`].
    pub fn build(self) -> Result<StrikePolicy> {
        self.validate()?;
        Ok(StrikePolicy { params: self, ..StrikePolicy::blank() })
    }
}

/// The standard alert policy: threshold, k consecutive strikes or k-of-n, hysteresis with a
/// recovery window, minimum duration, cooldown, de-duplication (one open alert at a time, with
/// escalations), and baseline protection with re-baselining on a confirmed shift.
///
/// ```
/// use oddsight_core::{AlertEvent, AlertPolicy, Learn, StrikePolicyParams, Verdict, Point};
/// let mut policy = StrikePolicyParams::strikes(3).build()?;
/// let verdict = |t: i64, score: f64| {
///     let mut v = Verdict::neutral(Point::new(t, 1.0), 1.0, "doc".into(), true);
///     v.anomaly_score = score;
///     v
/// };
/// assert!(policy.step(&verdict(0, 0.9)).events.is_empty());
/// assert!(policy.step(&verdict(1, 0.9)).events.is_empty());
/// let third = policy.step(&verdict(2, 0.9));
/// assert!(matches!(&third.events[..], [AlertEvent::Fired { alert }] if alert.start == 0));
/// assert_eq!(third.learn, Learn::Skip); // strikes stay out of the baseline
/// # Ok::<(), oddsight_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StrikePolicy {
    params: StrikePolicyParams,
    /// Last `n` strike flags (k-of-n only).
    window: VecDeque<bool>,
    consecutive: u32,
    run_start: Option<i64>,
    pending: Vec<Verdict>,
    open: Option<Alert>,
    calm: u32,
    cooldown_until: Option<i64>,
    next_id: u64,
    shift: Vec<Point>,
    shift_direction: Direction,
    suppressed: u64,
}

impl StrikePolicy {
    fn blank() -> Self {
        StrikePolicy {
            params: StrikePolicyParams::default(),
            window: VecDeque::new(),
            consecutive: 0,
            run_start: None,
            pending: Vec::new(),
            open: None,
            calm: 0,
            cooldown_until: None,
            next_id: 1,
            shift: Vec::new(),
            shift_direction: Direction::Neutral,
            suppressed: 0,
        }
    }

    /// The parameters.
    pub fn params(&self) -> &StrikePolicyParams {
        &self.params
    }

    /// Alerts that would have fired but were held back by the cooldown.
    pub fn suppressed(&self) -> u64 {
        self.suppressed
    }

    /// Resolves the open alert by hand at `timestamp`.
    pub fn resolve(&mut self, timestamp: i64) -> Option<AlertEvent> {
        self.close(timestamp, Resolution::Manual)
    }

    fn close(&mut self, timestamp: i64, why: Resolution) -> Option<AlertEvent> {
        let mut alert = self.open.take()?;
        alert.end = Some(timestamp);
        alert.resolution = Some(why);
        self.calm = 0;
        if self.params.cooldown_ms > 0 {
            self.cooldown_until = Some(timestamp.saturating_add(self.params.cooldown_ms));
        }
        Some(AlertEvent::Resolved { alert })
    }

    fn clear_run(&mut self) {
        self.window.clear();
        self.consecutive = 0;
        self.run_start = None;
        self.pending.clear();
    }

    /// Records the strike flag; returns whether the trigger is satisfied.
    fn record(&mut self, strike: bool, v: &Verdict) -> bool {
        let triggered = match self.params.trigger {
            Trigger::Consecutive { k } => {
                self.consecutive = if strike { self.consecutive.saturating_add(1) } else { 0 };
                if !strike {
                    self.run_start = None;
                    self.pending.clear();
                }
                self.consecutive >= k
            }
            Trigger::KOfN { k, n } => {
                self.window.push_back(strike);
                if self.window.len() > n as usize {
                    self.window.pop_front();
                }
                let hits = self.window.iter().filter(|&&s| s).count();
                if hits == 0 {
                    self.run_start = None;
                    self.pending.clear();
                }
                hits >= k as usize
            }
        };
        if strike {
            self.run_start.get_or_insert(v.timestamp);
            if self.pending.len() < self.params.max_verdicts {
                self.pending.push(v.clone());
            }
        }
        triggered
    }

    fn guard(&mut self, v: &Verdict, strike: bool, events: &mut Vec<AlertEvent>) -> Learn {
        // A verdict judged against a coarser fallback (a cold seasonal bucket) is learned even
        // when it strikes: keeping it out would leave the bucket cold forever, and a run of them
        // (a first weekend judged against weekdays) must not re-baseline every bucket.
        if !self.params.protect_baseline || v.notes.fallback {
            return Learn::Learn;
        }
        if !strike {
            if v.anomaly_score < self.params.exit {
                self.shift.clear();
            }
            return Learn::Learn;
        }
        if v.direction != self.shift_direction {
            self.shift.clear();
            self.shift_direction = v.direction;
        }
        self.shift.push(Point::new(v.timestamp, v.value));
        if let Some(rule) = self.params.rebaseline {
            let span = self
                .shift
                .last()
                .map_or(0, |l| l.timestamp)
                .saturating_sub(self.shift.first().map_or(0, |f| f.timestamp));
            if self.shift.len() >= rule.min_points as usize && span >= rule.min_duration_ms {
                events.extend(self.close(v.timestamp, Resolution::Rebaselined));
                self.clear_run();
                return Learn::Rebaseline { points: std::mem::take(&mut self.shift) };
            }
        }
        Learn::Skip
    }
}

impl AlertPolicy for StrikePolicy {
    fn step(&mut self, v: &Verdict) -> Decision {
        let mut events = Vec::new();
        if v.notes.excluded {
            return Decision { events, learn: Learn::Skip };
        }
        if !v.warm {
            return Decision { events, learn: Learn::Learn };
        }
        let strike = v.anomaly_score >= self.params.enter;
        let triggered = self.record(strike, v);
        if let Some(open) = &mut self.open {
            if strike {
                self.calm = 0;
                open.anomalous_points += 1;
                if open.verdicts.len() < self.params.max_verdicts {
                    open.verdicts.push(v.clone());
                }
                open.peak_score = open.peak_score.max(v.anomaly_score);
                if v.severity > open.peak_severity {
                    events.push(AlertEvent::Escalated {
                        id: open.id,
                        from: open.peak_severity,
                        to: v.severity,
                        verdict: v.clone(),
                    });
                    open.peak_severity = v.severity;
                }
            } else if v.anomaly_score < self.params.exit {
                self.calm += 1;
                if self.calm >= self.params.recovery {
                    events.extend(self.close(v.timestamp, Resolution::Recovered));
                    self.clear_run();
                }
            } else {
                self.calm = 0;
            }
        } else if triggered {
            let start = self.run_start.unwrap_or(v.timestamp);
            let cooling = self.cooldown_until.is_some_and(|until| v.timestamp < until);
            if v.timestamp.saturating_sub(start) >= self.params.min_duration_ms {
                if cooling {
                    self.suppressed += 1;
                } else {
                    let verdicts = std::mem::take(&mut self.pending);
                    let alert = Alert {
                        id: self.next_id,
                        start,
                        end: None,
                        peak_severity: verdicts.iter().map(|x| x.severity).max().unwrap_or(Severity::Low),
                        peak_score: verdicts.iter().map(|x| x.anomaly_score).fold(0.0, f64::max),
                        direction: verdicts.first().map_or(v.direction, |x| x.direction),
                        anomalous_points: verdicts.len() as u64,
                        verdicts,
                        resolution: None,
                    };
                    self.next_id += 1;
                    self.calm = 0;
                    events.push(AlertEvent::Fired { alert: alert.clone() });
                    self.open = Some(alert);
                }
            }
        }
        let learn = self.guard(v, strike, &mut events);
        Decision { events, learn }
    }

    fn open_alert(&self) -> Option<&Alert> {
        self.open.as_ref()
    }

    fn reset(&mut self) {
        *self = StrikePolicy { params: self.params.clone(), ..StrikePolicy::blank() };
    }

    fn snapshot(&self) -> Result<String> {
        self.to_snapshot()
    }
}

impl Stateful for StrikePolicy {
    fn kind() -> String {
        "StrikePolicy".into()
    }
    fn validate(&self) -> Result<()> {
        self.params.validate()?;
        if let Trigger::KOfN { n, .. } = self.params.trigger {
            ensure(self.window.len() <= n as usize, || "strike window longer than n".into())?;
        }
        ensure(self.pending.len() <= self.params.max_verdicts, || "more pending verdicts than max_verdicts".into())?;
        ensure(self.next_id >= 1, || "alert ids start at 1".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scale;

    fn v(t: i64, score: f64, dir: Direction) -> Verdict {
        let mut v = Verdict::neutral(Point::new(t, t as f64), 0.0, "test".into(), true);
        v.anomaly_score = score;
        v.severity = scale::severity(score);
        v.direction = dir;
        v
    }

    fn run(p: &mut StrikePolicy, scores: &[f64]) -> Vec<(usize, String)> {
        let mut out = Vec::new();
        for (i, &s) in scores.iter().enumerate() {
            for e in p.step(&v(i as i64 * 1000, s, Direction::Up)).events {
                out.push((
                    i,
                    match e {
                        AlertEvent::Fired { .. } => "fired".to_string(),
                        AlertEvent::Escalated { to, .. } => format!("escalated:{to}"),
                        AlertEvent::Resolved { alert } => format!("resolved:{:?}", alert.resolution.unwrap()),
                    },
                ));
            }
        }
        out
    }

    #[test]
    fn three_strikes_fire_once_escalate_and_recover() {
        let mut p = StrikePolicyParams::default().rebaseline(None).build().unwrap();
        let ev = run(&mut p, &[0.6, 0.6, 0.1, 0.6, 0.6, 0.6, 0.7, 0.95, 0.45, 0.1, 0.1, 0.1]);
        assert_eq!(
            ev,
            vec![
                (5, "fired".into()),
                (6, "escalated:medium".into()),
                (7, "escalated:critical".into()),
                (11, "resolved:Recovered".into()),
            ]
        );
    }

    #[test]
    fn k_of_n_and_min_duration() {
        let mut p = StrikePolicyParams::k_of_n(3, 5).rebaseline(None).build().unwrap();
        assert_eq!(run(&mut p, &[0.6, 0.1, 0.6, 0.1, 0.6]), vec![(4, "fired".into())]);
        let mut p = StrikePolicyParams::threshold(0.5).min_duration_ms(2000).rebaseline(None).build().unwrap();
        assert_eq!(run(&mut p, &[0.6, 0.6, 0.6]), vec![(2, "fired".into())]);
    }

    #[test]
    fn cooldown_suppresses_flapping() {
        let mut p = StrikePolicyParams::threshold(0.5).cooldown_ms(5000).rebaseline(None).build().unwrap();
        let ev = run(&mut p, &[0.6, 0.1, 0.6, 0.1, 0.1, 0.1, 0.1, 0.6]);
        assert_eq!(ev, vec![(0, "fired".into()), (1, "resolved:Recovered".into()), (7, "fired".into())]);
        assert_eq!(p.suppressed(), 1);
    }

    #[test]
    fn sustained_shift_rebaselines() {
        let mut p = StrikePolicyParams::default().rebaseline(Some(ShiftRule::new(5, 0))).build().unwrap();
        let mut learns = Vec::new();
        for i in 0..6 {
            learns.push(p.step(&v(i, 0.8, Direction::Up)).learn);
        }
        assert_eq!(learns[0], Learn::Skip);
        assert!(matches!(&learns[4], Learn::Rebaseline { points } if points.len() == 5));
        assert!(p.open_alert().is_none());
        // A direction change restarts the count.
        let mut p = StrikePolicyParams::default().rebaseline(Some(ShiftRule::new(3, 0))).build().unwrap();
        for (i, d) in [Direction::Up, Direction::Up, Direction::Down, Direction::Down].into_iter().enumerate() {
            assert_eq!(p.step(&v(i as i64, 0.8, d)).learn, Learn::Skip);
        }
    }

    #[test]
    fn bad_params_are_named() {
        let e = StrikePolicyParams::default().levels(0.5, 0.7).build().unwrap_err();
        assert_eq!(e.to_string(), "invalid parameter exit: must be <= enter, got 0.7");
        assert!(StrikePolicyParams::k_of_n(5, 3).build().is_err());
    }
}
