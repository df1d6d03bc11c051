//! Seeded training: the split rule of `extended-isolation-forest`, driven by a ChaCha stream.

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

/// Trains `params.trees` trees on `data` (row-major, `width` columns, finite, at least 2 rows).
pub(super) fn fit(data: &[f64], width: usize, params: &ForestParams, extension: usize) -> Fitted {
    let n = data.len() / width;
    let psi = params.sample_size.min(n);
    let depth = max_depth(psi);
    let mut rng = ChaCha8Rng::seed_from_u64(params.seed);
    let mut sample: Vec<u32> = Vec::with_capacity(psi);
    let mut local: Vec<f64> = Vec::with_capacity(psi * width);
    let (mut lo, mut hi, mut nv, mut pv) = (vec![0.0; width], vec![0.0; width], vec![0.0; width], vec![0.0; width]);
    let trees = (0..params.trees)
        .map(|_| {
            // The tree's sample, copied once into a contiguous buffer: building then touches
            // only this buffer instead of rows scattered over the whole input.
            local.clear();
            for i in rand::seq::index::sample(&mut rng, n, psi) {
                local.extend_from_slice(&data[i * width..(i + 1) * width]);
            }
            sample.clear();
            sample.extend(0..psi as u32);
            let mut builder = Builder {
                data: &local,
                width,
                extension,
                max_depth: depth,
                lo: &mut lo,
                hi: &mut hi,
                n: &mut nv,
                p: &mut pv,
            };
            let mut tree = Tree {
                left: Vec::with_capacity(2 * psi),
                size: Vec::with_capacity(2 * psi),
                normal: Vec::with_capacity(psi * width),
                point: Vec::with_capacity(psi * width),
            };
            tree.left.push(0);
            tree.size.push(0);
            let mut order = Vec::with_capacity(psi);
            builder.grow(&mut tree, 0, &mut sample, 0, &mut rng, &mut order);
            into_node_order(&mut tree, &order, width);
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

struct Builder<'a> {
    data: &'a [f64],
    width: usize,
    extension: usize,
    max_depth: usize,
    lo: &'a mut [f64],
    hi: &'a mut [f64],
    n: &'a mut [f64],
    p: &'a mut [f64],
}

impl Builder<'_> {
    /// Fills node `node` (already allocated) from `samples`, allocating children as a pair.
    /// `order` receives the internal nodes in the order their hyperplanes are pushed.
    fn grow(
        &mut self,
        tree: &mut Tree,
        node: usize,
        samples: &mut [u32],
        depth: usize,
        rng: &mut ChaCha8Rng,
        order: &mut Vec<u32>,
    ) {
        if depth >= self.max_depth || samples.len() <= 1 {
            tree.size[node] = samples.len() as u32;
            return;
        }
        let w = self.width;
        // Intercept: uniform within the samples' bounding box, per coordinate.
        let first = samples[0] as usize * w;
        self.lo.copy_from_slice(&self.data[first..first + w]);
        self.hi.copy_from_slice(&self.data[first..first + w]);
        for &s in &samples[1..] {
            let i = s as usize * w;
            for (j, &v) in self.data[i..i + w].iter().enumerate() {
                if v > self.hi[j] {
                    self.hi[j] = v;
                }
                if v < self.lo[j] {
                    self.lo[j] = v;
                }
            }
        }
        for j in 0..w {
            self.p[j] =
                if self.lo[j] == self.hi[j] { self.lo[j] } else { Uniform::new(self.lo[j], self.hi[j]).sample(rng) };
        }
        // Normal: Gaussian coordinates, all but `extension + 1` of them zeroed.
        for j in 0..w {
            self.n[j] = rng.sample(StandardNormal);
        }
        for j in rand::seq::index::sample(rng, w, w - self.extension - 1) {
            self.n[j] = 0.0;
        }
        // Partition: left when (x - p)·n <= 0, computed as the crate does.
        let mut split = 0;
        for k in 0..samples.len() {
            let i = samples[k] as usize * w;
            let x = &self.data[i..i + w];
            let d =
                x.iter().zip(self.p.iter()).map(|(x, p)| x - p).zip(self.n.iter()).fold(0.0, |acc, (d, n)| acc + d * n);
            if d <= 0.0 {
                samples.swap(split, k);
                split += 1;
            }
        }
        order.push(node as u32);
        tree.normal.extend_from_slice(self.n);
        tree.point.extend_from_slice(self.p);
        let left = tree.left.len();
        tree.left[node] = left as u32;
        tree.left.extend([0, 0]);
        tree.size.extend([0, 0]);
        let (l, r) = samples.split_at_mut(split);
        self.grow(tree, left, l, depth + 1, rng, order);
        self.grow(tree, left + 1, r, depth + 1, rng, order);
    }
}

/// Reorders `normal` and `point`, pushed in the order `order` names, into node order.
fn into_node_order(tree: &mut Tree, order: &[u32], width: usize) {
    let mut by_node: Vec<usize> = (0..order.len()).collect();
    by_node.sort_unstable_by_key(|&k| order[k]);
    let mut normal = Vec::with_capacity(tree.normal.len());
    let mut point = Vec::with_capacity(tree.point.len());
    for k in by_node {
        normal.extend_from_slice(&tree.normal[k * width..(k + 1) * width]);
        point.extend_from_slice(&tree.point[k * width..(k + 1) * width]);
    }
    tree.normal = normal;
    tree.point = point;
}
