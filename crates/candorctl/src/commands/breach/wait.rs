//! After the publish: asks every service, until each has recorded the
//! incident or dead-lettered the message (or the time is up), printing each
//! answer as it comes.
//!
//! The account service is the one that can show what it recorded, so it
//! confirms the content: its record must equal the published incident.
//! Notification, membership and the forum only say whether they know the
//! incident, so their "recorded" counts once the account service confirmed
//! the content (before the publish, a service that knew the incident while
//! the account service did not stopped the report; see `breach.rs`). A
//! service that refuses the message dead-letters it with the reason, and a
//! copy reaches the [`DeadLetterWatch`].

use std::io::Write;
use std::time::{Duration, Instant};

use candor_platform::messaging::{DeadLetterWatch, ServiceQueue};
use candor_proto::events::v1::BreachReported;

use super::answers;
use super::difference::{differences, same_content};
use crate::endpoints::Endpoints;

/// How often the services are asked.
const POLL_INTERVAL: Duration = Duration::from_millis(250);

/// Where one service stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// Not settled; the text is the service's last answer.
    Waiting(String),
    Recorded,
    /// Dead-lettered (or, for the account service, another version
    /// recorded), with the reason.
    Rejected(String),
}

/// Every service's final answer, in [`ServiceQueue::ALL`] order.
pub struct Outcome {
    pub answers: Vec<(ServiceQueue, Answer)>,
}

impl Outcome {
    pub fn rejected(&self) -> impl Iterator<Item = (ServiceQueue, &str)> {
        self.answers
            .iter()
            .filter_map(|(service, answer)| match answer {
                Answer::Rejected(reason) => Some((*service, reason.as_str())),
                _ => None,
            })
    }

    pub fn all_recorded(&self) -> bool {
        self.answers
            .iter()
            .all(|(_, answer)| *answer == Answer::Recorded)
    }
}

/// Asks until every service settled or `timeout` passed; prints to `out`
/// one line per service as it settles, and at the end one per service that
/// did not.
pub async fn wait_for_answers(
    endpoints: &Endpoints,
    mut watch: Option<&DeadLetterWatch>,
    incident: &BreachReported,
    message_id: &str,
    timeout: Duration,
    out: &mut impl Write,
) -> Outcome {
    let deadline = Instant::now() + timeout;
    let mut answers: Vec<(ServiceQueue, Answer)> = ServiceQueue::ALL
        .into_iter()
        .map(|service| (service, Answer::Waiting("not recorded yet".to_owned())))
        .collect();
    loop {
        if let Some(current) = watch {
            match current.take(message_id).await {
                Ok(letters) => {
                    for letter in letters {
                        let answer = Answer::Rejected(letter.reason);
                        settle(&mut answers, letter.service, answer, out);
                    }
                }
                Err(error) => {
                    eprintln!(
                        "candorctl: cannot read the dead-letter watch any more ({}): a rejection will show as no answer",
                        crate::errors::describe_anyhow(&error)
                    );
                    watch = None;
                }
            }
        }
        if is_waiting(&answers, ServiceQueue::Account) {
            let answer = match answers::account_incident(endpoints, &incident.incident_id).await {
                Ok(Some(recorded)) if same_content(&recorded, incident) => Answer::Recorded,
                Ok(Some(recorded)) => Answer::Rejected(another_version(&recorded, incident)),
                Ok(None) => Answer::Waiting("not recorded yet".to_owned()),
                Err(error) => Answer::Waiting(format!("no answer: {error}")),
            };
            settle(&mut answers, ServiceQueue::Account, answer, out);
        }
        let content_confirmed = answers.iter().any(|(service, answer)| {
            *service == ServiceQueue::Account && *answer == Answer::Recorded
        });
        let ask_if_waiting = |service| {
            let pending = is_waiting(&answers, service);
            ask(pending, endpoints, service, incident, content_confirmed)
        };
        let (notification, membership, forum) = tokio::join!(
            ask_if_waiting(ServiceQueue::Notification),
            ask_if_waiting(ServiceQueue::Membership),
            ask_if_waiting(ServiceQueue::Forum),
        );
        for (service, answer) in [
            (ServiceQueue::Notification, notification),
            (ServiceQueue::Membership, membership),
            (ServiceQueue::Forum, forum),
        ] {
            if let Some(answer) = answer {
                settle(&mut answers, service, answer, out);
            }
        }
        let waiting = answers
            .iter()
            .any(|(_, answer)| matches!(answer, Answer::Waiting(_)));
        let now = Instant::now();
        if !waiting || now >= deadline {
            break;
        }
        tokio::time::sleep(POLL_INTERVAL.min(deadline - now)).await;
    }
    for (service, answer) in &answers {
        if let Answer::Waiting(last) = answer {
            let _ = writeln!(
                out,
                "{:<13} no answer within {} s ({last})",
                service.name(),
                timeout.as_secs()
            );
        }
    }
    Outcome { answers }
}

fn is_waiting(answers: &[(ServiceQueue, Answer)], service: ServiceQueue) -> bool {
    answers
        .iter()
        .any(|(candidate, answer)| *candidate == service && matches!(answer, Answer::Waiting(_)))
}

/// Records `answer` unless the service already settled (a dead letter seen
/// first wins over a later "recorded"), printing it when it settles.
fn settle(
    answers: &mut [(ServiceQueue, Answer)],
    service: ServiceQueue,
    answer: Answer,
    out: &mut impl Write,
) {
    let Some((_, current)) = answers
        .iter_mut()
        .find(|(candidate, _)| *candidate == service)
    else {
        return;
    };
    if !matches!(current, Answer::Waiting(_)) {
        return;
    }
    match &answer {
        Answer::Recorded => {
            let _ = writeln!(out, "{:<13} recorded", service.name());
        }
        Answer::Rejected(reason) => {
            let _ = writeln!(out, "{:<13} rejected: {reason}", service.name());
        }
        Answer::Waiting(_) => {}
    }
    let _ = out.flush();
    *current = answer;
}

/// One of the services without the incident's content, while `pending`.
async fn ask(
    pending: bool,
    endpoints: &Endpoints,
    service: ServiceQueue,
    incident: &BreachReported,
    content_confirmed: bool,
) -> Option<Answer> {
    if !pending {
        return None;
    }
    let answer = match answers::recorded(endpoints, service, &incident.incident_id).await {
        Ok(true) if content_confirmed => Answer::Recorded,
        Ok(true) => Answer::Waiting(
            "knows the incident; waiting for the account service to confirm its content".to_owned(),
        ),
        Ok(false) => Answer::Waiting("not recorded yet".to_owned()),
        Err(error) => Answer::Waiting(format!("no answer: {error}")),
    };
    Some(answer)
}

/// The account service recorded a version other than the one published
/// (another report reached it first).
fn another_version(recorded: &BreachReported, published: &BreachReported) -> String {
    let mut reason = format!(
        "incident {} was recorded with different content first (another report came first):",
        published.incident_id
    );
    for change in differences(recorded, published) {
        reason.push('\n');
        reason.push_str(&change.to_string());
    }
    reason
}
