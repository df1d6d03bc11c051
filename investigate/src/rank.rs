//! Deterministic root-cause ranking: works with no LLM at all.
//!
//! For every metric of a [`Case`] the ranking compares the samples after the incident began
//! (`inject_time`, up to [`RankingParams::analysis_window_secs`]) against a normal window
//! before it (median and MAD, with a floor at the series' own resolution so that integer
//! gauges do not look infinitely surprising), and scores five components in `[0, 1]`:
//!
//! | component | what it measures | weight (default) |
//! |---|---|---|
//! | `deviation` | the 75th percentile of the robust \|z\| after the onset, mapped by `z / (z + 10)` | 0.45 |
//! | `onset` | how soon after the incident began the metric left its band for good: `exp(-delay / 180 s)` | 0.30 |
//! | `change` | a deploy, config or flag change on the same service shortly before the onset: `exp(-gap / 600 s)` | 0.10 |
//! | `prior` | the knowledge base's prior for this service (and category) from similar past incidents | 0.10 |
//! | `graph` | 1 unless a service this one calls was already anomalous: a slow dependency explains its callers | 0.15 |
//!
//! A metric whose deviation stays below [`RankingParams::anomalous_z`] or that never leaves its
//! band scores on deviation alone. A component whose input is missing (no changes, no
//! priors, no topology) drops out and the remaining weights are renormalised, so scores stay
//! in `[0, 1]`. Services score as their best metric. Ties break by name, so the ranking is
//! reproducible; every entry carries the reasons for its score.

use crate::case::{Case, Category, Topology};
use crate::error::{Error, Result};
use oddsight_core::{Direction, QuantileWindowParams, ScaleFloor};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Weights of the ranking's components; see the [module docs](self).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RankingWeights {
    /// Weight of the robust deviation. Default 0.45.
    pub deviation: f64,
    /// Weight of the onset time. Default 0.30.
    pub onset: f64,
    /// Weight of the closeness to a change on the same service. Default 0.10.
    pub change: f64,
    /// Weight of the knowledge-base prior. Default 0.10.
    pub prior: f64,
    /// Weight of the call-graph term. Default 0.15.
    pub graph: f64,
}

impl Default for RankingWeights {
    fn default() -> Self {
        RankingWeights { deviation: 0.45, onset: 0.30, change: 0.10, prior: 0.10, graph: 0.15 }
    }
}

impl RankingWeights {
    /// All five weights at once.
    pub fn new(deviation: f64, onset: f64, change: f64, prior: f64, graph: f64) -> Self {
        RankingWeights { deviation, onset, change, prior, graph }
    }
}

/// Parameters of the ranking.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RankingParams {
    /// Component weights, each finite and ≥ 0, deviation > 0.
    pub weights: RankingWeights,
    /// Length of the normal window before the incident, seconds. Default 3600.
    pub normal_window_secs: i64,
    /// Length of the window after the incident that is judged, seconds. Default 1800.
    pub analysis_window_secs: i64,
    /// How far before `inject_time` an onset may be found, seconds. Default 120.
    pub lookback_secs: i64,
    /// |z| a metric must keep for [`RankingParams::onset_persistence`] samples for an onset. Default 4.
    pub onset_z: f64,
    /// Consecutive samples beyond `onset_z` that make an onset. Default 3.
    pub onset_persistence: usize,
    /// Deviation (75th percentile of |z| after the incident) below which a metric is not
    /// anomalous. Default 3.
    pub anomalous_z: f64,
    /// The deviation that maps to 0.5 in the `deviation` component. Default 10.
    pub deviation_half_z: f64,
    /// Decay of the `onset` component, seconds. Default 180.
    pub onset_tau_secs: f64,
    /// How long before an onset a change counts, seconds. Default 1800.
    pub change_window_secs: i64,
    /// Decay of the `change` component, seconds. Default 600.
    pub change_tau_secs: f64,
    /// Slack when comparing onsets along the call graph, seconds: a dependency whose onset is
    /// no later than this after a caller's still explains it. Default 0.
    pub graph_slack_secs: i64,
    /// Spread floor relative to the normal median. Default 0.01.
    pub relative_floor: f64,
    /// Fewest finite samples in the normal window for a metric to be judged. Default 10.
    pub min_samples: usize,
}

