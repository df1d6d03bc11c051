//! Scoring a ranking against a case's truth: AC@k and Avg@5 at service level, and category
//! accuracy.
//!
//! `AC@k` is the share of cases whose true root-cause service is among the top `k` services;
//! `Avg@5` is the mean of `AC@1` … `AC@5`; category accuracy is the share whose root-cause
//! metric ([`Ranking::root_cause`]) has the true category.
//!
//! ```
//! use oddsight_investigate::generate::GeneratorParams;
//! use oddsight_investigate::rank::{rank, RankingParams};
//! use oddsight_investigate::score::{score_case, Scores};
//! let generator = GeneratorParams::default().build()?;
//! let mut scored = Vec::new();
//! for g in generator.cases(5) {
//!     let r = rank(&g.case, &RankingParams::default(), &[])?;
//!     scored.push(score_case(&g.case.name, &r, g.case.truth.as_ref().unwrap()));
//! }
//! let s = Scores::of(&scored);
//! assert_eq!(s.cases, 5);
//! assert!(s.ac1 <= s.ac3 && s.ac3 <= 1.0);
//! # Ok::<(), oddsight_investigate::Error>(())
//! ```

use crate::case::{Category, Truth};
use crate::rank::Ranking;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// How one case was ranked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseScore {
    /// The case's name.
    pub case: String,
    /// The true service.
    pub truth_service: String,
    /// The true category.
    pub truth_category: Category,
    /// 1-based rank of the true service, `None` when it is not in the ranking.
    pub rank: Option<usize>,
    /// The top service.
    pub predicted_service: Option<String>,
    /// The root-cause metric's category.
    pub predicted_category: Option<Category>,
}

impl CaseScore {
    /// Whether the true service is in the top `k`.
    pub fn hit(&self, k: usize) -> bool {
        self.rank.is_some_and(|r| r <= k)
    }

    /// Whether the category was right.
    pub fn category_correct(&self) -> bool {
        self.predicted_category == Some(self.truth_category)
    }
}

/// Scores one case.
pub fn score_case(name: &str, ranking: &Ranking, truth: &Truth) -> CaseScore {
    CaseScore {
        case: name.to_string(),
        truth_service: truth.service.clone(),
        truth_category: truth.category,
        rank: ranking.services.iter().position(|s| s.service == truth.service).map(|i| i + 1),
        predicted_service: ranking.services.first().map(|s| s.service.clone()),
        predicted_category: ranking.services.first().map(|s| s.category),
    }
}

/// The figures over a set of cases.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scores {
    /// Number of cases.
    pub cases: usize,
    /// Share with the true service first.
    pub ac1: f64,
    /// Share with the true service in the top 3.
    pub ac3: f64,
    /// Mean of AC@1 … AC@5.
    pub avg5: f64,
    /// Share with the right category.
    pub category_accuracy: f64,
    /// Per true category: (cases, AC@1, category accuracy).
    pub per_category: BTreeMap<Category, (usize, f64, f64)>,
}

impl Scores {
    /// Aggregates case scores (all figures 0 for no cases).
    pub fn of(cases: &[CaseScore]) -> Scores {
        let n = cases.len();
        let share = |f: &dyn Fn(&CaseScore) -> bool, set: &[&CaseScore]| {
            if set.is_empty() { 0.0 } else { set.iter().filter(|c| f(c)).count() as f64 / set.len() as f64 }
        };
        let all: Vec<&CaseScore> = cases.iter().collect();
        let ac = |k: usize| share(&|c: &CaseScore| c.hit(k), &all);
        let mut per_category = BTreeMap::new();
        for cat in Category::ALL {
            let set: Vec<&CaseScore> = cases.iter().filter(|c| c.truth_category == cat).collect();
            if !set.is_empty() {
                per_category.insert(
                    cat,
                    (
                        set.len(),
                        share(&|c: &CaseScore| c.hit(1), &set),
                        share(&|c: &CaseScore| c.category_correct(), &set),
                    ),
                );
            }
        }
        Scores {
            cases: n,
            ac1: ac(1),
            ac3: ac(3),
            avg5: (1..=5).map(ac).sum::<f64>() / 5.0,
            category_accuracy: share(&|c: &CaseScore| c.category_correct(), &all),
            per_category,
        }
    }
}
