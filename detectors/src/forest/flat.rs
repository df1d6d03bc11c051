//! The flattened scorer: every tree packed into contiguous arrays, rows walked in blocks.
//!
//! Written by hand because no crate scores extended isolation forests fast enough: the
//! reference walks boxed nodes recursively, one row at a time, with a branch per node that the
//! processor cannot predict. Here a node is `width + 1` packed floats (the normal `n` and the
//! offset `n·p`) plus the index of its left child (the right one follows it); a leaf is a node
//! with a zero normal that points to itself, so every row takes exactly `depth` steps with no
//! data-dependent branch, and then reads the leaf's whole path length (`depth + c(size)`,
//! precomputed with the reference's arithmetic). Rows go through one tree at a time in blocks
//! of [`BLOCK`], so that the tree stays in the first-level cache and the steps of different rows
//! overlap.

use super::Tree;
use super::train::max_depth;
use crate::error::{Error, Result};

/// Rows scored together through one tree.
const BLOCK: usize = 128;

/// The trees of a forest in one flat layout. Derived from the trees, never serialised.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct FlatForest {
    width: usize,
    depth: usize,
    trees: usize,
    /// `c(ψ)`, the normaliser of the mean path length.
    c: f64,
    roots: Vec<u32>,
    /// `width` normal coordinates per node (zero for a leaf).
    normal: Vec<f64>,
    /// `n·p` per node (zero for a leaf).
    offset: Vec<f64>,
    /// Left child per node (the right child is the next node); a leaf points to itself.
    child: Vec<u32>,
    /// Path length per leaf (zero for an internal node).
    value: Vec<f64>,
}

/// Mean path length of an unsuccessful search in a binary search tree of `n` points, with the
/// reference's arithmetic (so that scores agree to the last bit).
pub(super) fn c_factor(n: usize) -> f64 {
    let n = n as f64;
    2.0 * ((n - 1.0).log(std::f64::consts::E) + 0.5772156649) - (2.0 * (n - 1.0) / n)
}

fn bad(reason: String) -> Error {
    Error::Core(oddsight_core::Error::Snapshot { reason, source: None })
}

impl FlatForest {
    /// Packs `trees` (checking their structure) for rows of `width` metrics and `psi` samples
    /// per tree.
    pub(super) fn build(trees: &[Tree], width: usize, psi: usize) -> Result<Self> {
        let depth = max_depth(psi);
        let total: usize = trees.iter().map(|t| t.left.len()).sum();
        if total >= u32::MAX as usize {
            return Err(bad(format!("{total} nodes are too many")));
        }
        let mut flat = FlatForest {
            width,
            depth,
            trees: trees.len(),
            c: c_factor(psi),
            roots: Vec::with_capacity(trees.len()),
            normal: Vec::with_capacity(total * width),
            offset: Vec::with_capacity(total),
            child: Vec::with_capacity(total),
            value: Vec::with_capacity(total),
        };
        for (t, tree) in trees.iter().enumerate() {
            flat.push_tree(tree, psi).map_err(|e| bad(format!("tree {t}: {e}")))?;
        }
        Ok(flat)
    }

    fn push_tree(&mut self, tree: &Tree, psi: usize) -> std::result::Result<(), String> {
        let w = self.width;
        let len = tree.left.len();
        if len == 0 || tree.size.len() != len {
            return Err(format!("{} child links and {} sizes (must be equal and > 0)", len, tree.size.len()));
        }
        let internal = tree.left.iter().filter(|&&l| l != 0).count();
        if tree.normal.len() != internal * w || tree.point.len() != internal * w {
            return Err(format!(
                "{internal} split nodes of width {w} need {} normal and point values, got {} and {}",
                internal * w,
                tree.normal.len(),
                tree.point.len()
            ));
        }
        if let Some(v) = tree.normal.iter().chain(&tree.point).find(|v| !v.is_finite()) {
            return Err(format!("non-finite split value {v}"));
        }
        // Depth of each node, assigned by its one parent; children always come after parents.
        let mut depth = vec![usize::MAX; len];
        depth[0] = 0;
        let mut leaf_samples = 0usize;
        for i in 0..len {
            let d = depth[i];
            if d == usize::MAX {
                return Err(format!("node {i} has no parent"));
            }
            let l = tree.left[i] as usize;
            if l == 0 {
                leaf_samples += tree.size[i] as usize;
                continue;
            }
            if tree.size[i] != 0 {
                return Err(format!("split node {i} holds samples"));
            }
            if l <= i || l + 1 >= len {
                return Err(format!("node {i} has children at {l} (must be after it and inside the tree)"));
            }
            if d >= self.depth {
                return Err(format!("node {i} splits at depth {d}, past the limit {}", self.depth));
            }
            if depth[l] != usize::MAX || depth[l + 1] != usize::MAX {
                return Err(format!("node {l} has two parents"));
            }
            depth[l] = d + 1;
            depth[l + 1] = d + 1;
        }
        if leaf_samples != psi {
            return Err(format!("leaves hold {leaf_samples} samples, not {psi}"));
        }
        let base = self.child.len();
        self.roots.push(base as u32);
        let mut k = 0;
        for (i, ((&l, &size), &d)) in tree.left.iter().zip(&tree.size).zip(&depth).enumerate() {
            let l = l as usize;
            if l == 0 {
                self.normal.extend(std::iter::repeat_n(0.0, w));
                self.offset.push(0.0);
                self.child.push((base + i) as u32);
                let size = size as usize;
                let mut v = if size <= 1 { 0.0 } else { c_factor(size) };
                for _ in 0..d {
                    v += 1.0;
                }
                self.value.push(v);
            } else {
                let n = &tree.normal[k * w..(k + 1) * w];
                let p = &tree.point[k * w..(k + 1) * w];
                self.normal.extend_from_slice(n);
                self.offset.push(n.iter().zip(p).map(|(n, p)| n * p).sum());
                self.child.push((base + l) as u32);
                self.value.push(0.0);
                k += 1;
            }
        }
        Ok(())
    }