impl Default for RankingParams {
    fn default() -> Self {
        RankingParams {
            weights: RankingWeights::default(),
            normal_window_secs: 3600,
            analysis_window_secs: 1800,
            lookback_secs: 120,
            onset_z: 4.0,
            onset_persistence: 3,
            anomalous_z: 3.0,
            deviation_half_z: 10.0,
            onset_tau_secs: 180.0,
            change_window_secs: 1800,
            change_tau_secs: 600.0,
            graph_slack_secs: 0,
            relative_floor: 0.01,
            min_samples: 10,
        }
    }
}

impl RankingParams {
    /// Sets the weights.
    pub fn weights(mut self, weights: RankingWeights) -> Self {
        self.weights = weights;
        self
    }

    /// Sets the normal window length.
    pub fn normal_window_secs(mut self, secs: i64) -> Self {
        self.normal_window_secs = secs;
        self
    }

    /// Sets the analysis window length.
    pub fn analysis_window_secs(mut self, secs: i64) -> Self {
        self.analysis_window_secs = secs;
        self
    }

    /// Checks every parameter.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] naming the first bad one.
    pub fn validate(&self) -> Result<()> {
        let w = &self.weights;
        for (name, v) in [
            ("weights.deviation", w.deviation),
            ("weights.onset", w.onset),
            ("weights.change", w.change),
            ("weights.prior", w.prior),
            ("weights.graph", w.graph),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(Error::param(name, "must be finite and >= 0", v));
            }
        }
        if w.deviation <= 0.0 {
            return Err(Error::param("weights.deviation", "must be > 0", w.deviation));
        }
        if self.normal_window_secs <= 0 {
            return Err(Error::param("normal_window_secs", "must be > 0", self.normal_window_secs));
        }
        if self.analysis_window_secs <= 0 {
            return Err(Error::param("analysis_window_secs", "must be > 0", self.analysis_window_secs));
        }
        if self.lookback_secs < 0 || self.change_window_secs < 0 || self.graph_slack_secs < 0 {
            return Err(Error::param(
                "lookback_secs/change_window_secs/graph_slack_secs",
                "must be >= 0",
                self.lookback_secs,
            ));
        }
        for (name, v) in [
            ("onset_z", self.onset_z),
            ("anomalous_z", self.anomalous_z),
            ("deviation_half_z", self.deviation_half_z),
            ("onset_tau_secs", self.onset_tau_secs),
            ("change_tau_secs", self.change_tau_secs),
        ] {
            if !(v.is_finite() && v > 0.0) {
                return Err(Error::param(name, "must be finite and > 0", v));
            }
        }
        if !(self.relative_floor.is_finite() && self.relative_floor >= 0.0) {
            return Err(Error::param("relative_floor", "must be finite and >= 0", self.relative_floor));
        }
        if self.onset_persistence == 0 {
            return Err(Error::param("onset_persistence", "must be >= 1", 0));
        }
        if self.min_samples < 3 {
            return Err(Error::param("min_samples", "must be >= 3", self.min_samples));
        }
        Ok(())
    }
}

/// A prior belief about a root cause, typically from similar past incidents in the knowledge
/// base.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Prior {
    /// The service blamed.
    pub service: String,
    /// The category blamed, when known (a prior without one applies to every metric).
    pub category: Option<Category>,
    /// Strength in `[0, 1]`.
    pub strength: f64,
    /// Where it came from (an incident id, "operator").
    pub source: String,
}

/// What the ranking measured on one metric.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricStats {
    /// Finite samples in the normal window.
    pub samples_before: usize,
    /// Finite samples in the analysis window.
    pub samples_after: usize,
    /// Median of the normal window.
    pub median_before: f64,
    /// Robust scale of the normal window (1.4826 × MAD, floored).
    pub scale_before: f64,
    /// Whether the floor was used for the scale.
    pub floored: bool,
    /// Median of the analysis window.
    pub median_after: f64,
    /// 75th percentile of |z| over the analysis window.
    pub deviation: f64,
    /// Which way the analysis window's median moved.
    pub direction: Direction,
    /// When the metric left its band for good (Unix seconds), if it did.
    pub onset: Option<i64>,
}

