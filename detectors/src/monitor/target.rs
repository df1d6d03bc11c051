//! Targets: what to watch, with which detector and alert policy, how often to report.

use super::error::{MonitorError, MonitorResult};
use super::series::Selector;
use super::state::Pending;
use crate::AnyDetector;
use crate::spec::DetectorSpec;
use oddsight_core::{Severity, StrikePolicy, StrikePolicyParams, Trigger, scale};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

/// One target: a named watch over the series its selector picks.
///
/// In JSON (every field but `name` and `selector` may be left out):
///
/// ```json
/// {
///   "name": "checkout-latency",
///   "selector": "latency_ms{service=\"checkout\"}",
///   "detector": "ewma(alpha=0.05, warmup=30)",
///   "policy": {"trigger": {"type": "k_of_n", "k": 3, "n": 5}, "recovery": 5},
///   "interval": "1m",
///   "min_severity": "medium",
///   "enabled": true
/// }
/// ```
///
/// `detector` is any [specification](crate::spec) [`AnyDetector::parse`] accepts (default
/// [`crate::DEFAULT_SPEC`]); `policy` sets fields of [`StrikePolicyParams`] by name, the rest
/// keep their defaults (three strikes in a row fire, three calm points resolve); `interval` is
/// milliseconds or a duration with a unit (`500ms`, `10s`, `5m`, `1h`, `1d`, `1w`; default one
/// minute), written back as `interval_ms`; `min_severity` is the lowest peak severity worth
/// reporting (default `low`: every alert).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct TargetConfig {
    /// Unique name, used in events and to change or remove the target.
    pub name: String,
    /// Which series it watches (see [`Selector`]).
    pub selector: String,
    /// Detector specification, one detector per watched series.
    #[serde(default = "default_detector")]
    pub detector: String,
    /// Alert policy, one per watched series.
    #[serde(default, deserialize_with = "partial_policy")]
    pub policy: StrikePolicyParams,
    /// How often the target reports, in ms (> 0).
    #[serde(default = "default_interval", alias = "interval", deserialize_with = "duration_ms")]
    pub interval_ms: i64,
    /// Alerts whose peak severity stays below this are never reported.
    #[serde(default = "default_min_severity")]
    pub min_severity: Severity,
    /// Disabled targets neither judge nor report (their state is kept).
    #[serde(default = "default_enabled")]
    pub enabled: bool,
}

fn default_detector() -> String {
    crate::DEFAULT_SPEC.to_string()
}
fn default_interval() -> i64 {
    60_000
}
fn default_min_severity() -> Severity {
    Severity::Low
}
fn default_enabled() -> bool {
    true
}

impl TargetConfig {
    /// A target named `name` watching `selector` with the detector `detector`, the default
    /// policy, a one-minute interval, every severity, enabled.
    pub fn new(name: impl Into<String>, selector: impl Into<String>, detector: impl Into<String>) -> Self {
        TargetConfig {
            name: name.into(),
            selector: selector.into(),
            detector: detector.into(),
            policy: StrikePolicyParams::default(),
            interval_ms: default_interval(),
            min_severity: default_min_severity(),
            enabled: true,
        }
    }
    /// Sets the alert policy.
    #[must_use]
    pub fn policy(mut self, policy: StrikePolicyParams) -> Self {
        self.policy = policy;
        self
    }
    /// Sets the reporting interval.
    #[must_use]
    pub fn interval_ms(mut self, ms: i64) -> Self {
        self.interval_ms = ms;
        self
    }
    /// Sets the lowest severity reported.
    #[must_use]
    pub fn min_severity(mut self, severity: Severity) -> Self {
        self.min_severity = severity;
        self
    }
    /// Sets whether the target is enabled.
    #[must_use]
    pub fn enabled(mut self, enabled: bool) -> Self {
        self.enabled = enabled;
        self
    }
    /// Sets the selector.
    #[must_use]
    pub fn selector(mut self, selector: impl Into<String>) -> Self {
        self.selector = selector.into();
        self
    }
    /// Sets the detector specification.
    #[must_use]
    pub fn detector(mut self, detector: impl Into<String>) -> Self {
        self.detector = detector.into();
        self
    }
}

/// Parses a duration: a JSON integer of milliseconds, or a string with a unit.
fn duration_ms<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    use serde::de::Error;
    match Value::deserialize(d)? {
        Value::Number(n) => {
            n.as_i64().ok_or_else(|| D::Error::custom(format!("interval must be whole milliseconds, got {n}")))
        }
        Value::String(s) => parse_duration(&s).map_err(D::Error::custom),
        other => Err(D::Error::custom(format!("interval must be milliseconds or a duration like \"5m\", got {other}"))),
    }
}

