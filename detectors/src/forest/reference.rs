//! The bridge to `extended-isolation-forest`, whose width is a const generic.
//!
//! Trees cross in the crate's own serde form (`{"In": {left, right, n, p}}` and
//! `{"Ex": {num_samples}}`), so nothing here depends on its private fields, and one
//! macro-generated `match` turns the run-time width into the compile-time `N`.

use super::flat::c_factor;
use super::{IsolationForest, Tree};
use crate::error::{Error, Result};
use extended_isolation_forest::{Forest, ForestOptions};
use serde_json::{Value, json};
use std::collections::VecDeque;

/// Widest rows the bridge to `extended-isolation-forest` compiles for
/// ([`IsolationForest::to_reference_scores`], [`super::ForestParams::fit_with_crate`]).
pub const MAX_REFERENCE_WIDTH: usize = 32;

/// Runs `$body` with `$n` a `const usize` equal to `$width`, for widths
/// `1..=MAX_REFERENCE_WIDTH`; anything else is [`Error::Unsupported`].
macro_rules! with_width {
    ($width:expr, $n:ident => $body:expr) => {
        with_width!(@ $width, $n => $body;
            1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32)
    };
    (@ $width:expr, $n:ident => $body:expr; $($w:literal)*) => {
        match $width {
            $($w => {
                const $n: usize = $w;
                $body
            })*
            w => Err(Error::Unsupported {
                what: format!("{w} metrics with extended-isolation-forest (at most {MAX_REFERENCE_WIDTH})"),
            }),
        }
    };
}

fn crate_error(reason: impl std::fmt::Display) -> Error {
    Error::Numeric { what: "extended-isolation-forest", reason: reason.to_string() }
}

/// Scores row-major `data` with the crate's code on `forest`'s trees.
pub(super) fn score_with_crate(forest: &IsolationForest, data: &[f64]) -> Result<Vec<f64>> {
    let json = to_crate_json(forest);
    with_width!(forest.width(), N => {
        let reference: Forest<f64, N> = serde_json::from_value(json).map_err(crate_error)?;
        data.chunks_exact(N)
            .map(|row| <[f64; N]>::try_from(row).map(|row| reference.score(&row)).map_err(crate_error))
            .collect()
    })
}

/// Trains with the crate (thread-local randomness) and converts its trees.
pub(super) fn fit_with_crate(
    data: &[f64],
    width: usize,
    trees: usize,
    psi: usize,
    extension: usize,
) -> Result<Vec<Tree>> {
    with_width!(width, N => {
        let rows = data.chunks_exact(N).map(<[f64; N]>::try_from).collect::<std::result::Result<Vec<_>, _>>();
        let rows = rows.map_err(crate_error)?;
        let options = ForestOptions { n_trees: trees, sample_size: psi, max_tree_depth: None, extension_level: extension };
        let forest = Forest::<f64, N>::from_slice(&rows, &options).map_err(crate_error)?;
        from_crate_json(&serde_json::to_value(&forest).map_err(crate_error)?, N)
    })
}

/// The crate's serde form of `forest`.
fn to_crate_json(forest: &IsolationForest) -> Value {
    let w = forest.width();
    let trees: Vec<Value> = forest
        .trees()
        .iter()
        .map(|tree| {
            // Rank of each split node among split nodes, which indexes `normal` and `point`.
            let mut rank = vec![0usize; tree.left.len()];
            let mut k = 0;
            for (i, &l) in tree.left.iter().enumerate() {
                if l != 0 {
                    rank[i] = k;
                    k += 1;
                }
            }
            json!({ "root": node_json(tree, 0, &rank, w) })
        })
        .collect();
    json!({ "avg_path_length_c": c_factor(forest.samples_per_tree()), "trees": trees })
}

fn node_json(tree: &Tree, i: usize, rank: &[usize], w: usize) -> Value {
    let l = tree.left[i] as usize;
    if l == 0 {
        return json!({ "Ex": { "num_samples": tree.size[i] } });
    }
    let k = rank[i];
    json!({ "In": {
        "left": node_json(tree, l, rank, w),
        "right": node_json(tree, l + 1, rank, w),
        "n": &tree.normal[k * w..(k + 1) * w],
        "p": &tree.point[k * w..(k + 1) * w],
    }})
}

/// Converts the crate's serde form into trees, numbering nodes breadth-first so that split
/// nodes come in node order.
fn from_crate_json(forest: &Value, w: usize) -> Result<Vec<Tree>> {
    let trees = forest.get("trees").and_then(Value::as_array).ok_or_else(|| crate_error("no trees"))?;
    trees
        .iter()
        .map(|t| {
            let root = t.get("root").ok_or_else(|| crate_error("a tree without a root"))?;
            let mut tree = Tree { left: vec![0], size: vec![0], normal: Vec::new(), point: Vec::new() };
            let mut queue = VecDeque::from([(root, 0usize)]);
            while let Some((node, i)) = queue.pop_front() {
                if let Some(ex) = node.get("Ex") {
                    let size = ex.get("num_samples").and_then(Value::as_u64).ok_or_else(|| crate_error("bad leaf"))?;
                    tree.size[i] = u32::try_from(size).map_err(crate_error)?;
                } else if let Some(split) = node.get("In") {
                    for key in ["n", "p"] {
                        let values =
                            split.get(key).and_then(Value::as_array).ok_or_else(|| crate_error("bad split"))?;
                        if values.len() != w {
                            return Err(crate_error(format!(
                                "a split of width {} where {w} is expected",
                                values.len()
                            )));
                        }
                        let target = if key == "n" { &mut tree.normal } else { &mut tree.point };
                        for v in values {
                            target.push(v.as_f64().ok_or_else(|| crate_error("a split value is not a number"))?);
                        }
                    }
                    let l = tree.left.len();
                    tree.left[i] = u32::try_from(l).map_err(crate_error)?;
                    tree.left.extend([0, 0]);
                    tree.size.extend([0, 0]);
                    let left = split.get("left").ok_or_else(|| crate_error("a split without a left child"))?;
                    let right = split.get("right").ok_or_else(|| crate_error("a split without a right child"))?;
                    queue.push_back((left, l));
                    queue.push_back((right, l + 1));
                } else {
                    return Err(crate_error("a node that is neither a split nor a leaf"));
                }
            }
            Ok(tree)
        })
        .collect()
}
