//! The prediction kernels over the evaluation layout: the only code of the model with `unsafe`
//! (unchecked reads that `Layout::build` proves in bounds, and the AVX2 walk), each use with its
//! SAFETY comment.

use super::layout::{Split, WalkNode};
use super::{Gbm, Lanes, BLOCK, GATHER, GROUP, LANES, WIDTH};

impl Gbm {
    pub(super) fn predict_one<N: WalkNode>(&self, walk: &[N], row: &[f64], out: &mut [f64; 1]) {
        let mut bins = vec![N::Bin::default(); self.eval.stride];
        self.eval.bins_into::<N, 1>(row, 1, &mut bins);
        self.predict_groups::<1, N>(walk, &bins, out);
    }

    /// Serial prediction of whole rows, on the narrow layout where the model fits it.
    pub(super) fn predict_chunk(&self, rows: &[f64], out: &mut [f64]) {
        match (&self.eval.splits, &self.eval.narrow) {
            (Some(splits), _) => self.predict_columns(splits, rows, out),
            (None, Some(walk)) => self.predict_rows::<u32>(walk, rows, out),
            (None, None) => self.predict_rows::<u64>(&self.eval.walk, rows, out),
        }
    }

    /// Column-wise prediction: blocks of [`LANES`] rows, binned with the rows side by side (a
    /// feature's bins of the whole block are one [`Lanes`]), then taken through each tree at
    /// once: every row holds the index of the node it is at, and each split, in breadth-first
    /// order, moves the rows at its node to a child (a byte compare per row, in vector
    /// registers; [`tree_walk`] picks the walk for this CPU). No row walks alone and no branch
    /// depends on a row. Leaf values are added [`GATHER`] trees at a time, in tree order.
    fn predict_columns(&self, splits: &[Split], rows: &[f64], out: &mut [f64]) {
        let (nf, stride) = (self.n_features, self.eval.stride);
        let walk = tree_walk();
        let mut bins = vec![0u8; LANES * stride];
        let mut at: [Lanes; GATHER] = [[0; LANES]; GATHER];
        for (rows, out) in rows.chunks(LANES * nf).zip(out.chunks_mut(LANES)) {
            self.eval.column_bins(rows, &mut bins);
            out.fill(0.0);
            for trees in self.eval.trees.chunks(GATHER) {
                for (t, at) in trees.iter().zip(at.iter_mut()) {
                    walk(&splits[t.split_start..t.split_end], &bins, at);
                }
                // Each row's leaf values added tree by tree, in order, 8 rows side by side.
                // Rows only move to children, which `check_walk` proves are inside the tree.
                for (c, acc) in out.chunks_mut(8).enumerate() {
                    let mut sums = [0.0; 8];
                    sums[..acc.len()].copy_from_slice(acc);
                    for (t, at) in trees.iter().zip(&at) {
                        for (sum, &leaf) in sums.iter_mut().zip(&at[8 * c..8 * c + 8]) {
                            *sum += self.eval.walk_value[t.walk_start + usize::from(leaf)];
                        }
                    }
                    acc.copy_from_slice(&sums[..acc.len()]);
                }
            }
            for v in out.iter_mut() {
                *v += self.base_score;
            }
        }
    }

    /// Blocks of [`BLOCK`] rows, binned, then walked in groups of [`GROUP`] and the rows left
    /// over one by one.
    fn predict_rows<N: WalkNode>(&self, walk: &[N], rows: &[f64], out: &mut [f64]) {
        let (nf, stride) = (self.n_features, self.eval.stride);
        let mut bins = vec![N::Bin::default(); BLOCK * stride];
        for (rows, out) in rows.chunks(BLOCK * nf).zip(out.chunks_mut(BLOCK)) {
            let grouped = out.len() / GROUP * GROUP;
            let (group_rows, single_rows) = rows.split_at(grouped * nf);
            let (group_out, single_out) = out.split_at_mut(grouped);
            let (group_bins, single_bins) = bins.split_at_mut(grouped * stride);
            for (rows, bins) in group_rows
                .chunks_exact(GROUP * nf)
                .zip(group_bins.chunks_exact_mut(GROUP * stride))
            {
                self.eval.bins_into::<N, GROUP>(rows, GROUP, bins);
            }
            self.predict_groups::<GROUP, N>(walk, group_bins, group_out);
            let single_bins = &mut single_bins[..single_out.len() * stride];
            for (row, bins) in single_rows
                .chunks_exact(nf)
                .zip(single_bins.chunks_exact_mut(stride))
            {
                self.eval.bins_into::<N, 1>(row, 1, bins);
            }
            self.predict_groups::<1, N>(walk, single_bins, single_out);
        }
    }

