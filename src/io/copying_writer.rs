//! A scored Parquet file whose input columns are the input's own column chunks, copied byte for
//! byte: only the appended columns are encoded. Decoding a review column and encoding and
//! compressing it again was most of the file work of scoring (docs/performance.md, "Eighth
//! change"); a copy costs a read and a write. The output then has the input's row groups, and its
//! copied columns keep the input's encodings, compression and statistics; the appended columns get
//! the writer's properties.
//!
//! A copy needs each input column to be the same Parquet column the writer would write from its
//! Arrow type; an input written by another engine in a type Arrow reads otherwise (Spark's INT96
//! timestamps) is written the usual way ([`super::row_group_writer`]), as is an input of row groups
//! smaller than the writer's own, which a copy would keep small.

use std::collections::VecDeque;
use std::fs::File;

use anyhow::{Context, Result, bail};
use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use parquet::arrow::ArrowSchemaConverter;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_writer::ArrowRowGroupWriterFactory;
use parquet::column::writer::ColumnCloseResult;
use parquet::file::metadata::{PageIndexPolicy, ParquetMetaDataReader};
use parquet::file::page_index::column_index::ColumnIndexMetaData;
use parquet::file::page_index::offset_index::OffsetIndexMetaData;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::file::writer::SerializedFileWriter;

use super::row_group_writer::{Gathered, encode};
use super::row_groups::ParquetFile;
use super::{FileFormat, Input};

/// One row group of an input file, copied into the output as one row group.
struct Source {
    file: ParquetFile,
    row_group: usize,
    rows: usize,
    /// Each column's page index, when every row group of the input has one.
    page_index: Option<Vec<PageIndex>>,
}

/// A column chunk's page index: the column index (page statistics) where the file has one, and
/// the offset index (page locations).
type PageIndex = (Option<ColumnIndexMetaData>, OffsetIndexMetaData);

/// A Parquet file written from an input's column chunks and the appended columns' batches; see
/// the module's documentation.
pub struct CopyingWriter {
    file: SerializedFileWriter<File>,
    factory: ArrowRowGroupWriterFactory,
    /// The appended columns: the schema of the batches [`CopyingWriter::write`] takes.
    appended: SchemaRef,
    /// Leaves of the input's columns, which come first in the file.
    copied_leaves: usize,
    /// The input's row groups not yet written.
    sources: VecDeque<Source>,
    /// Appended columns' rows of the next row group.
    gathered: Gathered,
    row_groups_written: usize,
}

impl CopyingWriter {
    /// Starts a file of `schema` (the input's columns, then `appended`'s) with `properties`, to
    /// be written from `plan`'s row groups. A Parquet file's page index is all or nothing: when
    /// the input has none, the appended columns get none either (statistics per column chunk).
    pub fn try_new(
        file: File,
        plan: CopyPlan,
        schema: SchemaRef,
        appended: SchemaRef,
        mut properties: WriterProperties,
    ) -> Result<Self> {
        if plan.sources.iter().any(|source| source.page_index.is_none()) {
            properties = properties
                .into_builder()
                .set_statistics_enabled(EnabledStatistics::Chunk)
                .set_offset_index_disabled(true)
                .build();
        }
        let (file, factory) = ArrowWriter::try_new(file, schema, Some(properties))?.into_serialized_writer()?;
        Ok(Self {
            file,
            factory,
            appended,
            copied_leaves: plan.copied_leaves,
            sources: plan.sources.into(),
            gathered: Gathered::default(),
            row_groups_written: 0,
        })
    }

