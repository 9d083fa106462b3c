//! Allow and deny lists: entries keyed by member, device, phone hash or IP range, checked before
//! the model. A value is checked and normalised when it is put, so every stored entry can match:
//! an IP range is a network (`10.1.2.0/24`, the bare /24 prefix `10.1.2`, a single address, an
//! IPv6 network such as `2001:db8:1::/48`) matched by containment; the other keys are non-empty,
//! printable and at most [`MAX_ID_CHARS`] characters.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde::{Deserialize, Serialize};

use crate::data::plausible::{text_problem, MAX_ID_CHARS};

/// A list name, key or value that cannot be taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ListError {
    #[error("'{0}': lists are keyed by member, device, phone_hash or ip_range")]
    UnknownKey(String),
    #[error("'{0}': the lists are allow and deny")]
    UnknownList(String),
    #[error("value: '{value}' {why}")]
    InvalidValue { value: String, why: String },
}

/// An id-like list key (everything but `ip_range`), for the API description of the routes that
/// take any printable value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum IdListKey {
    Member,
    Device,
    PhoneHash,
}

/// What a list entry is keyed by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ListKey {
    Member,
    Device,
    PhoneHash,
    IpRange,
}

impl ListKey {
    pub fn name(self) -> &'static str {
        match self {
            ListKey::Member => "member",
            ListKey::Device => "device",
            ListKey::PhoneHash => "phone_hash",
            ListKey::IpRange => "ip_range",
        }
    }

    pub fn parse(s: &str) -> Result<Self, ListError> {
        match s {
            "member" => Ok(ListKey::Member),
            "device" => Ok(ListKey::Device),
            "phone_hash" => Ok(ListKey::PhoneHash),
            "ip_range" => Ok(ListKey::IpRange),
            _ => Err(ListError::UnknownKey(s.to_string())),
        }
    }

    /// The value as stored and matched, or why it is not one (saying which forms are taken).
    pub fn normalise(self, value: &str) -> Result<String, ListError> {
        let bad = |why: String| ListError::InvalidValue {
            value: shown(value),
            why,
        };
        if self == ListKey::IpRange {
            return IpNet::parse(value).map(|n| n.to_string()).ok_or_else(|| {
                bad(
                    "is not an IP range: give a CIDR network (10.1.2.0/24, 2001:db8:1::/48, \
                     prefix /8 or longer for IPv4, /16 or longer for IPv6), a single address, \
                     or a bare /24 prefix (10.1.2)"
                        .into(),
                )
            });
        }
        match text_problem(value, MAX_ID_CHARS) {
            Some(why) => Err(bad(why)),
            None => Ok(value.to_string()),
        }
    }
}

/// At most 60 characters of a value, for messages.
fn shown(value: &str) -> String {
    let cut: String = value.chars().take(60).collect();
    let cut: String = cut
        .chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    if value.chars().count() > 60 {
        format!("{cut}…")
    } else {
        cut
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ListKind {
    Allow,
    Deny,
}

impl ListKind {
    pub fn name(self) -> &'static str {
        match self {
            ListKind::Allow => "allow",
            ListKind::Deny => "deny",
        }
    }

    pub fn parse(s: &str) -> Result<Self, ListError> {
        match s {
            "allow" => Ok(ListKind::Allow),
            "deny" => Ok(ListKind::Deny),
            _ => Err(ListError::UnknownList(s.to_string())),
        }
    }
}

/// An IP network: the address with the bits past the prefix cleared, and the prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IpNet {
    addr: IpAddr,
    len: u8,
}

