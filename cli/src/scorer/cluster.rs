//! `scorer scheduler` and `scorer executor`: the processes of an Apache DataFusion Ballista
//! cluster that knows the sentiment functions. `scorer sql --cluster df://host:port` sends
//! queries to it.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result, anyhow};
use ballista_executor::executor_process::{ExecutorProcessConfig, start_executor_process};
use ballista_scheduler::cluster::BallistaCluster;
use clap::Args;
use sentiment::catalog::Catalog;
use sentiment::runtime::Provider;

use crate::options::{ModelsDir, default_threads, runtime};

/// Start a Ballista scheduler that plans queries with the sentiment functions.
#[derive(Debug, Args)]
pub struct SchedulerArgs {
    /// The address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    bind: String,
    /// The port clients and executors connect to.
    #[arg(long, default_value_t = 50050)]
    port: u16,
    // The scheduler reads the models' cards to check model names.
    #[command(flatten)]
    models_dir: ModelsDir,
}

/// Start a Ballista executor that runs the sentiment functions, loading each model once.
#[derive(Debug, Args)]
pub struct ExecutorArgs {
    /// The scheduler to register with, as host:port.
    #[arg(long, default_value = "127.0.0.1:50050")]
    scheduler: String,
    /// The address to listen on (and to give the scheduler).
    #[arg(long, default_value = "127.0.0.1")]
    bind: String,
    /// The port other executors and clients fetch results from (Arrow Flight).
    #[arg(long, default_value_t = 50051)]
    port: u16,
    /// The port the scheduler sends tasks to.
    #[arg(long, default_value_t = 50052)]
    grpc_port: u16,
    // The models, on this machine.
    #[command(flatten)]
    models_dir: ModelsDir,
    /// Tasks run at once [default: all cores].
    #[arg(long)]
    concurrent_tasks: Option<usize>,
    /// Where shuffle files are written [default: a new temporary folder].
    #[arg(long)]
    work_dir: Option<PathBuf>,
}

fn catalog(models_dir: &ModelsDir, threads: usize) -> Result<Arc<Catalog>> {
    let dir = models_dir.path();
    Ok(Arc::new(
        Catalog::open(&dir, threads, Provider::Cpu).with_context(|| format!("no models in {}", dir.display()))?,
    ))
}

/// Runs the scheduler until it is stopped.
pub fn scheduler(args: &SchedulerArgs) -> Result<()> {
    let config = Arc::new(sentiment::cluster::scheduler_config(catalog(&args.models_dir, 1)?, &args.bind, args.port));
    let address =
        format!("{}:{}", args.bind, args.port).parse().with_context(|| format!("bad address {}", args.bind))?;
    runtime(default_threads())?.block_on(async {
        let cluster = BallistaCluster::new_from_config(&config).await?;
        eprintln!("scorer scheduler: listening on df://{}:{}", args.bind, args.port);
        ballista_scheduler::scheduler_process::start_server(cluster, address, config).await
    })?;
    Ok(())
}

/// Runs the executor until it is stopped.
pub fn executor(args: &ExecutorArgs) -> Result<()> {
    let tasks = args.concurrent_tasks.unwrap_or_else(default_threads);
    // Tasks take turns on each model's session, every call using all cores.
    let catalog = catalog(&args.models_dir, default_threads())?;
    let (host, port) =
        args.scheduler.rsplit_once(':').ok_or_else(|| anyhow!("--scheduler is host:port, not {:?}", args.scheduler))?;
    let config = ExecutorProcessConfig {
        bind_host: args.bind.clone(),
        external_host: Some(args.bind.clone()),
        port: args.port,
        grpc_port: args.grpc_port,
        scheduler_host: host.to_owned(),
        scheduler_port: port.parse().with_context(|| format!("bad scheduler port in {:?}", args.scheduler))?,
        scheduler_connect_timeout_seconds: 30,
        vcores: tasks,
        work_dir: args.work_dir.as_ref().map(|d| d.display().to_string()),
        override_function_registry: Some(Arc::new(sentiment::cluster::executor_functions(catalog))),
        ..ExecutorProcessConfig::default()
    };
    runtime(default_threads())?.block_on(async {
        eprintln!("scorer executor: serving on {}:{} for the scheduler at {}", args.bind, args.port, args.scheduler);
        start_executor_process(Arc::new(config)).await
    })?;
    Ok(())
}
