//! The data contract of DESIGN.md §3: which tables exist, which columns each must have, of which
//! logical type, and the closed vocabularies (coupon events and kinds, points reasons).
//!
//! Readers, writers, the importer and the generator all take their column lists from here, so the
//! contract is written down exactly once.

use std::fmt;
use std::str::FromStr;

use arrow::datatypes::{DataType, SchemaRef, TimeUnit};
use serde::{Deserialize, Serialize};

/// One table of the contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Table {
    Members,
    Coupons,
    Orders,
    Points,
    Labels,
}

impl Table {
    pub const ALL: [Table; 5] = [
        Table::Members,
        Table::Coupons,
        Table::Orders,
        Table::Points,
        Table::Labels,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Table::Members => "members",
            Table::Coupons => "coupons",
            Table::Orders => "orders",
            Table::Points => "points",
            Table::Labels => "labels",
        }
    }

    /// Only members must exist; an absent event table is read as empty (an export without a
    /// points programme is still a valid history) and `validate` says so.
    pub fn required(self) -> bool {
        matches!(self, Table::Members)
    }

    pub fn columns(self) -> &'static [Column] {
        match self {
            Table::Members => MEMBERS,
            Table::Coupons => COUPONS,
            Table::Orders => ORDERS,
            Table::Points => POINTS,
            Table::Labels => LABELS,
        }
    }

    /// The Arrow schema our writers produce for this table.
    pub fn arrow_schema(self) -> SchemaRef {
        super::write::arrow_schema(self.columns())
    }
}

impl fmt::Display for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Table {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Table::ALL
            .into_iter()
            .find(|t| t.name() == s)
            .ok_or_else(|| format!("unknown table '{s}' (expected one of members, coupons, orders, points, labels)"))
    }
}

/// Logical type of a contract column. Readers accept several physical types for each (see
/// `data::read`), writers always produce the one `arrow_type` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Text,
    Time,
    Money,
    Int,
    Bool,
}

impl Kind {
    pub fn arrow_type(self) -> DataType {
        match self {
            Kind::Text => DataType::Utf8,
            Kind::Time => DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
            Kind::Money => DataType::Float64,
            Kind::Int => DataType::Int64,
            Kind::Bool => DataType::Boolean,
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Kind::Text => "text",
            Kind::Time => "UTC timestamp",
            Kind::Money => "non-negative number",
            Kind::Int => "integer",
            Kind::Bool => "boolean",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    pub name: &'static str,
    pub kind: Kind,
    pub required: bool,
}

pub const fn req(name: &'static str, kind: Kind) -> Column {
    Column {
        name,
        kind,
        required: true,
    }
}

pub const fn opt(name: &'static str, kind: Kind) -> Column {
    Column {
        name,
        kind,
        required: false,
    }
}

pub const MEMBERS: &[Column] = &[
    req("member_id", Kind::Text),
    req("joined_at", Kind::Time),
    req("channel", Kind::Text),
    opt("campaign_id", Kind::Text),
    opt("inviter_id", Kind::Text),
    opt("device_id", Kind::Text),
    opt("ip", Kind::Text),
    opt("phone_prefix", Kind::Text),
    opt("phone_hash", Kind::Text),
    opt("region", Kind::Text),
    opt("seq", Kind::Int),
];

pub const COUPONS: &[Column] = &[
    req("member_id", Kind::Text),
    req("coupon_id", Kind::Text),
    opt("campaign_id", Kind::Text),
    req("event", Kind::Text),
    req("at", Kind::Time),
    req("face_value", Kind::Money),
    req("threshold", Kind::Money),
    req("kind", Kind::Text),
];

pub const ORDERS: &[Column] = &[
    req("order_id", Kind::Text),
    req("member_id", Kind::Text),
    req("at", Kind::Time),
    req("amount", Kind::Money),
    req("list_amount", Kind::Money),
    req("discount", Kind::Money),
    opt("coupon_id", Kind::Text),
    req("channel", Kind::Text),
    req("refunded", Kind::Bool),
];

pub const POINTS: &[Column] = &[
    req("member_id", Kind::Text),
    req("at", Kind::Time),
    req("delta", Kind::Int),
    req("reason", Kind::Text),
];

pub const LABELS: &[Column] = &[
    req("member_id", Kind::Text),
    req("label", Kind::Int),
    req("at", Kind::Time),
    req("source", Kind::Text),
];

/// A closed vocabulary stored in a text column.
pub trait Vocabulary: Sized + Copy + 'static {
    const VALUES: &'static [(&'static str, Self)];

    fn parse(s: &str) -> Option<Self> {
        // Exact spellings first: the common case, and cheaper than folding case.
        if let Some((_, v)) = Self::VALUES.iter().find(|(name, _)| *name == s) {
            return Some(*v);
        }
        Self::VALUES
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(s.trim()))
            .map(|(_, v)| *v)
    }

    fn name(self) -> &'static str
    where
        Self: PartialEq,
    {
        Self::VALUES
            .iter()
            .find(|(_, v)| *v == self)
            .map(|(n, _)| *n)
            .unwrap_or("?")
    }

    fn expected() -> String {
        Self::VALUES
            .iter()
            .map(|(n, _)| *n)
            .collect::<Vec<_>>()
            .join(" / ")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CouponEvent {
    Claim,
    Redeem,
    Expire,
}

impl Vocabulary for CouponEvent {
    const VALUES: &'static [(&'static str, Self)] = &[
        ("claim", CouponEvent::Claim),
        ("redeem", CouponEvent::Redeem),
        ("expire", CouponEvent::Expire),
    ];
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CouponKind {
    Welcome,
    Fission,
    Tier,
    Promo,
}

