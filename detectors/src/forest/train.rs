//! Seeded training: the split rule of `extended-isolation-forest`, driven by a ChaCha stream.
//!
//! The random draws are exactly those of `rand`'s own routines (`index::sample`, `Uniform`,
//! `StandardNormal`), in the same order; two of them are done here without their allocations
//! ([`sample_rows`], and the zeroed coordinates of a normal), drawing the same numbers, so a
//! seed always gives the same trees.

use super::{ForestParams, THRESHOLD_ROWS, Tree};
use rand::distributions::{Distribution, Uniform};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

/// What [`fit`] produces: the trees, the samples per tree, and the rows to set the threshold on.
pub(super) struct Fitted {
    pub(super) trees: Vec<Tree>,
    pub(super) psi: usize,
    pub(super) threshold_rows: Vec<usize>,
}

/// Depth limit for trees of `psi` samples, as in the crate: `ceil(log2(psi))`.
pub(super) fn max_depth(psi: usize) -> usize {
    (psi as f64).log2().ceil() as usize
}

/// The first metric of row-major `data` (`width` columns, finite) whose range `max - min`
/// overflows, which no split can draw an intercept in; with its minimum and maximum.
pub(super) fn overflowing_range(data: &[f64], width: usize) -> Option<(usize, f64, f64)> {
    // No range of values within ±MAX/2 overflows; that check vectorises, the one per column
    // runs only when it fails.
    let half = f64::MAX / 2.0;
    if data.chunks(1024).all(|c| c.iter().fold(true, |ok, v| ok & (v.abs() <= half))) {
        return None;
    }
    let mut lo = vec![f64::INFINITY; width];
    let mut hi = vec![f64::NEG_INFINITY; width];
    for row in data.chunks_exact(width) {
        for ((l, h), &v) in lo.iter_mut().zip(hi.iter_mut()).zip(row) {
            *l = l.min(v);
            *h = h.max(v);
        }
    }
    lo.into_iter().zip(hi).enumerate().find(|(_, (l, h))| !(h - l).is_finite()).map(|(j, (l, h))| (j, l, h))
}

/// Trains `params.trees` trees on `data` (row-major, `width` columns, finite, at least 2 rows,
/// every range finite).
pub(super) fn fit(data: &[f64], width: usize, params: &ForestParams, extension: usize) -> Fitted {
    macro_rules! widths {
        ($($w:literal)*) => {
            match width {
                $($w => fit_with::<$w>(data, width, params, extension),)*
                _ => fit_with::<0>(data, width, params, extension),
            }
        };
    }
    widths!(1 2 3 4 5 6 7 8)
}

/// [`fit`] with the width a constant `W` (`0`: the run-time `width`), so that the per-row
/// loops are unrolled.
fn fit_with<const W: usize>(data: &[f64], width: usize, params: &ForestParams, extension: usize) -> Fitted {
    let w = if W == 0 { width } else { W };
    let n = data.len() / w;
    let psi = params.sample_size.min(n);
    let depth = max_depth(psi);
    let mut rng = ChaCha8Rng::seed_from_u64(params.seed);
    let mut sampler = RowSampler::new(n);
    let mut rows: Vec<u32> = Vec::with_capacity(psi);
    let mut sample: Vec<u32> = Vec::with_capacity(psi);
    let mut builder = Builder::<W> {
        data: Vec::with_capacity(psi * w),
        w,
        extension,
        max_depth: depth,
        lo: vec![0.0; w],
        hi: vec![0.0; w],
        n: vec![0.0; w],
        p: vec![0.0; w],
        zeroed: vec![false; w],
        normal: vec![0.0; psi * w],
        point: vec![0.0; psi * w],
    };
    let trees = (0..params.trees)
        .map(|_| {
            // The tree's sample, copied once into a contiguous buffer: building then touches
            // only this buffer instead of rows scattered over the whole input.
            sampler.sample(&mut rng, psi, &mut rows);
            builder.data.clear();
            for &i in &rows {
                let i = i as usize * w;
                builder.data.extend_from_slice(&data[i..i + w]);
            }
            sample.clear();
            sample.extend(0..psi as u32);
            let mut tree = Tree {
                left: Vec::with_capacity(2 * psi),
                size: Vec::with_capacity(2 * psi),
                normal: vec![],
                point: vec![],
            };
            tree.left.push(0);
            tree.size.push(0);
            builder.grow(&mut tree, 0, &mut sample, 0, &mut rng);
            builder.collect_splits(&mut tree);
            tree
        })
        .collect();
    Fitted { trees, psi, threshold_rows: threshold_rows(n, params.seed) }
}

