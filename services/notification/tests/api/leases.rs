//! Sender leases in the store: an expired lease's SENDING jobs, and only
//! those, go back to the queue; a claim racing the reaper is either
//! requeued with its lease or claims nothing; an outcome that comes after
//! its job was requeued changes nothing; jobs without a lease keep the
//! staleness rule. And the setting's bounds.

use std::time::Duration;

use candor_notification::store::claims::{self, ClaimedOutcome, Outcome};
use candor_notification::store::jobs::{self, NewNotice};
use candor_notification::store::leases::{self, ClaimRef};
use candor_testkit::database::TestDatabase;
use candor_testkit::environment::TestEnvironment;
use chrono::Utc;
use sqlx::PgPool;
use uuid::Uuid;

use crate::helpers::eventually;

/// A database with this service's schema.
async fn store() -> TestDatabase {
    let database = TestDatabase::create().await.unwrap();
    candor_platform::db::migrate(database.pool(), &candor_notification::MIGRATIONS)
        .await
        .unwrap();
    database
}

/// Queues `count` due breach notices of a new incident.
async fn queue_notices(pool: &PgPool, count: usize) {
    let incident_id = format!("lease-test-{}", Uuid::new_v4().simple());
    sqlx::query("INSERT INTO incidents (incident_id, report) VALUES ($1, '\\x00')")
        .bind(&incident_id)
        .execute(pool)
        .await
        .unwrap();
    let notices: Vec<NewNotice> = (0..count)
        .map(|index| NewNotice {
            account_id: Uuid::now_v7(),
            email: format!("member-{index}@example.org"),
            display_name: format!("Member {index}"),
            content: None,
        })
        .collect();
    let mut connection = pool.acquire().await.unwrap();
    let created =
        jobs::insert_notices(&mut connection, &incident_id, &notices, "test.example", 0.0)
            .await
            .unwrap();
    assert_eq!(created, count as u64);
}

/// A lease started for `seconds`.
async fn start_lease(pool: &PgPool, seconds: f64) -> Uuid {
    let lease_id = Uuid::new_v4();
    let mut connection = pool.acquire().await.unwrap();
    leases::start(&mut connection, lease_id, "test-host/1", seconds)
        .await
        .unwrap();
    lease_id
}

/// Claims up to `count` jobs under `claim`, as the claimer does, committed.
async fn claim(pool: &PgPool, claim: ClaimRef, count: usize) -> Vec<Uuid> {
    let mut transaction = pool.begin().await.unwrap();
    assert!(
        leases::lock_live(&mut transaction, claim.lease_id)
            .await
            .unwrap()
    );
    let jobs = claims::claim_due(&mut transaction, claim, count)
        .await
        .unwrap();
    transaction.commit().await.unwrap();
    jobs.iter().map(|job| job.job_id).collect()
}

fn first_claim(lease_id: Uuid) -> ClaimRef {
    ClaimRef {
        lease_id,
        number: 1,
    }
}

async fn expire(pool: &PgPool, lease_id: Uuid) {
    sqlx::query(
        "UPDATE sender_leases SET expires_at = now() - interval '1 second' WHERE lease_id = $1",
    )
    .bind(lease_id)
    .execute(pool)
    .await
    .unwrap();
}

async fn reap(pool: &PgPool) -> leases::Reaped {
    let mut transaction = pool.begin().await.unwrap();
    let reaped = leases::reap_expired(&mut transaction).await.unwrap();
    transaction.commit().await.unwrap();
    reaped
}

/// A job's state, whether it is counted possibly re-sent, its attempts and
/// whether it has a queue row.
async fn job(pool: &PgPool, job_id: Uuid) -> (String, bool, i32, bool) {
    sqlx::query_as(
        "SELECT state, possibly_resent, attempts, \
                EXISTS (SELECT 1 FROM email_queue q WHERE q.job_id = j.job_id) \
         FROM email_jobs j WHERE job_id = $1",
    )
    .bind(job_id)
    .fetch_one(pool)
    .await
    .unwrap()
}

async fn claims_of(pool: &PgPool, lease_id: Uuid) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM sender_claims WHERE lease_id = $1")
        .bind(lease_id)
        .fetch_one(pool)
        .await
        .unwrap()
}

