//! The flattened scorer: every tree packed into one contiguous array, rows walked in blocks.
//!
//! Written by hand because no crate scores extended isolation forests fast enough: the
//! reference walks boxed nodes recursively, one row at a time, with a branch per node that the
//! processor cannot predict. Here a leaf is a node that points to itself and never sends a row
//! on, so every row takes exactly `depth` steps with no data-dependent branch, and then reads
//! the leaf's whole path length (`depth + c(size)`, precomputed with the reference's
//! arithmetic). Rows go through one tree at a time in blocks of [`BLOCK`]: the tree stays in
//! cache, and the steps of different rows are independent, so the processor overlaps them.
//!
//! Two layouts, chosen when the forest is built:
//!
//! * **Hyperplanes** (any extension level): one record of `width + 2` floats per node, the
//!   normal `n`, the offset `n·p` (for a leaf, its path length) and the left child (the right
//!   one follows it), so a step reads one record. A row goes right when `n·x > n·p`, with the
//!   products summed in column order.
//! * **Axis-parallel** (every split uses one metric, as with extension level 0): a step is one
//!   comparison `x[column] > threshold`. The threshold is the exact boundary of the hyperplane
//!   test in floating point (the largest `x` with `n·x <= n·p` after rounding), and a negative
//!   normal compares `-x`, so both layouts send every row the same way.

use super::Tree;
use super::train::max_depth;
use crate::error::{Error, Result};

/// Rows scored together through one tree.
const BLOCK: usize = 512;

/// Rows scored together through one axis-parallel tree (their copies are wider).
const AXIS_BLOCK: usize = 256;

/// The trees of a forest in one flat layout. Derived from the trees, never serialised.
///
/// Nodes are numbered level by level within each tree, so that the top levels, which every
/// row visits, share cache lines. Nodes above the depth limit (splits, and leaves of at most
/// one sample, which point to themselves) have a step record and are numbered first, tree after
/// tree; nodes at the depth limit are only ever arrived at, so they have just a path length and
/// are numbered after all the records.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct FlatForest {
    width: usize,
    depth: usize,
    /// `c(ψ)`, the normaliser of the mean path length.
    c: f64,
    roots: Vec<u32>,
    steps: Steps,
    /// Path length of every node (zero for a split).
    value: Vec<f64>,
}

/// The step records, in the layout chosen for the forest.
#[derive(Debug, Clone, PartialEq)]
enum Steps {
    /// Hyperplanes over at most [`LINE_WIDTH`] metrics: one cache line per record.
    Lines(Vec<Line>),
    /// Hyperplanes over more metrics: `width + 2` values per record.
    Planes(Vec<f64>),
    /// Every split uses one metric.
    Axis(Vec<AxisSplit>),
}

/// Widest rows whose records fit one cache line.
const LINE_WIDTH: usize = 6;

/// A hyperplane record of one cache line: the normal `n` in the first `width` values, then the
/// offset `n·p` and the left child as `f64::from_bits` (the right child follows it). A leaf has
/// a zero normal and offset and points to itself.
#[derive(Debug, Clone, Copy, PartialEq)]
#[repr(C, align(64))]
struct Line([f64; 8]);

