//! The dense-subgraph peel (Fraudar, Hooi et al. 2016): separates a camouflaged gang from the
//! busy genuine keys it routes through, which the union-find does not merge.
//!
//! The graph is bipartite, accounts on one side and keys on the other (device, phone hash, IP
//! range, inviter), an edge where an account has a key.
//! An edge weighs `1 / ln(key degree + c)`: a key shared by thousands of genuine members counts
//! little per account, a key shared by a handful counts a lot. Peeling removes, one at a time,
//! the node whose edges still present weigh least; the densest prefix (edge weight per node) is
//! the block. Genuine accounts hang on the busy key by one light edge and go first; a gang's
//! accounts share the busy key *and* other keys among themselves (a popular inviter, devices)
//! and stay. A binary heap with lazy updates makes a peel O(E log E).
//!
//! [`blocks`] runs the peel inside the accounts of every busy key, repeatedly (a block found, its
//! accounts removed, peel again), and returns the blocks; the caller judges them as gangs by the
//! flag rule. It never merges anything into the online state.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

use crate::data::history::{MemberIdx, NONE};
use crate::features::recruit::MergeCaps;

use super::gang::Context;

/// The constant in the edge weight `1 / ln(degree + c)` (Fraudar's choice).
pub const C: f64 = 5.0;

/// The densest block of a bipartite graph.
#[derive(Debug, Clone, PartialEq)]
pub struct Peeled {
    /// Accounts in the block, ascending.
    pub accounts: Vec<u32>,
    /// Keys in the block, ascending.
    pub keys: Vec<u32>,
    /// Edge weight per node of the block.
    pub density: f64,
}

/// The weight of an edge to a key with `degree` edges.
pub fn weight(degree: usize) -> f64 {
    1.0 / (degree as f64 + C).ln()
}

/// Peels the bipartite graph of `accounts` accounts and `keys` keys with these edges (account,
/// key); nodes without edges are never in the block.
pub fn peel(accounts: usize, keys: usize, edges: &[(u32, u32)]) -> Peeled {
    let n = accounts + keys;
    let mut key_degree = vec![0usize; keys];
    for &(_, k) in edges {
        key_degree[k as usize] += 1;
    }
    let w: Vec<f64> = edges
        .iter()
        .map(|&(_, k)| weight(key_degree[k as usize]))
        .collect();
    // Incidence lists (edge ids) of every node, accounts first then keys.
    let mut start = vec![0usize; n + 1];
    for &(a, k) in edges {
        start[a as usize + 1] += 1;
        start[accounts + k as usize + 1] += 1;
    }
    for i in 0..n {
        start[i + 1] += start[i];
    }
    let mut fill = start.clone();
    let mut incident = vec![0u32; 2 * edges.len()];
    for (e, &(a, k)) in edges.iter().enumerate() {
        for v in [a as usize, accounts + k as usize] {
            incident[fill[v]] = e as u32;
            fill[v] += 1;
        }
    }
    let mut degree = vec![0.0f64; n];
    for (e, &(a, k)) in edges.iter().enumerate() {
        degree[a as usize] += w[e];
        degree[accounts + k as usize] += w[e];
    }
    let present: Vec<bool> = (0..n).map(|v| start[v + 1] > start[v]).collect();
    let mut alive = present.iter().filter(|&&p| p).count();
    let mut total: f64 = w.iter().sum();
    // Non-negative floats order as their bits do.
    let bits = |d: f64| d.max(0.0).to_bits();
    let mut heap: BinaryHeap<Reverse<(u64, u32)>> = (0..n)
        .filter(|&v| present[v])
        .map(|v| Reverse((bits(degree[v]), v as u32)))
        .collect();
    let mut removed = vec![false; n];
    let mut edge_gone = vec![false; edges.len()];
    let mut order: Vec<u32> = Vec::with_capacity(alive);
    let density = |total: f64, alive: usize| {
        if alive == 0 {
            0.0
        } else {
            total / alive as f64
        }
    };
    let (mut best, mut best_at) = (density(total, alive), 0usize);
    while let Some(Reverse((b, v))) = heap.pop() {
        let vi = v as usize;
        if removed[vi] || b != bits(degree[vi]) {
            continue;
        }
        removed[vi] = true;
        order.push(v);
        alive -= 1;
        for &e in &incident[start[vi]..start[vi + 1]] {
            let e = e as usize;
            if edge_gone[e] {
                continue;
            }
            edge_gone[e] = true;
            total -= w[e];
            let (a, k) = edges[e];
            let other = if vi == a as usize {
                accounts + k as usize
            } else {
                a as usize
            };
            degree[other] -= w[e];
            heap.push(Reverse((bits(degree[other]), other as u32)));
        }
        let d = density(total.max(0.0), alive);
        if d > best + 1e-12 {
            best = d;
            best_at = order.len();
        }
    }
    let mut in_block = present;
    for &v in &order[..best_at] {
        in_block[v as usize] = false;
    }
    Peeled {
        accounts: (0..accounts as u32)
            .filter(|&a| in_block[a as usize])
            .collect(),
        keys: (0..keys as u32)
            .filter(|&k| in_block[accounts + k as usize])
            .collect(),
        density: best,
    }
}