impl IpNet {
    /// `10.1.2.0/24`, `10.1.2.7` (/32), `10.1.2` (/24), `2001:db8:1::/48`, `2001:db8::1` (/128).
    /// Host bits are cleared; networks wider than /8 (IPv4) or /16 (IPv6) are refused, since
    /// they would put whole carriers on a list.
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        let (addr, len) = match s.split_once('/') {
            Some((a, l)) => {
                let len: u8 = l.parse().ok()?;
                (a.parse::<IpAddr>().ok()?, len)
            }
            None => match s.parse::<IpAddr>() {
                Ok(a @ IpAddr::V4(_)) => (a, 32),
                Ok(a @ IpAddr::V6(_)) => (a, 128),
                Err(_) => {
                    // The bare /24 prefix: three octets.
                    let parts: Vec<u8> = s
                        .split('.')
                        .map(|p| p.parse().ok())
                        .collect::<Option<_>>()?;
                    let [a, b, c] = parts[..] else { return None };
                    (IpAddr::V4(Ipv4Addr::new(a, b, c, 0)), 24)
                }
            },
        };
        let (max, min) = match addr {
            IpAddr::V4(_) => (32, 8),
            IpAddr::V6(_) => (128, 16),
        };
        if len > max || len < min {
            return None;
        }
        Some(IpNet {
            addr: mask(addr, len),
            len,
        })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        matches!(
            (self.addr, ip),
            (IpAddr::V4(_), IpAddr::V4(_)) | (IpAddr::V6(_), IpAddr::V6(_))
        ) && mask(ip, self.len) == self.addr
    }
}

fn mask(addr: IpAddr, len: u8) -> IpAddr {
    match addr {
        IpAddr::V4(a) => {
            let bits = u32::from(a);
            let m = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
            IpAddr::V4(Ipv4Addr::from(bits & m))
        }
        IpAddr::V6(a) => {
            let bits = u128::from(a);
            let m = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
            IpAddr::V6(Ipv6Addr::from(bits & m))
        }
    }
}

impl std::fmt::Display for IpNet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

/// Which list entry decided instead of the model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ListHit {
    pub list: ListKind,
    pub key: ListKey,
    pub value: String,
}

#[derive(Debug, Clone, Default)]
pub struct Lists {
    entries: HashMap<(ListKind, ListKey), HashSet<String>>,
    /// The IP ranges of each list, parsed once, by prefix length, for matching by containment.
    nets: HashMap<ListKind, BTreeSet<(u8, IpNet)>>,
}

impl Lists {
    /// Adds a normalised value (see [`ListKey::normalise`]); returns whether the list changed.
    pub fn put(&mut self, kind: ListKind, key: ListKey, value: &str) -> bool {
        if key == ListKey::IpRange {
            if let Some(net) = IpNet::parse(value) {
                self.nets.entry(kind).or_default().insert((net.len, net));
            }
        }
        self.entries
            .entry((kind, key))
            .or_default()
            .insert(value.to_string())
    }

    pub fn delete(&mut self, kind: ListKind, key: ListKey, value: &str) -> bool {
        if key == ListKey::IpRange {
            if let Some(net) = IpNet::parse(value) {
                if let Some(n) = self.nets.get_mut(&kind) {
                    n.remove(&(net.len, net));
                }
            }
        }
        self.entries
            .get_mut(&(kind, key))
            .is_some_and(|s| s.remove(value))
    }

    pub fn get(&self, kind: ListKind, key: ListKey) -> Vec<String> {
        let mut v: Vec<String> = self
            .entries
            .get(&(kind, key))
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default();
        v.sort();
        v
    }

    /// The first entry matching any of `keys` (member, device and phone by equality, the IP
    /// address by containment in a listed range): deny before allow.
    pub fn check(&self, keys: &[(ListKey, Option<&str>)]) -> Option<ListHit> {
        for kind in [ListKind::Deny, ListKind::Allow] {
            for &(key, value) in keys {
                let Some(v) = value else { continue };
                if key == ListKey::IpRange {
                    if let Some(hit) = self.ip_hit(kind, v) {
                        return Some(hit);
                    }
                    continue;
                }
                if self
                    .entries
                    .get(&(kind, key))
                    .is_some_and(|s| s.contains(v))
                {
                    return Some(ListHit {
                        list: kind,
                        key,
                        value: v.to_string(),
                    });
                }
            }
        }
        None
    }