/// The component scores of one entry, each in `[0, 1]`; `None` where the input was missing.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Components {
    /// Deviation component.
    pub deviation: f64,
    /// Onset component.
    pub onset: f64,
    /// Change component (`None`: the case has no changes).
    pub change: Option<f64>,
    /// Prior component (`None`: no priors given).
    pub prior: Option<f64>,
    /// Graph component (`None`: no topology).
    pub graph: Option<f64>,
}

/// One metric in the ranking.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RankedMetric {
    /// The service.
    pub service: String,
    /// The metric.
    pub metric: String,
    /// Score in `[0, 1]`.
    pub score: f64,
    /// The metric's category.
    pub category: Category,
    /// Whether the metric counts as anomalous.
    pub anomalous: bool,
    /// Why it scored as it did, one line per component that mattered.
    pub reasons: Vec<String>,
    /// Component scores.
    pub components: Components,
    /// The statistics behind them (`None` when the metric could not be judged).
    pub stats: Option<MetricStats>,
}

/// One service in the ranking, scored as its best metric.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RankedService {
    /// The service.
    pub service: String,
    /// Score of its best metric.
    pub score: f64,
    /// Its culprit metric: the earliest anomalous one (the best one when none is).
    pub metric: String,
    /// That metric's category.
    pub category: Category,
    /// How many of its metrics are anomalous.
    pub anomalous_metrics: usize,
}

/// The ranking of a case: metrics and services, best first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ranking {
    /// Every metric, best first.
    pub metrics: Vec<RankedMetric>,
    /// Every service, best first.
    pub services: Vec<RankedService>,
    /// The earliest onset among anomalous metrics, Unix seconds.
    pub first_onset: Option<i64>,
}

impl Ranking {
    /// The highest-scoring metric, if any.
    pub fn top(&self) -> Option<&RankedMetric> {
        self.metrics.first()
    }

    /// The root cause: the best service and its culprit metric (its earliest anomalous
    /// metric, or its best one when none is anomalous).
    pub fn root_cause(&self) -> Option<&RankedMetric> {
        let s = self.services.first()?;
        self.metrics.iter().find(|m| m.service == s.service && m.metric == s.metric)
    }

    /// Service names, best first.
    pub fn service_order(&self) -> Vec<&str> {
        self.services.iter().map(|s| s.service.as_str()).collect()
    }

    /// The score margin of the best service over the runner-up, in `[0, 1]` (the top score
    /// when there is no runner-up).
    pub fn margin(&self) -> f64 {
        match (self.services.first(), self.services.get(1)) {
            (Some(a), Some(b)) => (a.score - b.score).max(0.0),
            (Some(a), None) => a.score,
            _ => 0.0,
        }
    }
}

/// Robust statistics of one series around the incident.
pub(crate) fn metric_stats(times: &[i64], values: &[f64], inject: i64, params: &RankingParams) -> Option<MetricStats> {
    let before: Vec<f64> = times
        .iter()
        .zip(values)
        .filter(|(t, v)| **t < inject && **t >= inject - params.normal_window_secs && v.is_finite())
        .map(|(_, v)| *v)
        .collect();
    if before.len() < params.min_samples {
        return None;
    }
    let (median, scale, floored) = robust(&before, params.relative_floor)?;
    let end = inject + params.analysis_window_secs;
    let after: Vec<f64> = times
        .iter()
        .zip(values)
        .filter(|(t, v)| **t >= inject && **t < end && v.is_finite())
        .map(|(_, v)| *v)
        .collect();
    if after.is_empty() {
        return None;
    }
    let mut absz: Vec<f64> = after.iter().map(|v| ((v - median) / scale).abs()).collect();
    absz.sort_by(f64::total_cmp);
    let deviation = quantile(&absz, 0.75);
    let mut sorted_after = after.clone();
    sorted_after.sort_by(f64::total_cmp);
    let median_after = quantile(&sorted_after, 0.5);
    // The onset: the first run of `onset_persistence` finite samples beyond `onset_z`, all on
    // one side, from a little before the incident began.
    let mut onset = None;
    let mut run = 0usize;
    let mut run_start = 0i64;
    let mut run_sign = 0.0f64;
    for (t, v) in times.iter().zip(values) {
        if *t < inject - params.lookback_secs || *t >= end || !v.is_finite() {
            continue;
        }
        let z = (v - median) / scale;
        if z.abs() >= params.onset_z && (run == 0 || z.signum() == run_sign) {
            if run == 0 {
                run_start = *t;
                run_sign = z.signum();
            }
            run += 1;
            if run >= params.onset_persistence {
                onset = Some(run_start);
                break;
            }
        } else if z.abs() >= params.onset_z {
            run = 1;
            run_start = *t;
            run_sign = z.signum();
        } else {
            run = 0;
        }
    }
    Some(MetricStats {
        samples_before: before.len(),
        samples_after: after.len(),
        median_before: median,
        scale_before: scale,
        floored,
        median_after,
        deviation,
        direction: Direction::of(median_after - median),
        onset,
    })
}

