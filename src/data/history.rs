//! The typed, columnar in-memory form of a history that the feature code works on.
//!
//! Strings are interned once (`Sym`), times are UTC seconds since the epoch, members are addressed
//! by their position in `Members` (`MemberIdx`). Events keep the order they were read in; callers
//! that need them by member and time use `History::by_member`.

use std::hash::BuildHasher;

use std::sync::OnceLock;

use hashbrown::HashTable;
use rustc_hash::FxBuildHasher;

use super::column::{Column, Text};
use super::schema::{CouponEvent, CouponKind, PointsReason};

/// An interned string.
pub type Sym = u32;
/// Position of a member in `Members`.
pub type MemberIdx = u32;
/// "No value" for an optional `Sym` column.
pub const NONE: Sym = u32::MAX;

/// Maps strings to dense symbols and back. Every string is stored once, in one growing buffer,
/// so interning a new id costs no allocation of its own (histories carry millions of unique
/// coupon and order ids).
///
/// An interner read in place from a start image keeps that text as it is (its `fixed` part,
/// symbols `0..fixed_ends.len()`) and grows beside it: a new symbol's text goes to a buffer of
/// its own, so the first new key does not copy every key's text onto the heap.
#[derive(Debug, Default, Clone)]
pub struct Interner {
    /// Each symbol with its hash: growing the table re-buckets from the stored hash and never
    /// reads the strings back (with millions of ids that read is a cache miss per entry). Built
    /// when first needed: an interner read from a start image names symbols without it.
    table: OnceLock<HashTable<(Sym, u32)>>,
    fixed_buf: Text,
    /// End of each fixed symbol's text in `fixed_buf`.
    fixed_ends: Column<usize>,
    buf: String,
    /// End of each later symbol's text in `buf`.
    ends: Vec<usize>,
}

/// One part of an interner: a buffer and the end of each of its texts in it.
type Part<'a> = (&'a str, &'a [usize]);

/// Text `i` of one part.
fn text_of<'a>(buf: &'a str, ends: &[usize], i: usize) -> &'a str {
    match ends.get(i) {
        Some(&end) => {
            let start = if i == 0 { 0 } else { ends[i - 1] };
            buf.get(start..end).unwrap_or("")
        }
        None => "",
    }
}

/// The text of `sym` over both parts.
fn text_in<'a>(fixed: Part<'a>, more: Part<'a>, sym: Sym) -> &'a str {
    let (i, n) = (sym as usize, fixed.1.len());
    if i < n {
        text_of(fixed.0, fixed.1, i)
    } else {
        text_of(more.0, more.1, i - n)
    }
}

/// A 32-bit hash of `s`, kept beside its symbol.
fn hash_of(s: &str) -> u32 {
    let h = FxBuildHasher.hash_one(s);
    (h ^ (h >> 32)) as u32
}

/// The table's hash for a stored 32-bit one: the same bits on both halves, so that hashbrown's
/// bucket (low bits) and tag (top bits) both come from it.
fn wide(h: u32) -> u64 {
    (u64::from(h) << 32) | u64::from(h)
}

/// The table of every symbol of both parts.
fn index(fixed: Part<'_>, more: Part<'_>) -> HashTable<(Sym, u32)> {
    let n = fixed.1.len() + more.1.len();
    let mut table = HashTable::with_capacity(n);
    for sym in 0..n as Sym {
        let hash = hash_of(text_in(fixed, more, sym));
        table.insert_unique(wide(hash), (sym, hash), |&(_, h)| wide(h));
    }
    table
}

impl Interner {
    /// Bytes this interner holds on the heap (its table, text and offsets; none for text and
    /// offsets read in place from a start image).
    pub fn heap_bytes(&self) -> usize {
        self.table
            .get()
            .map_or(0, |t| t.capacity() * std::mem::size_of::<(Sym, u32)>())
            + self.fixed_buf.heap_bytes()
            + self.fixed_ends.heap_bytes()
            + self.buf.capacity()
            + self.ends.capacity() * std::mem::size_of::<usize>()
    }

