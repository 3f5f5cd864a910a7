//! A member that cannot join its group because the group speaks another
//! partition assignment protocol (`InconsistentGroupProtocol`).
//!
//! librdkafka reports the refusal as a consumer error at every join attempt
//! and tries again for ever. For a while that is expected: when a service
//! is swapped for another (the plugin's members stopped, kafka-rs members
//! started), members that left without saying so stay in the group until
//! their session expires. A conflict that outlasts the group session
//! timeout (plus the time of one more join attempt) cannot be explained by
//! departing members: the member gives up with [`Error::GroupProtocol`],
//! which names the group, the protocols on both sides and what to do.

use std::cell::Cell;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};

use crate::config::{ConsumerConfig, Strategy};
use crate::{Error, GroupProtocolConflict};

/// How long a join attempt takes at most beyond the session timeout before
/// the conflict is final.
const JOIN_ALLOWANCE: Duration = Duration::from_secs(5);

/// Tracks how long this member has been refused by its group.
pub(super) struct ProtocolConflict {
    service: String,
    group: String,
    strategy: Strategy,
    grace: Duration,
    /// When the refusals began, and the assignment count then (an
    /// assignment in between means the member did join).
    since: Cell<Option<(Instant, u64)>>,
}

impl ProtocolConflict {
    pub(super) fn new(service: &str, config: &ConsumerConfig) -> Self {
        ProtocolConflict {
            service: service.to_owned(),
            group: config.group.clone(),
            strategy: config.strategy,
            grace: config.group_session_timeout + JOIN_ALLOWANCE,
            since: Cell::new(None),
        }
    }

    /// Records one refusal; `assignments` counts the assignments this member
    /// received so far. The error to end the member with once the conflict
    /// is final.
    pub(super) fn refused<C: ConsumerContext>(
        &self,
        consumer: &BaseConsumer<C>,
        assignments: u64,
    ) -> Option<Error> {
        let now = Instant::now();
        let since = match self.since.get() {
            Some((at, seen)) if seen == assignments => at,
            _ => {
                self.since.set(Some((now, assignments)));
                now
            }
        };
        let waited = now.duration_since(since);
        if waited < self.grace {
            tracing::warn!(
                service = self.service,
                group = self.group,
                "the group refuses this member's assignment protocol; retrying while members \
                 that left may still be in the group (giving up after {:?})",
                self.grace
            );
            return None;
        }
        Some(Error::GroupProtocol(Box::new(GroupProtocolConflict {
            service: self.service.clone(),
            group: self.group.clone(),
            group_protocol: group_protocol(consumer, &self.group),
            strategy: self.strategy.to_string(),
            offered: self.strategy.rdkafka_value().to_owned(),
            waited,
        })))
    }
}

/// The protocol the group's current members agreed on, as the coordinator
/// describes the group (`None` when it cannot be asked).
fn group_protocol<C: ConsumerContext>(consumer: &BaseConsumer<C>, group: &str) -> Option<String> {
    let list = consumer
        .fetch_group_list(Some(group), Duration::from_secs(5))
        .ok()?;
    list.groups()
        .iter()
        .find(|g| g.name() == group)
        .map(|g| g.protocol().to_owned())
        .filter(|p| !p.is_empty())
}
