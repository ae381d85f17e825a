//! An Arrow Flight function server for streaming databases: the sentiment functions over the
//! protocol of RisingWave's `arrow-udf` project, which RisingWave (`CREATE FUNCTION ... USING LINK`)
//! and Databend's external functions speak.
//!
//! The protocol: `GetFlightInfo` with the descriptor path `[name]` answers one function's schema,
//! its argument fields followed by its result field, with `total_records` the number of arguments;
//! `ListFlights` answers every function so; `DoExchange` takes a stream of argument batches (the
//! descriptor on the first message) and answers each with a batch of one result column, row for
//! row; the action `protocol_version` answers 2.
//!
//! Served: `sentiment`, `sentiment_label` and `sentiment_explain` with the default model, and
//! `sentiment_<model>`, `sentiment_label_<model>`, `sentiment_explain_<model>` for every model
//! (`-` in a model's name becomes `_`). Each takes one VARCHAR column. The functions are the
//! `sentiment-udf` crate's, run directly on each batch, so a stream gets exactly the scores of
//! SQL. Models load once and are shared by every connection; a batch is scored on a blocking
//! thread, and a client that stops reading stops the server reading its input (gRPC flow
//! control), so memory stays bounded by the batches in flight. Each message is checked against
//! the server's [`Limits`] before it is decoded, and an exchange over a limit gets an error reply
//! while the server serves on.

pub mod limits;

use std::collections::BTreeMap;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::{Arc, LazyLock};

use arrow::array::{ArrayRef, RecordBatch};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow_flight::decode::FlightRecordBatchStream;
use arrow_flight::error::FlightError;
use arrow_flight::flight_service_server::FlightService;
use arrow_flight::{
    Action, ActionType, Criteria, Empty, FlightData, FlightDescriptor, FlightInfo, HandshakeRequest, HandshakeResponse,
    PollInfo, PutResult, SchemaAsIpc, SchemaResult, Ticket,
};
use arrow_ipc::writer::{DictionaryTracker, IpcDataGenerator, IpcWriteContext, IpcWriteOptions};
use datafusion::common::ScalarValue;
use datafusion::common::config::ConfigOptions;
use datafusion::logical_expr::{ColumnarValue, ScalarFunctionArgs, ScalarUDF};
use futures::stream::{self, BoxStream};
use futures::{StreamExt, TryStreamExt};
use tokio::sync::Semaphore;
use tonic::{Request, Response, Status, Streaming};

pub use limits::Limits;

use crate::batch::is_text_type;
use crate::catalog::{Catalog, DEFAULT_MODEL};

/// The protocol version of `arrow-udf` that this server follows.
pub const PROTOCOL_VERSION: u8 = 2;

/// One served function: which SQL function, with which model.
#[derive(Debug, Clone)]
struct Served {
    function: Arc<ScalarUDF>,
    model: String,
    result: DataType,
}

/// The Flight service: every served function by name, over one shared model set, within its
/// [`Limits`].
#[derive(Debug, Clone)]
pub struct SentimentFlightService {
    functions: Arc<BTreeMap<String, Served>>,
    limits: Limits,
    /// One permit per exchange that may be open.
    exchanges: Arc<Semaphore>,
}

impl SentimentFlightService {
    /// The functions over `catalog`'s models, served within `limits`. Fails when two would have
    /// one name: a model named `label-mlp` would make `sentiment_label_mlp` both `sentiment_label`
    /// with `mlp` and `sentiment` with `label-mlp`.
    pub fn new(catalog: Arc<Catalog>, limits: Limits) -> anyhow::Result<Self> {
        let udfs = sentiment_udf::functions(catalog.clone());
        let mut functions = BTreeMap::new();
        // Every function of a review: all but sentiment_version(), which takes no argument.
        for udf in udfs.iter().filter(|f| !f.inner().is::<sentiment_udf::SentimentVersion>()) {
            let result = udf.return_type(&[DataType::Utf8]).expect("the sentiment functions type VARCHAR");
            let served =
                |model: &str| Served { function: udf.clone(), model: model.to_owned(), result: result.clone() };
            let names = std::iter::once((udf.name().to_owned(), DEFAULT_MODEL))
                .chain(catalog.names().into_iter().map(|m| (format!("{}_{}", udf.name(), m.replace('-', "_")), m)));
            for (name, model) in names {
                if let Some(other) = functions.insert(name.clone(), served(model)) {
                    anyhow::bail!(
                        "two functions would be served as {name}: {} with model {} and {} with model {model}; rename \
                         the model",
                        other.function.name(),
                        other.model,
                        udf.name()
                    );
                }
            }
        }
        let exchanges = Arc::new(Semaphore::new(limits.max_exchanges));
        Ok(Self { functions: Arc::new(functions), limits, exchanges })
    }