    fn fixed(&self) -> Part<'_> {
        (&self.fixed_buf, &self.fixed_ends)
    }

    fn more(&self) -> Part<'_> {
        (&self.buf, &self.ends)
    }

    fn table(&self) -> &HashTable<(Sym, u32)> {
        self.table.get_or_init(|| index(self.fixed(), self.more()))
    }

    /// Builds the lookup table now rather than at the first lookup.
    pub fn warm(&self) {
        self.table();
    }

    /// Room for `n` more symbols of `bytes` more text without growing.
    pub fn reserve(&mut self, n: usize, bytes: usize) {
        let (table, _, buf, ends) = self.split_mut();
        table.reserve(n, |&(_, h)| wide(h));
        ends.reserve(n);
        buf.reserve(bytes);
    }

    /// The table (built first where it was not yet), the fixed part, and the growing text and
    /// ends, borrowed apart.
    fn split_mut(
        &mut self,
    ) -> (
        &mut HashTable<(Sym, u32)>,
        Part<'_>,
        &mut String,
        &mut Vec<usize>,
    ) {
        if self.table.get().is_none() {
            self.table = OnceLock::from(index(self.fixed(), self.more()));
        }
        let Interner {
            table,
            fixed_buf,
            fixed_ends,
            buf,
            ends,
        } = self;
        let Some(table) = table.get_mut() else {
            unreachable!("built above")
        };
        (table, (&**fixed_buf, &**fixed_ends), buf, ends)
    }

    pub fn intern(&mut self, s: &str) -> Sym {
        let hash = hash_of(s);
        let (table, fixed, buf, ends) = self.split_mut();
        let entry = table.entry(
            wide(hash),
            |&(k, h)| h == hash && text_in(fixed, (buf, ends), k) == s,
            |&(_, h)| wide(h),
        );
        match entry {
            hashbrown::hash_table::Entry::Occupied(e) => e.get().0,
            hashbrown::hash_table::Entry::Vacant(e) => {
                let sym = (fixed.1.len() + ends.len()) as Sym;
                buf.push_str(s);
                ends.push(buf.len());
                e.insert((sym, hash));
                sym
            }
        }
    }

    /// Interns `s` only if it is new; returns `None` when it was already there.
    pub fn insert_new(&mut self, s: &str) -> Option<Sym> {
        if self.get(s).is_some() {
            return None;
        }
        Some(self.intern(s))
    }

    pub fn get(&self, s: &str) -> Option<Sym> {
        let hash = hash_of(s);
        let (fixed, more) = (self.fixed(), self.more());
        self.table()
            .find(wide(hash), |&(k, h)| {
                h == hash && text_in(fixed, more, k) == s
            })
            .map(|&(k, _)| k)
    }

    /// The string behind a symbol; `""` for `NONE` or a symbol from another interner.
    pub fn name(&self, sym: Sym) -> &str {
        text_in(self.fixed(), self.more(), sym)
    }

    pub fn opt_name(&self, sym: Sym) -> Option<&str> {
        (sym != NONE).then(|| self.name(sym))
    }

    pub fn len(&self) -> usize {
        self.fixed_ends.len() + self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Its two parts, each a buffer and the ends of its texts in it: the text of symbol `i` is
    /// in the first where `i` is below its length, else in the second.
    pub(crate) fn parts(&self) -> [Part<'_>; 2] {
        [self.fixed(), self.more()]
    }

    /// The interner of [`Interner::parts`]: refused where an end is out of order, past the text
    /// or inside a character. Its lookup table is built when first needed.
    pub(crate) fn from_parts(buf: Text, ends: Column<usize>) -> Result<Self, String> {
        let mut start = 0;
        for (i, &end) in ends.iter().enumerate() {
            if end < start || end > buf.len() || !buf.is_char_boundary(end) {
                return Err(format!("symbol {i} ends at {end}, outside its text"));
            }
            start = end;
        }
        Ok(Interner {
            table: OnceLock::new(),
            fixed_buf: buf,
            fixed_ends: ends,
            buf: String::new(),
            ends: Vec::new(),
        })
    }
}