    /// The prediction kernel: raw scores of `out.len()` rows, given as groups of `G` rows whose
    /// bins are interleaved (see [`Layout::bins_into`]), `G · stride` bins a group.
    ///
    /// Tree by tree over all groups; per tree, the `G` rows of a group first take `steps` steps
    /// in lockstep with no exit test (leaves point to themselves, so a row already at its leaf
    /// stays there). A step is one packed node load, one bin load, a compare and an add, no
    /// branch; the `G` walks are independent, so the CPU overlaps them. The few rows whose leaf
    /// is deeper then finish alone. `steps` is chosen per tree from the covers (see
    /// [`lockstep_steps`]). Trees are summed in order from 0.0, as LightGBM does, so scores
    /// match it bit for bit.
    #[inline(always)]
    fn predict_groups<const G: usize, N: WalkNode>(
        &self,
        walk: &[N],
        bins: &[N::Bin],
        out: &mut [f64],
    ) {
        let group_len = G * self.eval.stride;
        assert!(
            out.len().is_multiple_of(G) && bins.len() == out.len() / G * group_len,
            "bins for {} rows in groups of {G}: {} bins",
            out.len(),
            bins.len()
        );
        out.fill(0.0);
        for t in &self.eval.trees {
            let walk = &walk[t.walk_start..t.walk_end];
            let values = &self.eval.walk_value[t.walk_start..t.walk_end];
            for (bins, out) in bins.chunks_exact(group_len).zip(out.chunks_exact_mut(G)) {
                let next = |i: usize, lane: usize| -> usize {
                    // SAFETY: `Layout::build` checks (`check_walk`) every node's children
                    // (`first`, `first + 1`; a leaf's own index) of both layouts are inside its
                    // tree's walk and every `offset` is below `stride`; walks start at 0, so `i`
                    // stays inside `walk`, and `offset · G + lane < G · stride = bins.len()`
                    // (asserted above).
                    let node = unsafe { *walk.get_unchecked(i) };
                    let bin = unsafe { *bins.get_unchecked(node.offset() * G + lane) };
                    node.first() + usize::from(bin > node.rank())
                };
                let mut idx = [0usize; G];
                for _ in 0..t.steps {
                    for (lane, i) in idx.iter_mut().enumerate() {
                        *i = next(*i, lane);
                    }
                }
                for (lane, (&i, acc)) in idx.iter().zip(out.iter_mut()).enumerate() {
                    let mut i = i;
                    while walk[i].first() != i {
                        i = next(i, lane);
                    }
                    *acc += values[i];
                }
            }
        }
        for v in out.iter_mut() {
            *v += self.base_score;
        }
    }
}

/// Takes a block of [`LANES`] rows through one tree's splits (see [`Split`]): `bins` holds the
/// block's bins column by column, `at` gets the walk index each row ends at, a leaf.
type TreeWalk = fn(&[Split], &[u8], &mut Lanes);

/// The fastest [`TreeWalk`] this CPU runs.
pub(super) fn tree_walk() -> TreeWalk {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        return |splits, bins, at| {
            // SAFETY: the CPU has AVX2, checked above.
            unsafe { walk_avx2(splits, bins, at) }
        };
    }
    walk_portable
}

/// [`TreeWalk`] in plain Rust, which the compiler vectorises: each step is a byte compare per
/// row against the split's node and rank, and a masked add of the move.
pub(super) fn walk_portable(splits: &[Split], bins: &[u8], at: &mut Lanes) {
    let mut lanes = [[0u8; WIDTH]; LANES / WIDTH];
    for s in splits {
        // `Layout::build` checks every offset is below `stride` (`check_walk`).
        let o = usize::from(s.offset) * LANES;
        let delta = s.left.wrapping_sub(s.node);
        for (v, c) in lanes.iter_mut().zip(bins[o..o + LANES].chunks_exact(WIDTH)) {
            for (x, &b) in v.iter_mut().zip(c) {
                let here = if *x == s.node { u8::MAX } else { 0 };
                let right = if (b as i8) > s.rank { u8::MAX } else { 0 };
                *x = x.wrapping_add(here & delta.wrapping_sub(right));
            }
        }
    }
    at.copy_from_slice(lanes.as_flattened());
}

/// [`TreeWalk`] in AVX2, 32 rows to a register: per split, rows whose index equals the node
/// take the left child minus the compare mask (−1 where the bin is above the rank).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn walk_avx2(splits: &[Split], bins: &[u8], at: &mut Lanes) {
    use std::arch::x86_64::{
        __m256i, _mm256_blendv_epi8, _mm256_cmpeq_epi8, _mm256_cmpgt_epi8, _mm256_loadu_si256,
        _mm256_set1_epi8, _mm256_setzero_si256, _mm256_storeu_si256, _mm256_sub_epi8,
    };
    const REGS: usize = LANES / 32;
    let mut lanes = [_mm256_setzero_si256(); REGS];
    for s in splits {
        // `Layout::build` checks every offset is below `stride` (`check_walk`).
        let o = usize::from(s.offset) * LANES;
        let column = &bins[o..o + LANES];
        let (node, rank, left) = (
            _mm256_set1_epi8(s.node as i8),
            _mm256_set1_epi8(s.rank),
            _mm256_set1_epi8(s.left as i8),
        );
        for (k, x) in lanes.iter_mut().enumerate() {
            // SAFETY: bytes 32k..32k + 32 of a LANES-byte slice (k < LANES / 32).
            let b = unsafe { _mm256_loadu_si256(column.as_ptr().add(32 * k).cast::<__m256i>()) };
            let child = _mm256_sub_epi8(left, _mm256_cmpgt_epi8(b, rank));
            *x = _mm256_blendv_epi8(*x, child, _mm256_cmpeq_epi8(*x, node));
        }
    }
    for (k, x) in lanes.iter().enumerate() {
        // SAFETY: bytes 32k..32k + 32 of a LANES-byte array (k < LANES / 32).
        unsafe { _mm256_storeu_si256(at.as_mut_ptr().add(32 * k).cast::<__m256i>(), *x) };
    }
}
