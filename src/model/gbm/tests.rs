//! The model held to LightGBM on a seeded synthetic data set, and refusing what is not a model.

use super::layout::*;
use super::predict::*;
use super::*;
use std::sync::OnceLock;

const N_FEATURES: usize = 10;

/// splitmix64: a seeded generator, so the data (and so the trees) are the same every run.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// A nonlinear rule with interactions, a step, a feature that is often exactly zero, an
/// integer-valued feature and NaN in three features (missingness itself is informative).
fn synthetic(n_rows: usize, seed: u64) -> (Vec<f64>, Vec<f32>) {
    let mut rng = Rng(seed);
    let mut x = Vec::with_capacity(n_rows * N_FEATURES);
    let mut y = Vec::with_capacity(n_rows);
    for _ in 0..n_rows {
        let mut r: Vec<f64> = (0..N_FEATURES).map(|_| rng.uniform() * 2.0 - 1.0).collect();
        if rng.uniform() < 0.3 {
            r[5] = 0.0;
        }
        r[7] = (rng.uniform() * 6.0).floor();
        for f in [0, 3, 8] {
            if rng.uniform() < 0.05 {
                r[f] = f64::NAN;
            }
        }
        let v = |f: usize| if r[f].is_nan() { 0.0 } else { r[f] };
        let logit = 1.5 * v(0) * v(1) - 2.0 * v(2) * v(2)
            + (3.0 * v(3)).sin()
            + if r[4] > 0.3 { 1.2 } else { 0.0 }
            + if r[5] == 0.0 { 0.8 } else { 0.0 }
            + 0.3 * (r[7] - 2.5)
            + if r[0].is_nan() { 1.0 } else { 0.0 }
            - 0.3;
        let p = 1.0 / (1.0 + (-2.0 * logit).exp());
        y.push(if rng.uniform() < p { 1.0 } else { 0.0 });
        x.extend(r);
    }
    (x, y)
}

fn test_params() -> GbmParams {
    GbmParams {
        num_trees: 100,
        num_leaves: 31,
        learning_rate: 0.1,
        min_data_in_leaf: 20,
        feature_fraction: 0.9,
        bagging_fraction: 0.8,
        bagging_freq: 1,
        lambda_l2: 1.0,
        seed: 7,
        // One thread: OpenMP's spinning barriers crawl when other builds share the cores.
        num_threads: 1,
    }
}

/// Rows that probe the edges of LightGBM's decision rule: every feature missing in turn,
/// signed zeros, values inside and just outside ±1e-35 and infinities (`special_rows`), and
/// for many split nodes the threshold itself and its neighbouring doubles (`threshold_rows`).
fn special_rows(base: &[f64]) -> Vec<f64> {
    let mut rows = Vec::new();
    let mut push = |f: Option<usize>, v: f64| {
        let mut r = base.to_vec();
        match f {
            Some(f) => r[f] = v,
            None => r.iter_mut().for_each(|x| *x = v),
        }
        rows.extend(r);
    };
    let specials = [
        f64::NAN,
        0.0,
        -0.0,
        1e-40,
        -1e-40,
        1e-35,
        ZERO_THRESHOLD,
        -ZERO_THRESHOLD,
        ZERO_THRESHOLD.next_up(),
        2e-35,
        f64::INFINITY,
        f64::NEG_INFINITY,
        1e300,
        -1e300,
    ];
    for &v in &specials {
        push(None, v);
        for f in 0..N_FEATURES {
            push(Some(f), v);
        }
    }
    rows
}

fn threshold_rows(gbm: &Gbm, base: &[f64]) -> Vec<f64> {
    let mut rows = Vec::new();
    for tree in gbm.trees().iter().take(20) {
        for (&f, &t) in tree.split_feature.iter().zip(&tree.threshold) {
            for v in [t, t.next_down(), t.next_up()] {
                rows.extend_from_slice(base);
                let at = rows.len() - base.len() + f as usize;
                rows[at] = v;
            }
        }
    }
    rows
}

struct Fixture {
    gbm: Gbm,
    rows: Vec<f64>,
    lgb_raw: Vec<f64>,
    lgb_proba: Vec<f64>,
    /// LightGBM's `pred_contrib` for the first `contrib_rows` rows.
    lgb_contrib: Vec<f64>,
    contrib_rows: usize,
    holdout_auc: f64,
}

