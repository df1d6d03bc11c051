//! Several metrics at once: PCA reconstruction error for the metrics of one service, and peer
//! outliers across many series at one moment.
//!
//! **[`PcaDetector`]**: CPU, latency and query count of a service normally move together (all
//! driven by traffic). [`PcaParams::fit`] standardises each metric by its median and robust
//! scale, finds the principal components of the training rows with smartcore's PCA, and keeps
//! the leading ones (by [`PcaParams::explained_variance`], or a fixed count). A row is judged by
//! what the kept components cannot reconstruct: the residual, weighted by the training variance
//! of each discarded component, is χ² for Gaussian data, so it maps to a tail probability, a
//! z-equivalent and an anomaly score on oddsight's common scale
//! ([`oddsight_core::scale`]). "CPU up while latency and queries stay put" is one anomaly even
//! when each metric is well inside its own range, and the verdict says which metrics broke the
//! pattern and what each was expected to be given the others.
//!
//! ```
//! use ndarray::Array2;
//! use oddsight_detectors::multi::PcaParams;
//!
//! // cpu %, latency ms, queries/s, all following the traffic, with a little noise
//! let rows = Array2::from_shape_fn((400, 3), |(i, j)| {
//!     let traffic = 100.0 + 50.0 * (i as f64 / 20.0).sin();
//!     let noise = ((i * 31 + j * 17) % 13) as f64 / 13.0 - 0.5;
//!     [0.4 * traffic, 20.0 + 0.1 * traffic, 3.0 * traffic][j] + noise
//! });
//! let pca = PcaParams::default().fit_named(&["cpu", "latency_ms", "queries"], rows.view())?;
//! // traffic at 120: cpu 48, latency 32, queries 360 — as usual
//! assert!(!pca.score_row(&[48.0, 32.0, 360.0])?.is_anomaly);
//! // cpu of a busy hour (traffic 145) while latency and queries are those of a quiet one (60)
//! let v = pca.score_row(&[58.0, 26.0, 180.0])?;
//! assert!(v.is_anomaly);
//! assert_eq!(v.contributions[0].metric, "cpu"); // the metric that broke the pattern
//! assert!(v.contributions[0].expected < 58.0);
//! # Ok::<(), oddsight_detectors::Error>(())
//! ```
//!
//! **[`PeerBand`]**: given N series' values at one timestamp (N hosts), a robust band around
//! their median. Its scale is the MAD, and when the MAD is zero (counts full of zeros) it falls
//! back to the IQR, then to the mean absolute deviation, then to a floor, and the report says
//! which ([`ScaleMethod`]), so it never divides by zero.
//!
//! ```
//! use oddsight_detectors::multi::{PeerBandParams, ScaleMethod};
//!
//! let band = PeerBandParams::default().build()?;
//! // errors per minute on 12 hosts: one is failing
//! let errors = [0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 9.0];
//! let report = band.judge(&errors)?;
//! assert_eq!(report.outliers, vec![11]);
//! assert_eq!(report.peers.method, ScaleMethod::MeanAbsDev); // the MAD and IQR were zero
//! # Ok::<(), oddsight_detectors::Error>(())
//! ```
//!
//! **[`PeerClusters`]**: DBSCAN (smartcore) over per-series feature vectors (a value, or a
//! short window of values), each feature standardised across the series by the same robust
//! scale. The radius adapts to the data: [`PeerClusterParams::eps`] times the median distance
//! from a series to its `(min_samples - 1)`-th nearest peer, so groups are found whatever the
//! units and however far apart they sit. Series that DBSCAN leaves as noise behave unlike any
//! group of peers. Labels are read
//! back with smartcore's `predict` on the same rows, which gives a noise point the majority
//! label of its `eps`-neighbourhood (itself included): an isolated series stays noise, while a
//! noise point most of whose neighbours sit at a cluster's edge joins that cluster.
//!
//! ```
//! use ndarray::Array2;
//! use oddsight_detectors::multi::PeerClusterParams;
//!
//! // the last 3 minutes of CPU on 8 hosts: two groups doing different jobs, and one host stuck
//! let cpu = Array2::from_shape_vec((8, 3), vec![
//!     20.0, 21.0, 20.0,  21.0, 20.0, 22.0,  19.0, 20.0, 21.0,  20.0, 22.0, 20.0,
//!     60.0, 61.0, 59.0,  61.0, 60.0, 60.0,  59.0, 60.0, 61.0,
//!     99.0, 2.0, 99.0,
//! ]).unwrap();
//! let report = PeerClusterParams::default().build()?.judge(cpu.view())?;
//! assert_eq!(report.clusters, 2);
//! assert_eq!(report.outliers, vec![7]);
//! # Ok::<(), oddsight_detectors::Error>(())
//! ```

mod pca;
mod peers;
mod robust;

pub use pca::{MetricContribution, PcaDetector, PcaParams, PcaVerdict};
pub use peers::{ClusterReport, PeerBand, PeerBandParams, PeerClusterParams, PeerClusters, PeerReport, PeerVerdict};
pub use robust::{RobustScale, ScaleMethod, robust_scale};