/// The training rows whose scores set the threshold: all of them, or [`THRESHOLD_ROWS`] drawn
/// with a stream derived from `seed`.
pub(super) fn threshold_rows(n: usize, seed: u64) -> Vec<usize> {
    if n <= THRESHOLD_ROWS {
        (0..n).collect()
    } else {
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x7468_7265_7368_6f6c);
        let mut rows = rand::seq::index::sample(&mut rng, n, THRESHOLD_ROWS).into_vec();
        rows.sort_unstable();
        rows
    }
}

/// Draws the rows of each tree as `rand::seq::index::sample(rng, n, amount)` does, number for
/// number, without its hash set where `rand` would use one.
struct RowSampler {
    n: usize,
    /// One bit per row, set while the row is in the current sample.
    taken: Vec<u64>,
}

impl RowSampler {
    fn new(n: usize) -> Self {
        RowSampler { n, taken: Vec::new() }
    }

    /// Whether `rand` draws `amount` of `n` indices by rejection (the only case redone here):
    /// its choice, with its `f32` arithmetic.
    fn by_rejection(n: usize, amount: usize) -> bool {
        if n > u32::MAX as usize || amount >= n {
            return false;
        }
        let (length, amount) = (n as u32, amount as u32);
        let c = if length < 500_000 { 270.0 } else { 330.0 / 9.0 };
        amount >= 163 && (length as f32) >= c * (amount as f32)
    }

    fn sample(&mut self, rng: &mut ChaCha8Rng, amount: usize, out: &mut Vec<u32>) {
        out.clear();
        if !Self::by_rejection(self.n, amount) {
            out.extend(rand::seq::index::sample(rng, self.n, amount).into_iter().map(|i| i as u32));
            return;
        }
        if self.taken.is_empty() {
            self.taken = vec![0; self.n.div_ceil(64)];
        }
        let distr = Uniform::new(0u32, self.n as u32);
        for _ in 0..amount {
            loop {
                let pos = distr.sample(rng);
                let (word, bit) = (pos as usize / 64, 1u64 << (pos % 64));
                if let Some(t) = self.taken.get_mut(word)
                    && *t & bit == 0
                {
                    *t |= bit;
                    out.push(pos);
                    break;
                }
            }
        }
        for &pos in out.iter() {
            if let Some(t) = self.taken.get_mut(pos as usize / 64) {
                *t = 0;
            }
        }
    }
}

/// Below this many indices, `rand::seq::index::sample` always uses Floyd's algorithm.
const FLOYD_MAX: usize = 11;

/// Marks in `set` (cleared first) the `amount` indices of `0..set.len()` that
/// `rand::seq::index::sample(rng, set.len(), amount)` picks for `amount <= FLOYD_MAX`, with the
/// same draws (Floyd's algorithm; the order it would list them in does not matter here).
fn floyd_set(rng: &mut ChaCha8Rng, amount: usize, set: &mut [bool]) {
    set.fill(false);
    let len = set.len();
    for j in len.saturating_sub(amount)..len {
        let t = rng.gen_range(0..=j as u32) as usize;
        let pick = if set.get(t).copied().unwrap_or(true) { j } else { t };
        if let Some(z) = set.get_mut(pick) {
            *z = true;
        }
    }
}

struct Builder<const W: usize> {
    /// The tree's sample, row-major.
    data: Vec<f64>,
    w: usize,
    extension: usize,
    max_depth: usize,
    lo: Vec<f64>,
    hi: Vec<f64>,
    n: Vec<f64>,
    p: Vec<f64>,
    zeroed: Vec<bool>,
    /// Normal and point of each split, by node index (`psi - 1` splits at most).
    normal: Vec<f64>,
    point: Vec<f64>,
}

