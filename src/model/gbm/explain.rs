//! Explanations of a score: path attributions (Saabas) and exact TreeSHAP, a transcription of
//! LightGBM's `src/io/tree.cpp` in the same order of operations.

use rayon::prelude::*;

use super::layout::Node;
use super::tree::Tree;
use super::{Contributions, Gbm, GbmError};

impl Gbm {
    /// One row's path attributions added into `phi` (features, then bias).
    pub(super) fn path_row(&self, keys: &[u64], phi: &mut [f64]) {
        let nf = self.n_features;
        for t in &self.eval.trees {
            let nodes = &self.eval.nodes[t.start..t.end];
            let values = &self.eval.node_value[t.start..t.end];
            phi[nf] += values[0];
            let mut i = 0;
            while !nodes[i].is_leaf(i) {
                let c = nodes[i].next(keys);
                phi[nodes[i].feature as usize] += values[c] - values[i];
                i = c;
            }
        }
        phi[nf] += self.base_score;
    }

    pub(super) fn shap_scratch(&self) -> Vec<PathElement> {
        let d = self.eval.max_depth + 1;
        vec![PathElement::default(); d * (d + 1) / 2]
    }

    /// One row's TreeSHAP values added into `phi`, tree by tree as LightGBM's `PredictContrib`.
    pub(super) fn shap_row(&self, keys: &[u64], phi: &mut [f64], scratch: &mut [PathElement]) {
        let nf = self.n_features;
        for (tree, t) in self.trees.iter().zip(&self.eval.trees) {
            phi[nf] += tree.expected_value();
            if tree.n_internal() > 0 {
                let nodes = &self.eval.nodes[t.start..t.end];
                let ctx = ShapTree { tree, nodes, keys };
                ctx.recurse(phi, 0, 0, scratch, 0, 1.0, 1.0, -1);
            }
        }
        phi[nf] += self.base_score;
    }

    pub(super) fn contributions_batch<F>(
        &self,
        rows: &[f64],
        n_features: usize,
        per_row: F,
    ) -> Result<Vec<f64>, GbmError>
    where
        F: Fn(&[u64], &mut [f64], &mut [PathElement]) + Sync,
    {
        let n_rows = self.check_rows(rows.len(), n_features)?;
        let width = n_features + 1;
        let mut out = vec![0.0; n_rows * width];
        let chunk = |rows: &[f64], out: &mut [f64]| {
            let mut keys = vec![0u64; self.eval.stride];
            let mut scratch = self.shap_scratch();
            for (row, phi) in rows
                .chunks_exact(n_features)
                .zip(out.chunks_exact_mut(width))
            {
                self.eval.keys_into(row, &mut keys);
                per_row(&keys, phi, &mut scratch);
            }
        };
        // Explanations cost far more per row than prediction: smaller tasks balance better.
        let rows_per_task = 256;
        out.par_chunks_mut(rows_per_task * width)
            .zip(rows.par_chunks(rows_per_task * n_features))
            .for_each(|(out, rows)| chunk(rows, out));
        Ok(out)
    }
}

pub(super) fn split_bias(mut phi: Vec<f64>) -> Contributions {
    let bias = phi.pop().unwrap_or(0.0);
    Contributions { values: phi, bias }
}

/// Values of a tree's internal nodes then leaves, in the layout's order: a node's value is the
/// cover-weighted mean of its children's values; the root's is LightGBM's expected value, so
/// that the bias equals TreeSHAP's.
pub(super) fn subtree_means(tree: &Tree) -> Vec<f64> {
    let n = tree.n_internal();
    let mut values = vec![0.0; 2 * n + 1];
    values[n..].copy_from_slice(&tree.leaf_value);
    if n == 0 {
        return values;
    }
    // Children before parents: post-order by an explicit stack (a validated tree).
    let mut order = Vec::with_capacity(n);
    let mut stack = vec![0usize];
    while let Some(i) = stack.pop() {
        order.push(i);
        for c in [tree.left_child[i], tree.right_child[i]] {
            if c >= 0 {
                stack.push(c as usize);
            }
        }
    }
    let at = |c: i32| if c >= 0 { c as usize } else { n + !c as usize };
    for &i in order.iter().rev() {
        let (l, r) = (tree.left_child[i], tree.right_child[i]);
        values[i] = (tree.cover(l) * values[at(l)] + tree.cover(r) * values[at(r)])
            / tree.internal_cover[i];
    }
    values[0] = tree.expected_value();
    values
}

#[derive(Clone, Copy, Debug, Default)]
pub(super) struct PathElement {
    pub(super) feature: i32,
    zero_fraction: f64,
    one_fraction: f64,
    pweight: f64,
}

struct ShapTree<'a> {
    pub(super) tree: &'a Tree,
    pub(super) nodes: &'a [Node],
    pub(super) keys: &'a [u64],
}