/// An axis-parallel step: right when `row[column] > threshold`, where columns `width..2 width`
/// are the negated metrics. A leaf has an infinite threshold and points to itself.
#[derive(Debug, Clone, Copy, PartialEq)]
struct AxisSplit {
    threshold: f64,
    column: u32,
    child: u32,
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

/// The largest `t` with `n * t <= offset` after rounding, for `n > 0` (so that, `n * x` being
/// monotone in `x`, `n * x > offset` exactly when `x > t`); `-inf` when every finite `x` goes
/// right, `+inf` when none does. `None` when the search does not settle (only for extreme
/// values; the forest then keeps the hyperplane layout).
fn axis_threshold(n: f64, offset: f64) -> Option<f64> {
    let below = |x: f64| n * x <= offset;
    if !below(f64::MIN) {
        return Some(f64::NEG_INFINITY);
    }
    if below(f64::MAX) {
        return Some(f64::INFINITY);
    }
    let mut t = (offset / n).clamp(f64::MIN, f64::MAX);
    for _ in 0..64 {
        if below(t) {
            let up = t.next_up();
            if !below(up) {
                return Some(t);
            }
            t = up;
        } else {
            t = t.next_down();
        }
    }
    None
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
        let levels = trees
            .iter()
            .enumerate()
            .map(|(t, tree)| check_tree(tree, width, depth, psi).map_err(|e| bad(format!("tree {t}: {e}"))))
            .collect::<Result<Vec<_>>>()?;
        // Numbering: records first (tree after tree, level by level), then the deepest nodes.
        let records: usize = levels.iter().flatten().filter(|&&d| d < depth).count();
        let (mut next_record, mut next_deep) = (0u32, records as u32);
        let ids: Vec<Vec<u32>> = levels
            .iter()
            .map(|level| {
                let mut id = vec![0u32; level.len()];
                for i in level_order(level) {
                    let next = if level[i] < depth { &mut next_record } else { &mut next_deep };
                    id[i] = *next;
                    *next += 1;
                }
                id
            })
            .collect();
        let w = width;
        let mut planes = vec![0.0; records * (w + 2)];
        let mut value = vec![0.0; total];
        let mut roots = Vec::with_capacity(trees.len());
        for ((tree, level), id) in trees.iter().zip(&levels).zip(&ids) {
            roots.push(id[0]);
            let mut k = 0;
            for (i, (&l, &d)) in tree.left.iter().zip(level).enumerate() {
                let me = id[i] as usize;
                let l = l as usize;
                if l == 0 {
                    let size = tree.size[i] as usize;
                    let mut v = if size <= 1 { 0.0 } else { c_factor(size) };
                    for _ in 0..d {
                        v += 1.0;
                    }
                    value[me] = v;
                    if d < depth {
                        planes[me * (w + 2) + w + 1] = f64::from_bits(me as u64);
                    }
                } else {
                    let n = &tree.normal[k * w..(k + 1) * w];
                    let p = &tree.point[k * w..(k + 1) * w];
                    let r = &mut planes[me * (w + 2)..(me + 1) * (w + 2)];
                    r[..w].copy_from_slice(n);
                    r[w] = n.iter().zip(p).map(|(n, p)| n * p).sum();
                    r[w + 1] = f64::from_bits(u64::from(id[l]));
                    k += 1;
                }
            }
        }
        let steps = if let Some(splits) = axis_splits(&planes, w) {
            Steps::Axis(splits)
        } else if w <= LINE_WIDTH {
            Steps::Lines(
                planes
                    .chunks_exact(w + 2)
                    .map(|r| {
                        let mut line = [0.0; 8];
                        line[..w].copy_from_slice(&r[..w]);
                        line[LINE_WIDTH] = r[w];
                        line[LINE_WIDTH + 1] = r[w + 1];
                        Line(line)
                    })
                    .collect(),
            )
        } else {
            Steps::Planes(planes)
        };
        Ok(FlatForest { width, depth, c: c_factor(psi), roots, steps, value })
    }

    /// Depth limit of every tree.
    pub(super) fn depth(&self) -> usize {
        self.depth
    }

    /// Whether every split is axis-parallel (the one-comparison layout is used).
    #[cfg(test)]
    fn is_axis(&self) -> bool {
        matches!(self.steps, Steps::Axis(_))
    }

    /// The score of one row (`width` finite values).
    pub(super) fn score_one(&self, row: &[f64]) -> f64 {
        let mut out = [0.0];
        self.score_into(row, &mut out);
        out[0]
    }

