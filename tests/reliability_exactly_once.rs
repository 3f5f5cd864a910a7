//! Exactly once on Apache Kafka: a transactional consume-transform-produce
//! service (`src/bin/transactional_service.rs`, `transactionalId` and
//! `groupInstanceId` on its address) is SIGKILLed at random moments while
//! input flows, and restarted; it also fails on some inputs after having
//! sent part of their output, which aborts its transaction. A
//! read-committed consumer of the output then reads every input's two
//! output records exactly once, and nothing else; the group's committed
//! offsets are the input's end.
//!
//! Needs Apache Kafka (transactions and read-committed fetches, which the
//! embedded mock cluster does not implement faithfully): it runs in the
//! Apache Kafka phase of `scripts/test.sh` (feature `kafka-broker-tests`).
//! Size: `RELIABILITY_MESSAGES` (default 5,000), `RELIABILITY_KILLS`
//! (default 10); `RELIABILITY_SEED` repeats a run's kill moments.

mod reliability_support;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use kafka_runtime::rdkafka::consumer::{BaseConsumer, Consumer};
use kafka_runtime::rdkafka::message::Message as _;
use kafka_runtime::rdkafka::{ClientConfig, Offset, TopicPartitionList};
use reliability_support::*;

const SERVICE_BIN: &str = env!("CARGO_BIN_EXE_transactional_service");
const PARTITIONS: i32 = 4;
/// Inputs whose first attempt fails after sending their first output.
const FAIL_EVERY: u64 = 250;
/// How long a restarted process may take to handle records again.
const RESTART: Duration = Duration::from_secs(120);
/// The services' group session timeout.
const SESSION_TIMEOUT_MS: u64 = 6_000;

struct Spec {
    bootstrap: String,
    input: String,
    output: String,
    group: String,
    progress: PathBuf,
}

impl Spec {
    /// An input and an output topic named after `name`, made on Apache Kafka
    /// (these tests refuse any other broker), and the service between them.
    async fn on_fresh_topics(name: &str) -> (TestBroker, Spec) {
        let broker = TestBroker::start().await.unwrap();
        assert_eq!(
            broker.kind(),
            "external",
            "this test needs Apache Kafka: run it through scripts/test.sh (Apache Kafka phase), \
             or with KAFKA_RS_TEST_BOOTSTRAP from `scripts/kafka.sh start`"
        );
        let input = unique_name(&format!("{name}-in"));
        let output = unique_name(&format!("{name}-out"));
        broker.create_topic(&input, PARTITIONS).await.unwrap();
        broker.create_topic(&output, PARTITIONS).await.unwrap();
        let spec = Spec {
            bootstrap: broker.bootstrap(),
            input: input.clone(),
            output: output.clone(),
            group: unique_name(&format!("{name}-group")),
            progress: record_path(&input),
        };
        (broker, spec)
    }

    fn spawn(&self, run: &str) -> ConsumerProcess {
        // One instance, restarted: the same transactional id fences the
        // killed process's producer and aborts what it left open; the same
        // static instance id takes its partitions back at once.
        self.spawn_instance(run, "instance-0")
    }

    /// A process of instance `instance` (its transactional and group
    /// instance ids), with a 6 s session.
    fn spawn_instance(&self, run: &str, instance: &str) -> ConsumerProcess {
        let child: Child = Command::new(SERVICE_BIN)
            .env("TXN_BOOTSTRAP", &self.bootstrap)
            .env("TXN_INPUT", &self.input)
            .env("TXN_OUTPUT", &self.output)
            .env("TXN_GROUP", &self.group)
            .env("TXN_ID", format!("{}-{instance}", self.group))
            .env("TXN_INSTANCE", instance)
            .env("TXN_SESSION_TIMEOUT_MS", SESSION_TIMEOUT_MS.to_string())
            .env("TXN_PROGRESS", &self.progress)
            .env("TXN_RUN", run)
            .env("TXN_FAIL_EVERY", FAIL_EVERY.to_string())
            .stdin(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {SERVICE_BIN}: {e}"));
        ConsumerProcess {
            run: run.to_owned(),
            child,
        }
    }

    /// How many handlings `run` started, from the progress file.
    fn handled_by(&self, run: &str) -> usize {
        std::fs::read_to_string(&self.progress)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.split(' ').nth(1) == Some(run))
            .count()
    }
}

