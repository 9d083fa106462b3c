//! The state's record of each key (a device, a phone hash, an IP range, an inviter, a campaign):
//! how many accounts it holds, its recent sign-ups, its first account and what its accounts did.
//!
//! Records sit in one dense vector and the hash table maps a key to its slot, so the table's
//! spare room (a hash table keeps up to half of it empty) costs a slot number, not a record.

use std::collections::HashMap;

use super::window::Window;
use super::{Behaviour, HOUR};
use crate::data::history::Sym;

#[derive(Debug, Clone, Default)]
pub(super) struct KeyStats {
    pub(super) accounts: u32,
    /// Sign-up times within the longest window, oldest first.
    pub(super) recent: Window,
    /// The first account's union-find node: later accounts merge into its group.
    pub(super) first_node: u32,
    pub(super) first_at: i64,
    /// What the key's accounts did since they joined.
    pub(super) deeds: Behaviour,
}

impl KeyStats {
    pub(super) fn count_since(&self, since: i64) -> u32 {
        self.recent.count_since(since)
    }

    pub(super) fn add(&mut self, at: i64, node: u32) {
        if self.accounts == 0 {
            self.first_node = node;
            self.first_at = at;
        }
        self.accounts += 1;
        self.recent.push(at, at.saturating_sub(HOUR));
    }
}

/// Records a page holds: a page is allocated whole once, so a table of millions of keys grows
/// without copying its records into a vector twice the size (and without holding both).
const PAGE_BITS: u32 = 16;
const PAGE: usize = 1 << PAGE_BITS;

/// Every key of one kind and its record.
#[derive(Debug, Clone, Default)]
pub(super) struct KeyTable {
    pub(super) slot: HashMap<Sym, u32>,
    /// Records in slot order, `PAGE` to a page.
    pub(super) pages: Vec<Vec<KeyStats>>,
}

impl KeyTable {
    /// Room for `n` keys in the table of slots.
    pub(super) fn reserve(&mut self, n: usize) {
        self.slot.reserve(n);
    }

    fn at(&self, i: u32) -> Option<&KeyStats> {
        let page = self.pages.get((i >> PAGE_BITS) as usize)?;
        page.get(i as usize % PAGE)
    }

    pub(super) fn get(&self, key: &Sym) -> Option<&KeyStats> {
        self.at(*self.slot.get(key)?)
    }

    pub(super) fn get_mut(&mut self, key: &Sym) -> Option<&mut KeyStats> {
        let &i = self.slot.get(key)?;
        let page = self.pages.get_mut((i >> PAGE_BITS) as usize)?;
        page.get_mut(i as usize % PAGE)
    }

    /// The record of `key`, a new empty one the first time.
    pub(super) fn entry(&mut self, key: Sym) -> &mut KeyStats {
        let next = self.slot.len() as u32;
        let i = *self.slot.entry(key).or_insert(next);
        if i == next {
            if self.pages.last().is_none_or(|p| p.len() == PAGE) {
                // The first page grows as a vector does, so a small table (a new tenant's)
                // stays small; later pages come whole.
                let room = if self.pages.is_empty() { 0 } else { PAGE };
                self.pages.push(Vec::with_capacity(room));
            }
            if let Some(page) = self.pages.last_mut() {
                page.push(KeyStats::default());
            }
        }
        let page = (i >> PAGE_BITS) as usize;
        &mut self.pages[page][i as usize % PAGE]
    }

    /// Bytes held on the heap (the table at one control byte a slot, the records, the
    /// windows that left their place).
    pub(super) fn heap_bytes(&self) -> usize {
        let records = self.pages.iter().flatten();
        self.slot.capacity() * (std::mem::size_of::<(Sym, u32)>() + 1)
            + self.pages.iter().map(Vec::capacity).sum::<usize>() * std::mem::size_of::<KeyStats>()
            + records.map(|k| k.recent.heap_bytes()).sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Keys across several pages keep their own records.
    #[test]
    fn records_stay_with_their_keys_across_pages() {
        let mut t = KeyTable::default();
        let n = PAGE as u32 * 2 + 5;
        for k in 0..n {
            let s = t.entry(k * 3);
            s.add(i64::from(k), k);
        }
        t.entry(3).add(1_000, 7);
        assert_eq!(t.pages.len(), 3);
        assert_eq!(t.get(&3).map(|s| (s.accounts, s.first_node)), Some((2, 1)));
        let last = (n - 1) * 3;
        let s = t.get(&last).map(|s| (s.accounts, s.first_node, s.first_at));
        assert_eq!(s, Some((1, n - 1, i64::from(n - 1))));
        assert!(t.get(&1).is_none());
        if let Some(s) = t.get_mut(&last) {
            s.accounts = 9;
        }
        assert_eq!(t.get(&last).map(|s| s.accounts), Some(9));
    }
}