    /// Scores row-major `data` (finite, `out.len()` rows of `width`) into `out`.
    pub(super) fn score_into(&self, data: &[f64], out: &mut [f64]) {
        match &self.steps {
            Steps::Axis(splits) => match self.width {
                1 => self.score_axis::<2>(splits, data, out),
                2 => self.score_axis::<4>(splits, data, out),
                3 | 4 => self.score_axis::<8>(splits, data, out),
                5..=8 => self.score_axis::<16>(splits, data, out),
                9..=16 => self.score_axis::<32>(splits, data, out),
                _ => self.score_axis_dyn(splits, data, out),
            },
            Steps::Lines(lines) => match self.width {
                1 => self.score_lines::<1>(lines, data, out),
                2 => self.score_lines::<2>(lines, data, out),
                3 => self.score_lines::<3>(lines, data, out),
                4 => self.score_lines::<4>(lines, data, out),
                5 => self.score_lines::<5>(lines, data, out),
                _ => self.score_lines::<LINE_WIDTH>(lines, data, out),
            },
            Steps::Planes(planes) => {
                macro_rules! widths {
                    ($($w:literal)*) => {
                        match self.width {
                            $($w => self.score_planes::<$w, { $w + 2 }>(planes, data, out),)*
                            _ => self.score_planes_dyn(planes, data, out),
                        }
                    };
                }
                widths!(7 8 9 10 11 12 13 14 15 16)
            }
        }
    }

    /// Adds each row's path length to `sums` and turns the sums into scores.
    fn finish(&self, idx: &[u32], sums: &mut [f64], last: bool, out: &mut [f64]) {
        for (s, &i) in sums.iter_mut().zip(idx) {
            *s += self.value.get(i as usize).copied().unwrap_or(0.0);
        }
        if last {
            let trees = self.roots.len() as f64;
            for (o, &s) in out.iter_mut().zip(sums.iter()) {
                *o = 2.0_f64.powf(-(s / trees) / self.c);
            }
        }
    }

    /// Hyperplane steps for rows of `W <= LINE_WIDTH` metrics.
    fn score_lines<const W: usize>(&self, lines: &[Line], data: &[f64], out: &mut [f64]) {
        // Sized to the input, so that scoring one row clears no whole block.
        let cap = BLOCK.min(out.len());
        let (mut idx, mut sums) = (vec![0u32; cap], vec![0.0f64; cap]);
        for (rows, out) in data.chunks(BLOCK * W).zip(out.chunks_mut(BLOCK)) {
            let (rows, _) = rows.as_chunks::<W>();
            let b = out.len();
            let (idx, sums) = (&mut idx[..b], &mut sums[..b]);
            sums.fill(0.0);
            for (t, &root) in self.roots.iter().enumerate() {
                idx.fill(root);
                for _ in 0..self.depth {
                    // Two rows an iteration: fewer instructions a step for the loop itself.
                    let (pairs, rest) = idx.as_chunks_mut::<2>();
                    let (row_pairs, row_rest) = rows.as_chunks::<2>();
                    for (i, [x, y]) in pairs.iter_mut().zip(row_pairs) {
                        *i = [line_step(lines, i[0], x), line_step(lines, i[1], y)];
                    }
                    for (i, x) in rest.iter_mut().zip(row_rest) {
                        *i = line_step(lines, *i, x);
                    }
                }
                self.finish(idx, sums, t + 1 == self.roots.len(), out);
            }
        }
    }

    /// Hyperplane steps for rows of `W` metrics and records of `S = W + 2` values.
    fn score_planes<const W: usize, const S: usize>(&self, planes: &[f64], data: &[f64], out: &mut [f64]) {
        let (records, _) = planes.as_chunks::<S>();
        // Sized to the input, so that scoring one row clears no whole block.
        let cap = BLOCK.min(out.len());
        let (mut idx, mut sums) = (vec![0u32; cap], vec![0.0f64; cap]);
        for (rows, out) in data.chunks(BLOCK * W).zip(out.chunks_mut(BLOCK)) {
            let (rows, _) = rows.as_chunks::<W>();
            let b = out.len();
            let (idx, sums) = (&mut idx[..b], &mut sums[..b]);
            sums.fill(0.0);
            for (t, &root) in self.roots.iter().enumerate() {
                idx.fill(root);
                for _ in 0..self.depth {
                    for (i, x) in idx.iter_mut().zip(rows) {
                        let Some(r) = records.get(*i as usize) else { continue };
                        let mut d = r[0] * x[0];
                        for j in 1..W {
                            d += r[j] * x[j];
                        }
                        *i = r[W + 1].to_bits() as u32 + u32::from(d > r[W]);
                    }
                }
                self.finish(idx, sums, t + 1 == self.roots.len(), out);
            }
        }
    }