/// A dense block found among the accounts of a busy key.
#[derive(Debug, Clone, PartialEq)]
pub struct Block {
    /// Union-find nodes of the state, ascending.
    pub nodes: Vec<u32>,
    pub density: f64,
}

/// What an account is keyed by in the peel: kind and value.
type Key = (u8, u64);

/// Every account's keys: device, phone hash, IP range, inviter.
fn account_keys(cx: &Context<'_>) -> Vec<[Key; 4]> {
    let st = cx.state;
    (0..st.members() as u32)
        .map(|node| {
            let Some(a) = st.account(node) else {
                return [(0, u64::from(NONE)); 4];
            };
            [
                (1, u64::from(a.device)),
                (2, u64::from(a.phone)),
                (3, u64::from(a.range)),
                (4, u64::from(a.inviter)),
            ]
        })
        .collect()
}

fn is_none(k: &Key) -> bool {
    k.1 == u64::from(NONE)
}

/// Dense blocks of at least `min_size` accounts inside the accounts of each key too busy to
/// merge (`caps`), leaving out the accounts in `skip` (already in a gang). Each account is in
/// at most one block.
pub fn blocks(cx: &Context<'_>, caps: MergeCaps, min_size: u32, skip: &[bool]) -> Vec<Block> {
    let keys = account_keys(cx);
    let mut on_key: HashMap<Key, Vec<u32>> = HashMap::new();
    for (node, ks) in keys.iter().enumerate() {
        for k in ks.iter().filter(|k| !is_none(k)) {
            on_key.entry(*k).or_default().push(node as u32);
        }
    }
    let cap = |kind: u8| match kind {
        1 => caps.device,
        2 => caps.phone,
        3 => caps.ip24,
        4 => caps.inviter,
        _ => u32::MAX,
    } as usize;
    let mut busy: Vec<(&Key, &Vec<u32>)> = on_key
        .iter()
        .filter(|(k, nodes)| nodes.len() >= cap(k.0))
        .collect();
    busy.sort_by_key(|(k, _)| **k);
    let mut taken = skip.to_vec();
    taken.resize(keys.len(), false);
    let mut out = Vec::new();
    for (_, nodes) in busy {
        loop {
            let candidates: Vec<u32> = nodes
                .iter()
                .copied()
                .filter(|&n| !taken[n as usize])
                .collect();
            if candidates.len() < min_size as usize {
                break;
            }
            // Keys shared by two or more candidates, numbered locally.
            let mut local: HashMap<Key, (u32, u32)> = HashMap::new();
            for &n in &candidates {
                for k in keys[n as usize].iter().filter(|k| !is_none(k)) {
                    local.entry(*k).or_insert((0, 0)).1 += 1;
                }
            }
            let mut next = 0u32;
            let mut shared: Vec<Key> = local
                .iter()
                .filter(|(_, (_, c))| *c >= 2)
                .map(|(k, _)| *k)
                .collect();
            shared.sort_unstable();
            for k in &shared {
                if let Some(e) = local.get_mut(k) {
                    e.0 = next;
                    next += 1;
                }
            }
            let mut edges = Vec::new();
            for (i, &n) in candidates.iter().enumerate() {
                for k in keys[n as usize].iter() {
                    if let Some(&(id, c)) = local.get(k) {
                        if c >= 2 {
                            edges.push((i as u32, id));
                        }
                    }
                }
            }
            let p = peel(candidates.len(), next as usize, &edges);
            // A block on the busy key alone, or most of its crowd, is the crowd, not a gang.
            if p.accounts.len() < min_size as usize
                || p.keys.len() < 2
                || 2 * p.accounts.len() > candidates.len()
            {
                break;
            }
            let block: Vec<u32> = p.accounts.iter().map(|&i| candidates[i as usize]).collect();
            for &n in &block {
                taken[n as usize] = true;
            }
            out.push(Block {
                nodes: block,
                density: p.density,
            });
        }
    }
    out
}