    /// The narrowest listed range of `kind` holding the address `ip`.
    fn ip_hit(&self, kind: ListKind, ip: &str) -> Option<ListHit> {
        let nets = self.nets.get(&kind).filter(|n| !n.is_empty())?;
        // A full address, or a history's IP given as its /24 prefix.
        let ip: IpAddr = ip
            .trim()
            .parse()
            .ok()
            .or_else(|| IpNet::parse(ip).map(|n| n.addr))?;
        nets.iter()
            .rev()
            .find(|(_, net)| net.contains(ip))
            .map(|(_, net)| ListHit {
                list: kind,
                key: ListKey::IpRange,
                value: net.to_string(),
            })
    }
}

/// A lists file for the batch commands (`--lists FILE`): the same entries as the scorer's lists,
/// one array per list and key:
///
/// ```toml
/// [deny]
/// device = ["dev-17"]
/// ip_range = ["10.1.2.0/24"]
/// [allow]
/// member = ["m-000042"]
/// ```
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListsFile {
    #[serde(default)]
    allow: HashMap<String, Vec<String>>,
    #[serde(default)]
    deny: HashMap<String, Vec<String>>,
}

impl Lists {
    /// Reads a lists file (see [`ListsFile`]); every key and value is checked as over HTTP, and
    /// an error names the list, the key and the value.
    pub fn from_toml(text: &str) -> Result<Self, String> {
        let file: ListsFile = toml::from_str(text).map_err(|e| e.to_string())?;
        let mut lists = Lists::default();
        for (kind, keys) in [(ListKind::Allow, file.allow), (ListKind::Deny, file.deny)] {
            let mut keys: Vec<_> = keys.into_iter().collect();
            keys.sort();
            for (key, values) in keys {
                let at = |e: ListError| format!("[{}] {key}: {e}", kind.name());
                let key = ListKey::parse(&key).map_err(at)?;
                for v in values {
                    let v = key.normalise(&v).map_err(at)?;
                    lists.put(kind, key, &v);
                }
            }
        }
        Ok(lists)
    }

    /// The lists from their stored entries (`list/key/value`). Entries stored before values were
    /// checked are normalised (`10.1.2` becomes `10.1.2.0/24`); one that can never match is left
    /// out and returned with the reason, for the caller to say.
    pub fn from_stored(entries: &[String]) -> (Self, Vec<(String, String)>) {
        let mut lists = Lists::default();
        let mut left_out = Vec::new();
        for entry in entries {
            let mut parts = entry.splitn(3, '/');
            let parsed = match (parts.next(), parts.next(), parts.next()) {
                (Some(kind), Some(key), Some(value)) => ListKind::parse(kind).and_then(|kind| {
                    let key = ListKey::parse(key)?;
                    Ok((kind, key, key.normalise(value)?))
                }),
                _ => Err(ListError::InvalidValue {
                    value: shown(entry),
                    why: "is not list/key/value".to_string(),
                }),
            };
            match parsed {
                Ok((kind, key, value)) => {
                    lists.put(kind, key, &value);
                }
                Err(e) => left_out.push((entry.clone(), e.to_string())),
            }
        }
        (lists, left_out)
    }

    /// Every entry as `(list, key, value)`, sorted.
    pub fn entries(&self) -> Vec<(ListKind, ListKey, String)> {
        let mut out: Vec<_> = self
            .entries
            .iter()
            .flat_map(|(&(kind, key), vs)| vs.iter().map(move |v| (kind, key, v.clone())))
            .collect();
        out.sort_by(|a, b| (a.0.name(), a.1.name(), &a.2).cmp(&(b.0.name(), b.1.name(), &b.2)));
        out
    }

