//! An in-process Kafka broker for tests and demos (feature `testing`).
//!
//! [`EmbeddedBroker`] is librdkafka's mock cluster: real brokers speaking the
//! Kafka protocol over loopback TCP, consumer groups included, with fault
//! injection. Nothing to install; it lives as long as the value.
//!
//! ```
//! use kafka_runtime::testing::EmbeddedBroker;
//!
//! let broker = EmbeddedBroker::start().unwrap();
//! broker.create_topic("orders", 3).unwrap();
//! assert!(broker.bootstrap_servers().starts_with("127.0.0.1:"));
//! ```
//!
//! # Differences from a real broker
//!
//! Measured with the librdkafka that `rdkafka` 0.39 builds; tests that must
//! pass on both this broker and Apache Kafka have to allow for them:
//!
//! - The log per partition is bounded (about 5 MB); older records are
//!   dropped, so large backlogs need a real broker.
//! - Topics are created on first use (a produce to an unknown topic
//!   succeeds). Whether a real broker does depends on its
//!   `auto.create.topics.enable` and on the client: create every topic
//!   explicitly.
//! - A consumer group's first join takes about 3 s (the mock's initial
//!   rebalance delay); a second member joining a `cooperative-sticky` group
//!   gets its partitions after about 10 s, with eager strategies about 5 s.
//! - A member that closed cleanly keeps its partitions until its session
//!   timeout expires: a new member of the same group waited 44 s with the
//!   default `session.timeout.ms` of 45 s, 8 s with 6 s. Tests that close
//!   and reopen a group member should use a short session timeout.
//! - Record timestamps are not indexed: `offsets_for_times` answers the end
//!   of the partition. Group listing (`fetch_group_list`) is not supported.

use std::sync::mpsc;
use std::sync::Mutex;
use std::thread;

use rdkafka::error::KafkaError;
use rdkafka::mocking::MockCluster;
use rdkafka::producer::DefaultProducerContext;

/// The mock cluster type [`EmbeddedBroker::with_cluster`] hands out.
///
/// ```
/// use kafka_runtime::testing::{Cluster, EmbeddedBroker};
/// let broker = EmbeddedBroker::with_brokers(2).unwrap();
/// // Take broker 2 down, then bring it back:
/// broker.with_cluster(|cluster: &Cluster| cluster.broker_down(2)).unwrap();
/// broker.with_cluster(|cluster: &Cluster| cluster.broker_up(2)).unwrap();
/// ```
pub type Cluster = MockCluster<'static, DefaultProducerContext>;

type Job = Box<dyn FnOnce(&Cluster) + Send>;

/// A running in-process Kafka cluster.
///
/// librdkafka's mock cluster handle may not move between threads, so it lives
/// on a thread of its own and every operation is sent there; this makes the
/// broker `Send + Sync`, usable from any task. Dropping it stops the cluster.
///
/// A producer round trip against it: a configuration pointing at the
/// broker, the runtime's producers, and the seed's four send calls. (A
/// standalone doctest: the runtime checks every producer registered in the
/// binary at startup, so it must not share one with other examples.)
///
/// ```standalone_crate
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use std::time::Duration;
/// use kafka_runtime::config::Config;
/// use kafka_runtime::producer::{AsyncCallbacks, Headers};
/// use kafka_runtime::rdkafka::producer::FutureRecord;
/// use kafka_runtime::testing::EmbeddedBroker;
/// use kafka_runtime::RuntimeHandle;
///
/// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let broker = EmbeddedBroker::start()?;
/// broker.create_topic("orders", 2)?;
/// let yaml = format!(
///     "client:\n  service:\n    - name: trpc.app.server.producer\n      target: kafka://{}?topic=orders&partitioner=hash\n      timeout: 5000\n",
///     broker.bootstrap_servers()
/// );
/// let runtime = RuntimeHandle::start(Arc::new(Config::from_yaml_str(&yaml)?)).await?;
/// let delivered = Arc::new(AtomicUsize::new(0));
/// let seen = Arc::clone(&delivered);
/// let producer = runtime
///     .producer("trpc.app.server.producer")? // the seed's NewClientProxy(name)
///     .with_callbacks(AsyncCallbacks::new().on_success(move |_, _| {
///         seen.fetch_add(1, Ordering::SeqCst);
///     }));
/// assert_eq!(producer.topic(), Some("orders"));
///
/// producer.produce("k1", "v1", Headers::new()).await?; // Produce
/// let at = producer.send_message("orders", "k2", "v2", Headers::new()).await?; // SendMessage
/// assert!(at.offset >= 0);
/// producer.async_send_message("orders", "k3", "v3", Headers::new()).await?; // AsyncSendMessage
/// let native = FutureRecord::to("orders").key("k4").payload("v4").partition(1);
/// assert_eq!(producer.send_record(native).await?.partition, 1); // SendSaramaMessage
///
/// producer.flush(Duration::from_secs(5)).await?; // waits for the async callback too
/// assert_eq!(delivered.load(Ordering::SeqCst), 1);
/// runtime.shutdown(Duration::from_secs(5)).await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct EmbeddedBroker {
    bootstrap_servers: String,
    jobs: Mutex<Option<mpsc::Sender<Job>>>,
    thread: Option<thread::JoinHandle<()>>,
}

