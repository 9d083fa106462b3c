//! One classification tree of the forest: smartcore's `DecisionTreeClassifier` (Gini, every
//! feature at every node, splits only where the label changes along the sorted values), grown
//! the same way split for split, in O(rows × features) per level instead of smartcore's
//! O(all rows × features) per node.
//!
//! smartcore scans, at each node, every row of the sample in each feature's sorted order and
//! skips the rows outside the node. Here each node holds its own rows in that same order (a range
//! of each feature's order, partitioned stably at every split), so the scan sees the very same
//! sequence and chooses the very same split: the column orders come from smartcore's own sort,
//! whose order among equal values decides which split points are tried, and the gain is the same
//! arithmetic. A test holds the two to the same predictions.

/// A node: a leaf (`children` `None`) voting `output`, or a split sending `x[feature] <= value`
/// to the first child.
#[derive(Debug, Clone, PartialEq)]
struct Node {
    output: u8,
    feature: usize,
    value: f64,
    children: Option<(u32, u32)>,
}

/// A grown tree.
#[derive(Debug, Clone, PartialEq)]
pub struct Cart {
    nodes: Vec<Node>,
}

/// Growth settings, as smartcore's parameters name them.
#[derive(Debug, Clone, Copy)]
pub struct Params {
    pub max_depth: u16,
    pub min_samples_leaf: usize,
}

/// smartcore's Gini impurity, in its order of operations.
fn gini(count: &[usize; 2], n: usize) -> f64 {
    let mut impurity = 1.0;
    for &c in count {
        if c > 0 {
            let p = c as f64 / n as f64;
            impurity -= p * p;
        }
    }
    impurity
}

/// The class with the most rows; the first on a tie.
fn which_max(count: &[usize; 2]) -> u8 {
    u8::from(count[1] > count[0])
}

/// The best split of one node.
struct Best {
    gain: f64,
    feature: usize,
    value: f64,
    true_output: u8,
    false_output: u8,
}

struct Grower<'a> {
    /// Column-major values: `cols[j][row]`.
    cols: &'a [Vec<f64>],
    y: &'a [u8],
    params: Params,
    /// Each feature's rows in smartcore's sorted order; a node owns one range of every one.
    order: Vec<Vec<u32>>,
    /// `order`'s values beside it (`sorted[j][k] = cols[j][order[j][k]]`), so that a scan reads
    /// memory in order.
    sorted: Vec<Vec<f64>>,
    /// Every node's rows, in no particular order: a range per node, like `order`'s.
    rows: Vec<u32>,
    goes_true: Vec<bool>,
    scratch: Vec<u32>,
    scratch_values: Vec<f64>,
    nodes: Vec<Node>,
}

/// Whether feature `j` holds one value over the node `lo..hi` (its values are sorted): then no
/// split on it exists there or below, so its range is neither scanned nor partitioned again
/// (its rows there may be the wrong ones from then on, but every one has that same value).
fn constant(sorted: &[f64], lo: usize, hi: usize) -> bool {
    sorted[lo] == sorted[hi - 1]
}