/// One booster for all tests: LightGBM's own outputs are taken from it before it is dropped
/// (a `Booster` is not `Sync`, so it cannot be shared itself).
fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let (x, y) = synthetic(5000, 1);
        let booster =
            train_booster(&x, 5000, N_FEATURES, &y, None, &test_params()).expect("training");
        let gbm = Gbm::from_lightgbm(&booster).expect("export");
        let (test_x, test_y) = synthetic(2000, 2);
        // Contributions (slow in a debug build) are checked on the special rows, 400 random
        // ones and 200 threshold probes; predictions on all rows.
        let base = &test_x[..N_FEATURES];
        let mut rows = special_rows(base);
        let contrib_rows = rows.len() / N_FEATURES + 600;
        rows.extend_from_slice(&test_x[..400 * N_FEATURES]);
        rows.extend(threshold_rows(&gbm, base));
        rows.extend_from_slice(&test_x[400 * N_FEATURES..]);
        let nf = N_FEATURES as i32;
        let lgb_raw = booster.raw_scores(&rows, nf, true).expect("raw");
        let lgb_proba = booster.predict(&rows, nf, true).expect("predict");
        let lgb_contrib = booster
            .predict_contrib(&rows[..contrib_rows * N_FEATURES], nf, true)
            .expect("contrib");
        let holdout = gbm.predict_raw_batch(&test_x, N_FEATURES).expect("predict");
        Fixture {
            holdout_auc: auc(&holdout, &test_y),
            gbm,
            rows,
            lgb_raw,
            lgb_proba,
            lgb_contrib,
            contrib_rows,
        }
    })
}

fn auc(scores: &[f64], labels: &[f32]) -> f64 {
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    idx.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let (mut rank_sum, mut pos) = (0.0, 0.0);
    for (rank, &i) in idx.iter().enumerate() {
        if labels[i] == 1.0 {
            rank_sum += (rank + 1) as f64;
            pos += 1.0;
        }
    }
    let neg = labels.len() as f64 - pos;
    (rank_sum - pos * (pos + 1.0) / 2.0) / (pos * neg)
}

fn rows_of(rows: &[f64]) -> impl Iterator<Item = &[f64]> {
    rows.chunks_exact(N_FEATURES)
}

#[test]
fn predictions_equal_lightgbm_for_every_row() {
    let fx = fixture();
    let ours = fx.gbm.predict_raw_batch(&fx.rows, N_FEATURES).unwrap();
    assert_eq!(ours.len(), fx.lgb_raw.len());
    let mut bit_equal = 0;
    for (i, (a, b)) in ours.iter().zip(&fx.lgb_raw).enumerate() {
        assert!((a - b).abs() <= 1e-9, "row {i}: ours {a}, LightGBM {b}");
        bit_equal += usize::from(a.to_bits() == b.to_bits());
    }
    // Same thresholds, same rule, same summation order: not just close, identical.
    assert_eq!(
        bit_equal,
        ours.len(),
        "raw scores not bit-identical to LightGBM"
    );
    let proba = fx.gbm.predict_proba_batch(&fx.rows, N_FEATURES).unwrap();
    for (i, (a, b)) in proba.iter().zip(&fx.lgb_proba).enumerate() {
        assert!((a - b).abs() <= 1e-12, "row {i}: ours {a}, LightGBM {b}");
    }
}

#[test]
fn every_tree_walk_ends_at_the_same_leaves() {
    let fx = fixture();
    let layout = &fx.gbm.eval;
    let splits = layout
        .splits
        .as_ref()
        .expect("the fixture fits the column-wise kernel");
    let rows = &fx.rows[..LANES * N_FEATURES];
    let walk = layout.narrow.as_ref().unwrap();
    let mut bins = vec![0u8; LANES * layout.stride];
    layout.column_bins(rows, &mut bins);
    let (mut fastest, mut portable) = ([0u8; LANES], [0u8; LANES]);
    let mut leaves_reached = std::collections::HashSet::new();
    for (t, span) in layout.trees.iter().enumerate() {
        let tree = &splits[span.split_start..span.split_end];
        tree_walk()(tree, &bins, &mut fastest);
        walk_portable(tree, &bins, &mut portable);
        assert_eq!(fastest, portable, "tree {t}");
        for &leaf in &fastest {
            let at = span.walk_start + usize::from(leaf);
            // A leaf points to itself.
            assert_eq!(walk[at].first(), usize::from(leaf), "tree {t}");
            leaves_reached.insert(at);
        }
    }
    // 128 rows spread over about 9 leaves a tree: the walks go deep, not just to one side.
    let (reached, trees) = (leaves_reached.len(), layout.trees.len());
    assert!(
        reached > 5 * trees,
        "{reached} leaves reached in {trees} trees"
    );
}