/// Every record of `topic` as `isolation` reads it: values by count, plus
/// the number of records read.
fn read_all(bootstrap: &str, topic: &str, isolation: &str) -> (BTreeMap<String, usize>, usize) {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", unique_name("exactly-once-reader"))
        .set("enable.auto.commit", "false")
        .set("isolation.level", isolation)
        .create()
        .expect("a reader");
    let mut tpl = TopicPartitionList::new();
    let mut ends = BTreeMap::new();
    for p in 0..PARTITIONS {
        tpl.add_partition_offset(topic, p, Offset::Beginning)
            .unwrap();
        let (_, high) = consumer
            .fetch_watermarks(topic, p, Duration::from_secs(10))
            .expect("watermarks");
        ends.insert(p, high);
    }
    consumer.assign(&tpl).expect("assigned");
    let mut values: BTreeMap<String, usize> = BTreeMap::new();
    let mut read = 0;
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        // Done when every partition's position reached its end (control
        // records and aborted records included, which the reader skips).
        let position = consumer.position().expect("position");
        let done = ends.iter().all(|(p, high)| {
            matches!(
                position.find_partition(topic, *p).map(|e| e.offset()),
                Some(Offset::Offset(o)) if o >= *high
            ) || *high == 0
        });
        if done {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "could not read {topic} to its end ({isolation})"
        );
        if let Some(message) = consumer.poll(Duration::from_millis(200)) {
            let message = message.expect("a record");
            let value = String::from_utf8_lossy(message.payload().unwrap_or_default()).into_owned();
            *values.entry(value).or_default() += 1;
            read += 1;
        }
    }
    (values, read)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkills_leave_every_input_exactly_once_in_the_read_committed_output() {
    let messages = env_usize("RELIABILITY_MESSAGES", 5_000);
    let kills = env_usize("RELIABILITY_KILLS", 10);
    assert!(messages > 0 && kills > 0, "the test never runs empty");
    let (mut rng, seed) = Rng::seeded();
    let started = Instant::now();
    let (_broker, spec) = Spec::on_fresh_topics("exactly-once").await;
    let input = spec.input.clone();
    let producer = producer(&spec.bootstrap);

    // One chunk of input per incarnation, produced while it runs.
    let chunks = kills + 1;
    let mut producing = Vec::new();
    let mut killed = 0;
    for k in 0..chunks {
        let range = (messages * k / chunks)..(messages * (k + 1) / chunks);
        let (producer, topic) = (producer.clone(), input.clone());
        producing.push(tokio::spawn(async move {
            produce_range(&producer, &topic, range).await
        }));
        let run = format!("run{k}");
        let mut process = spec.spawn(&run);
        let working = poll(RESTART, Duration::from_millis(100), || {
            spec.handled_by(&run) > 0
        })
        .await;
        process.assert_running();
        assert!(working, "{run} handled nothing within {RESTART:?}");
        if k < kills {
            // A random moment within a second of real work: mid-stream,
            // mid-transaction more often than not (it commits every 100 ms).
            tokio::time::sleep(Duration::from_millis(rng.below(1_000))).await;
            process.assert_running();
            process.kill();
            killed += 1;
        } else {
            let mut acked = 0;
            for p in producing.drain(..) {
                acked += p.await.unwrap();
            }
            assert_eq!(acked, messages, "every input acknowledged");
            // Caught up: the group committed the input's end.
            let high = high_watermarks(&spec.bootstrap, &input, PARTITIONS);
            let caught_up = poll(
                Duration::from_secs(300 + messages as u64 / 20),
                Duration::from_millis(500),
                || committed(&spec.bootstrap, &spec.group, &input, PARTITIONS) == high,
            )
            .await;
            let status = process.terminate(Duration::from_secs(30));
            assert!(
                caught_up,
                "the last incarnation did not commit the whole input"
            );
            assert!(status.success(), "clean exit on SIGTERM, got {status}");
        }
    }

    let (committed_read, uncommitted_read) = assert_exactly_once(&spec, messages);
    let aborted = uncommitted_read - committed_read;
    // The injected failures alone abort a transaction holding `<i>/a` for
    // every FAIL_EVERY-th input: the aborted records exist, and were left out.
    let injected = messages.div_ceil(FAIL_EVERY as usize);
    assert!(
        aborted >= injected,
        "only {aborted} aborted records in the log, fewer than the {injected} injected failures wrote"
    );
    report(&format!(
        "exactly-once test [Apache Kafka, seed {seed}]: {messages} inputs, {killed} SIGKILLs of the \
         transactional service and {injected} injected handler failures; read_committed output: \
         {committed_read} records = 2 x {messages}, each expected value exactly once (missing 0, \
         duplicated 0); read_uncommitted saw {uncommitted_read} ({aborted} from aborted \
         transactions); committed input offsets = end offsets; {:.0} s",
        started.elapsed().as_secs_f64()
    ));
}

