//! A table over NDJSON lines that keep arriving (stdin behind `tail -f`): `scorer sql --stdin`.
//!
//! Registered as unbounded, so DataFusion plans it as a stream: a query that filters and projects
//! emits rows as lines arrive, and one that needs the whole input first (ORDER BY, an aggregate,
//! a join's build side) is refused at planning, unless the table is registered as bounded, when
//! it waits for the input's end. The columns are inferred from the first line; a later line that
//! does not fit them, or that holds other than exactly one object, ends the query with an error
//! naming its line number. A batch takes the lines that have arrived, never waiting for more.

use std::io::BufRead;
use std::sync::mpsc::{Receiver, sync_channel};
use std::sync::{Arc, Mutex};

use anyhow::{Context, bail};
use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use arrow::json::ReaderBuilder;
use datafusion::catalog::streaming::StreamingTable;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::streaming::PartitionStream;
use datafusion::prelude::SessionContext;
use futures::stream;

/// Lines in a batch at the most.
const BATCH_LINES: usize = 1024;

/// A line of input with its number (from 1), as the reading thread sends it.
type NumberedLine = (usize, std::io::Result<String>);

/// The lines of one reader, as the table's single partition; it can be read once.
#[derive(Debug)]
struct Lines {
    schema: SchemaRef,
    /// The line numbers and texts, from a reading thread; taken by the first `execute`.
    lines: Mutex<Option<Receiver<NumberedLine>>>,
}

impl PartitionStream for Lines {
    fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    fn execute(&self, _: Arc<TaskContext>) -> SendableRecordBatchStream {
        let schema = self.schema.clone();
        let lines = self.lines.lock().unwrap_or_else(|p| p.into_inner()).take();
        // The state is the receiver, dropped after an error so that the stream ends there.
        let batches = stream::unfold(lines, move |lines| {
            let schema = schema.clone();
            async move {
                let receiver = lines?;
                let (receiver, batch) = tokio::task::spawn_blocking(move || {
                    let batch = next_batch(&receiver, &schema);
                    (receiver, batch)
                })
                .await
                .ok()?;
                match batch {
                    Ok(Some(batch)) => Some((Ok(batch), Some(receiver))),
                    Ok(None) => None,
                    Err(e) => Some((Err(e), None)),
                }
            }
        });
        Box::pin(RecordBatchStreamAdapter::new(self.schema.clone(), batches))
    }
}

/// The next batch: blocks for one line, then takes those already waiting. `Ok(None)` at the end.
fn next_batch(receiver: &Receiver<NumberedLine>, schema: &SchemaRef) -> Result<Option<RecordBatch>> {
    let Ok(first) = receiver.recv() else { return Ok(None) };
    let mut decoder = ReaderBuilder::new(schema.clone()).build_decoder()?;
    let (from, mut to) = (first.0, first.0);
    let mut line = Some(first);
    let mut taken = 0;
    while let Some((number, text)) = line {
        let mut bytes = text.map_err(|e| DataFusionError::External(Box::new(e)))?.into_bytes();
        bytes.push(b'\n');
        crate::io::ndjson::decode_line(&mut decoder, &bytes).map_err(|e| {
            DataFusionError::Execution(format!("stdin line {number}: {}", crate::io::ndjson::message(e)))
        })?;
        (to, taken) = (number, taken + 1);
        line = if taken < BATCH_LINES { receiver.try_recv().ok() } else { None };
    }
    decoder.flush().map_err(|e| DataFusionError::Execution(format!("stdin lines {from} to {to}: {e}")))
}

/// Registers the NDJSON lines of `reader` as table `name`, unbounded unless `bounded`. Reads the
/// first line to learn the columns; fails when the input is empty or the line is not an object.
pub fn register_lines(
    ctx: &SessionContext,
    name: &str,
    reader: impl BufRead + Send + 'static,
    bounded: bool,
) -> anyhow::Result<()> {
    let mut lines = reader.lines();
    let Some(first) = lines.next() else {
        bail!("no input on stdin for table {name}: its columns come from the first line")
    };
    let first = first.context("cannot read stdin")?;
    let (schema, _) = arrow::json::reader::infer_json_schema(std::io::Cursor::new(first.as_bytes()), Some(1))
        .with_context(|| format!("stdin line 1 is not a JSON object: {first:?}"))?;
    let (sender, receiver) = sync_channel(BATCH_LINES * 4);
    std::thread::spawn(move || {
        let rest = lines.enumerate().map(|(i, line)| (i + 2, line));
        for line in std::iter::once((1, Ok(first))).chain(rest) {
            if sender.send(line).is_err() {
                break;
            }
        }
    });
    let schema = Arc::new(schema);
    let partition = Arc::new(Lines { schema: schema.clone(), lines: Mutex::new(Some(receiver)) });
    let table = StreamingTable::try_new(schema, vec![partition])?.with_infinite_table(!bounded);
    ctx.register_table(name, Arc::new(table))?;
    Ok(())
}