impl Vocabulary for CouponKind {
    const VALUES: &'static [(&'static str, Self)] = &[
        ("welcome", CouponKind::Welcome),
        ("fission", CouponKind::Fission),
        ("tier", CouponKind::Tier),
        ("promo", CouponKind::Promo),
    ];
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PointsReason {
    Purchase,
    Share,
    Invite,
    Checkin,
    RedeemCoupon,
    RedeemGift,
    PointsPlusCash,
    Expire,
}

impl Vocabulary for PointsReason {
    const VALUES: &'static [(&'static str, Self)] = &[
        ("purchase", PointsReason::Purchase),
        ("share", PointsReason::Share),
        ("invite", PointsReason::Invite),
        ("checkin", PointsReason::Checkin),
        ("redeem_coupon", PointsReason::RedeemCoupon),
        ("redeem_gift", PointsReason::RedeemGift),
        ("points_plus_cash", PointsReason::PointsPlusCash),
        ("expire", PointsReason::Expire),
    ];
}

/// Phone number segments sold to virtual operators, where SIM farms buy their numbers.
pub const VIRTUAL_PHONE_PREFIXES: &[&str] = &["170", "171", "162", "165", "167"];

/// Recruitment channels the generator uses; real exports may bring others.
pub const CHANNELS: &[&str] = &["tmall", "jd", "douyin", "wechat_mini", "app", "pos"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vocabularies_parse_case_insensitively_and_name_back() {
        assert_eq!(CouponEvent::parse(" Redeem"), Some(CouponEvent::Redeem));
        assert_eq!(
            PointsReason::parse("points_plus_cash"),
            Some(PointsReason::PointsPlusCash)
        );
        assert_eq!(PointsReason::PointsPlusCash.name(), "points_plus_cash");
        assert_eq!(CouponKind::parse("gift"), None);
        assert_eq!(CouponEvent::expected(), "claim / redeem / expire");
    }

    #[test]
    fn schema_marks_optional_columns_nullable() {
        let s = Table::Members.arrow_schema();
        assert!(!s
            .field_with_name("member_id")
            .map(|f| f.is_nullable())
            .unwrap_or(true));
        assert!(s
            .field_with_name("device_id")
            .map(|f| f.is_nullable())
            .unwrap_or(false));
        assert_eq!(Table::Orders.columns().len(), 9);
        assert_eq!("points".parse::<Table>(), Ok(Table::Points));
    }
}
