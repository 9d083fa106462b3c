//! A key's recent sign-up times: the window the `*_signups_*` counts read. Most keys (a device,
//! a phone) see one sign-up or two in an hour, so those are kept in place and only a busier key
//! holds a queue of its own: with tens of millions of keys, a queue each would weigh more than
//! the rest of the key's record.

use std::collections::VecDeque;

/// Sign-up times within the longest window, oldest first.
#[derive(Debug, Clone, Default)]
pub(super) enum Window {
    #[default]
    Empty,
    One(i64),
    // Boxed so that the window, in every key's record, is 16 bytes rather than 40: the queue
    // is the rare case.
    #[allow(clippy::box_collection)]
    Many(Box<VecDeque<i64>>),
}

impl Window {
    /// Adds a sign-up at `at`, then forgets the oldest times before `horizon` (never `at`
    /// itself when `horizon <= at`).
    pub(super) fn push(&mut self, at: i64, horizon: i64) {
        *self = match std::mem::take(self) {
            Window::Empty => Window::One(at),
            Window::One(t) if t < horizon => Window::One(at),
            Window::One(t) => Window::Many(Box::new(VecDeque::from([t, at]))),
            Window::Many(mut q) => {
                q.push_back(at);
                while q.front().is_some_and(|&t| t < horizon) {
                    q.pop_front();
                }
                match (q.len(), q.front()) {
                    (1, Some(&t)) => Window::One(t),
                    _ => Window::Many(q),
                }
            }
        };
    }

    /// Sign-ups at or after `since`, counted from the newest.
    pub(super) fn count_since(&self, since: i64) -> u32 {
        match self {
            Window::Empty => 0,
            Window::One(t) => u32::from(*t >= since),
            Window::Many(q) => q.iter().rev().take_while(|&&t| t >= since).count() as u32,
        }
    }

    /// Bytes held on the heap.
    pub(super) fn heap_bytes(&self) -> usize {
        match self {
            Window::Many(q) => {
                std::mem::size_of::<VecDeque<i64>>() + q.capacity() * std::mem::size_of::<i64>()
            }
            _ => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The window against the queue it stands for, over bursts and gaps.
    #[test]
    fn counts_as_a_queue_does() {
        const HOUR: i64 = 3_600;
        let times = [0, 10, 20, 4_000, 4_001, 9_000, 9_000, 9_100, 20_000, 20_600];
        let mut w = Window::default();
        let mut q: VecDeque<i64> = VecDeque::new();
        for &at in &times {
            w.push(at, at - HOUR);
            q.push_back(at);
            while q.front().is_some_and(|&t| t < at - HOUR) {
                q.pop_front();
            }
            for since in [at - HOUR, at - 600, at - 60, at, at + 1] {
                let want = q.iter().rev().take_while(|&&t| t >= since).count() as u32;
                assert_eq!(w.count_since(since), want, "at {at}, since {since}");
            }
        }
        // After 9,000, 9,000 and 9,100 the window holds three; at 20,000 one; then two.
        assert!(matches!(w, Window::Many(ref q) if q.len() == 2));
        assert_eq!(w.count_since(20_000), 2);
    }
}
