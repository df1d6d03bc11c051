//! Cross-series peer outliers: which of N series (hosts, pods, shards) behave unlike the rest
//! at one moment.

use super::robust::{RobustScale, ScaleMethod, robust_scale};
use crate::error::{Error, Result};
use ndarray::ArrayView2;
use oddsight_core::{Direction, scale};
use serde::{Deserialize, Serialize};
use smartcore::algorithm::neighbour::KNNAlgorithmName;
use smartcore::cluster::dbscan::{DBSCAN, DBSCANParameters};
use smartcore::linalg::basic::matrix::DenseMatrix;

/// Parameters of a [`PeerBand`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PeerBandParams {
    /// A series is an outlier when its robust |z| against its peers is at least this, `> 0`.
    /// Default 3 (an anomaly score of 0.5 on the common scale).
    pub threshold_z: f64,
    /// Floor of the peers' robust scale, in the values' units, `>= 0`. Default 0 (then the
    /// floor is `1e-9 × max(1, |median|)`).
    pub min_scale: f64,
    /// Fewest series judged at once, `>= 3`. Default 3.
    pub min_peers: usize,
}

impl Default for PeerBandParams {
    fn default() -> Self {
        PeerBandParams { threshold_z: 3.0, min_scale: 0.0, min_peers: 3 }
    }
}

impl PeerBandParams {
    /// Sets `threshold_z`.
    pub fn threshold_z(mut self, threshold_z: f64) -> Self {
        self.threshold_z = threshold_z;
        self
    }
    /// Sets `min_scale`.
    pub fn min_scale(mut self, min_scale: f64) -> Self {
        self.min_scale = min_scale;
        self
    }
    /// Sets `min_peers`.
    pub fn min_peers(mut self, min_peers: usize) -> Self {
        self.min_peers = min_peers;
        self
    }

    /// Checks the parameters and builds the band.
    ///
    /// # Errors
    /// [`Error::Core`] with `InvalidParameter` naming the first bad one.
    pub fn build(self) -> Result<PeerBand> {
        if !(self.threshold_z > 0.0 && self.threshold_z.is_finite()) {
            return Err(param("threshold_z", "must be finite and > 0", self.threshold_z));
        }
        if !(self.min_scale >= 0.0 && self.min_scale.is_finite()) {
            return Err(param("min_scale", "must be finite and >= 0", self.min_scale));
        }
        if self.min_peers < 3 {
            return Err(param("min_peers", "must be at least 3", self.min_peers));
        }
        Ok(PeerBand { params: self })
    }
}

/// One series judged against its peers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PeerVerdict {
    /// Position of the series in the input.
    pub index: usize,
    /// Its value.
    pub value: f64,
    /// Robust z against the peers: `(value - center) / scale`.
    pub z: f64,
    /// Anomaly score in `[0, 1]` on the common scale.
    pub anomaly_score: f64,
    /// Above or below the peers.
    pub direction: Direction,
    /// Whether `|z| >= threshold_z`.
    pub is_outlier: bool,
}

/// The judgement of N series at one moment by a [`PeerBand`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PeerReport {
    /// The peers' median and robust scale, and which estimator the scale came from (a
    /// [`ScaleMethod`] other than `Mad` says the MAD was zero, as with counts full of zeros).
    pub peers: RobustScale,
    /// Lower edge of the band: `center - threshold_z × scale`.
    pub lower: f64,
    /// Upper edge of the band: `center + threshold_z × scale`.
    pub upper: f64,
    /// One verdict per series, in input order.
    pub verdicts: Vec<PeerVerdict>,
    /// Indices of the outliers, most extreme first.
    pub outliers: Vec<usize>,
}

impl PeerReport {
    /// One line for a human.
    pub fn explain(&self) -> String {
        let how = match self.peers.method {
            ScaleMethod::Mad => "MAD",
            ScaleMethod::Iqr => "IQR (the MAD was zero)",
            ScaleMethod::MeanAbsDev => "mean absolute deviation (MAD and IQR were zero)",
            ScaleMethod::Floor => "the floor (the peers do not vary)",
        };
        format!(
            "{} of {} series outside [{:.4}, {:.4}] (median {:.4}, scale {:.4} from {how})",
            self.outliers.len(),
            self.verdicts.len(),
            self.lower,
            self.upper,
            self.peers.center,
            self.peers.scale,
        )
    }
}

/// A robust median/MAD band across peers: see [`crate::multi`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PeerBand {
    params: PeerBandParams,
}

