//! `kafka-bench`: kafka-rs against hand-written rdkafka code doing the same
//! work, on the embedded mock cluster or Apache Kafka. See
//! `kafka-bench/README.md`.

mod apache;
mod broker;
mod consume;
mod handlers;
mod plugin;
mod probe;
mod produce;
mod report;
mod scenarios;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};

use broker::Broker;
use report::Report;

/// Benchmarks kafka-rs against raw rdkafka doing the same work.
#[derive(Parser, Debug, Clone)]
#[command(name = "kafka-bench", version)]
pub struct Args {
    /// The broker: the in-process mock cluster, or Apache Kafka (started
    /// with scripts/kafka.sh, or the one at --bootstrap).
    #[arg(long, value_enum, default_value_t = BrokerKind::Embedded)]
    pub broker: BrokerKind,
    /// host:port of a running Apache Kafka (with --broker kafka); without
    /// it the bench starts one of its own and stops it at the end.
    #[arg(long)]
    pub bootstrap: Option<String>,
    /// The Apache Kafka version: the one to start, or (with --bootstrap) the
    /// one the report names [default: $KAFKA_RS_TEST_KAFKA_VERSION, else 4.1.1].
    #[arg(long)]
    pub kafka_version: Option<String>,
    /// Scenarios to run (comma-separated).
    #[arg(long, value_enum, value_delimiter = ',', default_value = "all")]
    pub scenario: Vec<ScenarioName>,
    /// Interleaved rounds (ours, raw, ours, raw, ...) per scenario.
    #[arg(long, default_value_t = 5)]
    pub rounds: u32,
    /// Messages of the consume and produce scenarios [default: 240000 on the
    /// embedded broker, whose partitions keep about 5 MB; 1000000 otherwise].
    #[arg(long)]
    pub messages: Option<u64>,
    /// Messages of the sequential slow-handler run; the key-ordered run gets
    /// ten times as many.
    #[arg(long, default_value_t = 4000)]
    pub slow_messages: u64,
    /// keyOrderedConcurrency of the slow-handler comparison run.
    #[arg(long, default_value_t = 64)]
    pub key_ordered_concurrency: u32,
    /// Messages per second of the latency scenario.
    #[arg(long, default_value_t = 2000)]
    pub latency_rate: u64,
    /// Seconds of the latency scenario.
    #[arg(long, default_value_t = 5)]
    pub latency_secs: u64,
    /// Records (1 KiB each) of the backlog scenario.
    #[arg(long, default_value_t = 1_000_000)]
    pub backlog_messages: u64,
    /// Rounds of the backlog scenario.
    #[arg(long, default_value_t = 1)]
    pub backlog_rounds: u32,
    /// Longest one run may take before it counts as failed (seconds).
    #[arg(long, default_value_t = 600)]
    pub run_timeout: u64,
    /// The Markdown report (default: `target/bench/<broker>.md`).
    #[arg(long)]
    pub markdown: Option<PathBuf>,
    /// The JSON report (default: `target/bench/<broker>.json`).
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Exit with status 2 when a target is missed (by default targets are
    /// informational: small smoke runs cannot meet them).
    #[arg(long)]
    pub enforce_targets: bool,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
    /// Adds a third side to consume-noop, consume-batch, produce-async and
    /// produce-awaited: the tRPC-Go plugin itself (interop/cmd/plugin-peer,
    /// built with `go build`), in a child process on the same YAML.
    #[arg(long)]
    pub plugin: bool,
    #[command(subcommand)]
    pub child: Option<Child>,
}

/// Hidden: the consumer side of the backlog scenario, in its own process so
/// its peak RSS excludes the (in-process) mock broker.
#[derive(Subcommand, Debug, Clone)]
pub enum Child {
    #[command(hide = true, name = "__backlog-consumer")]
    BacklogConsumer {
        #[arg(long)]
        side: String,
        #[arg(long)]
        bootstrap: String,
        #[arg(long)]
        topic: String,
        #[arg(long)]
        group: String,
        #[arg(long)]
        messages: u64,
        #[arg(long)]
        timeout: u64,
    },
    /// Creates `topic` and fills it as the consume scenarios do, for a
    /// consumer profiled on its own (`__backlog-consumer` under valgrind).
    /// One side of produce-async alone, for a profiler (callgrind) to
    /// count what that side costs: `--side ours|raw`.
    #[command(hide = true, name = "__produce-async")]
    ProduceAsync {
        #[arg(long)]
        side: String,
        #[arg(long)]
        bootstrap: String,
        #[arg(long)]
        topic: String,
        #[arg(long)]
        messages: u64,
    },
    #[command(hide = true, name = "__fill")]
    Fill {
        #[arg(long)]
        bootstrap: String,
        #[arg(long)]
        topic: String,
        #[arg(long, default_value_t = 8)]
        partitions: i32,
        #[arg(long)]
        messages: u64,
        #[arg(long, default_value_t = 100)]
        size: usize,
    },
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum BrokerKind {
    Embedded,
    Kafka,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScenarioName {
    All,
    ConsumeNoop,
    ConsumeBatch,
    ProduceAsync,
    ProduceAwaited,
    SlowHandler,
    Latency,
    Backlog,
}

impl ScenarioName {
    const ORDER: [ScenarioName; 7] = [
        ScenarioName::ConsumeNoop,
        ScenarioName::ConsumeBatch,
        ScenarioName::ProduceAsync,
        ScenarioName::ProduceAwaited,
        ScenarioName::SlowHandler,
        ScenarioName::Latency,
        ScenarioName::Backlog,
    ];
}

/// What every scenario gets.
pub struct Ctx {
    pub args: Args,
    pub broker: Broker,
    /// The plugin's side (`--plugin`): its program.
    pub plugin: Option<PathBuf>,
    pub progress: ProgressBar,
    run_id: String,
    next: AtomicU32,
}

impl Ctx {
    /// A topic or group name no earlier run used.
    pub fn unique(&self, prefix: &str) -> String {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        format!("bench-{prefix}-{}-{n}", self.run_id)
    }

    pub fn deadline(&self) -> Instant {
        Instant::now() + Duration::from_secs(self.args.run_timeout)
    }

    pub fn messages(&self) -> u64 {
        self.args.messages.unwrap_or(if self.broker.is_embedded() {
            240_000
        } else {
            1_000_000
        })
    }

    pub fn step(&self, message: String) {
        self.progress.set_message(message);
    }

    pub fn done_step(&self) {
        self.progress.inc(1);
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("kafka-bench: cannot start tokio: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Some(Child::Fill {
        bootstrap,
        topic,
        partitions,
        messages,
        size,
    }) = args.child.clone()
    {
        let broker = Broker::External { bootstrap };
        let filled = runtime.block_on(async {
            broker.create_topic(&topic, partitions).await?;
            let bootstrap = broker.bootstrap();
            tokio::task::spawn_blocking(move || {
                broker::fill(
                    &bootstrap,
                    &topic,
                    partitions,
                    messages,
                    size,
                    broker::Layout::RoundRobin,
                    |_| {},
                )
            })
            .await
            .map_err(|e| e.to_string())?
        });
        return match filled {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("kafka-bench: fill: {e}");
                ExitCode::FAILURE
            }
        };
    }
    if let Some(Child::ProduceAsync {
        side,
        bootstrap,
        topic,
        messages,
    }) = args.child.clone()
    {
        return match runtime.block_on(scenarios::produce_async_child(
            &side, &bootstrap, &topic, messages,
        )) {
            Ok(line) => {
                println!("{line}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("kafka-bench: produce-async ({side}): {e}");
                ExitCode::FAILURE
            }
        };
    }
    if let Some(Child::BacklogConsumer {
        side,
        bootstrap,
        topic,
        group,
        messages,
        timeout,
    }) = args.child.clone()
    {
        return match runtime.block_on(scenarios::backlog_child(
            &side, &bootstrap, &topic, &group, messages, timeout,
        )) {
            Ok(line) => {
                println!("{line}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("kafka-bench: backlog consumer ({side}): {e}");
                ExitCode::FAILURE
            }
        };
    }
    match runtime.block_on(run(args)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("kafka-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

async fn run(args: Args) -> Result<ExitCode, String> {
    if args.rounds == 0 {
        return Err("--rounds must be at least 1".into());
    }
    let load_before = load();
    let kafka_version = args
        .kafka_version
        .clone()
        .or_else(|| std::env::var("KAFKA_RS_TEST_KAFKA_VERSION").ok())
        .unwrap_or_else(|| "4.1.1".to_owned());
    // Stopped when `run` returns, whatever the outcome.
    let started_kafka = match (args.broker, &args.bootstrap) {
        (BrokerKind::Kafka, None) => Some(apache::StartedKafka::start(&kafka_version)?),
        _ => None,
    };
    let (broker, broker_name, storage) = match args.broker {
        BrokerKind::Embedded => (
            Broker::Embedded(
                kafka_runtime::testing::EmbeddedBroker::start()
                    .map_err(|e| format!("cannot start the embedded broker: {e}"))?,
            ),
            "embedded (librdkafka mock cluster, in process)".to_owned(),
            "memory (mock cluster, about 5 MB per partition)".to_owned(),
        ),
        BrokerKind::Kafka => {
            let (bootstrap, version) = match (&started_kafka, args.bootstrap.clone()) {
                (Some(kafka), _) => (kafka.bootstrap.clone(), kafka.version().to_owned()),
                (None, Some(bootstrap)) => (bootstrap, kafka_version),
                (None, None) => unreachable!("started above when --bootstrap is missing"),
            };
            (
                Broker::External { bootstrap },
                format!("Apache Kafka {version} (KRaft, single node, separate process)"),
                "log segments on local disk".to_owned(),
            )
        }
    };
    let scenarios: Vec<ScenarioName> = if args.scenario.contains(&ScenarioName::All) {
        ScenarioName::ORDER.to_vec()
    } else {
        ScenarioName::ORDER
            .into_iter()
            .filter(|s| args.scenario.contains(s))
            .collect()
    };
    let steps: u64 = scenarios
        .iter()
        .map(|s| match s {
            ScenarioName::Backlog => 2 * u64::from(args.backlog_rounds) + 1,
            _ => 2 * u64::from(args.rounds) + 1,
        })
        .sum();
    let progress = if args.quiet {
        ProgressBar::hidden()
    } else {
        let bar = ProgressBar::new(steps);
        bar.set_style(
            ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} {wide_msg}")
                .map_err(|e| e.to_string())?
                .progress_chars("=> "),
        );
        bar.enable_steady_tick(Duration::from_millis(200));
        bar
    };
    let run_id = format!(
        "{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis())
    );
    let plugin = if args.plugin {
        Some(plugin::build()?)
    } else {
        None
    };
    let ctx = Ctx {
        broker,
        plugin,
        progress,
        run_id,
        next: AtomicU32::new(0),
        args: args.clone(),
    };
    let mut results = Vec::new();
    for s in scenarios {
        let result = match s {
            ScenarioName::ConsumeNoop => scenarios::consume(&ctx, false).await,
            ScenarioName::ConsumeBatch => scenarios::consume(&ctx, true).await,
            ScenarioName::ProduceAsync => scenarios::produce_async(&ctx).await,
            ScenarioName::ProduceAwaited => scenarios::produce_awaited(&ctx).await,
            ScenarioName::SlowHandler => scenarios::slow_handler(&ctx).await,
            ScenarioName::Latency => scenarios::latency(&ctx).await,
            ScenarioName::Backlog => scenarios::backlog(&ctx).await,
            ScenarioName::All => unreachable!("expanded above"),
        };
        ctx.progress.println(format!(
            "{}: {}",
            result.name,
            match (&result.error, result.ratio) {
                (Some(e), _) => format!("ERROR {e}"),
                (None, Some(r)) => format!("ratio {r:.3}x"),
                (None, None) => "done".into(),
            }
        ));
        results.push(result);
    }
    ctx.progress.finish_and_clear();
    let report = Report {
        broker: broker_name,
        storage,
        bootstrap: ctx.broker.bootstrap(),
        command: std::env::args().collect::<Vec<_>>().join(" "),
        rounds: args.rounds,
        profile: if cfg!(debug_assertions) {
            "dev"
        } else {
            "release"
        }
        .into(),
        cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
        load_before,
        load_after: load(),
        scenarios: results,
    };
    let name = match args.broker {
        BrokerKind::Embedded => "embedded",
        BrokerKind::Kafka => "kafka",
    };
    let markdown = args
        .markdown
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("target/bench/{name}.md")));
    let json = args
        .json
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("target/bench/{name}.json")));
    for path in [&markdown, &json] {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
    }
    let text = report.markdown();
    std::fs::write(&markdown, &text).map_err(|e| format!("{}: {e}", markdown.display()))?;
    let encoded = serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?;
    std::fs::write(&json, encoded).map_err(|e| format!("{}: {e}", json.display()))?;
    println!("{text}");
    println!("reports: {} {}", markdown.display(), json.display());
    let errors = report.errors();
    if !errors.is_empty() {
        for e in &errors {
            eprintln!("kafka-bench: scenario failed: {e}");
        }
        return Ok(ExitCode::FAILURE);
    }
    if args.enforce_targets && !report.targets_met() {
        eprintln!("kafka-bench: targets missed (see the report)");
        return Ok(ExitCode::from(2));
    }
    Ok(ExitCode::SUCCESS)
}