    /// Depth limit of every tree.
    pub(super) fn depth(&self) -> usize {
        self.depth
    }

    /// The score of one row (`width` finite values).
    pub(super) fn score_one(&self, row: &[f64]) -> f64 {
        let mut out = [0.0];
        self.score_into(row, &mut out);
        out[0]
    }

    /// Scores row-major `data` (finite, `out.len()` rows of `width`) into `out`.
    pub(super) fn score_into(&self, data: &[f64], out: &mut [f64]) {
        macro_rules! widths {
            ($($w:literal)*) => {
                match self.width {
                    $($w => self.score_blocks::<$w>(data, out),)*
                    _ => self.score_blocks_dyn(data, out),
                }
            };
        }
        widths!(1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16)
    }

    fn finish(&self, sums: &[f64], out: &mut [f64]) {
        let trees = self.trees as f64;
        for (o, &s) in out.iter_mut().zip(sums) {
            *o = 2.0_f64.powf(-(s / trees) / self.c);
        }
    }

    fn score_blocks<const W: usize>(&self, data: &[f64], out: &mut [f64]) {
        let mut idx = [0u32; BLOCK];
        let mut sums = [0.0f64; BLOCK];
        for (rows, out) in data.chunks(BLOCK * W).zip(out.chunks_mut(BLOCK)) {
            let b = out.len();
            let (idx, sums) = (&mut idx[..b], &mut sums[..b]);
            sums.fill(0.0);
            for &root in &self.roots {
                idx.fill(root);
                for _ in 0..self.depth {
                    for (i, x) in idx.iter_mut().zip(rows.chunks_exact(W)) {
                        let node = *i as usize;
                        let n = &self.normal[node * W..node * W + W];
                        let mut d = 0.0;
                        for j in 0..W {
                            d += n[j] * x[j];
                        }
                        *i = self.child[node] + u32::from(d > self.offset[node]);
                    }
                }
                for (s, &i) in sums.iter_mut().zip(idx.iter()) {
                    *s += self.value[i as usize];
                }
            }
            self.finish(sums, out);
        }
    }

    fn score_blocks_dyn(&self, data: &[f64], out: &mut [f64]) {
        let w = self.width;
        let mut idx = [0u32; BLOCK];
        let mut sums = [0.0f64; BLOCK];
        for (rows, out) in data.chunks(BLOCK * w).zip(out.chunks_mut(BLOCK)) {
            let b = out.len();
            let (idx, sums) = (&mut idx[..b], &mut sums[..b]);
            sums.fill(0.0);
            for &root in &self.roots {
                idx.fill(root);
                for _ in 0..self.depth {
                    for (i, x) in idx.iter_mut().zip(rows.chunks_exact(w)) {
                        let node = *i as usize;
                        let n = &self.normal[node * w..node * w + w];
                        let d: f64 = n.iter().zip(x).fold(0.0, |acc, (n, x)| acc + n * x);
                        *i = self.child[node] + u32::from(d > self.offset[node]);
                    }
                }
                for (s, &i) in sums.iter_mut().zip(idx.iter()) {
                    *s += self.value[i as usize];
                }
            }
            self.finish(sums, out);
        }
    }
}