#[derive(Debug, Default, Clone)]
pub struct Members {
    /// Member ids; member `i` has symbol `i` here.
    pub ids: Interner,
    pub joined_at: Column<i64>,
    pub channel: Column<Sym>,
    pub campaign: Column<Sym>,
    pub inviter: Column<Sym>,
    pub device: Column<Sym>,
    pub ip: Column<Sym>,
    pub phone_prefix: Column<Sym>,
    pub phone_hash: Column<Sym>,
    pub region: Column<Sym>,
    /// Arrival order among sign-ups with equal `joined_at`, from the optional `seq` column:
    /// empty when the table has none (the row order is the arrival order), else one per member.
    pub seq: Column<i64>,
}

impl Members {
    pub fn len(&self) -> usize {
        self.joined_at.len()
    }

    pub fn is_empty(&self) -> bool {
        self.joined_at.is_empty()
    }

    pub fn index_of(&self, member_id: &str) -> Option<MemberIdx> {
        self.ids.get(member_id)
    }

    pub fn id(&self, idx: MemberIdx) -> &str {
        self.ids.name(idx)
    }
}

#[derive(Debug, Default, Clone)]
pub struct Coupons {
    /// Coupon ids (orders' `coupon` symbols are from here too). Kept apart from the shared key
    /// interner: there are millions of them and nothing else shares their names.
    pub ids: Interner,
    pub member: Column<MemberIdx>,
    pub coupon: Column<Sym>,
    pub campaign: Column<Sym>,
    pub event: Vec<CouponEvent>,
    pub at: Column<i64>,
    pub face_value: Column<f64>,
    pub threshold: Column<f64>,
    pub kind: Vec<CouponKind>,
}

impl Coupons {
    pub fn len(&self) -> usize {
        self.member.len()
    }

    pub fn is_empty(&self) -> bool {
        self.member.is_empty()
    }
}

#[derive(Debug, Default, Clone)]
pub struct Orders {
    /// Order ids; every accepted order has its own.
    pub ids: Interner,
    pub order: Column<Sym>,
    pub member: Column<MemberIdx>,
    pub at: Column<i64>,
    pub amount: Column<f64>,
    pub list_amount: Column<f64>,
    pub discount: Column<f64>,
    pub coupon: Column<Sym>,
    pub channel: Column<Sym>,
    pub refunded: Vec<bool>,
}

impl Orders {
    pub fn len(&self) -> usize {
        self.member.len()
    }

    pub fn is_empty(&self) -> bool {
        self.member.is_empty()
    }
}

#[derive(Debug, Default, Clone)]
pub struct Points {
    pub member: Column<MemberIdx>,
    pub at: Column<i64>,
    pub delta: Column<i64>,
    pub reason: Vec<PointsReason>,
}

impl Points {
    pub fn len(&self) -> usize {
        self.member.len()
    }

    pub fn is_empty(&self) -> bool {
        self.member.is_empty()
    }
}

#[derive(Debug, Default, Clone)]
pub struct Labels {
    pub member: Vec<MemberIdx>,
    pub label: Vec<u8>,
    pub at: Vec<i64>,
    pub source: Vec<Sym>,
}

impl Labels {
    pub fn len(&self) -> usize {
        self.member.len()
    }

    pub fn is_empty(&self) -> bool {
        self.member.is_empty()
    }
}

/// A whole history: the five contract tables, with one interner for the text keys members share
/// (channels, campaigns, inviters, devices, IPs, phone segments and hashes, label sources);
/// member, coupon and order ids have interners of their own.
#[derive(Debug, Default, Clone)]
pub struct History {
    pub keys: Interner,
    pub members: Members,
    pub coupons: Coupons,
    pub orders: Orders,
    pub points: Points,
    pub labels: Labels,
}

/// Row positions of each member's events, sorted by time (CSR layout: the events of member `m`
/// are `rows[offsets[m]..offsets[m + 1]]`).
#[derive(Debug, Clone, Default)]
pub struct ByMember {
    pub offsets: Column<u32>,
    pub rows: Column<u32>,
}

