//! Group commit: the batches that callers append at the same moment are committed together, in
//! one transaction, each caller answered with its own part. A commit waits on the disk (and, for
//! a shared store, on the tenant's log lock), so one commit for many waiting callers is what lets
//! appends scale with concurrency. The first caller to find no commit running leads: it takes
//! every batch queued, commits them, hands out the results and wakes the rest.

use std::collections::HashMap;
use std::sync::{Condvar, Mutex};

use super::{Appended, Logged, StoreError};
use crate::state::events::Event;

/// One caller's answer.
type Answer = Result<(Appended, Vec<Logged>), String>;

#[derive(Default)]
struct Queue {
    next_ticket: u64,
    queued: Vec<(u64, Vec<Event>)>,
    committing: bool,
    answers: HashMap<u64, Answer>,
}

#[derive(Default)]
pub struct GroupCommit {
    queue: Mutex<Queue>,
    done: Condvar,
}

fn poisoned() -> StoreError {
    StoreError::Commit("event store: a previous append failed while holding the queue".to_string())
}

impl GroupCommit {
    /// Appends `events` with whatever else is queued, through `commit` (which stores a list of
    /// batches in one transaction and answers each), and returns this caller's part.
    pub fn append(
        &self,
        events: &[Event],
        commit: impl Fn(Vec<Vec<Event>>) -> Result<Vec<(Appended, Vec<Logged>)>, StoreError>,
    ) -> Result<(Appended, Vec<Logged>), StoreError> {
        let mut q = self.queue.lock().map_err(|_| poisoned())?;
        let ticket = q.next_ticket;
        q.next_ticket += 1;
        q.queued.push((ticket, events.to_vec()));
        loop {
            if let Some(answer) = q.answers.remove(&ticket) {
                return answer.map_err(StoreError::Commit);
            }
            if q.committing {
                q = self.done.wait(q).map_err(|_| poisoned())?;
                continue;
            }
            // Lead: commit everything queued, this caller's batch among it.
            q.committing = true;
            let group = std::mem::take(&mut q.queued);
            drop(q);
            let (tickets, batches): (Vec<u64>, Vec<Vec<Event>>) = group.into_iter().unzip();
            let n = tickets.len();
            let answers: Vec<Answer> = match commit(batches) {
                Ok(parts) if parts.len() == n => parts.into_iter().map(Ok).collect(),
                Ok(parts) => vec![
                    Err(format!(
                        "a group of {n} batches was answered {} times",
                        parts.len()
                    ));
                    n
                ],
                Err(e) => vec![Err(e.to_string()); n],
            };
            q = self.queue.lock().map_err(|_| poisoned())?;
            q.committing = false;
            q.answers.extend(tickets.into_iter().zip(answers));
            self.done.notify_all();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Barrier};

    use super::*;
    use crate::state::events::tests::signup;

    #[test]
    fn concurrent_appends_share_commits_and_each_gets_its_own_part() {
        let group = Arc::new(GroupCommit::default());
        let commits = Arc::new(AtomicUsize::new(0));
        let start = Arc::new(Barrier::new(8));
        let threads: Vec<_> = (0..8)
            .map(|i| {
                let (group, commits, start) = (group.clone(), commits.clone(), start.clone());
                std::thread::spawn(move || {
                    start.wait();
                    let id = format!("e{i}");
                    group.append(&[signup(&id, "m")], |batches| {
                        commits.fetch_add(1, Ordering::Relaxed);
                        std::thread::sleep(std::time::Duration::from_millis(50));
                        Ok(batches
                            .into_iter()
                            .map(|b| {
                                let accepted = b.iter().map(|e| e.id().to_string()).collect();
                                let a = Appended {
                                    accepted,
                                    ..Appended::default()
                                };
                                (a, Vec::new())
                            })
                            .collect())
                    })
                })
            })
            .collect();
        for (i, t) in threads.into_iter().enumerate() {
            let answer = t.join().unwrap_or_else(|_| panic!("thread {i}"));
            let (a, _) = answer.unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(a.accepted, [format!("e{i}")]);
        }
        // The first caller commits alone; the seven that queued meanwhile share at most two.
        let n = commits.load(Ordering::Relaxed);
        assert!((2..=3).contains(&n), "{n} commits for 8 callers");
    }

    #[test]
    fn a_failed_group_commit_fails_every_caller_in_it() {
        let group = GroupCommit::default();
        let answer = group.append(&[signup("e1", "m")], |_| {
            Err(StoreError::Postgres("down".to_string()))
        });
        assert!(matches!(answer, Err(StoreError::Commit(m)) if m.contains("down")));
    }
}