/// Median and floored robust scale of finite values: 1.4826 × MAD (from the core's exact
/// quantile window), floored at `relative` × |median| and at the data's resolution (the
/// smallest gap between distinct values), so that integer gauges with a zero MAD do not make
/// every ±1 look like a catastrophe.
pub(crate) fn robust(values: &[f64], relative: f64) -> Option<(f64, f64, bool)> {
    let mut w = QuantileWindowParams::default()
        .window(values.len().clamp(1, 1_000_000))
        .warmup(1)
        .floor(ScaleFloor::new(1e-9, relative))
        .build()
        .ok()?;
    for &v in values {
        w.learn(v);
    }
    let (median, scale, mut floored) = w.robust()?;
    let sorted = w.sorted();
    let quantum = sorted.windows(2).map(|p| p[1] - p[0]).filter(|d| *d > 0.0).fold(f64::INFINITY, f64::min);
    let mut scale = scale;
    if quantum.is_finite() && scale < quantum {
        scale = quantum;
        floored = true;
    }
    Some((median, scale, floored))
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let h = (sorted.len() - 1) as f64 * q;
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(sorted.len() - 1);
    sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo])
}

fn fmt_secs(d: i64) -> String {
    if d.abs() >= 120 { format!("{:+.1} min", d as f64 / 60.0) } else { format!("{d:+} s") }
}

