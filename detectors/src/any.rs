//! [`AnyDetector`]: every streaming detector of this crate behind one serialisable type, built
//! from a [`DetectorSpec`]. This is what the command line and the bindings hold.

use crate::change::{Bocpd, BocpdParams, Cusum, CusumParams};
use crate::counts::{ErrorRatioDetector, ErrorRatioParams, PoissonDetector, PoissonParams};
use crate::ensemble::{Combine, Ensemble, EnsembleParams};
use crate::error::Result;
use crate::novelty::{NoveltyDetector, NoveltyParams};
use crate::seasonal::{
    RatioToBaseline, RatioToBaselineParams, SeasonalAggregateDetector, SeasonalAggregateParams, SeasonalZScore,
    SeasonalZScoreParams,
};
use crate::spec::{DetectorSpec, SpecValue};
use crate::stat::{
    EwmaZScore, EwmaZScoreParams, IqrDetector, IqrParams, MadZScore, MadZScoreParams, RateOfChangeDetector,
    RateOfChangeParams, WindowZScore, WindowZScoreParams,
};
use crate::trend::{MannKendall, MannKendallParams};
use oddsight_core::{Detector, Point, Stateful, Verdict};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::borrow::Cow;

/// The specification a user gets with no configuration.
pub const DEFAULT_SPEC: &str = "novelty";

/// Any streaming detector of this crate. Serialises with a `"type"` tag, so a snapshot says
/// what it restores to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
#[allow(clippy::large_enum_variant)]
pub enum AnyDetector {
    /// z-score against an EWMA baseline (`ewma`).
    Ewma(EwmaZScore),
    /// z-score against an exact sliding window (`window`).
    Window(WindowZScore),
    /// Robust z-score against a sliding median/MAD (`mad`).
    Mad(MadZScore),
    /// Tukey fences (`iqr`).
    Iqr(IqrDetector),
    /// Sudden rises and drops (`roc`).
    RateOfChange(RateOfChangeDetector),
    /// z-score against a time-of-week baseline (`seasonal`).
    Seasonal(SeasonalZScore),
    /// Ratio to a time-of-week baseline (`ratio`).
    Ratio(RatioToBaseline),
    /// An interval aggregate against its time-of-week bucket (`seasonal_agg`).
    SeasonalAggregate(SeasonalAggregateDetector),
    /// Poisson (or negative binomial) counts (`poisson`).
    Poisson(PoissonDetector),
    /// Binomial error ratios (`error_ratio`).
    ErrorRatio(ErrorRatioDetector),
    /// CUSUM level shifts (`cusum`).
    Cusum(Cusum),
    /// Bayesian online change points (`bocpd`).
    Bocpd(Bocpd),
    /// Mann–Kendall trend with Theil–Sen slope (`trend`).
    Trend(MannKendall),
    /// Self-calibrating point, level and subsequence novelty: the default (`novelty`).
    Novelty(Box<NoveltyDetector>),
    /// Several of the above (`ensemble(…)`).
    Ensemble(Box<Ensemble<AnyDetector>>),
}

macro_rules! each {
    ($self:expr, $d:ident => $body:expr) => {
        match $self {
            AnyDetector::Ewma($d) => $body,
            AnyDetector::Window($d) => $body,
            AnyDetector::Mad($d) => $body,
            AnyDetector::Iqr($d) => $body,
            AnyDetector::RateOfChange($d) => $body,
            AnyDetector::Seasonal($d) => $body,
            AnyDetector::Ratio($d) => $body,
            AnyDetector::SeasonalAggregate($d) => $body,
            AnyDetector::Poisson($d) => $body,
            AnyDetector::ErrorRatio($d) => $body,
            AnyDetector::Cusum($d) => $body,
            AnyDetector::Bocpd($d) => $body,
            AnyDetector::Trend($d) => $body,
            AnyDetector::Novelty($d) => $body,
            AnyDetector::Ensemble($d) => $body,
        }
    };
}

