//! The evaluation layout: derived from the trees when a model is built, never serialised. Row
//! keys and bins, the packed prediction nodes (wide and narrow), the column-wise splits and the
//! checks that prove the prediction kernels' unchecked reads stay in bounds.

use super::explain::subtree_means;
use super::tree::{MissingType, Tree};
use super::{GbmError, LANES, MAX_CUTS, MISS_COST, SERIAL_STEP_COST, ZERO_THRESHOLD};

/// Row keys: each value of a row becomes an unsigned integer whose order is the order of the
/// doubles (see [`order_key`]), so that `x <= threshold` is one integer compare.
///
/// LightGBM's rule for missing values (`NumericalDecision`) is folded into the keys: a row is
/// laid out in several *variants*, and each node reads the variant matching its missing-value
/// rule, in which the values it treats as missing already sit at 0 (below every threshold: they
/// go left) or `u64::MAX` (above every threshold: they go right).
/// - variant 0: NaN → 0; variant 1: NaN → MAX (missing type NaN by its default direction, and
///   missing type None, where NaN is read as 0 and so goes where 0 goes);
/// - variant 2: NaN and zero → 0; variant 3: NaN and zero → MAX (missing type Zero), only laid
///   out for models that have such splits.
const NAN_LEFT: usize = 0;
const NAN_RIGHT: usize = 1;
const ZERO_LEFT: usize = 2;
const ZERO_RIGHT: usize = 3;

/// The order-preserving key of a double that is not NaN: the sign bit flipped for positives,
/// all bits flipped for negatives. Keys of non-NaN doubles lie strictly between 0 and
/// `u64::MAX`, which are left for missing values. -0.0 must be mapped to 0.0 first.
pub(super) fn order_key(v: f64) -> u64 {
    let bits = v.to_bits();
    // All ones for a negative double, else 0: no branch on the sign.
    let negative = ((bits as i64) >> 63) as u64;
    bits ^ (negative | 1 << 63)
}

/// For each key, the number of `cuts` (ascending) strictly below it: `K` binary searches in
/// step, none of which branches on the data, so that the CPU overlaps their loads.
fn cuts_below<const K: usize>(cuts: &[u64], keys: &[u64; K]) -> [usize; K] {
    let mut base = [0; K];
    if cuts.is_empty() {
        return base;
    }
    let mut size = cuts.len();
    while size > 1 {
        let half = size / 2;
        for (b, &key) in base.iter_mut().zip(keys) {
            // b + half < b + size <= cuts.len(): each answer stays in b..=b + size.
            *b = std::hint::select_unpredictable(cuts[*b + half] < key, *b + half, *b);
        }
        size -= half;
    }
    for (b, &key) in base.iter_mut().zip(keys) {
        *b += usize::from(cuts[*b] < key);
    }
    base
}

/// 16 bytes: internal nodes of one tree first (same indices as [`Tree`]), then its leaves.
#[derive(Clone, Copy, Debug)]
pub(super) struct Node {
    /// The threshold's [`order_key`] for an internal node; a leaf's output as `f64` bits.
    pub(super) key: u64,
    /// Where this node's value sits in the row keys: `variant · n_features + feature`.
    pub(super) offset: u16,
    /// The feature split on (for attributions).
    pub(super) feature: u16,
    /// Left and right child as indices within the tree; a leaf points to itself twice.
    pub(super) children: [u16; 2],
}

impl Node {
    /// The child a row goes to: LightGBM's `NumericalDecision`, as one compare (see
    /// [`NAN_LEFT`]). Indexing the pair by the comparison keeps it free of branches.
    #[inline(always)]
    pub(super) fn next(&self, keys: &[u64]) -> usize {
        self.children[usize::from(keys[self.offset as usize] > self.key)] as usize
    }

    #[inline(always)]
    pub(super) fn goes_left(&self, keys: &[u64]) -> bool {
        keys[self.offset as usize] <= self.key
    }

    #[inline(always)]
    pub(super) fn is_leaf(&self, index: usize) -> bool {
        self.children[0] as usize == index
    }
}