/// `"250ms"`, `"10s"`, `"5m"`, `"1.5h"`, `"1d"`, `"1w"`, or a bare number of milliseconds.
pub(crate) fn parse_duration(text: &str) -> Result<i64, String> {
    let t = text.trim();
    let split = t.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num.trim().parse().map_err(|_| format!("invalid duration {text:?}"))?;
    let factor = match unit.trim() {
        "" | "ms" => 1.0,
        "s" => 1e3,
        "m" | "min" => 6e4,
        "h" => 3.6e6,
        "d" => 8.64e7,
        "w" => 6.048e8,
        u => return Err(format!("unknown unit {u:?} in duration {text:?} (use ms, s, m, h, d or w)")),
    };
    let ms = (n * factor).round();
    if !ms.is_finite() || ms.abs() > 9.0e15 {
        return Err(format!("duration {text:?} is out of range"));
    }
    Ok(ms as i64)
}

/// Reads a policy given field by field: the fields named replace the defaults, the others stay.
fn partial_policy<'de, D: Deserializer<'de>>(d: D) -> Result<StrikePolicyParams, D::Error> {
    use serde::de::Error;
    let given = Value::deserialize(d)?;
    let Value::Object(given) = given else {
        return Err(D::Error::custom(format!("policy must be an object of StrikePolicyParams fields, got {given}")));
    };
    let mut base = serde_json::to_value(StrikePolicyParams::default()).map_err(D::Error::custom)?;
    if let Value::Object(base) = &mut base {
        for (k, v) in given {
            if !base.contains_key(&k) {
                let known: Vec<&str> = base.keys().map(String::as_str).collect();
                return Err(D::Error::custom(format!("unknown policy field {k}; accepted: {}", known.join(", "))));
            }
            base.insert(k, v);
        }
    }
    serde_json::from_value(base).map_err(|e| D::Error::custom(format!("invalid policy: {e}")))
}

/// A target as the monitor runs it: the configuration plus what was built from it once.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub(crate) config: TargetConfig,
    /// Stable identity across renumbering (removing an earlier target shifts indices).
    pub(crate) uid: u32,
    pub(crate) compiled: Compiled,
    /// When the target last reported.
    pub(crate) last_check: Option<i64>,
    /// Events judged but not yet reported, in judging order.
    pub(crate) pending: Vec<Pending>,
}

/// What a configuration builds.
#[derive(Debug, Clone)]
pub(crate) struct Compiled {
    pub(crate) selector: Selector,
    /// The detector specification, parsed.
    pub(crate) spec: DetectorSpec,
    /// A fresh detector, cloned for every new series.
    pub(crate) detector: AnyDetector,
    /// A fresh policy, cloned for every new series.
    pub(crate) policy: StrikePolicy,
    /// `|z|` strictly below this scores below the policy's `enter` level (with a margin, so
    /// rounding in the score map can never make a skipped point a strike).
    pub(crate) z_enter: f64,
    /// Likewise for the policy's `exit` level: `|z|` below this is calm for certain.
    pub(crate) z_calm: f64,
    /// `|z|` at or above this scores at least `enter`: a strike for certain.
    pub(crate) z_strike: f64,
    /// Whether a lone strike followed by a calm point leaves a quiet policy exactly as it was
    /// (`k ≥ 2` strikes in a row to fire, strikes kept out of the baseline, no re-baseline on
    /// a single point): such a pair can then be settled without either verdict.
    pub(crate) lone_strikes_vanish: bool,
    /// Calm verdicts in a row after which the policy is back in its quiet state (`u32::MAX`:
    /// never assumed).
    pub(crate) quiet_after: u32,
    /// Whether the detector can refuse finite, ordered points (counts below 0, ratios above
    /// 1), so a batch must be checked against it before anything is applied.
    pub(crate) probe: bool,
}