impl EmbeddedBroker {
    /// Starts a one-broker cluster.
    ///
    /// ```
    /// let broker = kafka_runtime::testing::EmbeddedBroker::start().unwrap();
    /// assert_eq!(broker.bootstrap_servers().split(',').count(), 1);
    /// ```
    pub fn start() -> Result<Self, KafkaError> {
        Self::with_brokers(1)
    }

    /// Starts a cluster of `broker_count` brokers (ids `1..=broker_count`).
    ///
    /// ```
    /// let broker = kafka_runtime::testing::EmbeddedBroker::with_brokers(3).unwrap();
    /// assert_eq!(broker.bootstrap_servers().split(',').count(), 3);
    /// ```
    pub fn with_brokers(broker_count: i32) -> Result<Self, KafkaError> {
        let (jobs, job_queue) = mpsc::channel::<Job>();
        let (started, start_result) = mpsc::channel();
        let thread = thread::Builder::new()
            .name("kafka-embedded-broker".into())
            .spawn(move || match MockCluster::new(broker_count) {
                Ok(cluster) => {
                    let _ = started.send(Ok(cluster.bootstrap_servers()));
                    // Runs until the broker is dropped and the sender with it.
                    for job in job_queue {
                        job(&cluster);
                    }
                }
                Err(err) => {
                    let _ = started.send(Err(err));
                }
            })
            .map_err(|_| KafkaError::MockCluster(rdkafka::types::RDKafkaErrorCode::Fail))?;
        let bootstrap_servers = start_result
            .recv()
            .map_err(|_| KafkaError::MockCluster(rdkafka::types::RDKafkaErrorCode::Fail))??;
        Ok(EmbeddedBroker {
            bootstrap_servers,
            jobs: Mutex::new(Some(jobs)),
            thread: Some(thread),
        })
    }

    /// The `host:port,...` list clients connect to.
    ///
    /// ```
    /// let broker = kafka_runtime::testing::EmbeddedBroker::start().unwrap();
    /// let address = format!("{}?topics=orders&group=billing", broker.bootstrap_servers());
    /// kafka_runtime::config::parse_consumer_address("svc", &address).unwrap();
    /// ```
    pub fn bootstrap_servers(&self) -> String {
        self.bootstrap_servers.clone()
    }

    /// Creates `topic` with `partitions` partitions (replication factor 1).
    ///
    /// ```
    /// let broker = kafka_runtime::testing::EmbeddedBroker::start().unwrap();
    /// broker.create_topic("orders", 4).unwrap();
    /// ```
    pub fn create_topic(&self, topic: &str, partitions: i32) -> Result<(), KafkaError> {
        let topic = topic.to_owned();
        self.with_cluster(move |cluster| cluster.create_topic(&topic, partitions, 1))
    }

    /// Runs `operation` on the mock cluster, for fault injection
    /// (`broker_down`, `request_errors`, ...), and returns its result.
    ///
    /// ```
    /// use kafka_runtime::rdkafka::types::{RDKafkaApiKey, RDKafkaRespErr};
    /// let broker = kafka_runtime::testing::EmbeddedBroker::start().unwrap();
    /// // Fail the next produce request with a retriable error, to test retries:
    /// broker.with_cluster(|cluster| {
    ///     cluster.request_errors(
    ///         RDKafkaApiKey::Produce,
    ///         &[RDKafkaRespErr::RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION],
    ///     )
    /// });
    /// ```
    pub fn with_cluster<R, F>(&self, operation: F) -> R
    where
        F: FnOnce(&Cluster) -> R + Send + 'static,
        R: Send + 'static,
    {
        let (reply, result) = mpsc::channel();
        let job: Job = Box::new(move |cluster| {
            let _ = reply.send(operation(cluster));
        });
        let jobs = self
            .jobs
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let sender = jobs
            .as_ref()
            .expect("the broker thread runs until the broker is dropped");
        sender
            .send(job)
            .expect("the broker thread runs until the broker is dropped");
        drop(jobs);
        result
            .recv()
            .expect("the broker thread answers every operation it receives")
    }
}

impl Drop for EmbeddedBroker {
    fn drop(&mut self) {
        // Closing the queue ends the thread's loop, which drops the cluster.
        if let Ok(mut jobs) = self.jobs.lock() {
            jobs.take();
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_creates_topics_and_stops() {
        let broker = EmbeddedBroker::with_brokers(2).unwrap();
        broker.create_topic("embedded-broker-test", 4).unwrap();
        let servers = broker.bootstrap_servers();
        assert_eq!(servers.split(',').count(), 2, "{servers}");
        let down = broker.with_cluster(|cluster| cluster.broker_down(1));
        assert!(down.is_ok());
        drop(broker);
    }
}