/// The prediction layout: a tree's nodes in breadth-first order, so that the two children of a
/// node are neighbours, each node packed into a `u64` (8 bytes, half a [`Node`]):
/// bits 0–15 the rank of its threshold among its feature's cuts (see [`Layout::bins_into`]),
/// bits 16–31 its `offset` into a row's bins (as [`Node::offset`]), bits 32–63 `first`, the index
/// of its left child within the tree; the right child is `first + 1`. A row goes right when its
/// bin is above the rank. A leaf has rank `u16::MAX` (no bin is above it) and `first` = itself,
/// so a walk that reached it stays.
fn walk_node(rank: u16, offset: u16, first: usize) -> u64 {
    u64::from(rank) | u64::from(offset) << 16 | (first as u64) << 32
}

/// The same node in the narrow layout, a `u32`: bits 0–7 the rank, 8–15 the offset, 16–31
/// `first`; bins are `u8`. Models whose features have at most [`NARROW_CUTS`] thresholds each,
/// whose rows have at most 256 bins and whose trees at most 65,536 nodes (LightGBM's default
/// of 255 bins a feature fits) use it: half the bytes of the wide layout, and a step takes
/// fewer instructions (the offset is one byte, and an offset times [`GROUP`] folds into the
/// address).
fn narrow_node(wide: u64) -> Option<u32> {
    let rank = match wide.rank() {
        u16::MAX => u8::MAX,
        r => u8::try_from(r).ok().filter(|&r| r < u8::MAX)?,
    };
    let offset = u8::try_from(wide.offset()).ok()?;
    let first = u16::try_from(wide.first()).ok()?;
    Some(u32::from(rank) | u32::from(offset) << 8 | u32::from(first) << 16)
}

/// Distinct thresholds per feature the narrow layout supports: bins 0 to `NARROW_CUTS` for
/// values, and `u8::MAX` for "missing, right of every threshold".
const NARROW_CUTS: usize = u8::MAX as usize - 1;

/// A packed prediction node: its threshold's rank (compared with a row's bin), where its
/// feature's bin sits in a row, and the index of its left child.
pub(super) trait WalkNode: Copy {
    type Bin: Copy + Ord + Default;
    /// The bin of a missing value that goes right of every threshold.
    const MISSING_RIGHT: Self::Bin;
    fn rank(self) -> Self::Bin;
    fn offset(self) -> usize;
    fn first(self) -> usize;
    /// The bin of a value with `below` thresholds under it (at most the layout's cut limit).
    fn bin(below: usize) -> Self::Bin;
}

impl WalkNode for u64 {
    type Bin = u16;
    const MISSING_RIGHT: u16 = u16::MAX;

    #[inline(always)]
    fn rank(self) -> u16 {
        self as u16
    }

    #[inline(always)]
    fn offset(self) -> usize {
        usize::from((self >> 16) as u16)
    }

    #[inline(always)]
    fn first(self) -> usize {
        (self >> 32) as usize
    }

    #[inline(always)]
    fn bin(below: usize) -> u16 {
        below as u16
    }
}

impl WalkNode for u32 {
    type Bin = u8;
    const MISSING_RIGHT: u8 = u8::MAX;

    #[inline(always)]
    fn rank(self) -> u8 {
        self as u8
    }

    #[inline(always)]
    fn offset(self) -> usize {
        usize::from((self >> 8) as u8)
    }

    #[inline(always)]
    fn first(self) -> usize {
        (self >> 16) as usize
    }

    #[inline(always)]
    fn bin(below: usize) -> u8 {
        below as u8
    }
}

/// Whether every node of every tree's walk points inside its tree and its row (what the
/// kernel's unchecked reads rely on); the first tree and node that do not, otherwise.
pub(super) fn check_walk<N: WalkNode>(
    walk: &[N],
    spans: &[TreeSpan],
    stride: usize,
    leaf_rank: N::Bin,
) -> Result<(), (usize, usize)> {
    for (t, span) in spans.iter().enumerate() {
        let len = span.walk_end - span.walk_start;
        for (i, &node) in walk[span.walk_start..span.walk_end].iter().enumerate() {
            let first = node.first();
            let leaf = node.rank() == leaf_rank && first == i;
            if !(leaf || first + 1 < len) || node.offset() >= stride {
                return Err((t, i));
            }
        }
    }
    Ok(())
}