    /// Appends a batch of the appended columns; the rows follow the input's in order.
    pub fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        let mut rest = batch.clone();
        loop {
            self.skip_empty_sources();
            if rest.num_rows() == 0 {
                return Ok(());
            }
            let Some(source) = self.sources.front() else { bail!("more rows were scored than the input has") };
            if self.gathered.fill(&mut rest, source.rows) {
                self.write_row_group()?;
            }
        }
    }

    /// Writes the footer, once every row of the input has been written.
    pub fn finish(mut self) -> Result<()> {
        self.skip_empty_sources();
        if let Some(source) = self.sources.front() {
            bail!(
                "{} rows of row group {} of {} and {} row groups after it were not scored",
                source.rows - self.gathered.rows(),
                source.row_group,
                source.file.path.display(),
                self.sources.len() - 1
            );
        }
        self.file.close()?;
        Ok(())
    }

    /// Passes over the input's row groups of no rows: they have nothing to copy.
    fn skip_empty_sources(&mut self) {
        while self.sources.front().is_some_and(|source| source.rows == 0) {
            self.sources.pop_front();
        }
    }

    /// Writes the row group of the oldest source: its column chunks copied, then the appended
    /// columns' gathered rows encoded.
    fn write_row_group(&mut self) -> Result<()> {
        let source = self.sources.pop_front().expect("a row group is being gathered");
        let batches = self.gathered.take();
        let writers = self.factory.create_column_writers(self.row_groups_written)?;
        let appended = encode(writers.into_iter().skip(self.copied_leaves).collect(), &self.appended, &batches)?;
        let path = &source.file.path;
        let input = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
        let metadata = source.file.metadata.metadata().row_group(source.row_group);
        let mut row_group = self.file.next_row_group()?;
        for (leaf, column) in metadata.columns().iter().enumerate() {
            let (column_index, offset_index) = match &source.page_index {
                Some(indexes) => (indexes[leaf].0.clone(), Some(indexes[leaf].1.clone())),
                None => (None, None),
            };
            // Its page offsets are moved to where the chunk lands in the output.
            let chunk = ColumnCloseResult {
                bytes_written: column.compressed_size() as u64,
                rows_written: source.rows as u64,
                metadata: column.clone(),
                bloom_filter: None,
                column_index,
                offset_index,
            };
            row_group
                .append_column(&input, chunk)
                .with_context(|| format!("cannot copy row group {} of {}", source.row_group, path.display()))?;
        }
        for chunk in appended {
            chunk.append_to_row_group(&mut row_group)?;
        }
        row_group.close()?;
        self.row_groups_written += 1;
        Ok(())
    }
}

/// The row groups of an input whose columns can be copied, in order.
pub struct CopyPlan {
    sources: Vec<Source>,
    copied_leaves: usize,
}

impl CopyPlan {
    /// The plan for copying `input`'s columns into a Parquet file of `schema` written with
    /// `properties`, or `None` when they cannot be: the input is not Parquet, a column differs from
    /// the one the writer would write from its Arrow type, or a row group but a file's last has
    /// fewer rows than `properties`' row count per row group.
    pub fn of(input: &Input, schema: &SchemaRef, properties: &WriterProperties) -> Result<Option<Self>> {
        if input.format() != FileFormat::Parquet {
            return Ok(None);
        }
        let written = ArrowSchemaConverter::new().with_coerce_types(properties.coerce_types()).convert(schema)?;
        let smallest = properties.max_row_group_row_count().unwrap_or(0);
        let mut sources = Vec::new();
        let mut copied_leaves = 0;
        for file in input.parquet_files() {
            let read = file.metadata.parquet_schema();
            copied_leaves = read.num_columns();
            let same_columns = copied_leaves <= written.num_columns()
                && (0..copied_leaves).all(|leaf| read.column(leaf) == written.column(leaf));
            let row_groups = file.metadata.metadata().row_groups();
            let small = row_groups.iter().rev().skip(1).any(|group| (group.num_rows().max(0) as usize) < smallest);
            if !same_columns || small {
                return Ok(None);
            }
            let indexes = page_indexes(file)?;
            sources.extend(row_groups.iter().enumerate().map(|(row_group, group)| Source {
                file: file.clone(),
                row_group,
                rows: group.num_rows().max(0) as usize,
                page_index: indexes.as_ref().map(|indexes| indexes[row_group].clone()),
            }));
        }
        Ok(Some(Self { sources, copied_leaves }))
    }
}

