#![doc = include_str!("../README.md")]

pub mod case;
mod error;
pub mod generate;
pub mod rank;
mod rng;

pub use case::{Case, Category, ChangeEvent, ChangeKind, LogLine, Series, Topology, Truth};
pub use error::{Error, Result};
pub use rank::{Prior, RankedMetric, RankedService, Ranking, RankingParams, RankingWeights, rank};
pub mod actions;
pub mod answer;
#[cfg(feature = "http")]
pub mod http;
pub mod investigation;
pub mod kb;
pub mod llm;
pub mod policy;
pub mod redact;
pub mod retry;
pub mod score;
pub mod verify;
pub mod wire;

pub use investigation::{
    Answer, Driver, Investigation, InvestigationOptions, Need, Report, investigate_case, investigate_case_dir,
};