impl ShapTree<'_> {
    /// `scratch[parent..]` holds the parent's unique path; this call's path is written right
    /// after it, at `parent + unique_depth`, so the parent's survives for its second child.
    #[allow(clippy::too_many_arguments)]
    fn recurse(
        &self,
        phi: &mut [f64],
        node: i32,
        mut unique_depth: usize,
        scratch: &mut [PathElement],
        parent: usize,
        parent_zero_fraction: f64,
        parent_one_fraction: f64,
        parent_feature: i32,
    ) {
        let here = parent + unique_depth;
        scratch.copy_within(parent..parent + unique_depth, here);
        let path = &mut scratch[here..];
        extend_path(
            path,
            unique_depth,
            parent_zero_fraction,
            parent_one_fraction,
            parent_feature,
        );

        if node < 0 {
            let leaf_value = self.tree.leaf_value[!node as usize];
            for i in 1..=unique_depth {
                let w = unwound_path_sum(path, unique_depth, i);
                let el = path[i];
                phi[el.feature as usize] += w * (el.one_fraction - el.zero_fraction) * leaf_value;
            }
            return;
        }

        let i = node as usize;
        let feature = self.tree.split_feature[i] as i32;
        let (left, right) = (self.tree.left_child[i], self.tree.right_child[i]);
        let (hot, cold) = if self.nodes[i].goes_left(self.keys) {
            (left, right)
        } else {
            (right, left)
        };
        let w = self.tree.internal_cover[i];
        let hot_zero_fraction = self.tree.cover(hot) / w;
        let cold_zero_fraction = self.tree.cover(cold) / w;
        let mut incoming_zero_fraction = 1.0;
        let mut incoming_one_fraction = 1.0;

        // A feature already split on above: undo that split so this node can redo it.
        if let Some(k) = path[..=unique_depth]
            .iter()
            .position(|e| e.feature == feature)
        {
            incoming_zero_fraction = path[k].zero_fraction;
            incoming_one_fraction = path[k].one_fraction;
            unwind_path(path, unique_depth, k);
            unique_depth -= 1;
        }

        self.recurse(
            phi,
            hot,
            unique_depth + 1,
            scratch,
            here,
            hot_zero_fraction * incoming_zero_fraction,
            incoming_one_fraction,
            feature,
        );
        self.recurse(
            phi,
            cold,
            unique_depth + 1,
            scratch,
            here,
            cold_zero_fraction * incoming_zero_fraction,
            0.0,
            feature,
        );
    }
}

fn extend_path(
    path: &mut [PathElement],
    unique_depth: usize,
    zero_fraction: f64,
    one_fraction: f64,
    feature: i32,
) {
    path[unique_depth] = PathElement {
        feature,
        zero_fraction,
        one_fraction,
        pweight: if unique_depth == 0 { 1.0 } else { 0.0 },
    };
    let d1 = (unique_depth + 1) as f64;
    for i in (0..unique_depth).rev() {
        path[i + 1].pweight += one_fraction * path[i].pweight * (i + 1) as f64 / d1;
        path[i].pweight = zero_fraction * path[i].pweight * (unique_depth - i) as f64 / d1;
    }
}

fn unwind_path(path: &mut [PathElement], unique_depth: usize, path_index: usize) {
    let one_fraction = path[path_index].one_fraction;
    let zero_fraction = path[path_index].zero_fraction;
    let mut next_one_portion = path[unique_depth].pweight;
    let d1 = (unique_depth + 1) as f64;
    for i in (0..unique_depth).rev() {
        if one_fraction != 0.0 {
            let tmp = path[i].pweight;
            path[i].pweight = next_one_portion * d1 / ((i + 1) as f64 * one_fraction);
            next_one_portion =
                tmp - path[i].pweight * zero_fraction * (unique_depth - i) as f64 / d1;
        } else {
            path[i].pweight = (path[i].pweight * d1) / (zero_fraction * (unique_depth - i) as f64);
        }
    }
    for i in path_index..unique_depth {
        path[i].feature = path[i + 1].feature;
        path[i].zero_fraction = path[i + 1].zero_fraction;
        path[i].one_fraction = path[i + 1].one_fraction;
    }
}

fn unwound_path_sum(path: &[PathElement], unique_depth: usize, path_index: usize) -> f64 {
    let one_fraction = path[path_index].one_fraction;
    let zero_fraction = path[path_index].zero_fraction;
    let mut next_one_portion = path[unique_depth].pweight;
    let d1 = (unique_depth + 1) as f64;
    let mut total = 0.0;
    for i in (0..unique_depth).rev() {
        if one_fraction != 0.0 {
            let tmp = next_one_portion * d1 / ((i + 1) as f64 * one_fraction);
            total += tmp;
            next_one_portion =
                path[i].pweight - tmp * zero_fraction * ((unique_depth - i) as f64 / d1);
        } else {
            total += (path[i].pweight / zero_fraction) / ((unique_depth - i) as f64 / d1);
        }
    }
    total
}