impl<const W: usize> Builder<W> {
    /// Fills node `node` (already allocated) from `samples`, allocating children as a pair.
    fn grow(&mut self, tree: &mut Tree, node: usize, samples: &mut [u32], depth: usize, rng: &mut ChaCha8Rng) {
        if depth >= self.max_depth || samples.len() <= 1 {
            tree.size[node] = samples.len() as u32;
            return;
        }
        let w = if W == 0 { self.w } else { W };
        // Intercept: uniform within the samples' bounding box, per coordinate.
        let first = samples[0] as usize * w;
        self.lo.copy_from_slice(&self.data[first..first + w]);
        self.hi.copy_from_slice(&self.data[first..first + w]);
        for &s in &samples[1..] {
            let i = s as usize * w;
            for ((&v, lo), hi) in self.data[i..i + w].iter().zip(self.lo.iter_mut()).zip(self.hi.iter_mut()) {
                // Selects rather than branches (and not `f64::max`, which may pick either zero).
                *hi = if v > *hi { v } else { *hi };
                *lo = if v < *lo { v } else { *lo };
            }
        }
        for ((p, &lo), &hi) in self.p.iter_mut().zip(&self.lo).zip(&self.hi) {
            *p = if lo == hi { lo } else { Uniform::new(lo, hi).sample(rng) };
        }
        // Normal: Gaussian coordinates, all but `extension + 1` of them zeroed.
        for v in self.n.iter_mut() {
            *v = rng.sample(StandardNormal);
        }
        let amount = w - self.extension - 1;
        if amount <= FLOYD_MAX {
            floyd_set(rng, amount, &mut self.zeroed);
            for (v, &z) in self.n.iter_mut().zip(&self.zeroed) {
                if z {
                    *v = 0.0;
                }
            }
        } else {
            for j in rand::seq::index::sample(rng, w, amount) {
                self.n[j] = 0.0;
            }
        }
        // Partition: left when (x - p)·n <= 0, computed as the crate does.
        let mut split = 0;
        for k in 0..samples.len() {
            let i = samples[k] as usize * w;
            let x = &self.data[i..i + w];
            let d =
                x.iter().zip(self.p.iter()).map(|(x, p)| x - p).zip(self.n.iter()).fold(0.0, |acc, (d, n)| acc + d * n);
            // `if d <= 0.0 { samples.swap(split, k); split += 1 }`, without a branch the
            // processor would mispredict half the time.
            let left = d <= 0.0;
            let (a, b) = (samples[split], samples[k]);
            samples[k] = if left { a } else { b };
            samples[split] = if left { b } else { a };
            split += usize::from(left);
        }
        // Node indices of splits stay below `2 psi - 1`; kept by node until the tree is done.
        if self.normal.len() < (node + 1) * w {
            self.normal.resize((node + 1) * w, 0.0);
            self.point.resize((node + 1) * w, 0.0);
        }
        self.normal[node * w..(node + 1) * w].copy_from_slice(&self.n);
        self.point[node * w..(node + 1) * w].copy_from_slice(&self.p);
        let left = tree.left.len();
        tree.left[node] = left as u32;
        tree.left.extend([0, 0]);
        tree.size.extend([0, 0]);
        let (l, r) = samples.split_at_mut(split);
        self.grow(tree, left, l, depth + 1, rng);
        self.grow(tree, left + 1, r, depth + 1, rng);
    }

    /// Copies the normal and point of every split into `tree`, in node order.
    fn collect_splits(&self, tree: &mut Tree) {
        let w = if W == 0 { self.w } else { W };
        let splits = tree.left.iter().filter(|&&l| l != 0).count();
        tree.normal = Vec::with_capacity(splits * w);
        tree.point = Vec::with_capacity(splits * w);
        for (node, _) in tree.left.iter().enumerate().filter(|(_, l)| **l != 0) {
            tree.normal.extend_from_slice(&self.normal[node * w..(node + 1) * w]);
            tree.point.extend_from_slice(&self.point[node * w..(node + 1) * w]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_sampler_draws_what_rand_draws() {
        for (n, amount) in [(100_000, 256), (70_000, 256), (69_000, 256), (10, 3), (1000, 200), (600_000, 300)] {
            let mut sampler = RowSampler::new(n);
            let mut ours = ChaCha8Rng::seed_from_u64(n as u64 + amount as u64);
            let mut theirs = ours.clone();
            let mut out = Vec::new();
            for _ in 0..5 {
                sampler.sample(&mut ours, amount, &mut out);
                let want: Vec<u32> =
                    rand::seq::index::sample(&mut theirs, n, amount).into_iter().map(|i| i as u32).collect();
                assert_eq!(out, want, "{amount} of {n}");
            }
            assert_eq!(ours.r#gen::<u64>(), theirs.r#gen::<u64>());
        }
        assert!(RowSampler::by_rejection(100_000, 256) && !RowSampler::by_rejection(60_000, 256));
    }

    #[test]
    fn zeroed_coordinates_are_rands_floyd_set() {
        for w in 1..=13usize {
            for amount in 0..w.min(FLOYD_MAX + 1) {
                let mut ours = ChaCha8Rng::seed_from_u64((w * 100 + amount) as u64);
                let mut theirs = ours.clone();
                let mut zeroed = vec![true; w];
                floyd_set(&mut ours, amount, &mut zeroed);
                let mut want = vec![false; w];
                for j in rand::seq::index::sample(&mut theirs, w, amount) {
                    want[j] = true;
                }
                assert_eq!(zeroed, want, "{amount} of {w}");
                assert_eq!(ours.r#gen::<u64>(), theirs.r#gen::<u64>());
            }
        }
    }
}
