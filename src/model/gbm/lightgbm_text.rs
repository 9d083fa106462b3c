//! Import from LightGBM's model text (`save_model` / `model_to_string`).

use std::collections::HashMap;

use super::tree::{MissingType, Tree};
use super::{Gbm, GbmError, NumberError};

impl Gbm {
    /// Exports a trained LightGBM booster into our form.
    #[cfg(feature = "gbm")]
    pub fn from_lightgbm(booster: &lightgbm3::Booster) -> Result<Self, GbmError> {
        let text = booster.save_string().map_err(|e| GbmError::LightGbm {
            context: "saving the model to text",
            source: e,
        })?;
        Self::from_lightgbm_text(&text)
    }

    /// Parses LightGBM's model text (`save_model` / `model_to_string`; `lightgbm3` exposes this,
    /// not the JSON `dump_model`). Its doubles are printed with 17 significant digits, so
    /// thresholds and leaf values come back bit for bit. Only numerical splits of a binary
    /// `gbdt` model are supported: anything else is refused, never approximated.
    pub fn from_lightgbm_text(text: &str) -> Result<Self, GbmError> {
        let mut header = KeyValues::new();
        let mut trees = Vec::new();
        let mut block: Option<(usize, KeyValues)> = None;
        let mut ended = false;
        for (line, l) in text.lines().enumerate().map(|(i, l)| (i + 1, l.trim_end())) {
            if l == "end of trees" {
                ended = true;
                break;
            }
            if let Some(rest) = l.strip_prefix("Tree=") {
                if let Some((at, kv)) = block.take() {
                    trees.push(parse_tree(at, &kv)?);
                }
                let index: usize = parse_num(line, "Tree", rest)?;
                if index != trees.len() {
                    return Err(GbmError::ModelText {
                        line,
                        reason: format!("tree {index} where tree {} was expected", trees.len()),
                    });
                }
                block = Some((line, HashMap::new()));
                continue;
            }
            let Some((k, v)) = l.split_once('=') else {
                continue; // blank lines and the leading "tree" tag
            };
            match &mut block {
                Some((_, kv)) => kv.insert(k, (line, v)),
                None => header.insert(k, (line, v)),
            };
        }
        if let Some((at, kv)) = block.take() {
            trees.push(parse_tree(at, &kv)?);
        }
        if !ended {
            return Err(GbmError::ModelText {
                line: text.lines().count(),
                reason: "no `end of trees`: truncated model".to_string(),
            });
        }

        let get = |k: &str| header.get(k).copied();
        for (k, expected) in [("num_class", "1"), ("num_tree_per_iteration", "1")] {
            if let Some((_, v)) = get(k) {
                if v != expected {
                    return Err(GbmError::Unsupported(format!("{k}={v}")));
                }
            }
        }
        if get("average_output").is_some() {
            return Err(GbmError::Unsupported(
                "averaged output (random forest boosting)".to_string(),
            ));
        }
        let (oline, objective) = get("objective").ok_or(GbmError::ModelText {
            line: 1,
            reason: "no objective in the header".to_string(),
        })?;
        let mut parts = objective.split_whitespace();
        if parts.next() != Some("binary") {
            return Err(GbmError::Unsupported(format!("objective `{objective}`")));
        }
        let mut sigmoid = 1.0;
        for p in parts {
            if let Some(s) = p.strip_prefix("sigmoid:") {
                sigmoid = parse_num(oline, "sigmoid", s)?;
            }
        }
        let (fline, max_idx) = get("max_feature_idx").ok_or(GbmError::ModelText {
            line: 1,
            reason: "no max_feature_idx in the header".to_string(),
        })?;
        let max_idx: usize = parse_num(fline, "max_feature_idx", max_idx)?;
        // LightGBM folds the initial score (boost_from_average) into the first tree's leaves.
        Self::new(max_idx + 1, 0.0, sigmoid, trees)
    }
}

