//! `kafka-config-check`: loads a `trpc_go.yaml` the way the runtime does,
//! validates every Kafka service and prints what each one resolves to, so a
//! configuration can be checked before deploying, without a broker.
//!
//! With `--asyncapi` it writes an AsyncAPI 3.0 document of the file's Kafka
//! channels instead (`kafka_runtime::asyncapi`).
//!
//! Exit codes: 0 valid, 2 any error (message on stderr; clap's usage errors
//! also exit with 2).

mod notes;
mod render;
mod report;

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, ValueEnum};
use kafka_runtime::asyncapi::{self, Info};
use kafka_runtime::config::{Config, CONFIG_ENV, DEFAULT_CONFIG_PATH};

use report::Report;

/// Validate a trpc_go.yaml and print every Kafka consumer and producer
/// service with its resolved librdkafka properties (secrets as `***`).
#[derive(Parser)]
#[command(name = "kafka-config-check", version, about, long_about = None)]
struct Cli {
    /// The configuration file [default: $KAFKA_RS_CONFIG, else ./trpc_go.yaml]
    path: Option<PathBuf>,

    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,

    /// Instead of the report, write an AsyncAPI 3.0 document (JSON) of the
    /// file's Kafka channels: servers, topics, receive and send operations.
    /// Payload types are known only to the application itself: run it with
    /// KAFKA_RS_ASYNCAPI=path.json for a document that has them.
    #[arg(long, conflicts_with = "format")]
    asyncapi: bool,

    /// The document's `info.title` [default: the file name]
    #[arg(long, requires = "asyncapi")]
    title: Option<String>,

    /// The document's `info.version`
    #[arg(long, requires = "asyncapi", default_value = "unversioned")]
    api_version: String,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    /// Readable text, one block per service
    Text,
    /// One JSON document
    Json,
}

/// The exit code of a configuration that cannot be used.
const INVALID: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Same resolution as `Config::load`, whose error also explains the default.
    let (path, loaded) = match &cli.path {
        Some(path) => (path.clone(), Config::from_path(path)),
        None => {
            let path = std::env::var_os(CONFIG_ENV)
                .map_or_else(|| DEFAULT_CONFIG_PATH.into(), PathBuf::from);
            (path, Config::load())
        }
    };
    let config = match loaded {
        Ok(config) => config,
        Err(err) => {
            eprintln!("error: {err}");
            return ExitCode::from(INVALID);
        }
    };
    let out = if cli.asyncapi {
        let title = cli.title.clone().unwrap_or_else(|| {
            path.file_name().map_or_else(
                || path.display().to_string(),
                |n| n.to_string_lossy().into_owned(),
            )
        });
        let info = Info::new(title, cli.api_version.clone());
        serde_json::to_string_pretty(&asyncapi::document(&config, &info)).unwrap_or_default() + "\n"
    } else {
        // The loader has just read the file; should it vanish now, there are no notes.
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let mut report = Report::new(path.display().to_string(), &config);
        report.notes = notes::near_misses(&text);
        match cli.format {
            Format::Text => render::text(&report),
            Format::Json => render::json(&report),
        }
    };
    let mut stdout = std::io::stdout().lock();
    if let Err(err) = stdout
        .write_all(out.as_bytes())
        .and_then(|()| stdout.flush())
    {
        // A closed pipe (`| head`) is not a configuration error, but still not success.
        eprintln!("error: cannot write the report: {err}");
        return ExitCode::from(1);
    }
    ExitCode::SUCCESS
}
