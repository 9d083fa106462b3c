//! How far the training labels agree with a generated history's truth: precision and recall of
//! the labels over all labelled members and by where each label came from, and of the reviewed
//! labels table on its own. Measurement only: nothing here changes a label, and nothing here can
//! run without the truth (generated data).

use serde::{Deserialize, Serialize};

use super::{LabelRule, LabelSource};
use crate::data::history::{History, MemberIdx};
use crate::features::member::MemberIndex;

/// Labels against the truth on one set of members.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Agreement {
    pub members: usize,
    /// Members the labels call wool, members the truth calls wool, and both.
    pub labelled_wool: usize,
    pub truly_wool: usize,
    pub both_wool: usize,
    /// `both / labelled`, `None` where nothing is labelled wool.
    pub precision: Option<f64>,
    /// `both / truly`, `None` where nobody is truly wool.
    pub recall: Option<f64>,
}

impl Agreement {
    /// `pairs`: (label, truth) per member.
    pub fn of(pairs: impl IntoIterator<Item = (u8, bool)>) -> Self {
        let mut a = Agreement::default();
        for (label, truth) in pairs {
            let l = label == 1;
            a.members += 1;
            a.labelled_wool += usize::from(l);
            a.truly_wool += usize::from(truth);
            a.both_wool += usize::from(l && truth);
        }
        let share = |n: usize, d: usize| (d > 0).then(|| n as f64 / d as f64);
        a.precision = share(a.both_wool, a.labelled_wool);
        a.recall = share(a.both_wool, a.truly_wool);
        a
    }
}

/// The labels a model was trained on, against the truth.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LabelQuality {
    /// Every labelled member, whatever the source.
    pub all: Agreement,
    /// By source: the reviewed labels used, the outcome rule's own, the rule's spread through
    /// linked accounts.
    pub reviewed: Agreement,
    pub rule: Agreement,
    pub linked: Agreement,
    /// The reviewed labels table on its own (each member's latest review), used or not.
    pub reviews_table: Agreement,
}

impl LabelQuality {
    /// The labels `rule` gives every member of `h` (as training assembles them, without
    /// features), against `truth`.
    pub fn of_rule(h: &History, rule: &LabelRule, truth: &[bool]) -> Option<Self> {
        let ix = MemberIndex::build(h);
        let data_end = h.time_span().map_or(0, |(_, hi)| hi);
        let (mut members, mut labels, mut sources) = (Vec::new(), Vec::new(), Vec::new());
        for (m, (label, source)) in rule.labels(h, &ix, data_end).into_iter().enumerate() {
            if let Some(l) = label {
                members.push(m as MemberIdx);
                labels.push(l);
                sources.push(source);
            }
        }
        Self::measure(h, &members, &labels, &sources, truth)
    }

    /// `members`, `labels` and `sources` row by row (a training set); `truth` one flag per
    /// member of `h`. `None` when the truth does not cover a member.
    pub fn measure(
        h: &History,
        members: &[MemberIdx],
        labels: &[u8],
        sources: &[LabelSource],
        truth: &[bool],
    ) -> Option<Self> {
        let rows: Vec<(u8, bool, LabelSource)> = members
            .iter()
            .zip(labels)
            .zip(sources)
            .map(|((&m, &l), &s)| truth.get(m as usize).map(|&t| (l, t, s)))
            .collect::<Option<_>>()?;
        let of = |source: Option<LabelSource>| {
            Agreement::of(
                rows.iter()
                    .filter(|r| source.is_none_or(|s| r.2 == s))
                    .map(|r| (r.0, r.1)),
            )
        };
        // The latest review of each member (reviews in time order, later wins).
        let mut order: Vec<usize> = (0..h.labels.len()).collect();
        order.sort_by_key(|&r| (h.labels.at[r], r));
        let mut latest: std::collections::BTreeMap<MemberIdx, u8> = Default::default();
        for r in order {
            latest.insert(h.labels.member[r], h.labels.label[r]);
        }
        let table: Vec<(u8, bool)> = latest
            .into_iter()
            .map(|(m, l)| truth.get(m as usize).map(|&t| (l, t)))
            .collect::<Option<_>>()?;
        Some(LabelQuality {
            all: of(None),
            reviewed: of(Some(LabelSource::Reviewed)),
            rule: of(Some(LabelSource::Rule)),
            linked: of(Some(LabelSource::Linked)),
            reviews_table: Agreement::of(table),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::history::NONE;

    #[test]
    fn agreement_by_hand() {
        // Labels 1 1 1 0 0 0 against truth 1 0 1 1 0 0: two of three labelled wool are wool
        // (precision 2/3), two of three true wool are labelled (recall 2/3).
        let labels = [1u8, 1, 1, 0, 0, 0];
        let truth = [true, false, true, true, false, false];
        let a = Agreement::of(labels.iter().copied().zip(truth));
        assert_eq!(
            (a.members, a.labelled_wool, a.truly_wool, a.both_wool),
            (6, 3, 3, 2)
        );
        assert_eq!(a.precision, Some(2.0 / 3.0));
        assert_eq!(a.recall, Some(2.0 / 3.0));
        let none = Agreement::of([(0u8, false)]);
        assert_eq!((none.precision, none.recall), (None, None));
    }

    #[test]
    fn by_source_and_the_reviews_table() {
        let mut h = History::default();
        // Member 4 is reviewed twice: genuine, then wool (the later review counts); member 5
        // is reviewed wool but is not in the training rows.
        for (m, l, at) in [(0u32, 1u8, 5), (4, 0, 1), (4, 1, 9), (5, 1, 3)] {
            h.labels.member.push(m);
            h.labels.label.push(l);
            h.labels.at.push(at);
            h.labels.source.push(NONE);
        }
        let members = [0u32, 1, 2, 3, 4];
        let labels = [1u8, 1, 0, 1, 1];
        let sources = [
            LabelSource::Reviewed,
            LabelSource::Rule,
            LabelSource::Rule,
            LabelSource::Linked,
            LabelSource::Reviewed,
        ];
        let truth = [true, false, true, true, false, false];
        let q = LabelQuality::measure(&h, &members, &labels, &sources, &truth)
            .unwrap_or_else(|| panic!("the truth covers every member"));
        // All: labelled wool 0, 1, 3, 4; truly wool 0, 2, 3; both 0, 3.
        assert_eq!(q.all.precision, Some(0.5));
        assert_eq!(q.all.recall, Some(2.0 / 3.0));
        // Reviewed rows 0 (1, wool) and 4 (1, genuine).
        assert_eq!(
            (q.reviewed.precision, q.reviewed.recall),
            (Some(0.5), Some(1.0))
        );
        // Rule rows 1 (1, genuine) and 2 (0, wool): nothing right.
        assert_eq!((q.rule.precision, q.rule.recall), (Some(0.0), Some(0.0)));
        assert_eq!(
            (q.linked.precision, q.linked.recall),
            (Some(1.0), Some(1.0))
        );
        // Table: 0 → 1 (wool), 4 → 1 (genuine), 5 → 1 (genuine).
        assert_eq!(q.reviews_table.members, 3);
        assert_eq!(q.reviews_table.precision, Some(1.0 / 3.0));
        assert_eq!(q.reviews_table.recall, Some(1.0));
        // A truth too short for the rows measures nothing.
        assert!(LabelQuality::measure(&h, &members, &labels, &sources, &truth[..3]).is_none());
    }
}