/// Waits until some backend waits for a row lock while running a statement
/// that starts with `statement`.
async fn waits_for_a_lock(pool: &PgPool, statement: &str) {
    let pattern = format!("{statement}%");
    eventually(
        Duration::from_secs(10),
        "a statement waiting for a lock",
        || async {
            let waiting: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM pg_stat_activity \
             WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE $1",
            )
            .bind(&pattern)
            .fetch_one(pool)
            .await
            .unwrap();
            (waiting > 0).then_some(())
        },
    )
    .await;
}

#[tokio::test]
async fn an_expired_lease_requeues_exactly_its_own_jobs() {
    let database = store().await;
    let pool = database.pool();
    queue_notices(pool, 5).await;
    let live = start_lease(pool, 60.0).await;
    let dead = start_lease(pool, 60.0).await;
    let live_jobs = claim(pool, first_claim(live), 3).await;
    let dead_jobs = claim(pool, first_claim(dead), 2).await;
    assert_eq!((live_jobs.len(), dead_jobs.len()), (3, 2));

    assert_eq!(
        reap(pool).await,
        leases::Reaped::default(),
        "nothing expired yet"
    );
    expire(pool, dead).await;
    let reaped = reap(pool).await;
    assert_eq!(reaped.leases, vec![dead]);
    assert_eq!(reaped.requeued, 2);
    for job_id in &dead_jobs {
        assert_eq!(
            job(pool, *job_id).await,
            ("queued".to_owned(), true, 1, true)
        );
    }
    for job_id in &live_jobs {
        assert_eq!(
            job(pool, *job_id).await,
            ("sending".to_owned(), false, 1, false)
        );
    }
    assert_eq!(
        claims_of(pool, dead).await,
        0,
        "the dead lease's claims are gone"
    );
    assert_eq!(claims_of(pool, live).await, 1);
    let mut connection = pool.acquire().await.unwrap();
    assert!(
        !leases::renew(&mut connection, dead, 10.0).await.unwrap(),
        "a reaped lease is not renewed"
    );
    assert!(leases::renew(&mut connection, live, 10.0).await.unwrap());
    drop(connection);
    assert_eq!(reap(pool).await, leases::Reaped::default(), "reaped once");

    // The requeued jobs are claimed again under the live lease.
    let again = claim(
        pool,
        ClaimRef {
            lease_id: live,
            number: 2,
        },
        5,
    )
    .await;
    assert_eq!(again.len(), 2);
    for job_id in &dead_jobs {
        assert_eq!(
            job(pool, *job_id).await,
            ("sending".to_owned(), true, 2, false)
        );
    }
}

#[tokio::test]
async fn a_claim_committed_while_the_reaper_waited_is_requeued_with_its_lease() {
    let database = store().await;
    let pool = database.pool();
    queue_notices(pool, 4).await;
    let lease_id = start_lease(pool, 60.0).await;

    // The claim holds the live lease row...
    let mut claiming = pool.begin().await.unwrap();
    assert!(leases::lock_live(&mut claiming, lease_id).await.unwrap());
    let claimed = claims::claim_due(&mut claiming, first_claim(lease_id), 4)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 4);
    // ...when the lease expires (a renewal-like update does not wait for
    // the claim) and a reaper tries to delete it: the delete waits.
    expire(pool, lease_id).await;
    let reaper = tokio::spawn({
        let pool = pool.clone();
        async move { reap(&pool).await }
    });
    waits_for_a_lock(pool, "DELETE FROM sender_leases").await;
    assert!(!reaper.is_finished());
    claiming.commit().await.unwrap();

    // The requeue, a statement after the delete, saw the claim.
    let reaped = reaper.await.unwrap();
    assert_eq!(reaped.leases, vec![lease_id]);
    assert_eq!(reaped.requeued, 4);
    for claimed_job in &claimed {
        assert_eq!(
            job(pool, claimed_job.job_id).await,
            ("queued".to_owned(), true, 1, true)
        );
    }
}

