//! The sentiment functions on an Apache DataFusion Ballista cluster: the scheduler plans with
//! them, each executor runs them, and a client checks that the cluster it reaches has the same
//! functions and models as itself before it sends a query.
//!
//! Ballista sends plans between processes with functions named, not shipped: every process
//! resolves `sentiment(...)` in its own registry, so each one must hold the functions, over a
//! models folder of its own (the same models, found at a path local to each machine).

use std::net::{TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use arrow::array::AsArray;
use ballista::prelude::{SessionConfigExt, SessionContextExt};
use ballista_core::registry::BallistaFunctionRegistry;
use ballista_scheduler::config::SchedulerConfig;
use datafusion::execution::SessionStateBuilder;
use datafusion::prelude::{SessionConfig, SessionContext};
use sentiment_udf::ModelSet;

use crate::catalog::Catalog;

/// How long a client waits for the scheduler to accept a connection.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A scheduler listening on `bind:port` whose sessions know the sentiment functions over
/// `catalog` (for planning: the scheduler itself runs no model).
pub fn scheduler_config(catalog: Arc<Catalog>, bind: &str, port: u16) -> SchedulerConfig {
    SchedulerConfig {
        bind_host: bind.to_owned(),
        external_host: bind.to_owned(),
        bind_port: port,
        override_session_builder: Some(Arc::new(move |session_config: SessionConfig| {
            let mut state = ballista_core::utils::default_session_builder(session_config)?;
            crate::sql::register_all(&mut state, catalog.clone())?;
            Ok(state)
        })),
        ..SchedulerConfig::default()
    }
}

/// Ballista's default functions plus the sentiment functions over `catalog`, for an executor:
/// its tasks share the catalog, which loads each model once.
pub fn executor_functions(catalog: Arc<Catalog>) -> BallistaFunctionRegistry {
    // Ballista's registry takes functions through its fields, not `FunctionRegistry::register_udf`.
    let mut registry = BallistaFunctionRegistry::default();
    for function in sentiment_udf::functions(catalog) {
        registry.scalar_functions.insert(function.name().to_owned(), function);
    }
    registry
}

/// A session whose queries run on the cluster behind the scheduler at `url` (`df://host:port`),
/// with the sentiment functions over `catalog` for planning. Fails with a clear error when no
/// scheduler answers, when the executors lack the functions, or when their version differs.
pub async fn connect(url: &str, catalog: Arc<Catalog>, partitions: usize) -> Result<SessionContext> {
    let address = scheduler_address(url)?;
    let socket = address
        .to_socket_addrs()
        .with_context(|| format!("cannot resolve the scheduler address {url}"))?
        .next()
        .ok_or_else(|| anyhow!("the scheduler address {url} resolves to nothing"))?;
    TcpStream::connect_timeout(&socket, CONNECT_TIMEOUT)
        .with_context(|| format!("no Ballista scheduler at {url} (start one with `scorer scheduler`)"))?;
    let config = SessionConfig::new_with_ballista().with_target_partitions(partitions);
    let config = crate::sql::writing_as_the_scorer_writes(config);
    let state = SessionStateBuilder::new().with_config(config).with_default_features().build();
    let mut ctx = SessionContext::remote_with_state(url, state).await?;
    crate::sql::register_all(&mut ctx, catalog.clone())?;
    check_version(&ctx, url, &catalog.version()).await?;
    Ok(ctx)
}

/// `host:port` of a `df://host:port` URL.
fn scheduler_address(url: &str) -> Result<String> {
    let rest = url.strip_prefix("df://").ok_or_else(|| anyhow!("a cluster is given as df://host:port, not {url:?}"))?;
    let rest = rest.trim_end_matches('/');
    let (host, port) = rest.rsplit_once(':').unwrap_or((rest, "50050"));
    let port: u16 = port.parse().with_context(|| format!("bad port in {url:?}"))?;
    if host.is_empty() {
        bail!("no host in {url:?}");
    }
    Ok(format!("{host}:{port}"))
}

/// Runs `sentiment_version()` on the cluster and compares it with `expected`.
async fn check_version(ctx: &SessionContext, url: &str, expected: &str) -> Result<()> {
    let answer = async { ctx.sql("SELECT sentiment_version() AS version").await?.collect().await };
    let batches = tokio::time::timeout(Duration::from_secs(60), answer)
        .await
        .map_err(|_| anyhow!("the cluster at {url} did not answer within 60 s (are its executors running?)"))?
        .with_context(|| {
            format!(
                "the cluster at {url} could not run sentiment_version() (are its executors started with `scorer \
                 executor`, which has the sentiment functions?)"
            )
        })?;
    let found = batches
        .iter()
        .find(|b| b.num_rows() > 0)
        .map(|b| b.column(0).as_string::<i32>().value(0).to_owned())
        .ok_or_else(|| anyhow!("the cluster at {url} returned no version"))?;
    if found != expected {
        bail!("version mismatch: the cluster at {url} runs {found:?}, this client is {expected:?}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::scheduler_address;

    #[test]
    fn reads_df_urls() {
        assert_eq!(scheduler_address("df://127.0.0.1:50050").unwrap(), "127.0.0.1:50050");
        assert_eq!(scheduler_address("df://cluster/").unwrap(), "cluster:50050");
        assert!(scheduler_address("http://x:1").is_err());
        assert!(scheduler_address("df://x:notaport").is_err());
    }
}
