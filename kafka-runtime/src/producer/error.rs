//! What can go wrong when sending a record, as distinct variants a caller can match on.

use std::time::Duration;

use rdkafka::error::{KafkaError, RDKafkaErrorCode};

/// Why a record was not delivered. Every variant names the topic, so a log
/// line is enough to tell which write failed.
///
/// ```
/// use kafka_runtime::config::parse_producer_target;
/// use kafka_runtime::producer::{build_producer, Headers, ProduceError};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// // A target without `topic`: `produce` has nowhere to write.
/// let cfg = parse_producer_target("p", "kafka://127.0.0.1:9092?compression=none").unwrap();
/// let producer = build_producer("doc", &cfg, None).unwrap();
/// let err = producer.produce("k", "v", Headers::new()).await.unwrap_err();
/// assert!(matches!(err, ProduceError::NoTopic { .. }));
/// assert_eq!(err.topic(), None);
/// # }
/// ```
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum ProduceError {
    /// The topic does not exist on the cluster (and was not auto-created).
    #[error("topic `{topic}` does not exist (or has no such partition): {source}")]
    UnknownTopic {
        /// The topic written to.
        topic: String,
        /// The client's own error.
        #[source]
        source: KafkaError,
    },
    /// The record is larger than `maxMessageBytes` or than the broker accepts.
    #[error("record of {size} bytes for topic `{topic}` is too large (raise `maxMessageBytes` on the target, or send smaller records): {source}")]
    MessageTooLarge {
        /// The topic written to.
        topic: String,
        /// Key plus value size in bytes.
        size: usize,
        /// The client's own error.
        #[source]
        source: KafkaError,
    },
    /// No acknowledgement arrived within the per-request `timeout` (or the
    /// client's delivery timeout). The record may or may not have been written.
    #[error("no acknowledgement for topic `{topic}` within {timeout:?}")]
    Timeout {
        /// The topic written to.
        topic: String,
        /// The deadline that passed.
        timeout: Duration,
    },
    /// The brokers refused the client's credentials or its right to write.
    #[error("authentication or authorization failed writing to topic `{topic}`: {source}")]
    Authentication {
        /// The topic written to.
        topic: String,
        /// The client's own error.
        #[source]
        source: KafkaError,
    },
    /// No broker could be reached (connection refused, name resolution, transport failure).
    #[error("brokers unreachable writing to topic `{topic}`: {source}")]
    BrokerUnreachable {
        /// The topic written to.
        topic: String,
        /// The client's own error.
        #[source]
        source: KafkaError,
    },
    /// The value could not be serialized (typed producers).
    #[error("cannot serialize the value for topic `{topic}`: {reason}")]
    Serialization {
        /// The topic written to.
        topic: String,
        /// What the serializer reported.
        reason: String,
    },
    /// `produce` was called on a producer whose target has no `topic=`.
    #[error("producer `{producer}` has no `topic` in its target: add `topic=NAME` to the target, or use send_message(topic, ...)")]
    NoTopic {
        /// The service name or target of the producer.
        producer: String,
    },
    /// Any other error the Kafka client reported.
    #[error("kafka error writing to topic `{topic}`: {source}")]
    Kafka {
        /// The topic written to.
        topic: String,
        /// The client's own error.
        #[source]
        source: KafkaError,
    },
    /// A producer used inside a transactional handler cannot join the
    /// transaction: it writes to another cluster than the service's
    /// transaction (a transaction spans one cluster).
    #[error("producer `{producer}` cannot join the transaction of service `{service}`: {reason}")]
    OutsideTransaction {
        /// The service name or target of the producer.
        producer: String,
        /// The transactional consumer service whose handler used it.
        service: String,
        /// Why, and what to do.
        reason: String,
    },
    /// Shutdown's deadline passed while records were still in flight.
    #[error("{in_flight} record(s) of producer `{producer}` still unacknowledged when the shutdown deadline passed")]
    FlushIncomplete {
        /// The service name or target of the producer.
        producer: String,
        /// Records not yet acknowledged.
        in_flight: i32,
    },
}