impl PeerBand {
    /// The parameters.
    pub fn params(&self) -> &PeerBandParams {
        &self.params
    }

    /// Judges `values`, one per series, against each other.
    ///
    /// # Errors
    /// [`Error::Core`] with `Empty` for no values, `Shape` for fewer than `min_peers`;
    /// [`Error::NonFiniteAt`] for NaN or ±inf (row = series).
    pub fn judge(&self, values: &[f64]) -> Result<PeerReport> {
        if values.is_empty() {
            return Err(Error::Core(oddsight_core::Error::Empty { what: "peer values" }));
        }
        if values.len() < self.params.min_peers {
            return Err(shape("peer series (at least)", self.params.min_peers, values.len()));
        }
        if let Some(row) = values.iter().position(|v| !v.is_finite()) {
            return Err(Error::NonFiniteAt { what: "peer value", row, column: 0, value: values[row] });
        }
        let peers = robust_scale(values, self.params.min_scale);
        let t = self.params.threshold_z;
        let verdicts: Vec<PeerVerdict> = values
            .iter()
            .enumerate()
            .map(|(index, &value)| {
                let z = scale::clamp_z(peers.z(value));
                PeerVerdict {
                    index,
                    value,
                    z,
                    anomaly_score: scale::anomaly_score(z),
                    direction: direction(z),
                    is_outlier: z.abs() >= t,
                }
            })
            .collect();
        let mut outliers: Vec<usize> = verdicts.iter().filter(|v| v.is_outlier).map(|v| v.index).collect();
        outliers.sort_by(|&a, &b| verdicts[b].z.abs().total_cmp(&verdicts[a].z.abs()));
        Ok(PeerReport {
            peers,
            lower: peers.center - t * peers.scale,
            upper: peers.center + t * peers.scale,
            verdicts,
            outliers,
        })
    }
}

fn direction(z: f64) -> Direction {
    if z > 0.0 {
        Direction::Up
    } else if z < 0.0 {
        Direction::Down
    } else {
        Direction::Neutral
    }
}

/// Parameters of [`PeerClusters`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PeerClusterParams {
    /// Neighbourhood radius, as a multiple of the typical neighbour distance: the median, over
    /// the series, of the distance to the `(min_samples - 1)`-th nearest other series (after
    /// each feature is standardised across the series). `> 0`. Default 3: a series whose
    /// neighbourhood is three times sparser than a typical one's is noise.
    pub eps: f64,
    /// Series within `eps` (itself included) that make a series a core point, `>= 2`.
    /// Default 3.
    pub min_samples: usize,
    /// Floor of each feature's robust scale, in its units, `>= 0`. Default 0.
    pub min_scale: f64,
}

impl Default for PeerClusterParams {
    fn default() -> Self {
        PeerClusterParams { eps: 3.0, min_samples: 3, min_scale: 0.0 }
    }
}

impl PeerClusterParams {
    /// Sets `eps`.
    pub fn eps(mut self, eps: f64) -> Self {
        self.eps = eps;
        self
    }
    /// Sets `min_samples`.
    pub fn min_samples(mut self, min_samples: usize) -> Self {
        self.min_samples = min_samples;
        self
    }
    /// Sets `min_scale`.
    pub fn min_scale(mut self, min_scale: f64) -> Self {
        self.min_scale = min_scale;
        self
    }

    /// Checks the parameters and builds the clusterer.
    ///
    /// # Errors
    /// [`Error::Core`] with `InvalidParameter` naming the first bad one.
    pub fn build(self) -> Result<PeerClusters> {
        if !(self.eps > 0.0 && self.eps.is_finite()) {
            return Err(param("eps", "must be finite and > 0", self.eps));
        }
        if !(2..=i16::MAX as usize).contains(&self.min_samples) {
            return Err(param("min_samples", "must be in 2..=32767", self.min_samples));
        }
        if !(self.min_scale >= 0.0 && self.min_scale.is_finite()) {
            return Err(param("min_scale", "must be finite and >= 0", self.min_scale));
        }
        Ok(PeerClusters { params: self })
    }
}

/// What [`PeerClusters::judge`] found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClusterReport {
    /// Per series, its cluster (`0..clusters`) or `None` for noise.
    pub labels: Vec<Option<usize>>,
    /// Number of clusters.
    pub clusters: usize,
    /// The noise series: behaving unlike any group of peers.
    pub outliers: Vec<usize>,
    /// How each feature was standardised across the series.
    pub features: Vec<RobustScale>,
    /// The radius DBSCAN ran with, in standardised units: `eps ×` the median neighbour
    /// distance (a tiny positive radius when that median is 0, as when most series are
    /// identical, so that any series that differs is noise).
    pub radius: f64,
}