#[derive(Clone, Copy, Debug)]
pub(super) struct TreeSpan {
    /// The tree's nodes in `Layout::nodes`.
    pub(super) start: usize,
    pub(super) end: usize,
    /// The tree's nodes in `Layout::walk`.
    pub(super) walk_start: usize,
    pub(super) walk_end: usize,
    /// Lockstep steps of the prediction kernel.
    pub(super) steps: usize,
    /// The tree's splits in `Layout::splits`.
    pub(super) split_start: usize,
    pub(super) split_end: usize,
}

/// An internal node for the column-wise kernel, in the narrow layout: rows at `node` move to
/// its left child `left` when their bin at `offset` is at most the rank, else to `left + 1`
/// (indices within the tree's walk). Rank and bins are stored with the top bit
/// flipped, so that the unsigned compare is a signed byte compare.
#[derive(Clone, Copy, Debug)]
pub(super) struct Split {
    pub(super) node: u8,
    pub(super) rank: i8,
    pub(super) left: u8,
    pub(super) offset: u8,
}

#[derive(Clone)]
pub(super) struct Layout {
    pub(super) n_features: usize,
    /// Row variants laid out (2, or 4 when some split has missing type Zero).
    pub(super) variants: usize,
    /// Keys per row: `variants · n_features`.
    pub(super) stride: usize,
    pub(super) nodes: Vec<Node>,
    /// Per feature `f`, the [`order_key`]s of the distinct thresholds any split on it uses,
    /// ascending: `cuts[cut_start[f]..cut_start[f + 1]]`.
    cuts: Vec<u64>,
    cut_start: Vec<usize>,
    /// Prediction nodes of all trees (see [`walk_node`]), and parallel to them the leaf values
    /// (0 for internal nodes).
    pub(super) walk: Vec<u64>,
    /// The same nodes in the narrow layout (see [`narrow_node`]), where the model fits it.
    pub(super) narrow: Option<Vec<u32>>,
    /// The internal nodes of every tree for the column-wise kernel, in walk order, where the
    /// narrow layout fits and every tree's walk has at most 256 nodes (a node index is a byte).
    pub(super) splits: Option<Vec<Split>>,
    pub(super) walk_value: Vec<f64>,
    /// Parallel to `nodes`: cover-weighted mean of the leaves below (the leaf value for a
    /// leaf; LightGBM's expected value for a root), for path attributions.
    pub(super) node_value: Vec<f64>,
    pub(super) trees: Vec<TreeSpan>,
    pub(super) max_depth: usize,
}

impl std::fmt::Debug for Layout {
    /// A summary: the layout is derived from the trees, which `Gbm`'s Debug already shows.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Layout")
            .field("nodes", &self.nodes.len())
            .field("cuts", &self.cuts.len())
            .field("trees", &self.trees.len())
            .field("max_depth", &self.max_depth)
            .finish()
    }
}

impl Layout {
    /// Writes a row's keys (`stride` of them) in every variant the model reads.
    ///
    /// Values with `|x| <= kZeroThreshold` are zero first: LightGBM's predictor drops them as
    /// sparse zeros.
    pub(super) fn keys_into(&self, row: &[f64], keys: &mut [u64]) {
        let nf = self.n_features;
        let (plain, zero) = keys.split_at_mut(2 * nf);
        let (nan_left, nan_right) = plain.split_at_mut(nf);
        for (f, &v) in row.iter().enumerate().take(nf) {
            let (l, r) = if v.is_nan() {
                (0, u64::MAX)
            } else {
                let k = order_key(if v.abs() <= ZERO_THRESHOLD { 0.0 } else { v });
                (k, k)
            };
            nan_left[f] = l;
            nan_right[f] = r;
        }
        if self.variants == 4 {
            let (zero_left, zero_right) = zero.split_at_mut(nf);
            for (f, &v) in row.iter().enumerate().take(nf) {
                let missing = v.is_nan() || v.abs() <= ZERO_THRESHOLD;
                zero_left[f] = if missing { 0 } else { nan_left[f] };
                zero_right[f] = if missing { u64::MAX } else { nan_left[f] };
            }
        }
    }