/// Precision and recall of a set of accounts against the accounts of the truth's gangs.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Agreement {
    pub found: usize,
    pub right: usize,
    pub truth: usize,
    pub precision: Option<f64>,
    pub recall: Option<f64>,
}

impl Agreement {
    /// `found`: accounts found; `truth`: the accounts that should be; both history members.
    pub fn of(found: &[MemberIdx], truth: &[bool]) -> Agreement {
        let right = found
            .iter()
            .filter(|&&m| truth.get(m as usize).copied().unwrap_or(false))
            .count();
        let all = truth.iter().filter(|&&t| t).count();
        Agreement {
            found: found.len(),
            right,
            truth: all,
            precision: (!found.is_empty()).then(|| right as f64 / found.len() as f64),
            recall: (all > 0).then(|| right as f64 / all as f64),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peels_the_gang_off_a_busy_key_by_hand() {
        // Accounts 0–2 (the gang) share keys 0 and 1; key 2 (busy) holds them and the genuine
        // accounts 3–8.
        let mut edges = vec![];
        for a in 0..3 {
            edges.push((a, 0));
            edges.push((a, 1));
        }
        for a in 0..9 {
            edges.push((a, 2));
        }
        let p = peel(9, 3, &edges);
        assert_eq!(p.accounts, vec![0, 1, 2]);
        assert_eq!(p.keys, vec![0, 1, 2]);
        // 6 edges of 1/ln 8 and 3 of 1/ln 14 over 6 nodes.
        let density = (6.0 / 8f64.ln() + 3.0 / 14f64.ln()) / 6.0;
        assert!((p.density - density).abs() < 1e-12, "{}", p.density);
        assert!((p.density - 0.670_360).abs() < 1e-6, "{}", p.density);
    }

    #[test]
    fn a_star_is_its_own_densest_block_and_an_empty_graph_is_empty() {
        // One key on 4 accounts: density 4·w(4) / 5 nodes.
        let edges: Vec<(u32, u32)> = (0..4).map(|a| (a, 0)).collect();
        let p = peel(4, 1, &edges);
        assert_eq!((p.accounts.len(), p.keys.len()), (4, 1));
        assert!((p.density - 4.0 / 9f64.ln() / 5.0).abs() < 1e-12);
        let p = peel(3, 2, &[]);
        assert_eq!((p.accounts.len(), p.keys.len(), p.density), (0, 0, 0.0));
    }

    #[test]
    fn agreement_by_hand() {
        let truth = [true, true, false, true];
        let a = Agreement::of(&[0, 2], &truth);
        assert_eq!((a.found, a.right, a.truth), (2, 1, 3));
        assert_eq!((a.precision, a.recall), (Some(0.5), Some(1.0 / 3.0)));
    }
}