#[test]
fn single_row_and_parallel_batch_agree_with_serial_batch() {
    let fx = fixture();
    let batch = fx.gbm.predict_raw_batch(&fx.rows, N_FEATURES).unwrap();
    for (i, row) in rows_of(&fx.rows).enumerate() {
        let one = fx.gbm.predict_raw(row).unwrap();
        assert_eq!(one.to_bits(), batch[i].to_bits(), "row {i}");
    }
    // More rows than one task holds, so the rayon path runs, with a ragged last block.
    let many: Vec<f64> = fx
        .rows
        .iter()
        .copied()
        .cycle()
        .take(5003 * N_FEATURES)
        .collect();
    let par = fx.gbm.predict_raw_batch(&many, N_FEATURES).unwrap();
    for (i, row) in rows_of(&many).enumerate().step_by(7) {
        assert_eq!(par[i].to_bits(), fx.gbm.predict_raw(row).unwrap().to_bits());
    }
}

#[test]
fn the_model_learned_the_rule() {
    let auc = fixture().holdout_auc;
    assert!(auc >= 0.75, "held-out ROC-AUC ({auc}) is below 0.75");
}

#[test]
fn contributions_sum_to_the_raw_score() {
    let fx = fixture();
    let rows = &fx.rows[..fx.contrib_rows * N_FEATURES];
    let raw = fx.gbm.predict_raw_batch(rows, N_FEATURES).unwrap();
    let path = fx.gbm.path_contributions_batch(rows, N_FEATURES).unwrap();
    let shap = fx.gbm.shap_contributions_batch(rows, N_FEATURES).unwrap();
    let width = N_FEATURES + 1;
    for (i, (p, s)) in path
        .chunks_exact(width)
        .zip(shap.chunks_exact(width))
        .enumerate()
    {
        let (p_sum, s_sum) = (p.iter().sum::<f64>(), s.iter().sum::<f64>());
        assert!(
            (p_sum - raw[i]).abs() <= 1e-9,
            "path, row {i}: {p_sum} vs {}",
            raw[i]
        );
        assert!(
            (s_sum - raw[i]).abs() <= 1e-9,
            "shap, row {i}: {s_sum} vs {}",
            raw[i]
        );
        // Both methods take LightGBM's expected value as bias.
        assert_eq!(p[N_FEATURES].to_bits(), s[N_FEATURES].to_bits(), "row {i}");
    }
    let row = &rows[..N_FEATURES];
    let total = fx.gbm.path_contributions(row).unwrap().total();
    assert!((total - raw[0]).abs() <= 1e-9);
}

#[test]
fn treeshap_equals_lightgbm_pred_contrib() {
    let fx = fixture();
    let rows = &fx.rows[..fx.contrib_rows * N_FEATURES];
    let ours = fx.gbm.shap_contributions_batch(rows, N_FEATURES).unwrap();
    assert_eq!(ours.len(), fx.lgb_contrib.len());
    for (i, (a, b)) in ours.iter().zip(&fx.lgb_contrib).enumerate() {
        let (row, col) = (i / (N_FEATURES + 1), i % (N_FEATURES + 1));
        assert!(
            (a - b).abs() <= 1e-9,
            "row {row} column {col}: ours {a}, LightGBM {b}"
        );
    }
    // The batch form is the single-row form laid out flat.
    let first = fx.gbm.shap_contributions(&rows[..N_FEATURES]).unwrap();
    assert_eq!(&ours[..N_FEATURES], &first.values[..]);
    assert_eq!(ours[N_FEATURES], first.bias);
    let path = fx.gbm.path_contributions_batch(rows, N_FEATURES).unwrap();
    let first = fx.gbm.path_contributions(&rows[..N_FEATURES]).unwrap();
    assert_eq!(&path[..N_FEATURES], &first.values[..]);
}