    /// The bounds the service keeps.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The served functions' names, sorted.
    pub fn names(&self) -> Vec<&str> {
        self.functions.keys().map(String::as_str).collect()
    }

    fn function(&self, descriptor: Option<&FlightDescriptor>) -> Result<(&str, &Served), Status> {
        let name = descriptor.and_then(|d| d.path.first()).ok_or_else(|| {
            Status::invalid_argument("the first message must carry a descriptor whose path names the function")
        })?;
        self.functions
            .get_key_value(name)
            .map(|(name, served)| (name.as_str(), served))
            .ok_or_else(|| Status::not_found(format!("no function {name:?}; the functions are {:?}", self.names())))
    }

    fn info(&self, name: &str, served: &Served) -> Result<FlightInfo, Status> {
        let schema = Schema::new(vec![
            Field::new("review", DataType::Utf8, true),
            Field::new(name, served.result.clone(), true),
        ]);
        Ok(FlightInfo::new()
            .try_with_schema(&schema)
            .map_err(|e| Status::internal(e.to_string()))?
            .with_descriptor(FlightDescriptor::new_path(vec![name.to_owned()]))
            .with_total_records(1))
    }
}

/// The argument batches of an exchange's messages, in order. Each message is checked against
/// `limits` before it is decoded; a message with no IPC header carries only the descriptor
/// (pyarrow sends one first). Arrow's decoder panics on some malformed messages instead of
/// failing (a buffer whose length is not a whole number of its values): such a message ends the
/// exchange with an error reply, as any other bad message does, and the server serves on.
pub fn argument_batches(
    messages: impl futures::Stream<Item = Result<FlightData, Status>> + Send + 'static,
    limits: Limits,
) -> impl futures::Stream<Item = Result<RecordBatch, FlightError>> + Send + 'static {
    let data: BoxStream<'static, Result<FlightData, FlightError>> = messages
        .and_then(move |message| std::future::ready(limits.check_message(&message).map(|()| message)))
        .try_filter(|message| std::future::ready(!message.data_header.is_empty()))
        .map_err(FlightError::from)
        .boxed();
    AssertUnwindSafe(FlightRecordBatchStream::new_from_flight_data(data)).catch_unwind().map(|decoded| {
        decoded.unwrap_or_else(|_| {
            Err(FlightError::Tonic(Box::new(Status::invalid_argument(
                "a message of the exchange does not decode: its buffers do not fit its columns",
            ))))
        })
    })
}

/// The messages that answer an exchange: the schema, then one IPC message per result batch. Not
/// arrow-flight's encoder: it sends nothing for a batch of no rows and splits a large one, and a
/// client that reads one reply per batch it sent would then wait forever.
fn replies(
    schema: &Schema,
    results: impl futures::Stream<Item = Result<RecordBatch, FlightError>> + Send + 'static,
) -> impl futures::Stream<Item = Result<FlightData, Status>> + Send + 'static {
    let options = IpcWriteOptions::default();
    let first = FlightData::from(SchemaAsIpc::new(schema, &options));
    let batches = results.map(move |batch| -> Result<FlightData, FlightError> {
        let batch = batch?;
        // The functions' results hold no dictionaries, so each batch is one message.
        let (_, message) = IpcDataGenerator::default().encode(
            &batch,
            &mut DictionaryTracker::new(false),
            &options,
            &mut IpcWriteContext::default(),
        )?;
        Ok(FlightData::from(message))
    });
    stream::once(std::future::ready(Ok(first))).chain(batches.map_err(Status::from))
}