impl ByMember {
    /// Groups `member[i]` by member and sorts each group by `at[i]` (ties keep file order).
    pub fn build(n_members: usize, member: &[MemberIdx], at: &[i64]) -> Self {
        let mut offsets = vec![0u32; n_members + 1];
        for &m in member {
            offsets[m as usize + 1] += 1;
        }
        for i in 0..n_members {
            offsets[i + 1] += offsets[i];
        }
        let mut next = offsets.clone();
        let mut rows = vec![0u32; member.len()];
        for (row, &m) in member.iter().enumerate() {
            let slot = &mut next[m as usize];
            rows[*slot as usize] = row as u32;
            *slot += 1;
        }
        for m in 0..n_members {
            let span = &mut rows[offsets[m] as usize..offsets[m + 1] as usize];
            span.sort_by_key(|&r| at[r as usize]);
        }
        ByMember {
            offsets: offsets.into(),
            rows: rows.into(),
        }
    }

    pub fn of(&self, m: MemberIdx) -> &[u32] {
        let m = m as usize;
        match (self.offsets.get(m), self.offsets.get(m + 1)) {
            (Some(&a), Some(&b)) => &self.rows[a as usize..b as usize],
            _ => &[],
        }
    }
}

impl History {
    /// Lets go of the text of coupon and order ids, for a batch that never names a coupon or an
    /// order (verdicts, audiences): at ten million members that text is gigabytes. The id
    /// columns keep their symbols, so two rows of one coupon still compare equal; only
    /// `coupons.ids` and `orders.ids` are emptied, and must not be read afterwards.
    pub fn forget_event_ids(&mut self) {
        self.coupons.ids = Interner::default();
        self.orders.ids = Interner::default();
    }

    /// History rows: coupon, order and points events (the unit the performance goals use).
    pub fn history_rows(&self) -> usize {
        self.coupons.len() + self.orders.len() + self.points.len()
    }

    /// Earliest and latest time seen in any table, if there is any row.
    pub fn time_span(&self) -> Option<(i64, i64)> {
        let all = self
            .members
            .joined_at
            .iter()
            .chain(&self.coupons.at)
            .chain(&self.orders.at)
            .chain(&self.points.at);
        all.fold(None, |acc, &t| match acc {
            None => Some((t, t)),
            Some((lo, hi)) => Some((lo.min(t), hi.max(t))),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interner_is_dense_and_round_trips() {
        let mut i = Interner::default();
        assert_eq!(i.intern("a"), 0);
        assert_eq!(i.intern("b"), 1);
        assert_eq!(i.intern("a"), 0);
        assert_eq!(i.insert_new("a"), None);
        assert_eq!(i.name(1), "b");
        assert_eq!(i.opt_name(NONE), None);
        assert_eq!(i.len(), 2);
    }

    #[test]
    fn an_interner_read_back_grows_beside_its_fixed_part() {
        let mut a = Interner::default();
        for s in ["x", "yy", "zzz"] {
            a.intern(s);
        }
        let [_, (buf, ends)] = a.parts();
        let fixed = Text::Owned(buf.to_string());
        let mut b = Interner::from_parts(fixed, ends.to_vec().into()).unwrap();
        assert_eq!(b.get("yy"), Some(1));
        assert_eq!(b.intern("new"), 3);
        assert_eq!(b.intern("x"), 0);
        assert_eq!((b.name(2), b.name(3), b.len()), ("zzz", "new", 4));
        assert_eq!(b.get("new"), Some(3));
        // The new text went to a part of its own.
        assert_eq!(b.parts()[0].0, "xyyzzz");
        assert_eq!(b.parts()[1], ("new", &[3usize][..]));
        // An end outside the text or inside a character is refused.
        let bad = Interner::from_parts(Text::Owned("é".into()), vec![1usize].into());
        assert!(bad.is_err());
    }

    #[test]
    fn by_member_groups_and_sorts_by_time() {
        // rows: 0:(m1,t5) 1:(m0,t9) 2:(m1,t1) 3:(m0,t2) 4:(m1,t5)
        let idx = ByMember::build(3, &[1, 0, 1, 0, 1], &[5, 9, 1, 2, 5]);
        assert_eq!(idx.of(0), &[3, 1]);
        assert_eq!(idx.of(1), &[2, 0, 4]);
        assert_eq!(idx.of(2), &[] as &[u32]);
        assert_eq!(idx.of(7), &[] as &[u32]);
    }
}