    pub(super) fn row_keys(&self, row: &[f64]) -> Vec<u64> {
        let mut keys = vec![0; self.stride];
        self.keys_into(row, &mut keys);
        keys
    }

    /// Writes the bins of row-major `rows` (at most `lanes` of them) in every variant the model
    /// reads, row `lane` as lane `lane` of a group of `lanes`: the bin of key `o` (`variant ·
    /// n_features + feature`, as in [`Layout::keys_into`]) goes to `bins[o · lanes + lane]`, so
    /// that the rows of a group walking the same node read neighbouring bins. Feature by feature,
    /// `K` values at a time, so that their searches in the feature's cuts overlap (`K` = 1 for
    /// a single row).
    ///
    /// A value's bin is the number of its feature's cuts strictly below it, so for the cut of
    /// rank `j`, `x <= cut ⇔ bin(x) <= j`: one `u16` compare, exactly LightGBM's. Missing values
    /// take bin 0 (left of every cut) or `u16::MAX` (right of every cut) by variant, as the
    /// keys take 0 and `u64::MAX`.
    pub(super) fn bins_into<N: WalkNode, const K: usize>(
        &self,
        rows: &[f64],
        lanes: usize,
        bins: &mut [N::Bin],
    ) {
        let nf = self.n_features;
        let low = N::Bin::default();
        let n_rows = rows.len() / nf;
        for f in 0..nf {
            let cuts = &self.cuts[self.cut_start[f]..self.cut_start[f + 1]];
            let mut column = rows.iter().skip(f).step_by(nf);
            for first in (0..n_rows).step_by(K) {
                let n = (n_rows - first).min(K);
                let mut values = [0.0; K];
                for (v, &x) in values.iter_mut().zip(column.by_ref()) {
                    *v = x;
                }
                let nan = values.map(f64::is_nan);
                let zero = values.map(|v| v.abs() <= ZERO_THRESHOLD);
                // A NaN's bin is set below; its key only has to be a number's.
                let keys: [u64; K] = std::array::from_fn(|i| {
                    let plain = !(zero[i] || nan[i]);
                    order_key(std::hint::select_unpredictable(plain, values[i], 0.0))
                });
                // At most the layout's cut limit (checked by `build`): the counts fit.
                let bin = cuts_below(cuts, &keys).map(N::bin);
                let mut put = |variant: usize, missing: [bool; K], fill: N::Bin| {
                    let at = (variant * nf + f) * lanes + first;
                    for ((b, &m), &bin) in bins[at..at + n].iter_mut().zip(&missing).zip(&bin) {
                        *b = if m { fill } else { bin };
                    }
                };
                put(NAN_LEFT, nan, low);
                put(NAN_RIGHT, nan, N::MISSING_RIGHT);
                if self.variants == 4 {
                    let missing = std::array::from_fn(|i| nan[i] || zero[i]);
                    put(ZERO_LEFT, missing, low);
                    put(ZERO_RIGHT, missing, N::MISSING_RIGHT);
                }
            }
        }
    }

    /// The bins of a block of at most [`LANES`] rows for the column-wise kernel: narrow bins
    /// laid out as [`Layout::bins_into`] does for a group of `LANES`, with the top bit flipped
    /// (see [`Split`]).
    pub(super) fn column_bins(&self, rows: &[f64], bins: &mut [u8]) {
        self.bins_into::<u32, 8>(rows, LANES, bins);
        for b in bins.iter_mut() {
            *b ^= 0x80;
        }
    }

