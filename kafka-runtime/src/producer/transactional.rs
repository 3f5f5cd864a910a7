//! The producer side of a transactional consumer service
//! (`transactionalId`): one transactional librdkafka producer per service,
//! and the routing that makes every producer a handler uses write through
//! it while the handler runs.
//!
//! A Kafka transaction belongs to one producer (one `transactional.id`),
//! and the consumer engine commits the input offsets with it
//! (`send_offsets_to_transaction`). So while a transactional handler runs,
//! a task-local [`scope`] names the service's [`TransactionalProducer`],
//! and every `RawProducer` (and the typed producers on top of it) sends
//! through a twin of its binding on that producer's client: the record's
//! topic, key, headers, partition choice (`partitioner`, with `hash`
//! computed by the runtime as sarama does) and `async` stay the binding's;
//! client-level settings (acks=all, idempotence, compression, batching)
//! are the transactional producer's, from the consumer service's address.
//! A producer writing to another cluster cannot join and fails with
//! [`ProduceError::OutsideTransaction`]. Work a handler spawns onto other
//! tasks is outside the scope: it sends as usual, outside the transaction.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use rdkafka::consumer::ConsumerGroupMetadata;
use rdkafka::error::KafkaResult;
use rdkafka::producer::Producer as _;
use rdkafka::TopicPartitionList;

use super::binding::{sorted_brokers, Binding};
use super::client::SharedClient;
use super::error::ProduceError;
use crate::config::{ConsumerConfig, ProducerConfig, RequiredAcks};

tokio::task_local! {
    static CURRENT: Arc<TransactionalProducer>;
}

/// Runs `handling` with its sends in `producer`'s transaction.
pub(crate) fn scope<F: Future>(
    producer: Arc<TransactionalProducer>,
    handling: F,
) -> impl Future<Output = F::Output> {
    CURRENT.scope(producer, handling)
}

/// The transactional producer of the handler running on this task, if any.
pub(crate) fn current() -> Option<Arc<TransactionalProducer>> {
    CURRENT.try_with(Arc::clone).ok()
}

/// A consumer service's transactional producer.
pub(crate) struct TransactionalProducer {
    service: String,
    id: String,
    client: Arc<SharedClient>,
    brokers: Vec<String>,
}

impl std::fmt::Debug for TransactionalProducer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TransactionalProducer")
            .field("service", &self.service)
            .field("transactional_id", &self.id)
            .finish_non_exhaustive()
    }
}

impl TransactionalProducer {
    /// The producer of consumer `service` whose address has
    /// `transactionalId=id`: the consumer's brokers and security settings,
    /// idempotent with acks=all, as transactions require.
    pub(crate) fn create(service: &str, consumer: &ConsumerConfig, id: &str) -> KafkaResult<Self> {
        let mut common = consumer.common.clone();
        // Raw overrides are the consumer's (they may be consumer properties).
        common.librdkafka_overrides.clear();
        common.client_id = Some(consumer.effective_client_id().to_owned());
        let config = ProducerConfig {
            common,
            idempotent: true,
            required_acks: RequiredAcks::All,
            ..ProducerConfig::default()
        };
        let mut properties = config.client_config();
        properties.set("transactional.id", id);
        let client = SharedClient::create(format!("{service} (transactional)"), &properties)?;
        Ok(TransactionalProducer {
            service: service.to_owned(),
            id: id.to_owned(),
            client: Arc::new(client),
            brokers: sorted_brokers(&consumer.common.brokers),
        })
    }

    /// The `transactional.id`.
    pub(crate) fn id(&self) -> &str {
        &self.id
    }

    /// Registers the `transactional.id` with the cluster, fencing any
    /// earlier producer with the same id and aborting what it left open.
    /// Blocks.
    pub(crate) fn init(&self, timeout: Duration) -> KafkaResult<()> {
        self.client.producer().init_transactions(timeout)
    }