/// Scores one argument batch: its single text column through the served function. Its rows were
/// counted against the limit before it was decoded ([`Limits::check_message`]).
fn evaluate(name: &str, served: &Served, batch: &RecordBatch, output: &SchemaRef) -> Result<RecordBatch, Status> {
    if batch.num_columns() != 1 || !is_text_type(batch.column(0).data_type()) {
        let types: Vec<String> = batch.columns().iter().map(|c| c.data_type().to_string()).collect();
        return Err(Status::invalid_argument(format!("{name} takes one VARCHAR column, not ({})", types.join(", "))));
    }
    // The functions read no session settings; one default set serves every batch.
    static CONFIG: LazyLock<Arc<ConfigOptions>> = LazyLock::new(|| Arc::new(ConfigOptions::default()));
    let args = ScalarFunctionArgs {
        args: vec![
            ColumnarValue::Array(batch.column(0).clone()),
            ColumnarValue::Scalar(ScalarValue::Utf8(Some(served.model.clone()))),
        ],
        arg_fields: vec![
            Arc::new(batch.schema().field(0).clone()),
            Arc::new(Field::new("model", DataType::Utf8, false)),
        ],
        number_rows: batch.num_rows(),
        return_field: output.fields()[0].clone(),
        config_options: CONFIG.clone(),
    };
    let result: ArrayRef = served
        .function
        .invoke_with_args(args)
        .and_then(|value| value.into_array(batch.num_rows()))
        .map_err(|e| Status::internal(format!("{name}: {e}")))?;
    RecordBatch::try_new(output.clone(), vec![result]).map_err(|e| Status::internal(e.to_string()))
}

type FlightStream<T> = Pin<Box<dyn futures::Stream<Item = Result<T, Status>> + Send + 'static>>;

fn unsupported<T>(what: &str) -> Result<T, Status> {
    Err(Status::unimplemented(format!("{what} is not part of the function protocol; use DoExchange")))
}

#[tonic::async_trait]
impl FlightService for SentimentFlightService {
    type HandshakeStream = FlightStream<HandshakeResponse>;
    type ListFlightsStream = FlightStream<FlightInfo>;
    type DoGetStream = FlightStream<FlightData>;
    type DoPutStream = FlightStream<PutResult>;
    type DoExchangeStream = FlightStream<FlightData>;
    type DoActionStream = FlightStream<arrow_flight::Result>;
    type ListActionsStream = FlightStream<ActionType>;

    async fn handshake(
        &self,
        _: Request<Streaming<HandshakeRequest>>,
    ) -> Result<Response<Self::HandshakeStream>, Status> {
        unsupported("Handshake")
    }

    async fn list_flights(&self, _: Request<Criteria>) -> Result<Response<Self::ListFlightsStream>, Status> {
        let infos: Vec<Result<FlightInfo, Status>> =
            self.functions.iter().map(|(name, served)| self.info(name, served)).collect();
        Ok(Response::new(Box::pin(stream::iter(infos))))
    }

    async fn get_flight_info(&self, request: Request<FlightDescriptor>) -> Result<Response<FlightInfo>, Status> {
        let (name, served) = self.function(Some(request.get_ref()))?;
        Ok(Response::new(self.info(name, served)?))
    }

    async fn poll_flight_info(&self, _: Request<FlightDescriptor>) -> Result<Response<PollInfo>, Status> {
        unsupported("PollFlightInfo")
    }

    async fn get_schema(&self, _: Request<FlightDescriptor>) -> Result<Response<SchemaResult>, Status> {
        unsupported("GetSchema")
    }

    async fn do_get(&self, _: Request<Ticket>) -> Result<Response<Self::DoGetStream>, Status> {
        unsupported("DoGet")
    }

    async fn do_put(&self, _: Request<Streaming<FlightData>>) -> Result<Response<Self::DoPutStream>, Status> {
        unsupported("DoPut")
    }