    /// `trees` must have passed [`Tree::validate`] for `n_features` (at most
    /// [`MAX_FEATURES`]), whose depths are `depths`. Refuses a model with more than
    /// [`MAX_CUTS`] distinct thresholds on one feature.
    pub(super) fn build(
        n_features: usize,
        trees: &[Tree],
        depths: &[usize],
    ) -> Result<Self, GbmError> {
        let has_zero = trees
            .iter()
            .any(|t| t.missing_type.contains(&MissingType::Zero));
        let variants = if has_zero { 4 } else { 2 };
        let (cuts, cut_start) = feature_cuts(n_features, trees)?;
        let total: usize = trees.iter().map(|t| 2 * t.n_internal() + 1).sum();
        let mut nodes = Vec::with_capacity(total);
        let mut node_value = Vec::with_capacity(total);
        let mut walk = Vec::with_capacity(total);
        let mut walk_value = Vec::with_capacity(total);
        let mut spans = Vec::with_capacity(trees.len());
        for (tree, &depth) in trees.iter().zip(depths) {
            let start = nodes.len();
            let n = tree.n_internal();
            // Validated: indices fit u16 (at most MAX_TREE_NODES nodes).
            let local = |c: i32| -> u16 {
                if c >= 0 {
                    c as u16
                } else {
                    (n + !c as usize) as u16
                }
            };
            for i in 0..n {
                let (key, variant) = split_rule(tree, i);
                let f = tree.split_feature[i] as usize;
                nodes.push(Node {
                    key,
                    offset: (variant * n_features + f) as u16,
                    feature: f as u16,
                    children: [local(tree.left_child[i]), local(tree.right_child[i])],
                });
            }
            for (j, &v) in tree.leaf_value.iter().enumerate() {
                let me = (n + j) as u16;
                nodes.push(Node {
                    key: v.to_bits(),
                    offset: 0,
                    feature: 0,
                    children: [me, me],
                });
            }
            node_value.extend(subtree_means(tree));

            // The prediction layout: breadth first, each node's children appended together.
            let walk_start = walk.len();
            let mut order = vec![if n == 0 { -1 } else { 0 }];
            let mut at = 0;
            while let Some(&c) = order.get(at) {
                if c >= 0 {
                    let i = c as usize;
                    let (key, variant) = split_rule(tree, i);
                    let f = tree.split_feature[i] as usize;
                    let feature_cuts = &cuts[cut_start[f]..cut_start[f + 1]];
                    // The key is one of the feature's cuts: its index is its rank.
                    let rank = feature_cuts.partition_point(|&k| k < key) as u16;
                    let offset = (variant * n_features + f) as u16;
                    walk.push(walk_node(rank, offset, order.len()));
                    walk_value.push(0.0);
                    order.push(tree.left_child[i]);
                    order.push(tree.right_child[i]);
                } else {
                    walk.push(walk_node(u16::MAX, 0, at));
                    walk_value.push(tree.leaf_value[!c as usize]);
                }
                at += 1;
            }
            spans.push(TreeSpan {
                start,
                end: nodes.len(),
                walk_start,
                walk_end: walk.len(),
                steps: lockstep_steps(tree, depth),
                split_start: 0,
                split_end: 0,
            });
        }
        let stride = variants * n_features;
        // The kernel reads walks and bins unchecked: prove here that every child and bin it can
        // reach is inside its tree and its row, in both layouts.
        let bad = |(tree, i): (usize, usize)| GbmError::InvalidTree {
            tree,
            reason: format!("prediction node {i} points outside its tree"),
        };
        check_walk(&walk, &spans, stride, u16::MAX).map_err(bad)?;
        let fits_narrow = stride <= 256 && cut_start.windows(2).all(|w| w[1] - w[0] <= NARROW_CUTS);
        let narrow = if fits_narrow {
            walk.iter()
                .map(|&n| narrow_node(n))
                .collect::<Option<Vec<u32>>>()
        } else {
            None
        };
        if let Some(narrow) = &narrow {
            check_walk(narrow, &spans, stride, u8::MAX).map_err(bad)?;
        }
        let splits = narrow
            .as_deref()
            .filter(|_| spans.iter().all(|t| t.walk_end - t.walk_start <= 256))
            .map(|narrow| column_splits(narrow, &mut spans));
        Ok(Self {
            n_features,
            variants,
            stride,
            nodes,
            cuts,
            cut_start,
            walk,
            narrow,
            splits,
            walk_value,
            node_value,
            trees: spans,
            max_depth: depths.iter().copied().max().unwrap_or(0),
        })
    }
}