    /// Opens a transaction (locally: the cluster learns of it with its
    /// first record or offsets).
    pub(crate) fn begin(&self) -> KafkaResult<()> {
        self.client.producer().begin_transaction()
    }

    /// Adds the consumer's `offsets` to the open transaction, as of the
    /// group membership `group` (KIP-447: the coordinator refuses them from
    /// a member whose generation is gone, which fences zombies). Blocks.
    pub(crate) fn send_offsets(
        &self,
        offsets: &TopicPartitionList,
        group: &ConsumerGroupMetadata,
        timeout: Duration,
    ) -> KafkaResult<()> {
        self.client
            .producer()
            .send_offsets_to_transaction(offsets, group, timeout)
    }

    /// Commits the open transaction (flushing its records first). Blocks.
    pub(crate) fn commit(&self, timeout: Duration) -> KafkaResult<()> {
        self.client.producer().commit_transaction(timeout)
    }

    /// Aborts the open transaction: its records are purged or marked
    /// aborted, its offsets not committed. Blocks.
    pub(crate) fn abort(&self, timeout: Duration) -> KafkaResult<()> {
        self.client.producer().abort_transaction(timeout)
    }

    /// The twin of `binding` on this transaction's client.
    pub(crate) fn route(&self, binding: &Arc<Binding>) -> Result<Arc<Binding>, ProduceError> {
        if binding.brokers != self.brokers {
            return Err(ProduceError::OutsideTransaction {
                producer: binding.label.clone(),
                service: self.service.clone(),
                reason: format!(
                    "it writes to brokers {}, the transaction runs on the service's brokers {}, \
                     and a Kafka transaction spans one cluster; give the producer the consumer's \
                     brokers, or send from outside the handler",
                    binding.brokers.join(","),
                    self.brokers.join(",")
                ),
            });
        }
        Ok(Arc::new(Binding {
            client: Arc::clone(&self.client),
            hash_in_runtime: true,
            ..(**binding).clone()
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_scope_is_task_local() {
        let consumer = crate::config::parse_consumer_address(
            "svc",
            "127.0.0.1:9?topics=t&group=g&transactionalId=svc-1",
        )
        .unwrap();
        let producer = Arc::new(TransactionalProducer::create("svc", &consumer, "svc-1").unwrap());
        assert!(current().is_none());
        let seen = scope(producer.clone(), async {
            let inside = current().map(|p| p.id().to_owned());
            let spawned = tokio::spawn(async { current().is_some() }).await.unwrap();
            (inside, spawned)
        })
        .await;
        assert_eq!(seen, (Some("svc-1".to_owned()), false));
        assert!(current().is_none());
    }

    #[tokio::test]
    async fn a_producer_of_another_cluster_cannot_join() {
        let consumer = crate::config::parse_consumer_address(
            "svc",
            "b:9,a:9?topics=t&group=g&transactionalId=svc-1",
        )
        .unwrap();
        let producer = TransactionalProducer::create("svc", &consumer, "svc-1").unwrap();
        let same =
            crate::config::parse_producer_target("out", "kafka://a:9,b:9?topic=o&partitioner=hash")
                .unwrap();
        let binding = Arc::new(Binding::new(
            "out".into(),
            Arc::clone(&producer.client),
            &same,
            None,
        ));
        let twin = producer.route(&binding).unwrap();
        assert!(twin.hash_in_runtime && twin.topic.as_deref() == Some("o"));
        assert!(twin.picks_partition(true) && !twin.picks_partition(false));
        let other = crate::config::parse_producer_target("audit", "kafka://c:9?topic=o").unwrap();
        let binding = Arc::new(Binding::new(
            "audit".into(),
            producer.client.clone(),
            &other,
            None,
        ));
        let err = producer.route(&binding).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("producer `audit` cannot join the transaction of service `svc`"),
            "{err}"
        );
    }
}
