//! The bounds that keep one client from taking the Flight server down: how large a message may be
//! on the wire and once decoded (checked from its IPC header before anything is decompressed), how
//! many rows a batch may have, how many exchanges may be open, how long one may sit idle, and how
//! long a shutdown waits for open exchanges.

use std::time::Duration;

use arrow_flight::FlightData;
use arrow_ipc::{MessageHeader, root_as_message};
use tonic::Status;

/// Rows a batch may have unless the server is told otherwise.
pub const DEFAULT_MAX_BATCH_ROWS: usize = 65_536;
/// Bytes a message may take, on the wire and decoded, unless the server is told otherwise: a
/// Databend block of IMDB test's 25,000 reviews is 33 MB, and 65,536 long reviews about 90 MB.
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 256 << 20;
/// Exchanges open at once unless the server is told otherwise.
pub const DEFAULT_MAX_EXCHANGES: usize = 32;
/// How long an exchange may wait for its client's next message unless the server is told otherwise.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(300);
/// How long a shutdown waits for open exchanges unless the server is told otherwise.
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// The server's bounds; each has a `scorer serve` flag of the same name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Rows one input batch may have (`--max-batch-rows`).
    pub max_batch_rows: usize,
    /// Bytes one message may take on the wire, and its buffers once decompressed
    /// (`--max-message-bytes`).
    pub max_message_bytes: usize,
    /// Exchanges open at once; one more is refused (`--max-exchanges`).
    pub max_exchanges: usize,
    /// How long an exchange may wait for its client's next message before it is closed
    /// (`--idle-timeout`).
    pub idle_timeout: Duration,
    /// How long a shutdown waits for open exchanges before it closes them (`--shutdown-grace`).
    pub shutdown_grace: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_batch_rows: DEFAULT_MAX_BATCH_ROWS,
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
            max_exchanges: DEFAULT_MAX_EXCHANGES,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            shutdown_grace: DEFAULT_SHUTDOWN_GRACE,
        }
    }
}

/// Prefix of a compressed IPC buffer that says its body is stored uncompressed.
const UNCOMPRESSED: i64 = -1;

