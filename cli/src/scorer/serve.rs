//! `scorer serve`: the sentiment functions as an Arrow Flight function server, for RisingWave's
//! `CREATE FUNCTION ... USING LINK` and Databend's external functions (see
//! `sentiment::flight_server`).

use std::sync::Arc;

use anyhow::{Context, Result};
use clap::Args;
use sentiment::flight_server::{DEFAULT_MAX_BATCH_ROWS, SentimentFlightService, serve};

use crate::options::{RuntimeOptions, runtime};

/// Serve sentiment, sentiment_label and sentiment_explain (one of each per model too) over Arrow
/// Flight until SIGINT or SIGTERM; the exchanges in flight finish first.
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
    #[command(flatten)]
    runtime: RuntimeOptions,
}

/// Loads the models, listens, and serves until a signal.
pub fn run(args: &ServeArgs) -> Result<()> {
    let catalog = Arc::new(args.runtime.catalog()?);
    let service = SentimentFlightService::new(catalog, args.max_batch_rows);
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