/// Names accepted in specifications, with what they build.
pub const NAMES: &[(&str, &str)] = &[
    ("default", "the default detector (what you get with no configuration): novelty"),
    ("novelty", "self-calibrating point, level and subsequence novelty with onset emphasis"),
    ("ewma", "z-score against an exponentially weighted mean and variance"),
    ("window", "z-score against an exact sliding window mean and variance"),
    ("mad", "robust z-score against a sliding median and MAD"),
    ("iqr", "Tukey fences over a sliding window"),
    ("roc", "rate of change: sudden rises and drops"),
    ("seasonal", "z-score against a time-of-week baseline"),
    ("ratio", "ratio to a time-of-week baseline (fires at multiple=3 by default)"),
    ("seasonal_agg", "an interval aggregate (mean, p95, count…) against its time-of-week bucket"),
    ("poisson", "low counts: Poisson or negative-binomial tail"),
    ("error_ratio", "error ratios with a minimum-volume floor"),
    ("cusum", "CUSUM level shifts, reporting when a shift started and its size"),
    ("bocpd", "Bayesian online change-point detection"),
    ("trend", "Mann-Kendall trend test with a Theil-Sen slope"),
    ("ensemble", "several detectors, one verdict: ensemble(mad, cusum, combine=logp)"),
];

impl AnyDetector {
    /// Builds a detector from a specification string or JSON (see [`crate::spec`]).
    ///
    /// ```
    /// use oddsight_core::{Detector, Point};
    /// use oddsight_detectors::AnyDetector;
    /// let mut d = AnyDetector::parse("mad(window=60, warmup=10)")?;
    /// for i in 0..60 {
    ///     d.observe(Point::new(i * 1000, 100.0 + (i % 4) as f64))?;
    /// }
    /// assert!(d.observe(Point::new(60_000, 180.0))?.is_anomaly);
    /// assert!(AnyDetector::parse("mad(windw=60)").unwrap_err().to_string().contains("unknown parameter windw"));
    /// assert!(AnyDetector::parse("nope").is_err());
    /// # Ok::<(), oddsight_detectors::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Spec`] for a malformed spec, an unknown name or parameter; [`Error::Core`] for a
    /// parameter out of range.
    pub fn parse(spec: &str) -> Result<Self> {
        Self::from_spec(&DetectorSpec::from_json(spec)?)
    }

    /// Builds a detector from a parsed specification.
    ///
    /// # Errors
    /// As [`AnyDetector::parse`].
    pub fn from_spec(spec: &DetectorSpec) -> Result<Self> {
        if spec.name != "ensemble" {
            spec.no_members()?;
        }
        Ok(match spec.name.as_str() {
            "default" => {
                spec.only(&[])?;
                return Self::parse(DEFAULT_SPEC);
            }
            "novelty" => AnyDetector::Novelty(Box::new(configure::<NoveltyParams>(spec)?.build()?)),
            "ewma" | "zscore" => AnyDetector::Ewma(configure::<EwmaZScoreParams>(spec)?.build()?),
            "window" => AnyDetector::Window(configure::<WindowZScoreParams>(spec)?.build()?),
            "mad" => AnyDetector::Mad(configure::<MadZScoreParams>(spec)?.build()?),
            "iqr" => AnyDetector::Iqr(configure::<IqrParams>(spec)?.build()?),
            "roc" | "rate_of_change" => AnyDetector::RateOfChange(configure::<RateOfChangeParams>(spec)?.build()?),
            "seasonal" => AnyDetector::Seasonal(configure::<SeasonalZScoreParams>(spec)?.build()?),
            "ratio" => AnyDetector::Ratio(configure::<RatioToBaselineParams>(spec)?.build()?),
            "seasonal_agg" => AnyDetector::SeasonalAggregate(configure::<SeasonalAggregateParams>(spec)?.build()?),
            "poisson" => AnyDetector::Poisson(configure::<PoissonParams>(spec)?.build()?),
            "error_ratio" => AnyDetector::ErrorRatio(configure::<ErrorRatioParams>(spec)?.build()?),
            "cusum" => AnyDetector::Cusum(configure::<CusumParams>(spec)?.build()?),
            "bocpd" => AnyDetector::Bocpd(configure::<BocpdParams>(spec)?.build()?),
            "trend" | "mann_kendall" => AnyDetector::Trend(configure::<MannKendallParams>(spec)?.build()?),
            "ensemble" => {
                if spec.members.is_empty() {
                    return Err(spec.error("ensemble needs at least one member, e.g. ensemble(mad, cusum)"));
                }
                let combine = spec.word("combine", "logp")?;
                if serde_json::from_value::<Combine>(Value::String(combine.to_string())).is_err() {
                    return Err(spec.error(format!("combine must be logp, max or vote, got {combine}")));
                }
                let params = configure::<EnsembleParams>(spec)?;
                let mut members = Vec::with_capacity(spec.members.len());
                for m in &spec.members {
                    let mut name = m.name.clone();
                    let mut k = 2;
                    while members.iter().any(|(n, _)| *n == name) {
                        name = format!("{}-{k}", m.name);
                        k += 1;
                    }
                    members.push((name, AnyDetector::from_spec(m)?));
                }
                AnyDetector::Ensemble(Box::new(Ensemble::new(members, params)?))
            }
            other => {
                let names: Vec<&str> = NAMES.iter().map(|(n, _)| *n).collect();
                return Err(spec.error(format!("unknown detector {other}; known: {}", names.join(", "))));
            }
        })
    }