/// The internal nodes of every tree's narrow walk as [`Split`]s, recording each tree's range in
/// its span. Every walk must have at most 256 nodes and have passed [`check_walk`].
fn column_splits(narrow: &[u32], spans: &mut [TreeSpan]) -> Vec<Split> {
    let mut splits = Vec::new();
    for span in spans {
        span.split_start = splits.len();
        for (i, &n) in narrow[span.walk_start..span.walk_end].iter().enumerate() {
            if n.first() != i {
                splits.push(Split {
                    node: i as u8,
                    rank: (n.rank() ^ 0x80) as i8,
                    left: n.first() as u8,
                    offset: n.offset() as u8,
                });
            }
        }
        span.split_end = splits.len();
    }
    splits
}

/// Internal node `i`'s threshold as an [`order_key`] and the row variant it reads (see
/// [`NAN_LEFT`]): LightGBM's `NumericalDecision` for this node.
fn split_rule(tree: &Tree, i: usize) -> (u64, usize) {
    // x <= -0.0 and x <= 0.0 agree for every x, and keys need +0.0.
    let t = if tree.threshold[i] == 0.0 {
        0.0
    } else {
        tree.threshold[i]
    };
    let variant = match tree.missing_type[i] {
        MissingType::None if 0.0 <= t => NAN_LEFT,
        MissingType::None => NAN_RIGHT,
        MissingType::Nan if tree.default_left[i] => NAN_LEFT,
        MissingType::Nan => NAN_RIGHT,
        MissingType::Zero if tree.default_left[i] => ZERO_LEFT,
        MissingType::Zero => ZERO_RIGHT,
    };
    (order_key(t), variant)
}

/// Per feature, the sorted distinct threshold keys of all splits on it, concatenated, and where
/// each feature's start (`n_features + 1` entries).
fn feature_cuts(n_features: usize, trees: &[Tree]) -> Result<(Vec<u64>, Vec<usize>), GbmError> {
    let mut per_feature = vec![Vec::new(); n_features];
    for tree in trees {
        for i in 0..tree.n_internal() {
            per_feature[tree.split_feature[i] as usize].push(split_rule(tree, i).0);
        }
    }
    let mut cuts = Vec::new();
    let mut cut_start = Vec::with_capacity(n_features + 1);
    for (f, mut keys) in per_feature.into_iter().enumerate() {
        keys.sort_unstable();
        keys.dedup();
        if keys.len() > MAX_CUTS {
            return Err(GbmError::Unsupported(format!(
                "feature {f} is split at {} distinct thresholds, at most {MAX_CUTS} supported",
                keys.len()
            )));
        }
        cut_start.push(cuts.len());
        cuts.extend(keys);
    }
    cut_start.push(cuts.len());
    Ok((cuts, cut_start))
}

/// How many steps the prediction kernel takes in lockstep for this tree.
///
/// A leaf-wise tree is lopsided: most rows stop within a few levels (mean 5.3 on the
/// 63-leaf benchmark trees) while the deepest leaf is 13 levels down on average, so walking
/// every row to the full depth wastes most steps (measured: 13% slower than this choice).
/// Each row that is not at its leaf after the lockstep costs a mispredicted exit branch and
/// then slow, dependent steps. The cost model, in units of one lockstep step of one row,
/// weighs the two with the training covers.
pub(super) fn lockstep_steps(tree: &Tree, depth: usize) -> usize {
    if tree.n_internal() == 0 {
        return 0;
    }
    // Cover of the leaves at each depth.
    let mut at_depth = vec![0.0; depth + 1];
    let mut stack = vec![(0i32, 0usize)];
    while let Some((c, d)) = stack.pop() {
        if c < 0 {
            at_depth[d] += tree.leaf_cover[!c as usize];
        } else {
            let i = c as usize;
            stack.push((tree.left_child[i], d + 1));
            stack.push((tree.right_child[i], d + 1));
        }
    }
    let cost = |s: usize| -> f64 {
        let late: f64 = at_depth
            .iter()
            .enumerate()
            .skip(s + 1)
            .map(|(d, w)| w * (MISS_COST + SERIAL_STEP_COST * (d - s) as f64))
            .sum();
        at_depth.iter().sum::<f64>() * s as f64 + late
    };
    (0..=depth)
        .min_by(|&a, &b| cost(a).total_cmp(&cost(b)))
        .unwrap_or(depth)
}