impl Compiled {
    pub(crate) fn build(config: &TargetConfig) -> MonitorResult<Self> {
        let invalid = |field: &'static str, reason: String| MonitorError::InvalidTarget {
            target: config.name.clone(),
            field,
            reason,
        };
        if config.name.trim().is_empty() || config.name.len() > 200 {
            return Err(invalid("name", format!("must be 1 to 200 characters, not blank, got {:?}", config.name)));
        }
        if config.interval_ms <= 0 {
            return Err(invalid("interval_ms", format!("must be > 0 ms, got {}", config.interval_ms)));
        }
        let selector = Selector::parse(&config.selector)?;
        let spec_error = |source: crate::Error| MonitorError::TargetSpec { target: config.name.clone(), source };
        let spec = DetectorSpec::from_json(&config.detector).map_err(spec_error)?;
        let detector = AnyDetector::from_spec(&spec).map_err(spec_error)?;
        let policy = config.policy.clone().build().map_err(|e| spec_error(e.into()))?;
        let z_enter = z_below(config.policy.enter);
        let z_calm = z_below(config.policy.exit);
        let z_strike = z_at_least(config.policy.enter);
        let lone_strikes_vanish = matches!(config.policy.trigger, Trigger::Consecutive { k } if k >= 2)
            && config.policy.protect_baseline
            && config.policy.rebaseline.is_none_or(|r| r.min_points >= 2);
        let quiet_after = match config.policy.trigger {
            Trigger::Consecutive { .. } => 0,
            Trigger::KOfN { n, .. } => n,
            _ => u32::MAX,
        };
        let probe = matches!(
            detector,
            AnyDetector::Poisson(_)
                | AnyDetector::ErrorRatio(_)
                | AnyDetector::SeasonalAggregate(_)
                | AnyDetector::Ensemble(_)
        );
        Ok(Compiled {
            selector,
            spec,
            detector,
            policy,
            z_enter,
            z_calm,
            z_strike,
            lone_strikes_vanish,
            quiet_after,
            probe,
        })
    }
}

/// A `|z|` below which every anomaly score is below `score`: the inverse of the score map,
/// less a margin, checked (the map is monotone; the margin covers its rounding).
fn z_below(score: f64) -> f64 {
    if score <= 0.0 {
        return 0.0;
    }
    let mut z = scale::z_for_score(score) * (1.0 - 1e-6);
    while z > 0.0 && scale::anomaly_score(z) >= score {
        z *= 0.999;
    }
    z.max(0.0)
}

/// A `|z|` at or above which every anomaly score is at least `score`: the inverse of the score
/// map, plus a margin, checked.
fn z_at_least(score: f64) -> f64 {
    let mut z = (scale::z_for_score(score) * (1.0 + 1e-6)).max(1e-9);
    while z < scale::MAX_Z && scale::anomaly_score(z) < score {
        z *= 1.001;
    }
    z
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("250ms"), Ok(250));
        assert_eq!(parse_duration("10s"), Ok(10_000));
        assert_eq!(parse_duration(" 1.5h "), Ok(5_400_000));
        assert_eq!(parse_duration("60000"), Ok(60_000));
        assert!(parse_duration("5y").unwrap_err().contains("unknown unit"));
        assert!(parse_duration("m").is_err());
    }

    #[test]
    fn partial_json_and_defaults() {
        let t: TargetConfig = serde_json::from_str(
            r#"{"name":"a","selector":"cpu","policy":{"recovery":5},"interval":"5m","min_severity":"high"}"#,
        )
        .unwrap();
        assert_eq!(t.policy, StrikePolicyParams::default().recovery(5));
        assert_eq!(t.interval_ms, 300_000);
        assert_eq!(t.min_severity, Severity::High);
        assert_eq!(t.detector, crate::DEFAULT_SPEC);
        let back: TargetConfig = serde_json::from_str(&serde_json::to_string(&t).unwrap()).unwrap();
        assert_eq!(back, t);
        let e = serde_json::from_str::<TargetConfig>(r#"{"name":"a","selector":"cpu","policy":{"recovry":5}}"#)
            .unwrap_err();
        assert!(e.to_string().contains("unknown policy field recovry"), "{e}");
        assert!(serde_json::from_str::<TargetConfig>(r#"{"name":"a","selector":"cpu","colour":1}"#).is_err());
    }

    #[test]
    fn skip_threshold_is_safe() {
        for enter in [0.05, 0.3, 0.5, 0.65, 0.8, 0.9, 0.99] {
            let c = Compiled::build(&TargetConfig::new("t", "x", "ewma").policy(StrikePolicyParams::threshold(enter)))
                .unwrap();
            assert!(c.z_enter > 0.0 && scale::anomaly_score(c.z_enter) < enter, "{enter}");
            assert_eq!(c.z_calm, c.z_enter); // threshold(): exit = enter
            assert!(scale::anomaly_score(c.z_enter * 1.001) >= enter, "margin too wide at {enter}");
            assert!(scale::anomaly_score(c.z_strike) >= enter && c.z_strike < c.z_enter * 1.001, "{enter}");
            for i in 0..1_000 {
                assert!(scale::anomaly_score(c.z_strike * (1.0 + i as f64 / 100.0)) >= enter);
            }
            for i in 0..10_000 {
                let z = c.z_enter * i as f64 / 10_000.0;
                assert!(scale::anomaly_score(z) < enter);
            }
        }
        assert_eq!(z_below(0.0), 0.0);
        let c = Compiled::build(&TargetConfig::new("t", "x", "ewma")).unwrap();
        assert!(c.z_calm < c.z_enter && scale::anomaly_score(c.z_calm) < 0.4);
    }
}