    /// Hyperplane steps for any width.
    fn score_planes_dyn(&self, planes: &[f64], data: &[f64], out: &mut [f64]) {
        let w = self.width;
        let s = w + 2;
        // Sized to the input, so that scoring one row clears no whole block.
        let cap = BLOCK.min(out.len());
        let (mut idx, mut sums) = (vec![0u32; cap], vec![0.0f64; cap]);
        for (rows, out) in data.chunks(BLOCK * w).zip(out.chunks_mut(BLOCK)) {
            let b = out.len();
            let (idx, sums) = (&mut idx[..b], &mut sums[..b]);
            sums.fill(0.0);
            for (t, &root) in self.roots.iter().enumerate() {
                idx.fill(root);
                for _ in 0..self.depth {
                    for (i, x) in idx.iter_mut().zip(rows.chunks_exact(w)) {
                        let node = *i as usize * s;
                        let Some(r) = planes.get(node..node + s) else { continue };
                        let mut d = r[0] * x[0];
                        for j in 1..w {
                            d += r[j] * x[j];
                        }
                        *i = r[w + 1].to_bits() as u32 + u32::from(d > r[w]);
                    }
                }
                self.finish(idx, sums, t + 1 == self.roots.len(), out);
            }
        }
    }

    /// Axis-parallel steps: each block is copied with its negated metrics beside it, in rows
    /// of `S` values (`S` a power of two at least `2 width`, so that masking a column keeps it
    /// in the row without a bounds check).
    fn score_axis<const S: usize>(&self, splits: &[AxisSplit], data: &[f64], out: &mut [f64]) {
        let w = self.width;
        let cap = AXIS_BLOCK.min(out.len());
        let (mut idx, mut sums) = (vec![0u32; cap], vec![0.0f64; cap]);
        let mut signed = vec![[0.0f64; S]; cap];
        for (rows, out) in data.chunks(AXIS_BLOCK * w).zip(out.chunks_mut(AXIS_BLOCK)) {
            let b = out.len();
            let (idx, sums, signed) = (&mut idx[..b], &mut sums[..b], &mut signed[..b]);
            for (x, s) in rows.chunks_exact(w).zip(signed.iter_mut()) {
                let (pos, neg) = s.split_at_mut(w);
                pos.copy_from_slice(x);
                for (n, &v) in neg.iter_mut().zip(x) {
                    *n = -v;
                }
            }
            sums.fill(0.0);
            for (t, &root) in self.roots.iter().enumerate() {
                idx.fill(root);
                for _ in 0..self.depth {
                    // Two rows an iteration: fewer instructions a step for the loop itself.
                    let (pairs, rest) = idx.as_chunks_mut::<2>();
                    let (row_pairs, row_rest) = signed.as_chunks::<2>();
                    for (i, [x, y]) in pairs.iter_mut().zip(row_pairs) {
                        *i = [axis_step(splits, i[0], x), axis_step(splits, i[1], y)];
                    }
                    for (i, x) in rest.iter_mut().zip(row_rest) {
                        *i = axis_step(splits, *i, x);
                    }
                }
                self.finish(idx, sums, t + 1 == self.roots.len(), out);
            }
        }
    }

    /// Axis-parallel steps for any width.
    fn score_axis_dyn(&self, splits: &[AxisSplit], data: &[f64], out: &mut [f64]) {
        let w = self.width;
        let w2 = 2 * w;
        let cap = AXIS_BLOCK.min(out.len());
        let (mut idx, mut sums) = (vec![0u32; cap], vec![0.0f64; cap]);
        let mut signed = vec![0.0; cap * w2];
        for (rows, out) in data.chunks(AXIS_BLOCK * w).zip(out.chunks_mut(AXIS_BLOCK)) {
            let b = out.len();
            let (idx, sums) = (&mut idx[..b], &mut sums[..b]);
            for (x, s) in rows.chunks_exact(w).zip(signed.chunks_exact_mut(w2)) {
                let (pos, neg) = s.split_at_mut(w);
                pos.copy_from_slice(x);
                for (n, &v) in neg.iter_mut().zip(x) {
                    *n = -v;
                }
            }
            let signed = &signed[..b * w2];
            sums.fill(0.0);
            for (t, &root) in self.roots.iter().enumerate() {
                idx.fill(root);
                for _ in 0..self.depth {
                    for (i, x) in idx.iter_mut().zip(signed.chunks_exact(w2)) {
                        let Some(s) = splits.get(*i as usize) else { continue };
                        let v = x.get(s.column as usize).copied().unwrap_or(0.0);
                        *i = s.child + u32::from(v > s.threshold);
                    }
                }
                self.finish(idx, sums, t + 1 == self.roots.len(), out);
            }
        }
    }
}