#[tokio::test]
async fn a_claim_after_its_lease_was_deleted_claims_nothing() {
    let database = store().await;
    let pool = database.pool();
    queue_notices(pool, 3).await;
    let lease_id = start_lease(pool, 60.0).await;

    // The lease is being deleted (uncommitted)...
    let mut ending = pool.begin().await.unwrap();
    assert_eq!(leases::end(&mut ending, lease_id).await.unwrap(), 0);
    // ...when a claim under it locks it: the claim waits, then finds it gone.
    let claimer = tokio::spawn({
        let pool = pool.clone();
        async move {
            let mut transaction = pool.begin().await.unwrap();
            let live = leases::lock_live(&mut transaction, lease_id).await.unwrap();
            transaction.commit().await.unwrap();
            live
        }
    });
    waits_for_a_lock(pool, "SELECT lease_id FROM sender_leases").await;
    ending.commit().await.unwrap();
    assert!(!claimer.await.unwrap(), "no live lease to claim under");
    let queued: i64 = sqlx::query_scalar("SELECT count(*) FROM email_jobs WHERE state = 'queued'")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(queued, 3);
}

#[tokio::test]
async fn an_outcome_recorded_after_its_job_was_requeued_changes_nothing() {
    let database = store().await;
    let pool = database.pool();
    queue_notices(pool, 1).await;
    let first = start_lease(pool, 60.0).await;
    let job_id = claim(pool, first_claim(first), 1).await[0];
    expire(pool, first).await;
    assert_eq!(reap(pool).await.requeued, 1);

    let sent = |lease_id| ClaimedOutcome {
        claim: first_claim(lease_id),
        outcome: Outcome::Sent {
            job_id,
            sent_at: Utc::now(),
            without_thread_link: false,
        },
    };
    let record = |outcome: ClaimedOutcome| async move {
        let mut connection = pool.acquire().await.unwrap();
        claims::record_outcomes(&mut connection, &[outcome])
            .await
            .unwrap();
    };
    record(sent(first)).await;
    assert_eq!(
        job(pool, job_id).await,
        ("queued".to_owned(), true, 1, true),
        "still queued"
    );

    // Claimed again under another lease: the first lease's outcome is still
    // ignored, the second's is written.
    let second = start_lease(pool, 60.0).await;
    assert_eq!(claim(pool, first_claim(second), 1).await, vec![job_id]);
    record(sent(first)).await;
    assert_eq!(
        job(pool, job_id).await,
        ("sending".to_owned(), true, 2, false)
    );
    record(sent(second)).await;
    assert_eq!(job(pool, job_id).await, ("sent".to_owned(), true, 2, false));
}

#[tokio::test]
async fn a_released_job_goes_back_to_the_queue() {
    let database = store().await;
    let pool = database.pool();
    queue_notices(pool, 2).await;
    let lease_id = start_lease(pool, 60.0).await;
    let claimed = claim(pool, first_claim(lease_id), 2).await;
    let released = |job_id, possibly_sent| ClaimedOutcome {
        claim: first_claim(lease_id),
        outcome: Outcome::Released {
            job_id,
            possibly_sent,
        },
    };
    let mut connection = pool.acquire().await.unwrap();
    claims::record_outcomes(
        &mut connection,
        &[released(claimed[0], false), released(claimed[1], true)],
    )
    .await
    .unwrap();
    drop(connection);
    // Not sent: the attempt is given back. Possibly sent: counted so.
    assert_eq!(
        job(pool, claimed[0]).await,
        ("queued".to_owned(), false, 0, true)
    );
    assert_eq!(
        job(pool, claimed[1]).await,
        ("queued".to_owned(), true, 1, true)
    );
}