impl Limits {
    /// Checks a message before it is decoded: its IPC header must parse, its buffers must lie in
    /// its body, the bytes they decode to (each compressed buffer's length prefix, as the
    /// client claims it) must be within [`Limits::max_message_bytes`], and its rows within
    /// [`Limits::max_batch_rows`]. A message with no header (a descriptor alone) passes.
    pub fn check_message(&self, message: &FlightData) -> Result<(), Status> {
        if message.data_header.is_empty() {
            return Ok(());
        }
        let header = root_as_message(&message.data_header)
            .map_err(|e| Status::invalid_argument(format!("the message's IPC header is not valid: {e}")))?;
        let batch = match header.header_type() {
            MessageHeader::RecordBatch => header.header_as_record_batch(),
            MessageHeader::DictionaryBatch => header.header_as_dictionary_batch().and_then(|d| d.data()),
            MessageHeader::Schema => return Ok(()),
            // A tensor, or no header at all: nothing that a batch's reply could answer.
            other => {
                return Err(Status::invalid_argument(format!(
                    "a message of type {other:?} is neither a schema nor a record batch"
                )));
            }
        };
        let Some(batch) = batch else {
            return Err(Status::invalid_argument("the message's IPC header has no record batch"));
        };
        let rows = usize::try_from(batch.length()).unwrap_or(usize::MAX);
        if rows > self.max_batch_rows {
            return Err(Status::invalid_argument(format!(
                "a batch of {rows} rows is over this server's limit of {} (scorer serve --max-batch-rows)",
                self.max_batch_rows
            )));
        }
        // The functions take one text column, whose field node is as long as the batch, with no
        // children. A node longer than its batch (or with more nulls than values) would have
        // arrow's decoder read past its buffers, which it does not check: a panic, not an error.
        for node in batch.nodes().into_iter().flatten() {
            if node.length() < 0 || node.length() > batch.length() || node.null_count() > node.length().max(0) {
                return Err(Status::invalid_argument(format!(
                    "a column of the message claims {} values ({} of them null) in a batch of {} rows",
                    node.length(),
                    node.null_count(),
                    batch.length()
                )));
            }
        }
        let body = &message.data_body;
        let compressed = batch.compression().is_some();
        let mut decoded: u64 = 0;
        for buffer in batch.buffers().into_iter().flatten() {
            let (offset, length) = (u64::try_from(buffer.offset()), u64::try_from(buffer.length()));
            let (Ok(offset), Ok(length)) = (offset, length) else {
                return Err(Status::invalid_argument("a buffer of the message has a negative offset or length"));
            };
            if offset % 8 != 0 {
                // The IPC format aligns every buffer to 8 bytes; arrow's decoder asserts it.
                return Err(Status::invalid_argument(format!(
                    "a buffer of the message starts at byte {offset}, not on the 8-byte boundary the IPC format requires"
                )));
            }
            let end = offset.checked_add(length).filter(|&end| end <= body.len() as u64).ok_or_else(|| {
                Status::invalid_argument(format!(
                    "a buffer of the message ends past its body ({offset} + {length} > {} bytes)",
                    body.len()
                ))
            })?;
            decoded = decoded.saturating_add(if compressed && length >= 8 {
                let prefix: [u8; 8] = body[offset as usize..offset as usize + 8].try_into().expect("8 bytes");
                match i64::from_le_bytes(prefix) {
                    UNCOMPRESSED => length - 8,
                    claimed => u64::try_from(claimed)
                        .map_err(|_| Status::invalid_argument(format!("a compressed buffer claims {claimed} bytes")))?,
                }
            } else {
                end - offset
            });
        }
        if decoded > self.max_message_bytes as u64 {
            return Err(Status::resource_exhausted(format!(
                "a message that decodes to {decoded} bytes is over this server's limit of {} \
                 (scorer serve --max-message-bytes); send smaller batches",
                self.max_message_bytes
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{RecordBatch, StringArray};
    use arrow_ipc::CompressionType;
    use arrow_ipc::writer::{DictionaryTracker, IpcDataGenerator, IpcWriteContext, IpcWriteOptions};
    use tonic::Code;

    use super::*;

    /// A batch of `rows` reviews of `width` bytes each, as one Flight message, compressed so.
    fn message(rows: usize, width: usize, compression: Option<CompressionType>) -> FlightData {
        let reviews = StringArray::from_iter_values((0..rows).map(|_| "a".repeat(width)));
        let batch = RecordBatch::try_from_iter([("review", Arc::new(reviews) as _)]).unwrap();
        let options = IpcWriteOptions::default().try_with_compression(compression).unwrap();
        let (_, encoded) = IpcDataGenerator::default()
            .encode(&batch, &mut DictionaryTracker::new(false), &options, &mut IpcWriteContext::default())
            .unwrap();
        FlightData::from(encoded)
    }

    fn limits(max_message_bytes: usize) -> Limits {
        Limits { max_message_bytes, ..Limits::default() }
    }

    #[test]
    fn an_honest_batch_within_the_limit_passes() {
        for compression in [None, Some(CompressionType::LZ4_FRAME), Some(CompressionType::ZSTD)] {
            let message = &message(100, 100, compression);
            assert!(limits(1 << 20).check_message(message).is_ok(), "{compression:?}");
        }
    }

    #[test]
    fn a_compressed_batch_that_expands_past_the_limit_is_refused_before_decoding() {
        // 1,000 reviews of 1,000 bytes compress to a few kilobytes and decode to a megabyte.
        for compression in [CompressionType::LZ4_FRAME, CompressionType::ZSTD] {
            let message = &message(1000, 1000, Some(compression));
            assert!(message.data_body.len() < 100_000, "{}", message.data_body.len());
            let err = limits(500_000).check_message(message).unwrap_err();
            assert_eq!(err.code(), Code::ResourceExhausted, "{err}");
            assert!(err.message().contains("--max-message-bytes"), "{err}");
        }
    }

    #[test]
    fn a_buffer_claiming_a_tebibyte_is_refused() {
        let mut message = message(10, 10, Some(CompressionType::LZ4_FRAME));
        let header = root_as_message(&message.data_header).unwrap();
        let last = header.header_as_record_batch().unwrap().buffers().unwrap().iter().next_back().unwrap();
        let offset = last.offset() as usize;
        let mut body = message.data_body.to_vec();
        body[offset..offset + 8].copy_from_slice(&(1i64 << 40).to_le_bytes());
        message.data_body = body.into();
        let err = Limits::default().check_message(&message).unwrap_err();
        assert!(err.message().contains("decodes to 10995116278"), "{err}");
    }

    #[test]
    fn buffers_past_the_body_and_headers_that_do_not_parse_are_refused() {
        let mut message = message(10, 10, None);
        let body = message.data_body.clone();
        message.data_body = body.slice(..body.len() / 2);
        let err = Limits::default().check_message(&message).unwrap_err();
        assert!(err.message().contains("ends past its body"), "{err}");
        message.data_header = vec![0xff; 40].into();
        let err = Limits::default().check_message(&message).unwrap_err();
        assert!(err.message().contains("IPC header is not valid"), "{err}");
    }

    #[test]
    fn a_column_longer_than_its_batch_is_refused() {
        let reviews = StringArray::from(vec![Some("good"), None, Some("bad")]);
        let batch = RecordBatch::try_from_iter([("review", Arc::new(reviews) as _)]).unwrap();
        let (_, encoded) = IpcDataGenerator::default()
            .encode(&batch, &mut DictionaryTracker::new(false), &IpcWriteOptions::default(), &mut Default::default())
            .unwrap();
        let message = FlightData::from(encoded);
        // The column's field node, 3 values of which 1 null, as it lies in the header: 2^52 values.
        let node = [3i64.to_le_bytes(), 1i64.to_le_bytes()].concat();
        let mut header = message.data_header.to_vec();
        let at = header.windows(16).position(|w| w == node).expect("the field node is in the header");
        header[at..at + 8].copy_from_slice(&(1i64 << 52).to_le_bytes());
        let tampered = FlightData { data_header: header.into(), ..message };
        let err = Limits::default().check_message(&tampered).unwrap_err();
        assert!(err.message().contains("claims 4503599627370496 values (1 of them null) in a batch of 3"), "{err}");
    }

    #[test]
    fn a_batch_of_too_many_rows_is_refused_from_its_header() {
        let message = &message(101, 1, None);
        let err = Limits { max_batch_rows: 100, ..Limits::default() }.check_message(message).unwrap_err();
        assert!(err.message().contains("101 rows") && err.message().contains("--max-batch-rows"), "{err}");
    }
}