    pub fn is_empty(&self) -> bool {
        self.entries.values().all(HashSet::is_empty)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_ranges_are_normalised_networks() {
        let n = |s: &str| ListKey::IpRange.normalise(s).ok();
        assert_eq!(n("10.1.2.0/24").as_deref(), Some("10.1.2.0/24"));
        assert_eq!(n("10.1.2").as_deref(), Some("10.1.2.0/24"));
        assert_eq!(n("10.1.2.77/24").as_deref(), Some("10.1.2.0/24"));
        assert_eq!(n("10.1.2.77").as_deref(), Some("10.1.2.77/32"));
        assert_eq!(n("10.1.0.0/16").as_deref(), Some("10.1.0.0/16"));
        assert_eq!(n("2001:db8:1:2::9/48").as_deref(), Some("2001:db8:1::/48"));
        for bad in [
            "not-an-ip",
            "10.0.0.0/99",
            "10.0.0.0/4",
            "",
            "10.1",
            "10.1.2.3.4",
            "::/0",
        ] {
            let e = ListKey::IpRange.normalise(bad);
            assert!(
                matches!(e, Err(ListError::InvalidValue { .. })),
                "{bad}: {e:?}"
            );
        }
    }

    #[test]
    fn a_lists_file_is_checked_entry_by_entry() {
        let l = Lists::from_toml(
            "[deny]\ndevice = [\"dev-1\"]\nip_range = [\"10.1.2\"]\n[allow]\nmember = [\"m-9\"]\n",
        )
        .ok();
        let l = l.as_ref();
        assert_eq!(
            l.map(Lists::entries).unwrap_or_default(),
            vec![
                (ListKind::Allow, ListKey::Member, "m-9".to_string()),
                (ListKind::Deny, ListKey::Device, "dev-1".to_string()),
                (ListKind::Deny, ListKey::IpRange, "10.1.2.0/24".to_string()),
            ]
        );
        assert_eq!(
            Lists::from_toml("[deny]\ncolour = [\"red\"]\n").err(),
            Some(
                "[deny] colour: 'colour': lists are keyed by member, device, phone_hash or ip_range"
                    .to_string()
            )
        );
        assert!(Lists::from_toml("[deny]\nip_range = [\"10.1\"]\n")
            .is_err_and(|e| e.starts_with("[deny] ip_range: value: '10.1' is not an IP range")));
        assert!(Lists::from_toml("[block]\n").is_err());
    }

    #[test]
    fn other_keys_refuse_empty_unprintable_and_long_values() {
        assert_eq!(
            ListKey::Device.normalise("dev-1").ok().as_deref(),
            Some("dev-1")
        );
        for bad in ["", "a\u{0}b", "\u{FFFD}\u{FFFD}", &"x".repeat(300)] {
            assert!(ListKey::Member.normalise(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_cidr_entry_matches_every_address_inside_it() {
        let mut l = Lists::default();
        assert!(l.put(ListKind::Deny, ListKey::IpRange, "10.1.2.0/24"));
        l.put(ListKind::Allow, ListKey::IpRange, "10.9.0.0/16");
        let hit = |ip: &str| {
            l.check(&[(ListKey::IpRange, Some(ip))])
                .map(|h| (h.list, h.value))
        };
        assert_eq!(
            hit("10.1.2.200"),
            Some((ListKind::Deny, "10.1.2.0/24".to_string()))
        );
        assert_eq!(
            hit("10.9.77.1"),
            Some((ListKind::Allow, "10.9.0.0/16".to_string()))
        );
        assert_eq!(hit("10.1.3.1"), None);
        assert_eq!(hit("garbage"), None);
        assert!(l.delete(ListKind::Deny, ListKey::IpRange, "10.1.2.0/24"));
        let hit = |ip: &str| {
            l.check(&[(ListKey::IpRange, Some(ip))])
                .map(|h| (h.list, h.value))
        };
        assert_eq!(hit("10.1.2.200"), None);
    }
}