#[tokio::test]
async fn only_jobs_without_a_live_lease_go_stale() {
    let database = store().await;
    let pool = database.pool();
    queue_notices(pool, 3).await;
    let live = start_lease(pool, 60.0).await;
    let claimed = claim(pool, first_claim(live), 3).await;
    // One as a release before leases left it, one under a lease nobody
    // holds any more, one under the live lease; all long unrefreshed.
    sqlx::query("UPDATE email_jobs SET updated_at = now() - interval '1 hour'")
        .execute(pool)
        .await
        .unwrap();
    sqlx::query("UPDATE email_jobs SET claimed_by = NULL WHERE job_id = $1")
        .bind(claimed[0])
        .execute(pool)
        .await
        .unwrap();
    sqlx::query("UPDATE email_jobs SET claimed_by = $2 WHERE job_id = $1")
        .bind(claimed[1])
        .bind(Uuid::new_v4())
        .execute(pool)
        .await
        .unwrap();

    let mut connection = pool.acquire().await.unwrap();
    assert_eq!(
        claims::requeue_stale(&mut connection, 300.0).await.unwrap(),
        2
    );
    drop(connection);
    assert_eq!(
        job(pool, claimed[0]).await,
        ("queued".to_owned(), true, 1, true)
    );
    assert_eq!(
        job(pool, claimed[1]).await,
        ("queued".to_owned(), true, 1, true)
    );
    assert_eq!(
        job(pool, claimed[2]).await,
        ("sending".to_owned(), false, 1, false)
    );
}

#[tokio::test]
async fn the_rate_bucket_grants_a_claim_s_worth_of_tokens_or_says_how_long_to_wait() {
    let database = store().await;
    let pool = database.pool();
    let mut connection = pool.acquire().await.unwrap();
    let bucket_at = async |tokens: f64| {
        sqlx::query("UPDATE send_rate_bucket SET tokens = $1, refilled_at = clock_timestamp()")
            .bind(tokens)
            .execute(pool)
            .await
            .unwrap();
        let mut transaction = pool.begin().await.unwrap();
        // 100 per second, at most 20 saved, at least 10 per claim.
        let taken = claims::take_tokens(&mut transaction, 100.0, 20.0, 10, 256)
            .await
            .unwrap();
        transaction.commit().await.unwrap();
        taken
    };
    let (granted, wait) = bucket_at(0.0).await;
    assert_eq!(granted, 0);
    // A tenth of a second for ten tokens, less the refill since the update.
    assert!(
        wait > 0.0 && wait <= 0.1,
        "a tenth of a second for ten tokens: {wait}"
    );
    let (granted, wait) = bucket_at(9.0).await;
    assert_eq!(granted, 0);
    assert!(wait <= 0.011, "one more token: {wait}");
    // Fifteen saved are more than a claim's worth: all of them go, plus what
    // refilled since the update (a loaded machine may take tens of
    // milliseconds between the two statements), never past the burst.
    let (granted, _) = bucket_at(15.0).await;
    assert!(
        (15..=20).contains(&granted),
        "fifteen and the refill: {granted}"
    );
    assert_eq!(bucket_at(500.0).await.0, 20, "never more than the burst");
    // Fewer wanted than a claim's worth: those are enough.
    sqlx::query("UPDATE send_rate_bucket SET tokens = 3, refilled_at = clock_timestamp()")
        .execute(&mut *connection)
        .await
        .unwrap();
    let taken = claims::take_tokens(&mut connection, 100.0, 20.0, 10, 2)
        .await
        .unwrap();
    assert_eq!(taken.0, 2);
}

#[tokio::test]
async fn the_lease_setting_is_bounded() {
    let environment = TestEnvironment::new().await.unwrap();
    let organisation = ("ORGANISATION_NAME", "Candor Books".to_owned());
    let config: candor_notification::Config = environment
        .config(std::slice::from_ref(&organisation))
        .unwrap();
    assert_eq!(config.sender_lease_seconds, 10, "the default");
    for valid in ["3", "600"] {
        let config: candor_notification::Config = environment
            .config(&[
                organisation.clone(),
                ("SENDER_LEASE_SECONDS", valid.to_owned()),
            ])
            .unwrap();
        assert_eq!(config.sender_lease_seconds.to_string(), valid);
    }
    for invalid in ["0", "2", "601", "ten"] {
        let error = environment
            .config::<candor_notification::Config>(&[
                organisation.clone(),
                ("SENDER_LEASE_SECONDS", invalid.to_owned()),
            ])
            .unwrap_err()
            .to_string();
        assert!(error.contains("SENDER_LEASE_SECONDS"), "{invalid}: {error}");
        assert!(!error.contains('\n'), "one line: {error}");
    }
}