impl ProduceError {
    /// Classifies a client error for `topic`. `size` is the record's key plus
    /// value size and `timeout` the deadline in force, used in the message.
    pub(crate) fn from_kafka(
        topic: &str,
        size: usize,
        timeout: Duration,
        brokers_down: bool,
        source: KafkaError,
    ) -> Self {
        use RDKafkaErrorCode as C;
        let topic = topic.to_owned();
        let Some(code) = source.rdkafka_error_code() else {
            return ProduceError::Kafka { topic, source };
        };
        match code {
            C::UnknownTopic | C::UnknownTopicOrPartition | C::UnknownPartition => {
                ProduceError::UnknownTopic { topic, source }
            }
            C::MessageSizeTooLarge | C::MessageBatchTooLarge => ProduceError::MessageTooLarge {
                topic,
                size,
                source,
            },
            C::Authentication
            | C::SaslAuthenticationFailed
            | C::TopicAuthorizationFailed
            | C::ClusterAuthorizationFailed => ProduceError::Authentication { topic, source },
            C::AllBrokersDown | C::BrokerTransportFailure | C::Resolve | C::NetworkException => {
                ProduceError::BrokerUnreachable { topic, source }
            }
            // A timeout while every broker is down is an unreachable cluster,
            // which is what the caller needs to know to react.
            C::MessageTimedOut | C::RequestTimedOut if brokers_down => {
                ProduceError::BrokerUnreachable { topic, source }
            }
            C::MessageTimedOut | C::RequestTimedOut => ProduceError::Timeout { topic, timeout },
            _ => ProduceError::Kafka { topic, source },
        }
    }

    /// The topic the failed write was for, when the error is about one write.
    ///
    /// ```
    /// use kafka_runtime::producer::ProduceError;
    /// let err = ProduceError::Serialization { topic: "orders".into(), reason: "bad".into() };
    /// assert_eq!(err.topic(), Some("orders"));
    /// ```
    pub fn topic(&self) -> Option<&str> {
        match self {
            ProduceError::UnknownTopic { topic, .. }
            | ProduceError::MessageTooLarge { topic, .. }
            | ProduceError::Timeout { topic, .. }
            | ProduceError::Authentication { topic, .. }
            | ProduceError::BrokerUnreachable { topic, .. }
            | ProduceError::Serialization { topic, .. }
            | ProduceError::Kafka { topic, .. } => Some(topic),
            ProduceError::NoTopic { .. }
            | ProduceError::OutsideTransaction { .. }
            | ProduceError::FlushIncomplete { .. } => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn classify(code: RDKafkaErrorCode, down: bool) -> ProduceError {
        ProduceError::from_kafka(
            "orders",
            10,
            Duration::from_millis(800),
            down,
            KafkaError::MessageProduction(code),
        )
    }

    #[test]
    fn codes_map_to_distinct_variants() {
        use RDKafkaErrorCode as C;
        assert!(matches!(
            classify(C::UnknownTopicOrPartition, false),
            ProduceError::UnknownTopic { .. }
        ));
        assert!(matches!(
            classify(C::MessageSizeTooLarge, false),
            ProduceError::MessageTooLarge { size: 10, .. }
        ));
        assert!(matches!(
            classify(C::MessageTimedOut, false),
            ProduceError::Timeout { .. }
        ));
        assert!(matches!(
            classify(C::MessageTimedOut, true),
            ProduceError::BrokerUnreachable { .. }
        ));
        assert!(matches!(
            classify(C::SaslAuthenticationFailed, false),
            ProduceError::Authentication { .. }
        ));
        assert!(matches!(
            classify(C::InvalidMessage, false),
            ProduceError::Kafka { .. }
        ));
        let err = classify(C::UnknownTopic, false);
        assert_eq!(err.topic(), Some("orders"));
        assert!(err.to_string().contains("`orders`"), "{err}");
    }
}