/// `key=value` lines of a header or tree block: key → (line number, value).
type KeyValues<'a> = HashMap<&'a str, (usize, &'a str)>;

fn parse_num<T>(line: usize, key: &str, s: &str) -> Result<T, GbmError>
where
    T: std::str::FromStr,
    T::Err: Into<NumberError>,
{
    s.trim().parse::<T>().map_err(|e| GbmError::ModelNumber {
        line,
        key: key.to_string(),
        source: e.into(),
    })
}

fn parse_tree(at: usize, kv: &KeyValues) -> Result<Tree, GbmError> {
    let field = |k: &'static str| {
        kv.get(k).copied().ok_or_else(|| GbmError::ModelText {
            line: at,
            reason: format!("tree has no `{k}`"),
        })
    };
    fn list<T>(line: usize, key: &str, v: &str) -> Result<Vec<T>, GbmError>
    where
        T: std::str::FromStr,
        T::Err: Into<NumberError>,
    {
        v.split_whitespace()
            .map(|s| parse_num(line, key, s))
            .collect()
    }
    let (line, v) = field("num_leaves")?;
    let num_leaves: usize = parse_num(line, "num_leaves", v)?;
    if let Some(&(line, v)) = kv.get("num_cat") {
        if parse_num::<usize>(line, "num_cat", v)? != 0 {
            return Err(GbmError::Unsupported("categorical splits".to_string()));
        }
    }
    if let Some(&(line, v)) = kv.get("is_linear") {
        if parse_num::<u8>(line, "is_linear", v)? != 0 {
            return Err(GbmError::Unsupported("linear trees".to_string()));
        }
    }
    let (line, v) = field("leaf_value")?;
    let leaf_value: Vec<f64> = list(line, "leaf_value", v)?;
    if num_leaves <= 1 {
        // A stump (no split gained anything): its cover is never used, as nothing is split.
        return Ok(Tree {
            split_feature: vec![],
            threshold: vec![],
            default_left: vec![],
            missing_type: vec![],
            left_child: vec![],
            right_child: vec![],
            internal_cover: vec![],
            leaf_cover: vec![1.0; leaf_value.len()],
            leaf_value,
        });
    }
    let (line, v) = field("split_feature")?;
    let split_feature: Vec<u32> = list(line, "split_feature", v)?;
    let (line, v) = field("threshold")?;
    let threshold: Vec<f64> = list(line, "threshold", v)?;
    let (dline, v) = field("decision_type")?;
    let decision_type: Vec<i32> = list(dline, "decision_type", v)?;
    let (line, v) = field("left_child")?;
    let left_child: Vec<i32> = list(line, "left_child", v)?;
    let (line, v) = field("right_child")?;
    let right_child: Vec<i32> = list(line, "right_child", v)?;
    let (line, v) = field("leaf_count")?;
    let leaf_cover: Vec<f64> = list(line, "leaf_count", v)?;
    let (line, v) = field("internal_count")?;
    let internal_cover: Vec<f64> = list(line, "internal_count", v)?;

    // decision_type bits (LightGBM tree.h): 1 categorical, 2 default_left, bits 2-3 missing type.
    let mut default_left = Vec::with_capacity(decision_type.len());
    let mut missing_type = Vec::with_capacity(decision_type.len());
    for &d in &decision_type {
        if d & 1 != 0 {
            return Err(GbmError::Unsupported("categorical splits".to_string()));
        }
        default_left.push(d & 2 != 0);
        missing_type.push(match (d >> 2) & 3 {
            0 => MissingType::None,
            1 => MissingType::Zero,
            2 => MissingType::Nan,
            other => {
                return Err(GbmError::ModelText {
                    line: dline,
                    reason: format!("unknown missing type {other}"),
                })
            }
        });
    }
    if leaf_value.len() != num_leaves {
        return Err(GbmError::ModelText {
            line: at,
            reason: format!(
                "num_leaves={num_leaves} but {} leaf values",
                leaf_value.len()
            ),
        });
    }
    Ok(Tree {
        split_feature,
        threshold,
        default_left,
        missing_type,
        left_child,
        right_child,
        internal_cover,
        leaf_value,
        leaf_cover,
    })
}