/// DBSCAN over per-series feature vectors: see [`crate::multi`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PeerClusters {
    params: PeerClusterParams,
}

impl PeerClusters {
    /// The parameters.
    pub fn params(&self) -> &PeerClusterParams {
        &self.params
    }

    /// Clusters the series, one row each, one column per feature (a value, or a short window
    /// of values), and marks the noise points as outliers.
    ///
    /// # Errors
    /// [`Error::Core`] with `Empty` for no series or no features, `Shape` for fewer series than
    /// `min_samples`; [`Error::NonFiniteAt`] for NaN or ±inf; [`Error::Numeric`] if DBSCAN
    /// fails.
    pub fn judge(&self, features: ArrayView2<'_, f64>) -> Result<ClusterReport> {
        let (n, w) = features.dim();
        if n == 0 || w == 0 {
            return Err(Error::Core(oddsight_core::Error::Empty { what: "peer feature rows or columns" }));
        }
        if n < self.params.min_samples {
            return Err(shape("peer series (at least min_samples)", self.params.min_samples, n));
        }
        for (row, r) in features.outer_iter().enumerate() {
            if let Some(column) = r.iter().position(|v| !v.is_finite()) {
                return Err(Error::NonFiniteAt { what: "peer feature", row, column, value: r[column] });
            }
        }
        let scales: Vec<RobustScale> =
            features.columns().into_iter().map(|c| robust_scale(&c.to_vec(), self.params.min_scale)).collect();
        let mut z = Vec::with_capacity(n * w);
        for r in features.outer_iter() {
            z.extend(r.iter().zip(&scales).map(|(&x, s)| scale::clamp_z(s.z(x))));
        }
        let radius = (self.params.eps * median_neighbour_distance(&z, w, self.params.min_samples - 1)).max(1e-9);
        let numeric = |e: smartcore::error::Failed| Error::Numeric { what: "dbscan", reason: e.to_string() };
        let matrix = DenseMatrix::new(n, w, z, false).map_err(numeric)?;
        let params = DBSCANParameters::default()
            .with_eps(radius)
            .with_min_samples(self.params.min_samples)
            .with_algorithm(KNNAlgorithmName::LinearSearch);
        let model: DBSCAN<f64, i32, DenseMatrix<f64>, Vec<i32>, _> = DBSCAN::fit(&matrix, params).map_err(numeric)?;
        let predicted = model.predict(&matrix).map_err(numeric)?;
        let labels: Vec<Option<usize>> =
            predicted.iter().map(|&l| if l > 0 { Some(l as usize - 1) } else { None }).collect();
        let clusters = labels.iter().flatten().map(|c| c + 1).max().unwrap_or(0);
        let outliers = labels.iter().enumerate().filter(|(_, l)| l.is_none()).map(|(i, _)| i).collect();
        Ok(ClusterReport { labels, clusters, outliers, features: scales, radius })
    }
}

/// Median over the rows of `z` (row-major, `w` columns) of the Euclidean distance to the
/// `k`-th nearest other row. Quadratic in the rows: peers number in the thousands at most.
fn median_neighbour_distance(z: &[f64], w: usize, k: usize) -> f64 {
    let n = z.len() / w;
    let mut kth: Vec<f64> = (0..n)
        .map(|i| {
            let a = &z[i * w..(i + 1) * w];
            let mut d: Vec<f64> = (0..n)
                .filter(|&j| j != i)
                .map(|j| a.iter().zip(&z[j * w..(j + 1) * w]).map(|(x, y)| (x - y) * (x - y)).sum::<f64>().sqrt())
                .collect();
            let k = k.min(d.len()).max(1) - 1;
            d.select_nth_unstable_by(k, f64::total_cmp);
            d[k]
        })
        .collect();
    super::robust::quantile_sorted(
        {
            kth.sort_by(f64::total_cmp);
            &kth
        },
        0.5,
    )
}

fn param(name: &'static str, reason: &'static str, value: impl std::fmt::Display) -> Error {
    Error::Core(oddsight_core::Error::InvalidParameter { name, reason, value: value.to_string() })
}

fn shape(what: &'static str, expected: usize, got: usize) -> Error {
    Error::Core(oddsight_core::Error::Shape { what, expected, got })
}