    async fn do_exchange(
        &self,
        request: Request<Streaming<FlightData>>,
    ) -> Result<Response<Self::DoExchangeStream>, Status> {
        let permit = self.exchanges.clone().try_acquire_owned().map_err(|_| {
            Status::resource_exhausted(format!(
                "this server has {} exchanges open, its limit (scorer serve --max-exchanges); try again later",
                self.limits.max_exchanges
            ))
        })?;
        let limits = self.limits;
        let input = idle_bounded(request.into_inner(), limits.idle_timeout);
        let mut input = Box::pin(input);
        let first = input.next().await.ok_or_else(|| Status::invalid_argument("empty exchange"))??;
        let (name, served) = self.function(first.flight_descriptor.as_ref())?;
        let (name, served) = (name.to_owned(), served.clone());
        let output: SchemaRef = Arc::new(Schema::new(vec![Field::new(&name, served.result.clone(), true)]));
        let schema = output.clone();
        let arguments = argument_batches(stream::once(async { Ok(first) }).chain(input), limits);
        let results = arguments.and_then(move |batch| {
            let (name, served, schema) = (name.clone(), served.clone(), schema.clone());
            async move {
                tokio::task::spawn_blocking(move || evaluate(&name, &served, &batch, &schema))
                    .await
                    .map_err(|e| FlightError::ExternalError(Box::new(e)))?
                    .map_err(FlightError::from)
            }
        });
        let encoded = replies(&output, results)
            // The exchange holds its place until its reply stream ends.
            .inspect(move |_| {
                let _ = &permit;
            });
        Ok(Response::new(Box::pin(encoded)))
    }

    async fn do_action(&self, request: Request<Action>) -> Result<Response<Self::DoActionStream>, Status> {
        match request.get_ref().r#type.as_str() {
            "protocol_version" => {
                let version = arrow_flight::Result { body: vec![PROTOCOL_VERSION].into() };
                Ok(Response::new(Box::pin(stream::iter([Ok(version)]))))
            }
            other => Err(Status::unimplemented(format!("no action {other:?}; the action is protocol_version"))),
        }
    }

    async fn list_actions(&self, _: Request<Empty>) -> Result<Response<Self::ListActionsStream>, Status> {
        let action =
            ActionType { r#type: "protocol_version".into(), description: "the arrow-udf protocol version".into() };
        Ok(Response::new(Box::pin(stream::iter([Ok(action)]))))
    }
}

/// A client's messages, each of which must arrive within `idle` of the one before.
fn idle_bounded(
    input: Streaming<FlightData>,
    idle: std::time::Duration,
) -> impl futures::Stream<Item = Result<FlightData, Status>> + Send + 'static {
    stream::unfold(Some(input), move |input| async move {
        let mut input = input?;
        match tokio::time::timeout(idle, input.message()).await {
            Ok(Ok(Some(message))) => Some((Ok(message), Some(input))),
            Ok(Ok(None)) => None,
            Ok(Err(status)) => Some((Err(status), None)),
            Err(_) => Some((
                Err(Status::deadline_exceeded(format!(
                    "no message from the client in {} s; the exchange is closed (scorer serve --idle-timeout)",
                    idle.as_secs_f64()
                ))),
                None,
            )),
        }
    })
}

/// Serves `service` on `listener` until `shutdown` completes: the server then stops taking
/// connections and lets the exchanges in flight finish, for at most the service's
/// [`Limits::shutdown_grace`], after which it closes them and returns. Messages larger than
/// [`Limits::max_message_bytes`] are refused by gRPC itself.
pub async fn serve(
    service: SentimentFlightService,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()>,
) -> anyhow::Result<()> {
    use anyhow::Context;
    let address = listener.local_addr()?;
    let limits = service.limits;
    let (stopping, stopped) = tokio::sync::oneshot::channel::<()>();
    let shutdown = async move {
        shutdown.await;
        let _ = stopping.send(());
    };
    let server = arrow_flight::flight_service_server::FlightServiceServer::new(service)
        .max_decoding_message_size(limits.max_message_bytes)
        .max_encoding_message_size(limits.max_message_bytes);
    let serving = tonic::transport::Server::builder()
        .add_service(server)
        .serve_with_incoming_shutdown(tonic::transport::server::TcpIncoming::from(listener), shutdown);
    let grace = async move {
        if stopped.await.is_ok() {
            tokio::time::sleep(limits.shutdown_grace).await;
        } else {
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        served = serving => served.with_context(|| format!("the Flight server on {address} failed")),
        () = grace => {
            tracing::warn!("exchanges still open after {} s; closing them", limits.shutdown_grace.as_secs_f64());
            Ok(())
        }
    }
}
