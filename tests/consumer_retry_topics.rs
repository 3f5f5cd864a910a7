//! Non-blocking retry topics on a real broker (`retryTopics=N`): a record
//! the handler keeps failing on leaves its partition at once (the records
//! behind it are not held up), runs again in `TOPIC-retry-1` ...
//! `TOPIC-retry-N` after the retry schedule's waits, and then reaches the
//! dead-letter topic with its original key, value and headers and the
//! count of every run.

mod consumer_support;
mod producer_support;
mod reliability_support;

use std::sync::Mutex;
use std::time::{Duration, Instant};

use consumer_support::*;
use kafka_runtime::rdkafka::message::Message as _;
use kafka_runtime::{deadletter, kafka_consumer, retrytopic, Context, HandlerError};
use producer_support::{headers_of, Fixture};

/// Every run: (topic, payload, when, attempt).
static RUNS: Mutex<Vec<(String, String, Instant, u32)>> = Mutex::new(Vec::new());

#[kafka_consumer(service = "retrytopics.always")]
async fn always(ctx: Context, payload: String) -> Result<(), HandlerError> {
    RUNS.lock().unwrap().push((
        ctx.raw().topic.to_string(),
        payload.clone(),
        Instant::now(),
        ctx.attempt(),
    ));
    if payload == "fail" {
        return Err(HandlerError::msg("failing on purpose"));
    }
    Ok(())
}

fn runs_of(prefix: &str) -> Vec<(String, String, Instant, u32)> {
    RUNS.lock()
        .unwrap()
        .iter()
        .filter(|(t, ..)| t.starts_with(prefix))
        .cloned()
        .collect()
}

