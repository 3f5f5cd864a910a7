//! Copies of consumed records written to another topic (the dead-letter
//! topic, a retry topic) by a consumer service, each acknowledged by the
//! broker before the original's offset may be stored.

use std::time::Duration;

use futures::future::join_all;
use rdkafka::error::KafkaError;
use rdkafka::message::OwnedHeaders;
use rdkafka::producer::{FutureProducer, FutureRecord};
use tokio_util::sync::CancellationToken;

use crate::config::{ConsumerConfig, ProducerConfig};
use crate::Message;

/// How long one send may take before it is reported and tried again;
/// shorter than librdkafka's 300 s default so a missing topic shows up in
/// the logs quickly.
const SEND_TIMEOUT: Duration = Duration::from_secs(30);
/// The shortest wait between two rounds of failed sends.
const MIN_RETRY_WAIT: Duration = Duration::from_millis(100);

/// One copy to write: `msg`'s key and value with `headers`, to `topic`.
pub(crate) struct Copy<'a> {
    pub(crate) topic: &'a str,
    pub(crate) msg: &'a Message,
    pub(crate) headers: OwnedHeaders,
}

/// A consumer service's producer of copies: the consumer's brokers, client
/// id and security, with the seed's producer defaults (`acks=all`): a copy
/// must be durable before the original is committed.
#[derive(Clone)]
pub(crate) struct Forwarder {
    producer: FutureProducer,
    retry_wait: Duration,
}

impl Forwarder {
    pub(crate) fn create(config: &ConsumerConfig) -> Result<Self, KafkaError> {
        let producer_config = ProducerConfig {
            common: config.common.clone(),
            ..ProducerConfig::default()
        };
        let mut properties = producer_config.client_config();
        properties.set("message.timeout.ms", SEND_TIMEOUT.as_millis().to_string());
        crate::logging::configure(&mut properties);
        Ok(Forwarder {
            producer: properties.create()?,
            retry_wait: config.retry_interval.max(MIN_RETRY_WAIT),
        })
    }

    /// Sends every copy and waits for the broker's acknowledgements, trying
    /// failed ones again every `retryInterval` (at least 100 ms) until they
    /// succeed; `sent` is called for each acknowledged copy. `false` when
    /// `stop` fired first (the caller then leaves the offsets unstored, so
    /// the records are read again).
    pub(crate) async fn send_all(
        &self,
        service: &str,
        copies: Vec<Copy<'_>>,
        stop: &CancellationToken,
        sent: impl Fn(&Copy<'_>),
    ) -> bool {
        let mut pending = copies;
        loop {
            let results = join_all(pending.iter().map(|c| self.send(c))).await;
            let mut failed = Vec::new();
            for (copy, result) in pending.into_iter().zip(results) {
                match result {
                    Ok(()) => sent(&copy),
                    Err(error) => {
                        let msg = copy.msg;
                        tracing::error!(
                            service,
                            topic = &*msg.topic,
                            partition = msg.partition,
                            offset = msg.offset,
                            destination = copy.topic,
                            %error,
                            retry_in = ?self.retry_wait,
                            "could not write a copy of a record to another topic (does it exist?); \
                             the record's offset stays uncommitted, trying again"
                        );
                        failed.push(copy);
                    }
                }
            }
            if failed.is_empty() {
                return true;
            }
            pending = failed;
            tokio::select! {
                biased;
                () = stop.cancelled() => return false,
                () = tokio::time::sleep(self.retry_wait) => {}
            }
        }
    }

    async fn send(&self, copy: &Copy<'_>) -> Result<(), KafkaError> {
        let msg = copy.msg;
        let mut record: FutureRecord<'_, [u8], [u8]> =
            FutureRecord::to(copy.topic).headers(copy.headers.clone());
        if let Some(key) = &msg.key {
            record = record.key(key.as_ref());
        }
        if let Some(payload) = &msg.payload {
            record = record.payload(payload.as_ref());
        }
        self.producer
            .send(record, SEND_TIMEOUT)
            .await
            .map(|_| ())
            .map_err(|(error, _)| error)
    }
}
