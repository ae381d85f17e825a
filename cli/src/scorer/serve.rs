//! `scorer serve`: the sentiment functions as an Arrow Flight function server, for RisingWave's
//! `CREATE FUNCTION ... USING LINK` and Databend's external functions (see
//! `sentiment::flight_server`).

use std::sync::Arc;

use anyhow::{Context, Result};
use clap::Args;
use sentiment::flight_server::limits::{
    DEFAULT_IDLE_TIMEOUT, DEFAULT_MAX_BATCH_ROWS, DEFAULT_MAX_EXCHANGES, DEFAULT_MAX_MESSAGE_BYTES,
    DEFAULT_SHUTDOWN_GRACE,
};
use sentiment::flight_server::{Limits, SentimentFlightService, serve};

use crate::options::{RuntimeOptions, runtime};

/// Serve sentiment, sentiment_label and sentiment_explain (one of each per model too) over Arrow
/// Flight until SIGINT or SIGTERM; the exchanges in flight finish first, within --shutdown-grace.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    bind: String,
    /// The port to listen on (0: any free port; the one taken is printed).
    #[arg(long, default_value_t = 8815)]
    port: u16,
    /// Rows one input batch may have; a larger batch is refused with an error reply.
    #[arg(long, default_value_t = DEFAULT_MAX_BATCH_ROWS)]
    max_batch_rows: usize,
    /// Bytes one message may take, on the wire and once decompressed (checked from its header
    /// before decoding); a larger one is refused with an error reply.
    #[arg(long, default_value_t = DEFAULT_MAX_MESSAGE_BYTES)]
    max_message_bytes: usize,
    /// Exchanges open at once; one more is refused with an error reply.
    #[arg(long, default_value_t = DEFAULT_MAX_EXCHANGES)]
    max_exchanges: usize,
    /// Seconds an exchange may wait for its client's next message before it is closed.
    #[arg(long, value_name = "SECONDS", default_value_t = DEFAULT_IDLE_TIMEOUT.as_secs_f64())]
    idle_timeout: f64,
    /// Seconds a shutdown waits for open exchanges before it closes them.
    #[arg(long, value_name = "SECONDS", default_value_t = DEFAULT_SHUTDOWN_GRACE.as_secs_f64())]
    shutdown_grace: f64,
    #[command(flatten)]
    runtime: RuntimeOptions,
}

/// Loads the models, listens, and serves until a signal.
pub fn run(args: &ServeArgs) -> Result<()> {
    let catalog = Arc::new(args.runtime.catalog()?);
    let seconds = |flag: &str, value: f64| {
        std::time::Duration::try_from_secs_f64(value)
            .with_context(|| format!("--{flag} {value}: not a number of seconds"))
    };
    let limits = Limits {
        max_batch_rows: args.max_batch_rows,
        max_message_bytes: args.max_message_bytes,
        max_exchanges: args.max_exchanges,
        idle_timeout: seconds("idle-timeout", args.idle_timeout)?,
        shutdown_grace: seconds("shutdown-grace", args.shutdown_grace)?,
    };
    let service = SentimentFlightService::new(catalog, limits)?;
    runtime(crate::options::default_threads())?.block_on(async {
        let address = format!("{}:{}", args.bind, args.port);
        let listener =
            tokio::net::TcpListener::bind(&address).await.with_context(|| format!("cannot listen on {address}"))?;
        // The line a supervisor or a test waits for.
        println!("listening on {} ({} functions)", listener.local_addr()?, service.names().len());
        serve(service, listener, stopped()).await?;
        eprintln!("scorer serve: stopped");
        Ok(())
    })
}

/// Completes on SIGINT or SIGTERM.
async fn stopped() {
    let mut terminate = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(signal) => signal,
        Err(e) => {
            tracing::warn!("cannot watch for SIGTERM: {e}");
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
}
