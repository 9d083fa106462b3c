//! Drift over live traffic: every sign-up candidate's features and score counted under the
//! sign-up model's training bins (overall, by channel, by campaign), compared on request with
//! the same PSI `woolguard drift` computes over a history.

use std::collections::HashMap;

use crate::model::artefact::Artefact;
use crate::model::drift::{Drift, Slices, Tally};

/// The most channels and campaigns counted apart (later ones count overall only).
const MAX_SLICES: usize = 500;

/// Counts since the sign-up model now serving was swapped in.
#[derive(Debug, Default)]
pub struct LiveDrift {
    version: String,
    overall: Tally,
    slices: HashMap<(&'static str, String), Tally>,
}

impl LiveDrift {
    /// Counts one candidate scored by `a` (nothing for a model without a training profile).
    pub fn add(
        &mut self,
        a: &Artefact,
        row: &[f64],
        channel: Option<&str>,
        campaign: Option<&str>,
        probability: f64,
    ) {
        let Some(profile) = &a.profile else {
            return;
        };
        if self.version != a.version {
            *self = LiveDrift {
                version: a.version.clone(),
                overall: Tally::new(profile),
                slices: HashMap::new(),
            };
        }
        self.overall.add(profile, row, probability);
        for (by, key) in [("channel", channel), ("campaign", campaign)] {
            let key = key.filter(|k| !k.is_empty()).unwrap_or("(none)");
            let slot = (by, key.to_string());
            if !self.slices.contains_key(&slot) && self.slices.len() >= MAX_SLICES {
                continue;
            }
            self.slices
                .entry(slot)
                .or_insert_with(|| Tally::new(profile))
                .add(profile, row, probability);
        }
    }

    /// The traffic counted so far against `a`'s training population; `None` when `a` keeps no
    /// profile or nothing was counted under it yet.
    pub fn report(&self, a: &Artefact, threshold: f64) -> Option<Drift> {
        let profile = a.profile.as_ref()?;
        if self.version != a.version || self.overall.rows == 0 {
            return None;
        }
        let mut keys: Vec<&(&'static str, String)> = self.slices.keys().collect();
        keys.sort();
        let slices: Slices<'_> = keys
            .into_iter()
            .filter_map(|k| Some((k.0, k.1.clone(), self.slices.get(k)?)))
            .collect();
        Some(profile.drift(&a.features, &self.overall, slices, threshold))
    }
}
