//! The kafka-rs side of the interoperability tests (`tests/interop_*.rs`):
//! a service as a user writes it, `kafka_runtime::serve()` on the
//! `trpc_go.yaml` that `KAFKA_RS_CONFIG` names, with one `#[kafka_consumer]`
//! handler for every Kafka service of the file (the seed's
//! `RegisterKafkaHandlerService(s, handle)`). The Go side,
//! `interop/cmd/plugin-peer -mode consume`, serves the same file with the
//! plugin and prints the same lines:
//!
//! - `{"event":"record", member, generation, topic, partition, offset, key,
//!   value, headers, meta, start_ns, end_ns}` per handled record (bytes in
//!   base64, as Go's encoding/json writes them; `null` for an absent key);
//! - `{"event":"serve-error","error":...}` when `serve()` returns an error,
//!   after which the process exits with status 1;
//! - kafka-rs only: `{"event":"readiness","ready":bool,"report":...}` each
//!   time the readiness report of `serve()` changes (checked every 20 ms).
//!
//! `INTEROP_DELAY_MS` (default 0) is how long the handler works per record.
//! It stops cleanly on SIGTERM/SIGINT (serve()'s default signals).

use std::io::Write;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use kafka_runtime::{kafka_consumer, Context, HandlerError, Message};
use serde_json::{json, Value};

static DELAY: OnceLock<Duration> = OnceLock::new();

fn now_ns() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default()
}

fn bytes(b: Option<&[u8]>) -> Value {
    b.map_or(Value::Null, |b| Value::String(STANDARD.encode(b)))
}

fn print_line(line: &Value) {
    let mut out = std::io::stdout().lock();
    // A test reads the pipe while the service runs: one flushed line each.
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

#[kafka_consumer]
async fn handle(ctx: Context, msg: Message) -> Result<(), HandlerError> {
    let start = now_ns();
    let delay = *DELAY.get().expect("set before serving");
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let raw = ctx.raw();
    let headers: Vec<Value> = msg
        .headers
        .iter()
        .map(|(k, v)| json!({ "key": bytes(Some(k.as_bytes())), "value": bytes(v.as_deref()) }))
        .collect();
    let meta: serde_json::Map<String, Value> = ctx
        .metadata()
        .iter()
        .map(|(k, v)| (k.to_owned(), bytes(Some(v))))
        .collect();
    print_line(&json!({
        "event": "record",
        "member": raw.member_id.as_deref().unwrap_or_default(),
        "generation": raw.generation_id.unwrap_or(-1),
        "topic": &*msg.topic,
        "partition": msg.partition,
        "offset": msg.offset,
        "key": bytes(msg.key.as_deref()),
        "value": bytes(msg.payload.as_deref()),
        "headers": if headers.is_empty() { Value::Null } else { Value::Array(headers) },
        "meta": if meta.is_empty() { Value::Null } else { Value::Object(meta) },
        "start_ns": start,
        "end_ns": now_ns(),
    }));
    Ok(())
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let delay = match std::env::var("INTEROP_DELAY_MS").map(|v| v.parse::<u64>()) {
        Err(_) => 0,
        Ok(Ok(ms)) => ms,
        Ok(Err(e)) => {
            eprintln!("interop_member: INTEROP_DELAY_MS must be a number of milliseconds: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let _ = DELAY.set(Duration::from_millis(delay));
    let serve = kafka_runtime::serve();
    let readiness = serve.readiness();
    tokio::spawn(async move {
        let mut last = String::new();
        loop {
            let report = readiness.report();
            let text = report.to_string();
            if text != last {
                print_line(
                    &json!({ "event": "readiness", "ready": report.ready, "report": &text }),
                );
                last = text;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
    match serve.await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            print_line(&json!({ "event": "serve-error", "error": e.to_string() }));
            std::process::ExitCode::FAILURE
        }
    }
}