/// The node after `node` for row `x` of `W <= LINE_WIDTH` metrics.
#[inline(always)]
fn line_step<const W: usize>(lines: &[Line], node: u32, x: &[f64; W]) -> u32 {
    let Some(Line(r)) = lines.get(node as usize) else { return node };
    // Summed in column order, as `n·x` always is here; a leading `0.0 +` could only change
    // the sign of a zero, which no comparison sees.
    let mut d = r[0] * x[0];
    for j in 1..W {
        d += r[j] * x[j];
    }
    r[LINE_WIDTH + 1].to_bits() as u32 + u32::from(d > r[LINE_WIDTH])
}

/// The node after `node` for a row with its negated metrics, in `S` values (a power of two).
#[inline(always)]
fn axis_step<const S: usize>(splits: &[AxisSplit], node: u32, x: &[f64; S]) -> u32 {
    match splits.get(node as usize) {
        Some(s) => s.child + u32::from(x[s.column as usize & (S - 1)] > s.threshold),
        None => node,
    }
}

/// Checks the structure of `tree` and returns the depth of each node.
fn check_tree(tree: &Tree, w: usize, max_depth: usize, psi: usize) -> std::result::Result<Vec<usize>, String> {
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
        if d >= max_depth {
            return Err(format!("node {i} splits at depth {d}, past the limit {max_depth}"));
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
    Ok(depth)
}

/// Node indices level by level, in index order within a level (so siblings stay adjacent).
fn level_order(depth: &[usize]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..depth.len()).collect();
    order.sort_by_key(|&i| depth[i]);
    order
}

