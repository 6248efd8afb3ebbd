//! The jobs this replica holds as SENDING (claimed, outcome not yet
//! written), counted by claim, so that a claim whose jobs all have their
//! outcomes can be forgotten (`sender_claims`: the reaper has nothing left
//! to requeue in it) at the lease's next renewal.
//!
//! Held jobs are no longer refreshed one by one (every third of
//! `SENDING_STALE_SECONDS`, as before leases): the lease they were claimed
//! under stands for all of them, and the staleness rule now leaves alone
//! every job whose lease is live, however long it waits behind a slow SMTP
//! server.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use candor_platform::sync::lock;
use uuid::Uuid;

use crate::store::leases::ClaimRef;

/// The claims this replica holds jobs of, and those it no longer does.
#[derive(Debug, Clone, Default)]
pub(super) struct HeldJobs(Arc<Mutex<Held>>);

#[derive(Debug, Default)]
struct Held {
    /// Jobs of each claim without a written outcome.
    open: HashMap<ClaimRef, usize>,
    /// Claims whose every job has its outcome written, not yet forgotten
    /// in the database.
    settled: Vec<ClaimRef>,
}

impl HeldJobs {
    /// Holds the `jobs` jobs of a new claim.
    pub(super) fn hold(&self, claim: ClaimRef, jobs: usize) {
        if jobs > 0 {
            *lock(&self.0).open.entry(claim).or_default() += jobs;
        }
    }

    /// Lets go of jobs whose outcome is written, one claim per job.
    pub(super) fn let_go(&self, claims: impl Iterator<Item = ClaimRef>) {
        let mut held = lock(&self.0);
        for claim in claims {
            let Some(open) = held.open.get_mut(&claim) else {
                continue;
            };
            *open -= 1;
            if *open == 0 {
                held.open.remove(&claim);
                held.settled.push(claim);
            }
        }
    }

    /// Takes the settled claims of `lease_id` (their numbers), dropping
    /// those of other leases: a lease that was replaced is deleted with its
    /// claims by whoever reaps it.
    pub(super) fn take_settled(&self, lease_id: Uuid) -> Vec<i64> {
        std::mem::take(&mut lock(&self.0).settled)
            .into_iter()
            .filter(|claim| claim.lease_id == lease_id)
            .map(|claim| claim.number)
            .collect()
    }

    /// Returns settled claims that could not be forgotten this time.
    pub(super) fn put_back_settled(&self, lease_id: Uuid, numbers: Vec<i64>) {
        lock(&self.0).settled.extend(
            numbers
                .into_iter()
                .map(|number| ClaimRef { lease_id, number }),
        );
    }

    /// How many jobs are held.
    #[cfg(test)]
    fn jobs(&self) -> usize {
        lock(&self.0).open.values().sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_claim_is_settled_once_its_last_job_is_let_go() {
        let held = HeldJobs::default();
        let lease_id = Uuid::new_v4();
        let first = ClaimRef {
            lease_id,
            number: 1,
        };
        let second = ClaimRef {
            lease_id,
            number: 2,
        };
        held.hold(first, 2);
        held.hold(second, 1);
        held.let_go([first, second].into_iter());
        assert_eq!(held.jobs(), 1);
        assert_eq!(held.take_settled(lease_id), vec![2]);
        held.let_go(std::iter::once(first));
        assert_eq!(held.jobs(), 0);
        assert_eq!(
            held.take_settled(Uuid::new_v4()),
            Vec::<i64>::new(),
            "another lease's claims are dropped"
        );
        assert!(held.take_settled(lease_id).is_empty());
        held.put_back_settled(lease_id, vec![1]);
        assert_eq!(held.take_settled(lease_id), vec![1]);
    }
}