/// Ranks every metric and service of a case.
///
/// `priors` come from the knowledge base (see [`crate::kb`]); pass `&[]` when there are none.
///
/// ```
/// use oddsight_investigate::generate::GeneratorParams;
/// use oddsight_investigate::rank::{rank, RankingParams};
/// let case = GeneratorParams::default().seed(1).build()?.case(0).case;
/// let ranking = rank(&case, &RankingParams::default(), &[])?;
/// let top = ranking.root_cause().unwrap();
/// assert_eq!(top.service, case.truth.as_ref().unwrap().service);
/// assert!(!top.reasons.is_empty());
/// # Ok::<(), oddsight_investigate::Error>(())
/// ```
///
/// # Errors
/// [`Error::InvalidParameter`] for bad parameters, [`Error::Case`] for a case that fails
/// [`Case::validate`].
pub fn rank(case: &Case, params: &RankingParams, priors: &[Prior]) -> Result<Ranking> {
    params.validate()?;
    case.validate()?;
    let w = &params.weights;
    let has_changes = !case.changes.is_empty();
    let has_priors = !priors.is_empty();
    let topology: Option<&Topology> = case.topology.as_ref().filter(|t| !t.calls.is_empty());
    let total_weight = w.deviation
        + w.onset
        + if has_changes { w.change } else { 0.0 }
        + if has_priors { w.prior } else { 0.0 }
        + if topology.is_some() { w.graph } else { 0.0 };

    let stats: Vec<Option<MetricStats>> =
        case.series.iter().map(|s| metric_stats(&case.times, &s.values, case.inject_time, params)).collect();
    let anomalous =
        |st: &Option<MetricStats>| st.as_ref().is_some_and(|s| s.onset.is_some() && s.deviation >= params.anomalous_z);
    // Earliest anomalous onset per service, for the call-graph term.
    let mut service_onset: BTreeMap<&str, (i64, String)> = BTreeMap::new();
    for (s, st) in case.series.iter().zip(&stats) {
        if anomalous(st)
            && let Some(on) = st.as_ref().and_then(|x| x.onset)
        {
            let e = service_onset.entry(s.service.as_str()).or_insert((on, s.metric.clone()));
            if on < e.0 {
                *e = (on, s.metric.clone());
            }
        }
    }
    let first_onset = service_onset.values().map(|v| v.0).min();

    let mut metrics = Vec::with_capacity(case.series.len());
    for (s, st) in case.series.iter().zip(stats) {
        let category = Category::of_metric(&s.metric);
        let mut reasons = Vec::new();
        let Some(st) = st else {
            metrics.push(RankedMetric {
                service: s.service.clone(),
                metric: s.metric.clone(),
                score: 0.0,
                category,
                anomalous: false,
                reasons: vec![format!("not judged: fewer than {} samples in the normal window", params.min_samples)],
                components: Components::default(),
                stats: None,
            });
            continue;
        };
        let is_anomalous = anomalous(&Some(st.clone()));
        let mut c = Components {
            deviation: st.deviation / (st.deviation + params.deviation_half_z),
            onset: 0.0,
            change: has_changes.then_some(0.0),
            prior: has_priors.then_some(0.0),
            graph: topology.map(|_| 0.0),
        };
        let dir = match st.direction {
            Direction::Up => "up",
            Direction::Down => "down",
            Direction::Neutral => "flat",
        };
        reasons.push(format!(
            "deviation {:.1}σ {dir} (median {:.4} → {:.4}, robust scale {:.4}{})",
            st.deviation,
            st.median_before,
            st.median_after,
            st.scale_before,
            if st.floored { ", floored" } else { "" }
        ));
        if let (true, Some(onset)) = (is_anomalous, st.onset) {
            let delay = (onset - case.inject_time).max(0);
            c.onset = (-(delay as f64) / params.onset_tau_secs).exp();
            reasons.push(format!("onset {} after the incident began", fmt_secs(onset - case.inject_time)));
            if has_changes {
                let best = case
                    .changes
                    .iter()
                    .filter(|ch| {
                        ch.service == s.service
                            && ch.time <= onset + params.onset_persistence as i64 * 30
                            && ch.time >= onset - params.change_window_secs
                    })
                    .map(|ch| (ch, (-((onset - ch.time).max(0) as f64) / params.change_tau_secs).exp()))
                    .max_by(|a, b| a.1.total_cmp(&b.1));
                if let Some((ch, v)) = best {
                    c.change = Some(v);
                    reasons.push(format!(
                        "{} {} on {} {} before the onset",
                        ch.kind.as_str(),
                        ch.id,
                        ch.service,
                        fmt_secs(onset - ch.time).trim_start_matches('+')
                    ));
                }
            }
            if let Some(topo) = topology {
                let explained = topo
                    .downstream(&s.service)
                    .into_iter()
                    .filter_map(|d| service_onset.get(d.as_str()).map(|o| (d.clone(), o.clone())))
                    .filter(|(_, (o, _))| *o <= onset + params.graph_slack_secs)
                    .min_by(|a, b| a.1.0.cmp(&b.1.0).then_with(|| a.0.cmp(&b.0)));
                match explained {
                    Some((d, (o, m))) => reasons.push(format!(
                        "explained by a dependency: {d} ({m}) was anomalous from {}",
                        fmt_secs(o - case.inject_time)
                    )),
                    None => {
                        c.graph = Some(1.0);
                        reasons.push("no dependency was anomalous before it".to_string());
                    }
                }
            }
        } else {
            reasons.push(format!("not anomalous (needs a deviation ≥ {} and a sustained onset)", params.anomalous_z));
        }
        if has_priors {
            let p = priors
                .iter()
                .filter(|p| p.service == s.service && p.category.is_none_or(|pc| pc == category))
                .max_by(|a, b| a.strength.total_cmp(&b.strength));
            if let Some(p) = p {
                let v = if p.strength.is_finite() { p.strength.clamp(0.0, 1.0) } else { 0.0 };
                c.prior = Some(v);
                reasons.push(format!("knowledge base prior {v:.2} from {}", p.source));
            }
        }
        let sum = w.deviation * c.deviation
            + w.onset * c.onset
            + w.change * c.change.unwrap_or(0.0)
            + w.prior * c.prior.unwrap_or(0.0)
            + w.graph * c.graph.unwrap_or(0.0);
        let score = if total_weight > 0.0 { (sum / total_weight).clamp(0.0, 1.0) } else { 0.0 };
        metrics.push(RankedMetric {
            service: s.service.clone(),
            metric: s.metric.clone(),
            score,
            category,
            anomalous: is_anomalous,
            reasons,
            components: c,
            stats: Some(st),
        });
    }
    metrics.sort_by(|a, b| {
        b.score.total_cmp(&a.score).then_with(|| a.service.cmp(&b.service)).then_with(|| a.metric.cmp(&b.metric))
    });
    let mut services: Vec<RankedService> = Vec::new();
    for m in &metrics {
        if let Some(s) = services.iter_mut().find(|s| s.service == m.service) {
            s.anomalous_metrics += usize::from(m.anomalous);
        } else {
            services.push(RankedService {
                service: m.service.clone(),
                score: m.score,
                metric: m.metric.clone(),
                category: m.category,
                anomalous_metrics: usize::from(m.anomalous),
            });
        }
    }
    // Within a service the cause precedes its effects: the service's culprit metric is its
    // earliest anomalous one (ties to the higher score, which comes first), not merely the
    // loudest.
    for s in &mut services {
        if let Some(m) = metrics
            .iter()
            .filter(|m| m.service == s.service && m.anomalous)
            .min_by_key(|m| m.stats.as_ref().and_then(|st| st.onset).unwrap_or(i64::MAX))
        {
            s.metric = m.metric.clone();
            s.category = m.category;
        }
    }
    Ok(Ranking { metrics, services, first_onset })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::case::{ChangeEvent, ChangeKind, Series};

    fn case(cols: Vec<(&str, Vec<f64>)>, inject_i: usize) -> Case {
        let n = cols[0].1.len();
        Case {
            name: "t".into(),
            times: (0..n as i64).map(|i| i * 30).collect(),
            series: cols
                .into_iter()
                .map(|(c, v)| {
                    let (service, metric) = crate::case::split_column(c);
                    Series { service, metric, values: v }
                })
                .collect(),
            inject_time: inject_i as i64 * 30,
            changes: vec![],
            logs: vec![],
            topology: None,
            truth: None,
        }
    }

    fn wiggle(n: usize, level: f64, amp: f64) -> Vec<f64> {
        (0..n).map(|i| level + amp * (((i * 7919) % 13) as f64 - 6.0) / 6.0).collect()
    }

    #[test]
    fn earlier_cause_beats_larger_later_symptom() {
        let n = 200;
        let mut cause = wiggle(n, 50.0, 1.0);
        let mut symptom = wiggle(n, 100.0, 1.0);
        for v in cause.iter_mut().skip(150) {
            *v += 20.0;
        }
        for v in symptom.iter_mut().skip(156) {
            *v += 60.0;
        }
        let c = case(vec![("db_cpu", cause), ("web_latency_p95", symptom), ("cache_mem", wiggle(n, 10.0, 0.5))], 150);
        let r = rank(&c, &RankingParams::default(), &[]).unwrap();
        assert_eq!(r.service_order(), vec!["db", "web", "cache"]);
        assert_eq!(r.root_cause().unwrap().category, Category::Cpu);
        assert_eq!(r.first_onset, Some(150 * 30));
        assert!(!r.metrics[2].anomalous);
        // Deterministic.
        assert_eq!(r, rank(&c, &RankingParams::default(), &[]).unwrap());
    }

    #[test]
    fn changes_priors_and_graph_take_part() {
        let n = 200;
        let mut a = wiggle(n, 50.0, 1.0);
        let mut b = wiggle(n, 50.0, 1.0);
        for i in 150..n {
            a[i] += 20.0;
            b[i] += 20.0;
        }
        let mut c = case(vec![("a_cpu", a), ("b_cpu", b)], 150);
        let base = rank(&c, &RankingParams::default(), &[]).unwrap();
        assert_eq!(base.service_order(), vec!["a", "b"]); // a tie, broken by name
        c.changes.push(ChangeEvent {
            time: 149 * 30,
            service: "b".into(),
            kind: ChangeKind::Deploy,
            id: "d1".into(),
            summary: String::new(),
        });
        let r = rank(&c, &RankingParams::default(), &[]).unwrap();
        assert_eq!(r.service_order(), vec!["b", "a"]);
        assert!(r.metrics[0].reasons.iter().any(|x| x.contains("deploy d1")), "{:?}", r.metrics[0].reasons);
        let priors =
            [Prior { service: "a".into(), category: Some(Category::Cpu), strength: 1.0, source: "inc-1".into() }];
        let r = rank(&c, &RankingParams::default(), &priors).unwrap();
        assert_eq!(r.service_order(), vec!["a", "b"]);
        c.changes.clear();
        c.topology = Some(Topology { calls: vec![("a".into(), "b".into())] });
        let r = rank(&c, &RankingParams::default(), &[]).unwrap();
        assert_eq!(r.service_order(), vec!["b", "a"]);
        assert!(r.metrics[1].reasons.iter().any(|x| x.contains("explained by a dependency: b")));
        assert!(r.metrics.iter().all(|m| (0.0..=1.0).contains(&m.score)));
    }

    #[test]
    fn integer_gauges_are_floored_at_their_resolution() {
        let n = 200;
        let mut pool: Vec<f64> = (0..n).map(|i| if i % 17 == 0 { 11.0 } else { 10.0 }).collect();
        for v in pool.iter_mut().skip(150).step_by(2) {
            *v = 11.0;
        }
        let c = case(vec![("a_conn_pool", pool)], 150);
        let r = rank(&c, &RankingParams::default(), &[]).unwrap();
        assert!(!r.metrics[0].anomalous, "{:?}", r.metrics[0]);
    }

    #[test]
    fn short_or_missing_data_drops_out() {
        let mut v = wiggle(40, 5.0, 0.1);
        for x in v.iter_mut().take(35) {
            *x = f64::NAN;
        }
        let c = case(vec![("a_cpu", v), ("b_cpu", wiggle(40, 5.0, 0.1))], 36);
        let r = rank(&c, &RankingParams::default(), &[]).unwrap();
        assert_eq!(r.metrics.last().unwrap().service, "a");
        assert!(r.metrics.last().unwrap().stats.is_none());
        let bad = RankingParams::default().weights(RankingWeights::new(0.0, 1.0, 0.0, 0.0, 0.0));
        assert_eq!(rank(&c, &bad, &[]).unwrap_err().code(), "InvalidParameter");
        let bad = RankingParams::default().weights(RankingWeights::new(f64::NAN, 1.0, 0.0, 0.0, 0.0));
        assert!(rank(&c, &bad, &[]).is_err());
    }
}