impl Grower<'_> {
    /// smartcore's `find_best_split` over every feature of the node `lo..hi`.
    fn best_split(&self, lo: usize, hi: usize, count: &[usize; 2]) -> Option<Best> {
        let n = hi - lo;
        let parent = gini(count, n);
        let min_leaf = self.params.min_samples_leaf;
        let mut best: Option<Best> = None;
        for j in 0..self.cols.len() {
            if constant(&self.sorted[j], lo, hi) {
                continue;
            }
            let order = &self.order[j][lo..hi];
            let sorted = &self.sorted[j][lo..hi];
            // Rows before the current one, and the positives among them: in registers, not an
            // array indexed by the label (a chain of stores and loads).
            let (mut seen, mut ones) = (1usize, usize::from(self.y[order[0] as usize]));
            let (mut px, mut py) = (sorted[0], self.y[order[0] as usize]);
            for (&r, &x) in order[1..].iter().zip(&sorted[1..]) {
                let y = self.y[r as usize];
                if x != px && y != py && seen >= min_leaf && n - seen >= min_leaf {
                    let (tc, fc) = (seen, n - seen);
                    let true_count = [seen - ones, ones];
                    let false_count = [count[0] - true_count[0], count[1] - true_count[1]];
                    let gain = parent
                        - tc as f64 / n as f64 * gini(&true_count, tc)
                        - fc as f64 / n as f64 * gini(&false_count, fc);
                    if best.as_ref().is_none_or(|b| gain > b.gain) {
                        best = Some(Best {
                            gain,
                            feature: j,
                            value: (x + px) / 2.0,
                            true_output: which_max(&true_count),
                            false_output: which_max(&false_count),
                        });
                    }
                }
                (px, py) = (x, y);
                seen += 1;
                ones += usize::from(y);
            }
        }
        best
    }

    /// Grows the node of rows `lo..hi` at `level` (the root is level 1) and returns its index.
    fn grow(&mut self, lo: usize, hi: usize, level: u16, output: u8) -> u32 {
        let at = self.nodes.len() as u32;
        self.nodes.push(Node {
            output,
            feature: 0,
            value: f64::NAN,
            children: None,
        });
        if level >= self.params.max_depth || hi - lo < 2 {
            return at;
        }
        let mut count = [0usize; 2];
        for &r in &self.rows[lo..hi] {
            count[usize::from(self.y[r as usize])] += 1;
        }
        if count[0] == 0 || count[1] == 0 {
            return at;
        }
        let Some(best) = self.best_split(lo, hi, &count) else {
            return at;
        };
        let col = &self.cols[best.feature];
        let mut tc = 0;
        for &r in &self.rows[lo..hi] {
            let t = col[r as usize] <= best.value;
            self.goes_true[r as usize] = t;
            tc += usize::from(t);
        }
        let fc = hi - lo - tc;
        if tc < self.params.min_samples_leaf || fc < self.params.min_samples_leaf {
            return at;
        }
        let node_rows = &mut self.rows[lo..hi];
        let mut k = 0;
        for i in 0..node_rows.len() {
            if self.goes_true[node_rows[i] as usize] {
                node_rows.swap(k, i);
                k += 1;
            }
        }
        // Every other feature's range split stably: the true rows first, each side in its old
        // order.
        for j in 0..self.cols.len() {
            if constant(&self.sorted[j], lo, hi) {
                continue;
            }
            let range = &mut self.order[j][lo..hi];
            let values = &mut self.sorted[j][lo..hi];
            self.scratch.clear();
            self.scratch_values.clear();
            let mut k = 0;
            for i in 0..range.len() {
                let (r, v) = (range[i], values[i]);
                if self.goes_true[r as usize] {
                    range[k] = r;
                    values[k] = v;
                    k += 1;
                } else {
                    self.scratch.push(r);
                    self.scratch_values.push(v);
                }
            }
            range[k..].copy_from_slice(&self.scratch);
            values[k..].copy_from_slice(&self.scratch_values);
        }
        let mid = lo + tc;
        let t = self.grow(lo, mid, level + 1, best.true_output);
        let f = self.grow(mid, hi, level + 1, best.false_output);
        let node = &mut self.nodes[at as usize];
        node.feature = best.feature;
        node.value = best.value;
        node.children = Some((t, f));
        at
    }
}

/// smartcore's `argsort_mut` (Numerical Recipes' quicksort with insertion sort below 7 values,
/// median of three), step for step on a plain slice: the order among equal values, which decides
/// the split points tried, is smartcore's. Sorts `v` and returns where each value came from.
fn argsort(v: &mut [f64]) -> Vec<u32> {
    let mut index: Vec<u32> = (0..v.len() as u32).collect();
    if v.len() < 2 {
        return index;
    }
    let mut stack: Vec<(usize, usize)> = Vec::with_capacity(64);
    let (mut l, mut ir) = (0usize, v.len() - 1);
    loop {
        if ir - l < 7 {
            for j in l + 1..=ir {
                let (a, b) = (v[j], index[j]);
                let mut i = j;
                while i > l && v[i - 1] > a {
                    v[i] = v[i - 1];
                    index[i] = index[i - 1];
                    i -= 1;
                }
                v[i] = a;
                index[i] = b;
            }
            match stack.pop() {
                Some((lo, hi)) => (l, ir) = (lo, hi),
                None => break,
            }
        } else {
            let k = (l + ir) >> 1;
            v.swap(k, l + 1);
            index.swap(k, l + 1);
            if v[l] > v[ir] {
                v.swap(l, ir);
                index.swap(l, ir);
            }
            if v[l + 1] > v[ir] {
                v.swap(l + 1, ir);
                index.swap(l + 1, ir);
            }
            if v[l] > v[l + 1] {
                v.swap(l, l + 1);
                index.swap(l, l + 1);
            }
            let (mut i, mut j) = (l + 1, ir);
            let (a, b) = (v[l + 1], index[l + 1]);
            loop {
                i += 1;
                while v[i] < a {
                    i += 1;
                }
                j -= 1;
                while v[j] > a {
                    j -= 1;
                }
                if j < i {
                    break;
                }
                v.swap(i, j);
                index.swap(i, j);
            }
            v[l + 1] = v[j];
            v[j] = a;
            index[l + 1] = index[j];
            index[j] = b;
            if ir - i + 1 >= j - l {
                stack.push((i, ir));
                ir = j - 1;
            } else {
                stack.push((l, j - 1));
                l = i;
            }
        }
    }
    index
}

impl Cart {
    /// Grows a tree on `cols` (column-major, every column `y.len()` long; no NaN) and labels 0/1.
    pub fn fit(cols: &[Vec<f64>], y: &[u8], params: Params) -> Self {
        let rows = y.len();
        let mut order: Vec<Vec<u32>> = Vec::with_capacity(cols.len());
        let mut sorted: Vec<Vec<f64>> = Vec::with_capacity(cols.len());
        for c in cols {
            // The sort sorts its input too: the values in order, for free.
            let mut c = c.clone();
            order.push(argsort(&mut c));
            sorted.push(c);
        }
        let mut count = [0usize; 2];
        for &l in y {
            count[usize::from(l)] += 1;
        }
        let mut g = Grower {
            cols,
            y,
            params,
            order,
            sorted,
            rows: (0..rows as u32).collect(),
            goes_true: vec![false; rows],
            scratch: Vec::with_capacity(rows),
            scratch_values: Vec::with_capacity(rows),
            nodes: Vec::new(),
        };
        if rows > 0 && !cols.is_empty() {
            g.grow(0, rows, 1, which_max(&count));
        }
        Cart { nodes: g.nodes }
    }