    /// The detector's kind as written in specifications (`mad`, `ensemble`, …).
    pub fn kind_name(&self) -> &'static str {
        match self {
            AnyDetector::Ewma(_) => "ewma",
            AnyDetector::Window(_) => "window",
            AnyDetector::Mad(_) => "mad",
            AnyDetector::Iqr(_) => "iqr",
            AnyDetector::RateOfChange(_) => "roc",
            AnyDetector::Seasonal(_) => "seasonal",
            AnyDetector::Ratio(_) => "ratio",
            AnyDetector::SeasonalAggregate(_) => "seasonal_agg",
            AnyDetector::Poisson(_) => "poisson",
            AnyDetector::ErrorRatio(_) => "error_ratio",
            AnyDetector::Cusum(_) => "cusum",
            AnyDetector::Bocpd(_) => "bocpd",
            AnyDetector::Trend(_) => "trend",
            AnyDetector::Novelty(_) => "novelty",
            AnyDetector::Ensemble(_) => "ensemble",
        }
    }

    /// Restores a detector from a snapshot made by [`Detector::snapshot`] on an `AnyDetector`.
    ///
    /// # Errors
    /// [`Error::Core`] with a snapshot error for anything malformed.
    pub fn restore(snapshot: &str) -> Result<Self> {
        Ok(<Self as Stateful>::from_snapshot(snapshot)?)
    }
}

/// Starts from `P::default()`, applies the spec's parameters by name, and deserialises back, so
/// every public field of a params struct is settable from a spec without a hand-written table.
/// A key may also name a field of a nested struct (`period_ms` inside `seasonal`), and a
/// duration key may drop its `_ms` suffix (`period=1w`).
fn configure<P: Default + Serialize + DeserializeOwned>(spec: &DetectorSpec) -> Result<P> {
    let mut value = serde_json::to_value(P::default()).map_err(|e| spec.error(e.to_string()))?;
    let Value::Object(root) = &mut value else { return Err(spec.error("parameters are not a struct")) };
    for (key, v) in &spec.params {
        let json = match v {
            SpecValue::Number(n) if n.fract() == 0.0 && n.abs() < 9.0e15 => Value::from(*n as i64),
            SpecValue::Number(n) => Value::from(*n),
            SpecValue::Bool(b) => Value::Bool(*b),
            SpecValue::Word(w) => Value::String(w.clone()),
        };
        let candidates = [key.clone(), format!("{key}_ms")];
        let mut placed = false;
        for c in &candidates {
            if root.contains_key(c) {
                root.insert(c.clone(), json.clone());
                placed = true;
                break;
            }
        }
        if !placed {
            // One level down, where exactly one nested struct has the field.
            let nested: Vec<String> = root
                .iter()
                .filter(|(_, v)| v.as_object().is_some_and(|o| candidates.iter().any(|c| o.contains_key(c))))
                .map(|(k, _)| k.clone())
                .collect();
            if let [only] = nested.as_slice()
                && let Some(Value::Object(inner)) = root.get_mut(only)
                && let Some(c) = candidates.iter().find(|c| inner.contains_key(*c))
            {
                inner.insert(c.clone(), json.clone());
                placed = true;
            }
        }
        if !placed {
            let mut known: Vec<String> = Vec::new();
            for (k, v) in root.iter() {
                match v.as_object() {
                    Some(o) => known.extend(o.keys().cloned()),
                    None => known.push(k.clone()),
                }
            }
            return Err(spec.error(format!(
                "unknown parameter {key} for {}; accepted: {}",
                spec.name,
                known.join(", ")
            )));
        }
    }
    serde_json::from_value(value).map_err(|e| spec.error(format!("bad parameter value: {e}")))
}