#[cfg(test)]
mod robustness {
    use super::*;
    use crate::case::Series;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn never_panics_and_scores_stay_in_range(
            values in proptest::collection::vec(proptest::option::of(-1e12f64..1e12), 1..120),
            inject in -10i64..130,
            other in proptest::collection::vec(prop_oneof![Just(f64::NAN), Just(0.0), Just(1.0), -5.0f64..5.0], 1..120),
        ) {
            let n = values.len().min(other.len());
            let case = Case {
                name: "p".into(),
                times: (0..n as i64).map(|i| i * 30).collect(),
                series: vec![
                    Series { service: "a".into(), metric: "cpu".into(), values: values[..n].iter().map(|v| v.unwrap_or(f64::NAN)).collect() },
                    Series { service: "b".into(), metric: "conn_pool".into(), values: other[..n].to_vec() },
                ],
                inject_time: inject * 30,
                changes: vec![],
                logs: vec![],
                topology: Some(Topology { calls: vec![("a".into(), "b".into()), ("b".into(), "a".into())] }),
                truth: None,
            };
            let r = rank(&case, &RankingParams::default(), &[]).unwrap();
            prop_assert_eq!(r.metrics.len(), 2);
            for m in &r.metrics {
                prop_assert!(m.score.is_finite() && (0.0..=1.0).contains(&m.score));
            }
        }
    }
}