const HOPS: u32 = 2;
const WAIT_MS: u64 = 300;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_always_failing_record_hops_n_times_without_holding_its_partition() {
    init_logs();
    let dlt = Fixture::new("retrytopics-dlt", 1).await;
    let bootstrap = dlt.broker.bootstrap();
    let topic = unique_name("retrytopics");
    dlt.broker.create_topic(&topic, 1).await.unwrap();
    for level in 1..=HOPS {
        let retry = retrytopic::topic_name(&topic, level);
        dlt.broker.create_topic(&retry, 1).await.unwrap();
    }
    let service = Service::new("retrytopics.always", &topic)
        .key("retryTopics", HOPS)
        .key("retryInterval", WAIT_MS)
        .key("deadLetterTopic", &dlt.topic);
    let group = service.group.clone();
    let running = start(config(&bootstrap, &[service]), &["retrytopics.always"]);

    let p = producer(&bootstrap);
    let original_headers = [("h1", "a"), ("h2", "b")];
    produce_keyed_with_headers(&p, &topic, 0, Some("k-fail"), "fail", &original_headers).await;
    for i in 1..=5 {
        produce_keyed_with_headers(&p, &topic, 0, Some("k-ok"), &format!("ok-{i}"), &[]).await;
    }
    let copies = dlt.read_all(1, 1).await;
    let (b, g, t) = (bootstrap.clone(), group.clone(), topic.clone());
    let committed = kafka_rs::wait_until(WAIT, move || {
        reliability_support::committed(&b, &g, &t, 1).get(&0) == Some(&6)
    })
    .await;
    running.stop().await.expect("serve() stops cleanly");
    assert!(committed, "every offset of {topic} committed");

    let runs = runs_of(&topic);
    let fail: Vec<&(String, String, Instant, u32)> =
        runs.iter().filter(|r| r.1 == "fail").collect();
    let where_and_attempt: Vec<(String, u32)> = fail.iter().map(|r| (r.0.clone(), r.3)).collect();
    let mut expected = vec![(topic.clone(), 1)];
    for level in 1..=HOPS {
        expected.push((retrytopic::topic_name(&topic, level), level + 1));
    }
    assert_eq!(where_and_attempt, expected, "one run per topic");
    for pair in fail.windows(2) {
        let gap = pair[1].2 - pair[0].2;
        assert!(
            gap >= Duration::from_millis(WAIT_MS),
            "a hop ran after {gap:?}, before its {WAIT_MS} ms wait"
        );
    }
    // The partition goes on at once: the next record's run starts within
    // 100 ms of the failing record's run.
    let ok: Vec<&(String, String, Instant, u32)> =
        runs.iter().filter(|r| r.1.starts_with("ok-")).collect();
    let payloads: Vec<&str> = ok.iter().map(|r| r.1.as_str()).collect();
    assert_eq!(payloads, ["ok-1", "ok-2", "ok-3", "ok-4", "ok-5"]);
    assert!(ok.iter().all(|r| r.0 == topic && r.3 == 1));
    let delay = ok[0].2 - fail[0].2;
    eprintln!("retry topics: the next record of the partition ran {delay:?} after the failing one; hop gaps {:?}",
        fail.windows(2).map(|w| w[1].2 - w[0].2).collect::<Vec<_>>());
    assert!(
        delay < Duration::from_millis(100),
        "the next record waited {delay:?}"
    );

    // One copy per retry topic, then exactly one dead-letter copy.
    for level in 1..=HOPS {
        let retry = retrytopic::topic_name(&topic, level);
        let high = reliability_support::high_watermarks(&bootstrap, &retry, 1);
        assert_eq!(high.get(&0), Some(&1), "{retry} holds one copy");
        let hop = producer_support::read(bootstrap.clone(), retry.clone(), vec![(0, 0)], 1).await;
        let headers = headers_of(&hop[0]);
        assert_eq!(hop[0].key(), Some(&b"k-fail"[..]));
        assert_eq!(
            headers
                .iter()
                .find(|(k, _)| k == retrytopic::ATTEMPTS_HEADER)
                .map(|(_, v)| v.clone()),
            Some(level.to_string().into_bytes()),
            "{headers:?}"
        );
    }
    let high = reliability_support::high_watermarks(&bootstrap, &dlt.topic, 1);
    assert_eq!(high.get(&0), Some(&1), "one dead-letter copy");
    let copy = &copies[0];
    assert_eq!(copy.key(), Some(&b"k-fail"[..]));
    assert_eq!(copy.payload(), Some(&b"fail"[..]));
    let headers = headers_of(copy);
    let originals: Vec<(String, Vec<u8>)> = original_headers
        .iter()
        .map(|(k, v)| (k.to_string(), v.as_bytes().to_vec()))
        .collect();
    assert_eq!(headers[..2], originals[..], "{headers:?}");
    assert!(
        headers.iter().all(|(k, _)| !k.starts_with("retry-")),
        "no retry-* header on the dead-letter copy: {headers:?}"
    );
    let get = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
    };
    assert_eq!(
        get(deadletter::ATTEMPTS_HEADER),
        Some((HOPS + 1).to_string())
    );
    assert_eq!(get(deadletter::TOPIC_HEADER), Some(topic.clone()));
    assert_eq!(get(deadletter::OFFSET_HEADER).as_deref(), Some("0"));
    assert_eq!(get(deadletter::PARTITION_HEADER).as_deref(), Some("0"));
    assert_eq!(
        get(deadletter::REASON_HEADER).as_deref(),
        Some("handler-failed")
    );
    assert_eq!(
        get(deadletter::ERROR_HEADER).as_deref(),
        Some("failing on purpose")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn startup_fails_naming_the_missing_retry_topics() {
    init_logs();
    let broker = TestBroker::start().await.unwrap();
    let topic = unique_name("retrytopics-missing");
    broker.create_topic(&topic, 1).await.unwrap();
    broker
        .create_topic(&retrytopic::topic_name(&topic, 1), 1)
        .await
        .unwrap();
    let service = Service::new("retrytopics.always", &topic).key("retryTopics", 3);
    let served = tokio::time::timeout(
        WAIT,
        kafka_runtime::serve()
            .config(config(&broker.bootstrap(), &[service]))
            .only_services(["retrytopics.always"]),
    )
    .await
    .expect("serve() fails at startup rather than running");
    let error = served
        .expect_err("missing retry topics fail the startup")
        .to_string();
    assert_eq!(
        error,
        format!(
            "configuration error: service `retrytopics.always`: `retryTopics=3`: the retry topics `{topic}-retry-2`, \
             `{topic}-retry-3` do not exist; create them before starting the service, each with \
             as many partitions as the topic it retries (kafka-rs does not create topics)"
        )
    );
}