#[test]
fn serde_round_trip_gives_identical_predictions() {
    let fx = fixture();
    let json = serde_json::to_string(&fx.gbm).unwrap();
    let back: Gbm = serde_json::from_str(&json).unwrap();
    // Needs serde_json's `float_roundtrip`: its default parser may be 1 ulp off.
    assert!(back == fx.gbm, "the model changed in a JSON round trip");
    let a = fx.gbm.predict_raw_batch(&fx.rows, N_FEATURES).unwrap();
    let b = back.predict_raw_batch(&fx.rows, N_FEATURES).unwrap();
    assert!(a.iter().zip(&b).all(|(a, b)| a.to_bits() == b.to_bits()));
}

#[test]
fn training_is_reproducible() {
    let (x, y) = synthetic(5000, 1);
    let again = train(&x, 5000, N_FEATURES, &y, None, &test_params()).unwrap();
    assert!(again == fixture().gbm, "a second training gave other trees");
}

#[test]
fn weights_change_the_model() {
    let (x, y) = synthetic(2000, 3);
    let w: Vec<f64> = y
        .iter()
        .map(|&l| if l == 1.0 { 3.0 } else { 1.0 })
        .collect();
    let params = GbmParams {
        num_trees: 20,
        ..test_params()
    };
    let plain = train(&x, 2000, N_FEATURES, &y, None, &params).unwrap();
    let weighted = train(&x, 2000, N_FEATURES, &y, Some(&w), &params).unwrap();
    let mean = |g: &Gbm| {
        g.predict_raw_batch(&x, N_FEATURES)
            .unwrap()
            .iter()
            .sum::<f64>()
    };
    // Up-weighting the positives must raise the average score.
    assert!(mean(&weighted) > mean(&plain));
}

fn two_leaf() -> Gbm {
    let tree = Tree {
        split_feature: vec![0],
        threshold: vec![0.5],
        default_left: vec![true],
        missing_type: vec![MissingType::Nan],
        left_child: vec![-1],
        right_child: vec![-2],
        internal_cover: vec![40.0],
        leaf_value: vec![-1.0, 2.0],
        leaf_cover: vec![30.0, 10.0],
    };
    Gbm::new(2, 0.0, 1.0, vec![tree]).unwrap()
}

#[test]
fn hand_built_two_leaf_tree() {
    let g = two_leaf();
    assert_eq!(g.predict_raw(&[0.2, 9.0]).unwrap(), -1.0);
    assert_eq!(g.predict_raw(&[0.5, 9.0]).unwrap(), -1.0); // `<=` goes left
    assert_eq!(g.predict_raw(&[0.7, 9.0]).unwrap(), 2.0);
    assert_eq!(g.predict_raw(&[f64::NAN, 9.0]).unwrap(), -1.0); // default left
    let p = g.predict_proba(&[0.7, 0.0]).unwrap();
    assert!((p - 0.880_797_077_977_882_3).abs() < 1e-15, "{p}"); // 1 / (1 + e^-2)

    // Expected value (30·(−1) + 10·2) / 40 = −0.25; the one split explains the rest.
    for c in [
        g.path_contributions(&[0.2, 9.0]).unwrap(),
        g.shap_contributions(&[0.2, 9.0]).unwrap(),
    ] {
        assert_eq!(c.bias, -0.25);
        assert_eq!(c.values, vec![-0.75, 0.0]);
    }
    let c = g.shap_contributions(&[0.7, 9.0]).unwrap();
    assert_eq!(c.values, vec![2.25, 0.0]);
}

#[test]
fn hand_built_tree_with_a_repeated_feature() {
    // x0 <= 0 ? (x0 <= -1 ? 1 : 2) : 4, covers 10 / 30 / 60.
    let tree = Tree {
        split_feature: vec![0, 0],
        threshold: vec![0.0, -1.0],
        default_left: vec![false, false],
        missing_type: vec![MissingType::None, MissingType::None],
        left_child: vec![1, -1],
        right_child: vec![-3, -2],
        internal_cover: vec![100.0, 40.0],
        leaf_value: vec![1.0, 2.0, 4.0],
        leaf_cover: vec![10.0, 30.0, 60.0],
    };
    let g = Gbm::new(1, 0.5, 1.0, vec![tree]).unwrap();
    // E = 0.1·1 + 0.3·2 + 0.6·4 = 3.1; with base 0.5 the bias is 3.6.
    let c = g.shap_contributions(&[-2.0]).unwrap();
    assert!((c.bias - 3.6).abs() < 1e-12);
    assert!((c.values[0] - (1.0 - 3.1)).abs() < 1e-12);
    // Path: root 3.1 → node 1 (10·1 + 30·2) / 40 = 1.75 → leaf 1.
    let p = g.path_contributions(&[-2.0]).unwrap();
    assert!((p.values[0] - (1.75 - 3.1 + 1.0 - 1.75)).abs() < 1e-12);
    assert_eq!(g.predict_raw(&[-2.0]).unwrap(), 1.5);
    assert_eq!(g.predict_raw(&[f64::NAN]).unwrap(), 2.5); // NaN → 0 → left, then right
}