impl Detector for AnyDetector {
    fn score(&self, point: Point) -> oddsight_core::Result<Verdict> {
        each!(self, d => d.score(point))
    }
    fn update(&mut self, point: Point) -> oddsight_core::Result<()> {
        each!(self, d => d.update(point))
    }
    fn observe(&mut self, point: Point) -> oddsight_core::Result<Verdict> {
        each!(self, d => d.observe(point))
    }
    // The batch forms go to the detector's own: some are faster, and each is all-or-nothing
    // for the points that detector refuses.
    fn observe_batch(&mut self, timestamps: &[i64], values: &[f64]) -> oddsight_core::Result<Vec<Verdict>> {
        each!(self, d => d.observe_batch(timestamps, values))
    }
    fn score_batch(&self, timestamps: &[i64], values: &[f64]) -> oddsight_core::Result<Vec<Verdict>> {
        each!(self, d => d.score_batch(timestamps, values))
    }
    fn update_batch(&mut self, timestamps: &[i64], values: &[f64]) -> oddsight_core::Result<()> {
        each!(self, d => d.update_batch(timestamps, values))
    }
    fn last_timestamp(&self) -> Option<i64> {
        each!(self, d => d.last_timestamp())
    }
    fn rebaseline(&mut self, recent: &[Point]) -> oddsight_core::Result<()> {
        each!(self, d => d.rebaseline(recent))
    }
    fn reset(&mut self) {
        each!(self, d => d.reset())
    }
    fn snapshot(&self) -> oddsight_core::Result<String> {
        self.to_snapshot()
    }
    fn name(&self) -> Cow<'static, str> {
        each!(self, d => d.name())
    }
}

impl Stateful for AnyDetector {
    fn kind() -> String {
        "AnyDetector".into()
    }
    fn validate(&self) -> oddsight_core::Result<()> {
        each!(self, d => d.validate())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_builds_and_round_trips() {
        for (name, _) in NAMES {
            let spec = if *name == "ensemble" { "ensemble(mad, mad, cusum)".to_string() } else { name.to_string() };
            let mut d = AnyDetector::parse(&spec).unwrap_or_else(|e| panic!("{name}: {e}"));
            for i in 0..200i64 {
                let v = 10.0 + (i % 7) as f64 + if i == 150 { 50.0 } else { 0.0 };
                let v = if *name == "error_ratio" { v / 100.0 } else { v }; // a ratio in [0, 1]
                let verdict = d.observe(Point::new(i * 60_000, v)).unwrap();
                assert!((0.0..=1.0).contains(&verdict.anomaly_score), "{name}");
            }
            let snap = d.snapshot().unwrap();
            let back = AnyDetector::restore(&snap).unwrap();
            assert!(back == d, "{name}: restored detector differs");
            let p = Point::new(200 * 60_000, if *name == "error_ratio" { 0.13 } else { 13.0 });
            assert_eq!(back.score(p).unwrap(), d.score(p).unwrap(), "{name}");
        }
    }

    #[test]
    fn parameters_reach_nested_fields_and_errors_are_clear() {
        let AnyDetector::Seasonal(s) = AnyDetector::parse("seasonal(period=1d, bucket=1h, min_samples=3)").unwrap()
        else {
            panic!("wrong variant")
        };
        assert_eq!(s.baseline().params().period_ms, 86_400_000);
        assert_eq!(s.baseline().params().min_samples, 3);
        let e = AnyDetector::parse("mad(window=0)").unwrap_err();
        assert!(e.to_string().contains("window"), "{e}");
        let e = AnyDetector::parse("ensemble()").unwrap_err();
        assert!(e.to_string().contains("at least one member"), "{e}");
        let e = AnyDetector::parse("mad(cusum)").unwrap_err();
        assert!(e.to_string().contains("takes no member"), "{e}");
        let e = AnyDetector::parse("ensemble(mad, combine=median)").unwrap_err();
        assert!(e.to_string().contains("logp, max or vote"), "{e}");
        let e = AnyDetector::parse("poisson(sides=sideways)").unwrap_err();
        assert!(e.to_string().contains("bad parameter value"), "{e}");
        let AnyDetector::Ensemble(en) =
            AnyDetector::parse(r#"{"name":"ensemble","members":[{"name":"mad"},{"name":"mad"}]}"#).unwrap()
        else {
            panic!()
        };
        assert_eq!(en.names(), &["mad".to_string(), "mad-2".to_string()]);
    }
}