/// Reads the output back: every input's two records exactly once with
/// read_committed, nothing else, and the input committed to its end.
/// Returns the records read with read_committed and read_uncommitted.
fn assert_exactly_once(spec: &Spec, messages: usize) -> (usize, usize) {
    let (committed_values, committed_read) =
        read_all(&spec.bootstrap, &spec.output, "read_committed");
    let (_, uncommitted_read) = read_all(&spec.bootstrap, &spec.output, "read_uncommitted");
    let mut missing = Vec::new();
    let mut duplicated = Vec::new();
    for i in 0..messages {
        for half in ["a", "b"] {
            let value = format!("{i}/{half}");
            match committed_values.get(&value).copied().unwrap_or(0) {
                1 => {}
                0 => missing.push(value),
                n => duplicated.push((value, n)),
            }
        }
    }
    let unexpected: usize = committed_values
        .iter()
        .filter(|(v, _)| {
            let Some((i, half)) = v.split_once('/') else {
                return true;
            };
            !(half == "a" || half == "b") || i.parse::<usize>().map_or(true, |i| i >= messages)
        })
        .map(|(_, n)| n)
        .sum();
    assert!(
        missing.is_empty(),
        "{} output records missing, first: {:?}",
        missing.len(),
        &missing[..missing.len().min(10)]
    );
    assert!(
        duplicated.is_empty(),
        "{} output records duplicated, first: {:?}",
        duplicated.len(),
        &duplicated[..duplicated.len().min(10)]
    );
    assert_eq!(unexpected, 0, "records that no input explains");
    assert_eq!(committed_read, 2 * messages);
    let high = high_watermarks(&spec.bootstrap, &spec.input, PARTITIONS);
    assert_eq!(
        committed(&spec.bootstrap, &spec.group, &spec.input, PARTITIONS),
        high,
        "the committed offsets are the input's end"
    );
    (committed_read, uncommitted_read)
}

/// Sends `signal` (`-STOP`, `-CONT`) to `process`.
fn signal(process: &ConsumerProcess, signal: &str) {
    let status = Command::new("kill")
        .args([signal, &process.child.id().to_string()])
        .status()
        .expect("kill(1) runs");
    assert!(status.success(), "{signal} delivered");
}

/// Two instances share the group: the second joins mid-stream (the first
/// commits its transaction before the cooperative rebalance takes
/// partitions away), then the first is frozen (SIGSTOP) past its session
/// timeout while its transaction is open, so the second takes every
/// partition; thawed, the first is a zombie whose commit the group
/// coordinator refuses (KIP-447: its generation is gone), and it rejoins.
/// The read-committed output still holds every input exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_frozen_zombie_and_rebalances_keep_every_input_exactly_once() {
    let messages = env_usize("RELIABILITY_MESSAGES", 5_000).min(3_000);
    let started = Instant::now();
    let (_broker, spec) = Spec::on_fresh_topics("zombie").await;
    let input = spec.input.clone();
    let producer = producer(&spec.bootstrap);
    let third = move |k: usize| (messages * k / 3)..(messages * (k + 1) / 3);

    let first = produce_paced(producer.clone(), input.clone(), third(0).len(), 4);
    let mut a = spec.spawn_instance("a", "instance-a");
    assert!(
        poll(RESTART, Duration::from_millis(100), || spec.handled_by("a")
            > 0)
        .await
    );
    let mut b = spec.spawn_instance("b", "instance-b");
    assert!(
        poll(RESTART, Duration::from_millis(100), || spec.handled_by("b")
            > 0)
        .await,
        "the second instance never got partitions"
    );
    assert_eq!(first.await.unwrap(), third(0).len());

    // Freeze `a` mid-stream, past its session: `b` takes everything.
    let second = tokio::spawn({
        let (producer, topic) = (producer.clone(), input.clone());
        async move { produce_range(&producer, &topic, third(1)).await }
    });
    signal(&a, "-STOP");
    let frozen_at = Instant::now();
    let b_before = spec.handled_by("b");
    let session = Duration::from_millis(SESSION_TIMEOUT_MS);
    tokio::time::sleep(session * 2).await;
    assert!(
        poll(RESTART, Duration::from_millis(100), || spec.handled_by("b")
            > b_before)
        .await,
        "the second instance did not go on while the first was frozen"
    );
    assert_eq!(second.await.unwrap(), third(1).len());
    signal(&a, "-CONT");
    let frozen = frozen_at.elapsed();

    // The zombie thaws, is refused, rejoins; the rest of the input flows.
    let a_before = spec.handled_by("a");
    assert_eq!(
        produce_range(&producer, &input, third(2)).await,
        third(2).len()
    );
    let high = high_watermarks(&spec.bootstrap, &input, PARTITIONS);
    let caught_up = poll(Duration::from_secs(300), Duration::from_millis(500), || {
        committed(&spec.bootstrap, &spec.group, &input, PARTITIONS) == high
    })
    .await;
    a.assert_running();
    b.assert_running();
    let a_after = spec.handled_by("a") - a_before;
    let (status_a, status_b) = (
        a.terminate(Duration::from_secs(30)),
        b.terminate(Duration::from_secs(30)),
    );
    assert!(caught_up, "the group did not commit the whole input");
    assert!(
        status_a.success() && status_b.success(),
        "clean exits: {status_a}, {status_b}"
    );
    let (committed_read, uncommitted_read) = assert_exactly_once(&spec, messages);
    report(&format!(
        "exactly-once zombie test [Apache Kafka]: {messages} inputs over two transactional \
         instances; the second joined mid-stream, the first was frozen (SIGSTOP) {:.1} s with \
         a {SESSION_TIMEOUT_MS} ms session and handled {a_after} more after it thawed; \
         read_committed output {committed_read} = 2 x {messages}, each exactly once; \
         read_uncommitted saw {uncommitted_read}; {:.0} s",
        frozen.as_secs_f64(),
        started.elapsed().as_secs_f64()
    ));
}