/// Three one-split trees, one per missing type, written as LightGBM model text so that
/// LightGBM itself can be asked what it predicts.
fn missing_types_model() -> String {
    let stumps = [
        stump(0, 0, "0.25", 0, "1 2"),
        stump(1, 1, "-0.5", 6, "10 20"),
        stump(2, 2, "-1e-36", 8, "100 200"),
    ];
    format!(
        "tree
version=v4
num_class=1
num_tree_per_iteration=1
label_index=0
max_feature_idx=2
objective=binary sigmoid:1
feature_names=a b c
feature_infos=[-1:1] [-1:1] [-1:1]

{}end of trees
",
        stumps.concat()
    )
}

/// One tree of LightGBM model text: a single split on `feature`, two leaves.
fn stump(tree: usize, feature: usize, threshold: &str, decision_type: u8, leaves: &str) -> String {
    format!(
        "Tree={tree}
num_leaves=2
num_cat=0
split_feature={feature}
split_gain=1
threshold={threshold}
decision_type={decision_type}
left_child=-1
right_child=-2
leaf_value={leaves}
leaf_weight=1 1
leaf_count=5 5
internal_value=0
internal_weight=0
internal_count=10
is_linear=0
shrinkage=1


"
    )
}

#[test]
fn missing_types_follow_lightgbm() {
    let ours = Gbm::from_lightgbm_text(&missing_types_model()).unwrap();
    let t = ours.trees();
    assert_eq!(
        (
            t[0].missing_type[0],
            t[1].missing_type[0],
            t[2].missing_type[0]
        ),
        (MissingType::None, MissingType::Zero, MissingType::Nan)
    );
    assert!(t[1].default_left[0] && !t[2].default_left[0]);
    let values = [
        f64::NAN,
        0.0,
        -0.0,
        1e-40,
        -2e-36,
        2e-35,
        -2e-35,
        0.3,
        -0.7,
        5.0,
    ];
    let mut rows = Vec::new();
    for &a in &values {
        for &b in &values {
            for &c in &values {
                rows.extend([a, b, c]);
            }
        }
    }
    let booster = lightgbm3::Booster::from_string(&missing_types_model()).unwrap();
    let theirs = booster.raw_scores(&rows, 3, true).unwrap();
    let mine = ours.predict_raw_batch(&rows, 3).unwrap();
    for (i, row) in rows.chunks_exact(3).enumerate() {
        assert_eq!(mine[i], theirs[i], "row {row:?}");
        // Hand-derived: tree 0 NaN → 0 → left; tree 1 NaN and |x| ≤ 1e-35 → default left;
        // tree 2 NaN → default right, and −2e-36 is read as 0, so not ≤ −1e-36.
        let t0 = if row[0].is_nan() || row[0] <= 0.25 {
            1.0
        } else {
            2.0
        };
        let t1 = if row[1].is_nan() || row[1].abs() <= ZERO_THRESHOLD || row[1] <= -0.5 {
            10.0
        } else {
            20.0
        };
        let c = if row[2].abs() <= ZERO_THRESHOLD {
            0.0
        } else {
            row[2]
        };
        let t2 = if !c.is_nan() && c <= -1e-36 {
            100.0
        } else {
            200.0
        };
        assert_eq!(mine[i], t0 + t1 + t2, "row {row:?}");
    }
    let shap_theirs = booster.predict_contrib(&rows, 3, true).unwrap();
    let shap_mine = ours.shap_contributions_batch(&rows, 3).unwrap();
    for (a, b) in shap_mine.iter().zip(&shap_theirs) {
        assert!((a - b).abs() <= 1e-12, "ours {a}, LightGBM {b}");
    }
}