/// The axis-parallel layout of the `width + 2`-value records in `planes`, when every split uses
/// at most one metric and every threshold settles.
fn axis_splits(planes: &[f64], w: usize) -> Option<Vec<AxisSplit>> {
    let mut splits = Vec::with_capacity(planes.len() / (w + 2));
    for (i, r) in planes.chunks_exact(w + 2).enumerate() {
        let child = r[w + 1].to_bits() as u32;
        let offset = r[w];
        // A leaf, or a split whose offset overflowed to NaN, which no `n·x` exceeds.
        if child as usize == i || offset.is_nan() {
            splits.push(AxisSplit { threshold: f64::INFINITY, column: 0, child });
            continue;
        }
        let mut used = r[..w].iter().enumerate().filter(|(_, n)| **n != 0.0);
        let (threshold, column) = match (used.next(), used.next()) {
            (Some(_), Some(_)) => return None,
            // `n·x` is a zero: every row goes the same way.
            (None, _) => (if 0.0 > offset { f64::NEG_INFINITY } else { f64::INFINITY }, 0),
            (Some((j, &n)), None) if n > 0.0 => (axis_threshold(n, offset)?, j),
            (Some((j, &n)), None) => (axis_threshold(-n, offset)?, w + j),
        };
        splits.push(AxisSplit { threshold, column: column as u32, child });
    }
    Some(splits)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One row through `tree` the plain way: from the root, right when
    /// `0.0 + Σ n_j x_j > Σ n_j p_j`, for at most `depth` steps; then `steps + c(size)`.
    fn plain_path(tree: &Tree, w: usize, depth: usize, x: &[f64]) -> f64 {
        let internal: Vec<usize> = (0..tree.left.len()).filter(|&i| tree.left[i] != 0).collect();
        let mut node = 0;
        let mut steps = 0.0;
        while tree.left[node] != 0 && steps < depth as f64 {
            let k = internal.iter().position(|&i| i == node).unwrap();
            let n = &tree.normal[k * w..(k + 1) * w];
            let p = &tree.point[k * w..(k + 1) * w];
            let d = n.iter().zip(x).fold(0.0, |acc, (n, x)| acc + n * x);
            let offset: f64 = n.iter().zip(p).map(|(n, p)| n * p).sum();
            node = tree.left[node] as usize + usize::from(d > offset);
            steps += 1.0;
        }
        let size = tree.size[node] as usize;
        let mut v = if size <= 1 { 0.0 } else { c_factor(size) };
        for _ in 0..steps as usize {
            v += 1.0;
        }
        v
    }

    #[test]
    fn thresholds_are_the_exact_boundary_of_the_product() {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        for _ in 0..2000 {
            let n = 0.01 + 3.0 * next();
            let offset = 4.0 * next() - 2.0;
            let t = axis_threshold(n, offset).unwrap();
            assert!(n * t <= offset && n * t.next_up() > offset, "n {n} offset {offset} t {t}");
            for _ in 0..20 {
                let x = 6.0 * next() - 3.0;
                assert_eq!(n * x > offset, x > t);
            }
        }
        assert_eq!(axis_threshold(1e-300, 1e10), Some(f64::INFINITY));
        assert_eq!(axis_threshold(1e-300, -1e10), Some(f64::NEG_INFINITY));
    }

    /// Seven random trees for 64 samples over `w` metrics (irregular shapes, leaves at the
    /// depth limit 6 and above it), each split using `used` random metrics; and rows to score.
    fn random_trees(w: usize, used: usize, seed: u64) -> (Vec<Tree>, Vec<f64>) {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let rows: Vec<f64> = (0..600 * w).map(|_| rng.sample::<f64, _>(rand_distr::StandardNormal)).collect();
        let mut trees = Vec::new();
        for _ in 0..7 {
            let mut tree = Tree { left: vec![0], size: vec![0], normal: vec![], point: vec![] };
            let mut depth = vec![0];
            let mut i = 0;
            while i < tree.left.len() {
                if depth[i] < 6 && (i == 0 || rng.gen_bool(0.8)) {
                    tree.left[i] = tree.left.len() as u32;
                    tree.left.extend([0, 0]);
                    tree.size.extend([0, 0]);
                    depth.extend([depth[i] + 1; 2]);
                    let cols = rand::seq::index::sample(&mut rng, w, used).into_vec();
                    for j in 0..w {
                        let n = if cols.contains(&j) { rng.sample(rand_distr::StandardNormal) } else { 0.0 };
                        tree.normal.push(n);
                        tree.point.push(rng.gen_range(-1.0..1.0));
                    }
                }
                i += 1;
            }
            let leaves: Vec<usize> = (0..tree.left.len()).filter(|&i| tree.left[i] == 0).collect();
            for _ in 0..64 {
                tree.size[leaves[rng.gen_range(0..leaves.len())]] += 1;
            }
            trees.push(tree);
        }
        (trees, rows)
    }

    #[test]
    fn both_layouts_follow_the_plain_walk_to_the_bit() {
        let cases = [
            (1, 1, true),
            (3, 1, true),
            (5, 1, true),
            (4, 0, true),
            (12, 1, true),
            (18, 1, true),
            (5, 5, false),
            (6, 2, false),
            (7, 7, false),
            (20, 4, false),
        ];
        for (w, used, axis) in cases {
            let (trees, rows) = random_trees(w, used, w as u64 * 31 + used as u64);
            let flat = FlatForest::build(&trees, w, 64).unwrap();
            assert_eq!(flat.is_axis(), axis, "width {w}");
            let mut out = vec![0.0; rows.len() / w];
            flat.score_into(&rows, &mut out);
            for (x, &got) in rows.chunks_exact(w).zip(&out) {
                let sum = trees.iter().fold(0.0, |acc, tree| acc + plain_path(tree, w, 6, x));
                let want = 2.0_f64.powf(-(sum / trees.len() as f64) / c_factor(64));
                assert_eq!(got.to_bits(), want.to_bits(), "width {w}");
                assert_eq!(flat.score_one(x).to_bits(), want.to_bits());
            }
        }
    }
}
