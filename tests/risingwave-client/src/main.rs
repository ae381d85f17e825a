//! Calls a function of `scorer serve` the way RisingWave does, through RisingWave's own client
//! (`arrow-udf-flight`): it asks for the protocol version, looks the function up and checks its
//! signature (what `CREATE FUNCTION ... USING LINK` does), then sends the reviews in chunks
//! (what a query does) and prints each answer's values, one line per row.
//!
//! `risingwave-client URL FUNCTION CHUNK_ROWS < reviews`, a review per line as a JSON string or
//! `null`. Used by tests/python/test_flight.py.

use std::error::Error;
use std::io::BufRead;
use std::process::ExitCode;
use std::sync::Arc;

use arrow_array::{RecordBatch, StringArray};
use arrow_cast::display::{ArrayFormatter, FormatOptions};
use arrow_schema::DataType;
use arrow_udf_flight::Client;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("risingwave-client: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [url, function, chunk_rows] = args.as_slice() else {
        return Err("usage: risingwave-client URL FUNCTION CHUNK_ROWS < reviews (JSON strings, one per line)".into());
    };
    let chunk_rows: usize = chunk_rows.parse().map_err(|_| format!("CHUNK_ROWS: not a number: {chunk_rows}"))?;

    let client = Client::connect(url.clone()).await?;
    if client.protocol_version() != 2 {
        return Err(format!("protocol version {}, expected 2", client.protocol_version()).into());
    }
    // CREATE FUNCTION f(varchar) RETURNS ...: RisingWave fetches the signature and checks it.
    let signature = client.get(function).await?;
    let arguments: Vec<&DataType> = signature.args.fields().iter().map(|f| f.data_type()).collect();
    if arguments != [&DataType::Utf8] {
        return Err(format!("{function} takes {arguments:?}, not one varchar").into());
    }
    let [returns] = signature.returns.fields().iter().map(|f| f.data_type()).collect::<Vec<_>>()[..] else {
        return Err(format!("{function} returns {} columns, not one", signature.returns.fields().len()).into());
    };
    eprintln!("{}(varchar) returns {returns}", signature.name);

    let mut reviews = Vec::new();
    for (number, line) in std::io::stdin().lock().lines().enumerate() {
        let line = line?;
        let review: Option<String> =
            serde_json::from_str(&line).map_err(|e| format!("stdin line {}: {e}", number + 1))?;
        reviews.push(review);
    }
    let schema = Arc::new(signature.args);
    let format = FormatOptions::default().with_null("null");
    let mut out = std::io::stdout().lock();
    for chunk in reviews.chunks(chunk_rows.max(1)) {
        let input = RecordBatch::try_new(schema.clone(), vec![Arc::new(StringArray::from(chunk.to_vec()))])?;
        let output = client.call(function, &input).await?;
        if output.num_rows() != input.num_rows() || output.num_columns() != 1 {
            return Err(format!(
                "{} rows in, {} rows and {} columns back",
                input.num_rows(),
                output.num_rows(),
                output.num_columns()
            )
            .into());
        }
        let values = ArrayFormatter::try_new(output.column(0), &format)?;
        for row in 0..output.num_rows() {
            use std::io::Write;
            writeln!(out, "{}", values.value(row))?;
        }
    }
    Ok(())
}