#[test]
fn corrupt_models_are_refused() {
    let good = serde_json::to_value(two_leaf()).unwrap();
    let corrupt = |path: &str, v: serde_json::Value| {
        let mut m = good.clone();
        *m.pointer_mut(path).unwrap() = v;
        serde_json::from_value::<Gbm>(m).unwrap_err().to_string()
    };
    use serde_json::json;
    assert!(corrupt("/trees/0/left_child/0", json!(0)).contains("not a tree"));
    assert!(corrupt("/trees/0/left_child/0", json!(-2)).contains("not a tree"));
    assert!(corrupt("/trees/0/split_feature/0", json!(2)).contains("feature 2"));
    assert!(corrupt("/trees/0/leaf_value", json!([1.0])).contains("leaf values"));
    assert!(corrupt("/trees/0/internal_cover/0", json!(0.0)).contains("cover"));
    assert!(corrupt("/trees/0/threshold/0", json!(null)).contains("did not match"));
    assert!(corrupt("/trees/0/threshold/0", json!("nan")).contains("threshold `nan`"));
    assert!(corrupt("/sigmoid", json!(-1.0)).contains("sigmoid"));
    assert!(corrupt("/n_features", json!(0)).contains("features"));

    let model = missing_types_model();
    let truncated = &model[..model.len() - 20];
    assert!(matches!(
        Gbm::from_lightgbm_text(truncated),
        Err(GbmError::ModelText { .. })
    ));
    let categorical = model.replacen("decision_type=0", "decision_type=1", 1);
    assert!(matches!(
        Gbm::from_lightgbm_text(&categorical),
        Err(GbmError::Unsupported(_))
    ));
    let multiclass = model.replacen("num_class=1", "num_class=3", 1);
    assert!(matches!(
        Gbm::from_lightgbm_text(&multiclass),
        Err(GbmError::Unsupported(_))
    ));
    let garbled = model.replacen("threshold=0.25", "threshold=0.2x5", 1);
    let err = Gbm::from_lightgbm_text(&garbled).unwrap_err();
    assert!(
        matches!(err, GbmError::ModelNumber { line: 16, .. }),
        "{err}"
    );
    assert!(std::error::Error::source(&err).is_some());
}

#[test]
fn bad_inputs_are_errors_not_panics() {
    let g = two_leaf();
    assert!(matches!(
        g.predict_raw(&[1.0]),
        Err(GbmError::FeatureCount {
            expected: 2,
            got: 1
        })
    ));
    assert!(matches!(
        g.predict_raw_batch(&[1.0, 2.0, 3.0], 2),
        Err(GbmError::RaggedRows { .. })
    ));
    assert!(g.predict_raw_batch(&[], 2).unwrap().is_empty());

    let (x, y) = synthetic(100, 4);
    let p = test_params();
    let bad_params = GbmParams {
        num_leaves: 1,
        ..p.clone()
    };
    assert!(matches!(
        train(&x, 100, N_FEATURES, &y, None, &bad_params),
        Err(GbmError::InvalidParam {
            name: "num_leaves",
            ..
        })
    ));
    let mut y2 = y.clone();
    y2[3] = 2.0;
    assert!(matches!(
        train(&x, 100, N_FEATURES, &y2, None, &p),
        Err(GbmError::InvalidData(_))
    ));
    assert!(matches!(
        train(&x[1..], 100, N_FEATURES, &y, None, &p),
        Err(GbmError::InvalidData(_))
    ));
    assert!(matches!(
        train(&x, 100, N_FEATURES, &y, Some(&[1.0; 99]), &p),
        Err(GbmError::InvalidData(_))
    ));
    let toml_like = serde_json::json!({"num_trees": 10, "num_leavs": 8});
    assert!(serde_json::from_value::<GbmParams>(toml_like).is_err());
}

#[test]
fn order_keys_keep_the_order_of_doubles() {
    let ascending = [
        f64::NEG_INFINITY,
        f64::MIN,
        -1.0,
        -f64::MIN_POSITIVE,
        -5e-324,
        0.0,
        5e-324,
        f64::MIN_POSITIVE,
        1.0,
        f64::MAX,
        f64::INFINITY,
    ];
    let keys: Vec<u64> = ascending.iter().map(|&v| order_key(v)).collect();
    assert!(keys.windows(2).all(|w| w[0] < w[1]), "{keys:x?}");
    // 0 and MAX stay free for the missing values of the row variants.
    assert!(keys[0] > 0 && keys[keys.len() - 1] < u64::MAX);
}

#[test]
fn gbm_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Gbm>();
    assert_send_sync::<Contributions>();
    assert_send_sync::<GbmError>();
}
