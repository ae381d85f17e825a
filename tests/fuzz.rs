//! Fuzzing with proptest, for the code that reads what others send: the Flight server's check of
//! each message and the decoding behind it, the NDJSON line decoder of `scorer sql --stdin`, and
//! the CSV and NDJSON file readers. Nothing may panic: each input is read or refused with an
//! error. Valid input must read back exactly. CI runs 2,048 cases per property, a few seconds in
//! all (`PROPTEST_CASES=100000 cargo test --test tests fuzz::` runs longer); a failing case is
//! shrunk and saved under `proptest-regressions/`.

use std::sync::Arc;

use arrow::array::{AsArray, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow_flight::{FlightData, SchemaAsIpc};
use arrow_ipc::writer::{DictionaryTracker, IpcDataGenerator, IpcWriteContext, IpcWriteOptions};
use arrow_ipc::{CompressionType, MessageHeader};
use futures::StreamExt;
use proptest::prelude::*;
use sentiment::flight_server::{Limits, argument_batches};
use sentiment::io::Input;

fn reviews_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![Field::new("review", DataType::Utf8, true)]))
}

/// A record batch message as a client sends it, with its body LZ4-compressed or not.
fn message(reviews: &[Option<String>], compressed: bool) -> FlightData {
    let batch = RecordBatch::try_new(reviews_schema(), vec![Arc::new(StringArray::from(reviews.to_vec()))]).unwrap();
    let compression = compressed.then_some(CompressionType::LZ4_FRAME);
    let options = IpcWriteOptions::default().try_with_compression(compression).unwrap();
    let (_, encoded) = IpcDataGenerator::default()
        .encode(&batch, &mut DictionaryTracker::new(false), &options, &mut IpcWriteContext::default())
        .unwrap();
    FlightData::from(encoded)
}

/// What the server makes of one message after the schema's: the batch, or why not.
fn check_and_decode(message: &FlightData) -> Result<RecordBatch, String> {
    let schema = FlightData::from(SchemaAsIpc::new(&reviews_schema(), &IpcWriteOptions::default()));
    let messages = futures::stream::iter([Ok(schema), Ok(message.clone())]);
    let batches: Vec<_> = futures::executor::block_on(argument_batches(messages, Limits::default()).collect());
    match &batches[..] {
        [Ok(batch)] => Ok(batch.clone()),
        [Err(e)] => Err(e.to_string()),
        // A message with no header (a descriptor alone), or a schema, answers nothing.
        [] if message.data_header.is_empty()
            || arrow_ipc::root_as_message(&message.data_header)
                .is_ok_and(|m| m.header_type() == MessageHeader::Schema) =>
        {
            Err("no batch".into())
        }
        other => panic!("one message, one batch or one error: {other:?}"),
    }
}

fn reviews() -> impl Strategy<Value = Vec<Option<String>>> {
    prop::collection::vec(prop::option::of(".{0,40}"), 0..20)
}

/// Cases per property: `PROPTEST_CASES`, else 2,048.
fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(2048);
    ProptestConfig { cases, ..ProptestConfig::default() }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn a_flight_message_reads_back_and_a_mutated_one_never_panics(
        reviews in reviews(),
        compressed in any::<bool>(),
        flips in prop::collection::vec((any::<bool>(), any::<prop::sample::Index>(), any::<u8>()), 0..12),
        cut in prop::option::of((any::<bool>(), any::<prop::sample::Index>())),
    ) {
        let sent = message(&reviews, compressed);
        let batch = check_and_decode(&sent).unwrap();
        let texts: Vec<Option<String>> = batch.column(0).as_string::<i32>().iter().map(|v| v.map(str::to_owned)).collect();
        prop_assert_eq!(texts, reviews);

        let (mut header, mut body) = (sent.data_header.to_vec(), sent.data_body.to_vec());
        for (in_header, at, byte) in flips {
            let bytes = if in_header { &mut header } else { &mut body };
            if !bytes.is_empty() {
                let at = at.index(bytes.len());
                bytes[at] = byte;
            }
        }
        if let Some((in_header, at)) = cut {
            let bytes = if in_header { &mut header } else { &mut body };
            let at = at.index(bytes.len() + 1);
            bytes.truncate(at);
        }
        let mutated = FlightData { data_header: header.into(), data_body: body.into(), ..Default::default() };
        // Read or refused; either way the server goes on.
        let _ = check_and_decode(&mutated);
    }

    #[test]
    fn an_ndjson_line_is_one_row_or_an_error(line in ".{0,60}", review in ".{0,40}") {
        let schema = reviews_schema();
        let mut decoder = arrow::json::ReaderBuilder::new(schema.clone()).build_decoder().unwrap();
        if sentiment::io::ndjson::decode_line(&mut decoder, line.as_bytes()).is_ok() {
            let _ = decoder.flush();
        }
        let mut decoder = arrow::json::ReaderBuilder::new(schema).build_decoder().unwrap();
        let object = serde_json::json!({ "review": review }).to_string();
        sentiment::io::ndjson::decode_line(&mut decoder, object.as_bytes()).unwrap();
        let batch = decoder.flush().unwrap().unwrap();
        prop_assert_eq!(batch.column(0).as_string::<i32>().value(0), review.as_str());
    }

    #[test]
    fn any_csv_or_ndjson_file_is_read_or_refused(bytes in prop::collection::vec(any::<u8>(), 0..400), text in "[a-z\",{}:\\[\\] \n\r]{0,200}") {
        let dir = tempfile::tempdir().unwrap();
        for (name, content) in [("a.csv", &bytes[..]), ("b.jsonl", &bytes[..]), ("c.csv", text.as_bytes()), ("d.jsonl", text.as_bytes())] {
            let path = dir.path().join(name);
            std::fs::write(&path, content).unwrap();
            if let Ok(input) = Input::open(path.to_str().unwrap()) {
                for batch in input.batches(7) {
                    if batch.is_err() {
                        break;
                    }
                }
            }
        }
    }

    #[test]
    fn csv_as_arrow_writes_it_reads_back_exactly(reviews in prop::collection::vec("r[ -~\n\r]{0,30}", 1..12)) {
        // Quotes, commas and line breaks inside reviews: the quoting check must not refuse them.
        // (Each opens with a letter, so that the column is inferred as text, not as numbers.)
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.csv");
        let batch = RecordBatch::try_new(
            Arc::new(Schema::new(vec![Field::new("review", DataType::Utf8, false)])),
            vec![Arc::new(StringArray::from(reviews.clone()))],
        ).unwrap();
        let mut writer = arrow::csv::WriterBuilder::new().with_header(true).build(std::fs::File::create(&path).unwrap());
        writer.write(&batch).unwrap();
        drop(writer);
        let input = Input::open(path.to_str().unwrap()).unwrap();
        let column = input.text_column("review").unwrap();
        let mut read = Vec::new();
        for batch in input.projected_batches(5, &[column]) {
            let batch = batch.unwrap();
            read.extend(batch.column(0).as_string::<i32>().iter().map(|v| v.unwrap_or("").to_owned()));
        }
        prop_assert_eq!(read, reviews);
    }
}