    /// The class voted for one row (values in the training columns' order).
    pub fn predict(&self, row: &[f64]) -> u8 {
        let mut at = 0usize;
        loop {
            let Some(node) = self.nodes.get(at) else {
                return 0;
            };
            match node.children {
                None => return node.output,
                Some((t, f)) => {
                    at = if row[node.feature] <= node.value {
                        t as usize
                    } else {
                        f as usize
                    };
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use smartcore::linalg::basic::arrays::Array;
    use smartcore::linalg::basic::matrix::DenseMatrix;
    use smartcore::tree::decision_tree_classifier::{
        DecisionTreeClassifier, DecisionTreeClassifierParameters,
    };

    #[test]
    fn argsort_orders_ties_as_smartcore_does() {
        use smartcore::linalg::basic::arrays::MutArrayView1;
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(9);
        for len in [0, 1, 2, 5, 7, 8, 9, 30, 1_000, 20_000] {
            for distinct in [2.0, 10.0, 1e6] {
                let v: Vec<f64> = (0..len)
                    .map(|_| (rng.random::<f64>() * distinct).floor())
                    .collect();
                let (mut ours, mut theirs) = (v.clone(), v.clone());
                let order = argsort(&mut ours);
                let want: Vec<u32> = if len == 0 {
                    Vec::new()
                } else {
                    theirs.argsort_mut().into_iter().map(|i| i as u32).collect()
                };
                assert_eq!(order, want, "{len} values, {distinct} distinct");
                assert_eq!(ours, theirs);
            }
        }
    }

    #[test]
    fn a_stump_by_hand() {
        // x: 1 2 3 4 5 6, y: 0 0 0 1 1 1: the one split is at 3.5, both sides pure.
        let cols = vec![vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]];
        let t = Cart::fit(
            &cols,
            &[0, 0, 0, 1, 1, 1],
            Params {
                max_depth: 10,
                min_samples_leaf: 1,
            },
        );
        assert_eq!(t.nodes.len(), 3);
        assert_eq!(t.nodes[0].value, 3.5);
        assert_eq!((t.predict(&[3.4]), t.predict(&[3.6])), (0, 1));
    }

    /// Our tree and smartcore's vote alike on every row, on data with many ties (values rounded
    /// to a tenth), a duplicated-row bootstrap and noisy labels.
    #[test]
    fn votes_as_smartcore_does() {
        for seed in 0..4u64 {
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
            let (rows, d) = (3_000, 6);
            let base: Vec<Vec<f64>> = (0..rows)
                .map(|_| {
                    (0..d)
                        .map(|_| (rng.random::<f64>() * 10.0).round() / 10.0)
                        .collect()
                })
                .collect();
            let label = |r: &[f64], rng: &mut rand_chacha::ChaCha8Rng| {
                u8::from((r[0] + r[1] * r[2] > 0.6) != (rng.random::<f64>() < 0.1))
            };
            let picked: Vec<usize> = (0..rows).map(|_| rng.random_range(0..rows)).collect();
            let y: Vec<u8> = picked.iter().map(|&i| label(&base[i], &mut rng)).collect();
            let flat: Vec<f64> = picked.iter().flat_map(|&i| base[i].clone()).collect();
            let cols: Vec<Vec<f64>> = (0..d)
                .map(|j| picked.iter().map(|&i| base[i][j]).collect())
                .collect();
            let ours = Cart::fit(
                &cols,
                &y,
                Params {
                    max_depth: 10,
                    min_samples_leaf: 5,
                },
            );
            let x = DenseMatrix::new(rows, d, flat, false).unwrap_or_else(|e| panic!("{e}"));
            let yv: Vec<u32> = y.iter().map(|&v| u32::from(v)).collect();
            let theirs = DecisionTreeClassifier::fit(
                &x,
                &yv,
                DecisionTreeClassifierParameters {
                    max_depth: Some(10),
                    min_samples_leaf: 5,
                    seed: Some(seed),
                    ..DecisionTreeClassifierParameters::default()
                },
            )
            .unwrap_or_else(|e| panic!("{e}"));
            let probe: Vec<f64> = base.iter().flatten().copied().collect();
            let xs = DenseMatrix::new(rows, d, probe, false).unwrap_or_else(|e| panic!("{e}"));
            let proba = theirs.predict_proba(&xs).unwrap_or_else(|e| panic!("{e}"));
            for (i, row) in base.iter().enumerate() {
                let their_vote = *Array::get(&proba, (i, 1));
                assert_eq!(
                    f64::from(ours.predict(row)),
                    their_vote,
                    "seed {seed} row {i}"
                );
            }
        }
    }
}