/// The page index of every column chunk of `file`, by row group, or `None` when any chunk has none.
fn page_indexes(file: &ParquetFile) -> Result<Option<Vec<Vec<PageIndex>>>> {
    let path = &file.path;
    let handle = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    // The footer read when the input was opened; only the page index is read here.
    let mut reader = ParquetMetaDataReader::new_with_metadata(file.metadata.metadata().as_ref().clone())
        .with_page_index_policy(PageIndexPolicy::Optional);
    let metadata = reader
        .read_page_indexes(&handle)
        .and_then(|()| reader.finish())
        .with_context(|| format!("cannot read the page index of {}", path.display()))?;
    let Some(offsets) = metadata.offset_index() else { return Ok(None) };
    let statistics = metadata.column_index();
    Ok(Some(
        offsets
            .iter()
            .enumerate()
            .map(|(row_group, offsets)| {
                offsets
                    .iter()
                    .enumerate()
                    .map(|(leaf, offsets)| {
                        let column_index = statistics
                            .map(|indexes| indexes[row_group][leaf].clone())
                            .filter(|index| !matches!(index, ColumnIndexMetaData::NONE));
                        (column_index, offsets.clone())
                    })
                    .collect()
            })
            .collect(),
    ))
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::sync::Arc;

    use arrow::array::{ArrayRef, Float32Array, Int64Array, ListArray, StringArray};
    use arrow::compute::concat_batches;
    use arrow::datatypes::{DataType, Field, Int32Type, Schema};
    use parquet::arrow::arrow_reader::{
        ArrowReaderOptions, ParquetRecordBatchReaderBuilder, RowSelection, RowSelectionPolicy, RowSelector,
    };
    use parquet::basic::Compression;

    use super::*;

    /// Row groups of the output as the tests write it, and the fewest rows a copied one may have.
    const GROUP: usize = 16_384;

    fn properties() -> WriterProperties {
        WriterProperties::builder()
            .set_max_row_group_row_count(Some(GROUP))
            .set_compression(Compression::SNAPPY)
            .build()
    }

    /// `rows` rows from `first` of an id, a review and a list column.
    fn rows(first: usize, rows: usize) -> RecordBatch {
        let range = first..first + rows;
        let ids = Int64Array::from_iter_values(range.clone().map(|i| i as i64));
        let reviews = StringArray::from_iter(range.clone().map(|i| (i % 9 != 0).then(|| format!("review {i}"))));
        let tags = ListArray::from_iter_primitive::<Int32Type, _, _>(range.map(|i| Some(vec![Some(i as i32); i % 3])));
        RecordBatch::try_from_iter([
            ("id", Arc::new(ids) as ArrayRef),
            ("review", Arc::new(reviews) as ArrayRef),
            ("tags", Arc::new(tags) as ArrayRef),
        ])
        .unwrap()
    }

    /// Writes `batch` to `path` in row groups of `group` rows and pages of at most 1,000 rows, with
    /// `properties` on top.
    fn write(
        path: &Path,
        batch: &RecordBatch,
        group: usize,
        properties: parquet::file::properties::WriterPropertiesBuilder,
    ) {
        let properties =
            properties.set_max_row_group_row_count(Some(group)).set_data_page_row_count_limit(1000).build();
        let mut writer = ArrowWriter::try_new(File::create(path).unwrap(), batch.schema(), Some(properties)).unwrap();
        writer.write(batch).unwrap();
        writer.close().unwrap();
    }

    /// The input's schema with a score column appended, and the appended column alone.
    fn schemas(input: &Input) -> (SchemaRef, SchemaRef) {
        let score = Arc::new(Field::new("score", DataType::Float32, true));
        let mut fields = input.schema().fields().to_vec();
        fields.push(score.clone());
        (Arc::new(Schema::new(fields)), Arc::new(Schema::new(vec![score])))
    }

    /// Copies `input` to `path` with each row's id as its score, appended in batches of 5,000 rows
    /// that straddle the row groups; `None` when the input cannot be copied.
    fn copy(input: &Input, path: &Path) -> Option<()> {
        let (schema, appended) = schemas(input);
        let plan = CopyPlan::of(input, &schema, &properties()).unwrap()?;
        let mut writer =
            CopyingWriter::try_new(File::create(path).unwrap(), plan, schema, appended.clone(), properties()).unwrap();
        let rows = input.rows().unwrap() as usize;
        for start in (0..rows).step_by(5000) {
            let scores = Float32Array::from_iter_values((start..rows.min(start + 5000)).map(|i| i as f32));
            writer.write(&RecordBatch::try_new(appended.clone(), vec![Arc::new(scores)]).unwrap()).unwrap();
        }
        writer.finish().unwrap();
        Some(())
    }

    /// The rows of a Parquet file, read with its page index, and its row groups' sizes.
    fn read(path: &Path) -> (RecordBatch, Vec<i64>, bool) {
        let options = ArrowReaderOptions::new().with_page_index_policy(PageIndexPolicy::Optional);
        let builder =
            ParquetRecordBatchReaderBuilder::try_new_with_options(File::open(path).unwrap(), options).unwrap();
        let groups = builder.metadata().row_groups().iter().map(|g| g.num_rows()).collect();
        let indexed = builder.metadata().offset_index().is_some();
        let schema = builder.schema().clone();
        let batches: Vec<RecordBatch> = builder.build().unwrap().map(Result::unwrap).collect();
        (concat_batches(&schema, &batches).unwrap(), groups, indexed)
    }

    /// `expected` with the score column of [`copy`] appended.
    fn scored(expected: &RecordBatch) -> RecordBatch {
        let scores = Float32Array::from_iter_values((0..expected.num_rows()).map(|i| i as f32));
        let mut columns = expected.columns().to_vec();
        columns.push(Arc::new(scores));
        let mut fields = expected.schema().fields().to_vec();
        fields.push(Arc::new(Field::new("score", DataType::Float32, true)));
        RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).unwrap()
    }

    #[test]
    fn every_input_row_group_is_copied_with_its_page_index_and_the_scores_appended() {
        let dir = tempfile::tempdir().unwrap();
        let landing = dir.path().join("landing");
        std::fs::create_dir(&landing).unwrap();
        // Two files: row groups of 16,384 with an odd last one, and one row group.
        write(&landing.join("a.parquet"), &rows(0, 40_000), GROUP, WriterProperties::builder());
        write(&landing.join("b.parquet"), &rows(40_000, 20_000), 20_000, WriterProperties::builder());
        let input = Input::open(landing.to_str().unwrap()).unwrap();
        let output = dir.path().join("scored.parquet");
        copy(&input, &output).expect("the input can be copied");

        let (batch, groups, indexed) = read(&output);
        assert_eq!(groups, [16_384, 16_384, 7_232, 20_000]);
        let expected = concat_batches(&rows(0, 1).schema(), &[rows(0, 40_000), rows(40_000, 20_000)]).unwrap();
        assert_eq!(batch, scored(&expected));
        // The copied pages' offsets were moved with them: rows found by the offset index alone.
        assert!(indexed, "the input's page index is kept");
        let options = ArrowReaderOptions::new().with_page_index_policy(PageIndexPolicy::Required);
        let selection = RowSelection::from(vec![RowSelector::skip(35_500), RowSelector::select(7)]);
        let found: Vec<RecordBatch> =
            ParquetRecordBatchReaderBuilder::try_new_with_options(File::open(&output).unwrap(), options)
                .unwrap()
                .with_row_selection(selection)
                .with_row_selection_policy(RowSelectionPolicy::Selectors)
                .build()
                .unwrap()
                .map(Result::unwrap)
                .collect();
        assert_eq!(concat_batches(&batch.schema(), &found).unwrap(), batch.slice(35_500, 7));
    }

    #[test]
    fn an_input_with_no_page_index_gives_a_file_with_none() {
        let dir = tempfile::tempdir().unwrap();
        let source = dir.path().join("plain.parquet");
        let bare = WriterProperties::builder()
            .set_statistics_enabled(EnabledStatistics::Chunk)
            .set_offset_index_disabled(true);
        write(&source, &rows(0, 20_000), GROUP, bare);
        let input = Input::open(source.to_str().unwrap()).unwrap();
        let output = dir.path().join("scored.parquet");
        copy(&input, &output).expect("the input can be copied");
        let (batch, groups, indexed) = read(&output);
        assert_eq!((groups, indexed), (vec![16_384, 3_616], false));
        assert_eq!(batch, scored(&rows(0, 20_000)));
    }

    #[test]
    fn small_row_groups_and_columns_written_otherwise_are_not_copied() {
        let dir = tempfile::tempdir().unwrap();
        // Row groups smaller than the writer's: a copy would keep them small.
        let small = dir.path().join("small.parquet");
        write(&small, &rows(0, 20_000), 1_000, WriterProperties::builder());
        assert!(copy(&Input::open(small.to_str().unwrap()).unwrap(), &dir.path().join("a.parquet")).is_none());
        // Spark's INT96 timestamps: Arrow reads them as timestamps, which the writer writes as INT64.
        let spark = dir.path().join("spark.parquet");
        int96_timestamps(&spark, 20_000);
        assert!(copy(&Input::open(spark.to_str().unwrap()).unwrap(), &dir.path().join("b.parquet")).is_none());
        // The last row group of a file may be small.
        let tail = dir.path().join("tail.parquet");
        write(&tail, &rows(0, 16_400), GROUP, WriterProperties::builder());
        assert!(copy(&Input::open(tail.to_str().unwrap()).unwrap(), &dir.path().join("c.parquet")).is_some());
    }

    /// A file of `rows` INT96 timestamps and reviews in one row group, as Spark writes them.
    fn int96_timestamps(path: &Path, rows: usize) {
        use parquet::data_type::{ByteArray, ByteArrayType, Int96, Int96Type};
        let schema = "message spark { required int96 at; required binary review (STRING); }";
        let schema = Arc::new(parquet::schema::parser::parse_message_type(schema).unwrap());
        let mut writer = SerializedFileWriter::new(File::create(path).unwrap(), schema, Default::default()).unwrap();
        let mut row_group = writer.next_row_group().unwrap();
        let mut column = row_group.next_column().unwrap().unwrap();
        let times: Vec<Int96> = (0..rows).map(|i| Int96::from(vec![i as u32, 0, 2_440_588])).collect();
        column.typed::<Int96Type>().write_batch(&times, None, None).unwrap();
        column.close().unwrap();
        let mut column = row_group.next_column().unwrap().unwrap();
        let reviews: Vec<ByteArray> = (0..rows).map(|i| ByteArray::from(format!("review {i}").as_str())).collect();
        column.typed::<ByteArrayType>().write_batch(&reviews, None, None).unwrap();
        column.close().unwrap();
        row_group.close().unwrap();
        writer.close().unwrap();
    }
}
