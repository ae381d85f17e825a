//! Labeled reviews read from Parquet, CSV or NDJSON (see [`crate::io`]), for training and evaluation.
//!
//! A labeled file has a text column (default `review`) and a label column holding 0/1 (any
//! integer type or boolean) or the strings `positive`/`negative`. Without a named label column,
//! `label` is used when present, else `sentiment`: both IMDB's Parquet files and the exercise's
//! `IMDB Dataset.csv` (`review,sentiment`) load as they are.

use std::path::Path;

use anyhow::{Context, Result, bail};
use arrow::array::{Array, ArrayRef, AsArray};
use arrow::compute::cast;
use arrow::datatypes::DataType;

use crate::io::Input;

/// The column that groups reviews of one movie; when present, a movie's reviews are never split
/// between training and validation.
pub const GROUP_COLUMN: &str = "movie_id";

/// The column of each review's rating (IMDB: 1-4 negative, 7-10 positive), read when the file
/// has it as integers; the [`crate::short_texts`] check picks reviews by it.
pub const RATING_COLUMN: &str = "rating";

/// Label columns tried, in order, when none is named.
pub const DEFAULT_LABEL_COLUMNS: [&str; 2] = ["label", "sentiment"];

/// Reviews with their sentiment (true = positive), in file order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LabeledReviews {
    /// The review texts; a NULL text is read as empty.
    pub texts: Vec<String>,
    /// The labels, one per text.
    pub labels: Vec<bool>,
    /// The [`GROUP_COLUMN`] value of each review, where the file has that column.
    pub groups: Option<Vec<String>>,
    /// The [`RATING_COLUMN`] value of each review (0 for NULL), where the file has that column
    /// as integers.
    pub ratings: Option<Vec<i64>>,
}

impl LabeledReviews {
    /// Reads `path` (a Parquet, CSV or NDJSON file, a folder or a glob) with the given text and optional label column.
    pub fn load(path: &Path, text_column: &str, label_column: Option<&str>) -> Result<Self> {
        Self::read(path, text_column, Labels::Column(label_column))
            .with_context(|| format!("cannot read labeled reviews from {}", path.display()))
    }

    /// Reads only the text column of `path` (as [`LabeledReviews::load`]): reviews without labels, as
    /// the distillation teacher labels them. Any label column is ignored.
    pub fn load_texts(path: &Path, text_column: &str) -> Result<Vec<String>> {
        let reviews = Self::read(path, text_column, Labels::Ignored)
            .with_context(|| format!("cannot read reviews from {}", path.display()))?;
        Ok(reviews.texts)
    }

    fn read(path: &Path, text_column: &str, labels: Labels) -> Result<Self> {
        let input = Input::open(&path.to_string_lossy())?;
        let names: Vec<&str> = input.schema().fields().iter().map(|f| f.name().as_str()).collect();
        let label_column = labels.resolve(&names)?;
        let text_index = input.column(text_column)?;
        let label_index = label_column.as_deref().map(|c| input.column(c)).transpose()?;
        let group_index = input.column(GROUP_COLUMN).ok();
        let rating_index =
            input.column(RATING_COLUMN).ok().filter(|&i| input.schema().field(i).data_type().is_integer());
        let wanted: Vec<usize> =
            [Some(text_index), label_index, group_index, rating_index].into_iter().flatten().collect();
        let mut reviews = Self {
            groups: group_index.map(|_| Vec::new()),
            ratings: rating_index.map(|_| Vec::new()),
            ..Self::default()
        };
        for batch in input.projected_batches(8192, &wanted) {
            let batch = batch?;
            let texts = batch.column_by_name(text_column).expect("projected");
            push_texts(&mut reviews.texts, texts, text_column)?;
            if let Some(label_column) = &label_column {
                let labels = batch.column_by_name(label_column).expect("projected");
                push_labels(&mut reviews.labels, labels, label_column)?;
            }
            if let Some(groups) = &mut reviews.groups {
                let column = batch.column_by_name(GROUP_COLUMN).expect("projected");
                let strings = cast(column, &DataType::Utf8)?;
                groups.extend(strings.as_string::<i32>().iter().map(|g| g.unwrap_or("").to_owned()));
            }
            if let Some(ratings) = &mut reviews.ratings {
                let column = cast(batch.column_by_name(RATING_COLUMN).expect("projected"), &DataType::Int64)?;
                ratings.extend(column.as_primitive::<arrow::datatypes::Int64Type>().iter().map(|r| r.unwrap_or(0)));
            }
        }
        Ok(reviews)
    }

    /// Number of reviews.
    pub fn len(&self) -> usize {
        self.texts.len()
    }

    /// True when there is no review.
    pub fn is_empty(&self) -> bool {
        self.texts.is_empty()
    }

    /// The labels as probabilities to learn: 1.0 for positive, 0.0 for negative.
    pub fn targets(&self) -> Vec<f32> {
        self.labels.iter().map(|&l| f32::from(u8::from(l))).collect()
    }

    /// The first `n` reviews (or all of them).
    pub fn head(mut self, n: usize) -> Self {
        self.texts.truncate(n);
        self.labels.truncate(n);
        if let Some(groups) = &mut self.groups {
            groups.truncate(n);
        }
        if let Some(ratings) = &mut self.ratings {
            ratings.truncate(n);
        }
        self
    }

    /// The reviews in an order shuffled by `seed` (the same seed, the same order).
    pub fn shuffled(&self, seed: u64) -> Self {
        use rand::{SeedableRng, seq::SliceRandom};
        let mut order: Vec<usize> = (0..self.len()).collect();
        order.shuffle(&mut rand::rngs::StdRng::seed_from_u64(seed));
        self.select(&order)
    }

    /// The reviews at `indices`, in that order.
    pub fn select(&self, indices: &[usize]) -> Self {
        Self {
            texts: indices.iter().map(|&i| self.texts[i].clone()).collect(),
            labels: indices.iter().map(|&i| self.labels[i]).collect(),
            groups: self.groups.as_ref().map(|g| indices.iter().map(|&i| g[i].clone()).collect()),
            ratings: self.ratings.as_ref().map(|r| indices.iter().map(|&i| r[i]).collect()),
        }
    }

    /// Splits off about `fraction` of the reviews for validation, whole groups at a time when the
    /// reviews have groups (so validation measures generalisation to unseen movies), and returns
    /// (training, validation).
    pub fn split_validation(&self, fraction: f64, seed: u64) -> (Self, Self) {
        let wanted = (self.len() as f64 * fraction).round() as usize;
        let (mut validation, mut train) = (Vec::new(), Vec::new());
        for rows in self.shuffled_groups(seed) {
            if validation.len() < wanted { validation.extend(rows) } else { train.extend(rows) }
        }
        train.sort_unstable();
        validation.sort_unstable();
        (self.select(&train), self.select(&validation))
    }

    /// Deals the reviews into `k` folds of about equal size, whole groups at a time as
    /// [`LabeledReviews::split_validation`] does, and returns each fold's indices, sorted.
    pub fn folds(&self, k: usize, seed: u64) -> Vec<Vec<usize>> {
        let mut folds = vec![Vec::new(); k];
        for rows in self.shuffled_groups(seed) {
            let smallest = folds.iter_mut().min_by_key(|f| f.len()).expect("at least one fold");
            smallest.extend(rows);
        }
        folds.iter_mut().for_each(|f| f.sort_unstable());
        folds
    }

    /// The indices of each group (each review alone when there are no groups), groups in an
    /// order shuffled by `seed`.
    fn shuffled_groups(&self, seed: u64) -> Vec<Vec<usize>> {
        use rand::{SeedableRng, seq::SliceRandom};
        let mut rows_of: Vec<Vec<usize>> = match &self.groups {
            Some(groups) => {
                let mut by_group: std::collections::BTreeMap<&str, Vec<usize>> = Default::default();
                for (i, g) in groups.iter().enumerate() {
                    by_group.entry(g).or_default().push(i);
                }
                by_group.into_values().collect()
            }
            None => (0..self.len()).map(|i| vec![i]).collect(),
        };
        rows_of.shuffle(&mut rand::rngs::StdRng::seed_from_u64(seed));
        rows_of
    }
}

/// Which labels a read takes.
#[derive(Clone, Copy)]
enum Labels<'a> {
    /// The named column, or the first of [`DEFAULT_LABEL_COLUMNS`] present.
    Column(Option<&'a str>),
    /// None: only texts (and groups) are read.
    Ignored,
}

impl Labels<'_> {
    /// The label column to read among `names`, if any.
    fn resolve(self, names: &[&str]) -> Result<Option<String>> {
        match self {
            Labels::Ignored => Ok(None),
            Labels::Column(Some(name)) => Ok(Some(name.to_owned())),
            Labels::Column(None) => {
                DEFAULT_LABEL_COLUMNS.iter().find(|c| names.contains(c)).map(|c| Some((*c).to_owned())).with_context(
                    || format!("no label column: expected one of {DEFAULT_LABEL_COLUMNS:?}; the columns are {names:?}"),
                )
            }
        }
    }
}

fn push_texts(out: &mut Vec<String>, column: &ArrayRef, name: &str) -> Result<()> {
    let strings = match column.data_type() {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => cast(column, &DataType::Utf8)?,
        other => bail!("text column {name:?} has type {other}, expected a string type"),
    };
    out.extend(strings.as_string::<i32>().iter().map(|t| t.unwrap_or("").to_owned()));
    Ok(())
}

fn push_labels(out: &mut Vec<bool>, column: &ArrayRef, name: &str) -> Result<()> {
    if column.null_count() > 0 {
        bail!("label column {name:?} has NULLs");
    }
    match column.data_type() {
        DataType::Boolean => out.extend(column.as_boolean().iter().map(|b| b.expect("no NULLs"))),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
            let strings = cast(column, &DataType::Utf8)?;
            for label in strings.as_string::<i32>().iter() {
                out.push(parse_label(label.expect("no NULLs")).with_context(|| format!("column {name:?}"))?);
            }
        }
        t if t.is_integer() => {
            let ints = cast(column, &DataType::Int64)?;
            for label in ints.as_primitive::<arrow::datatypes::Int64Type>().values() {
                out.push(match label {
                    0 => false,
                    1 => true,
                    other => bail!("label column {name:?} holds {other}; labels are 0 or 1"),
                });
            }
        }
        other => bail!("label column {name:?} has type {other}; expected 0/1 or positive/negative"),
    }
    Ok(())
}

/// Reads one label: `1`/`0`, `positive`/`negative`, `pos`/`neg` or `true`/`false`, in any case.
pub fn parse_label(label: &str) -> Result<bool> {
    match label.trim().to_ascii_lowercase().as_str() {
        "1" | "positive" | "pos" | "true" => Ok(true),
        "0" | "negative" | "neg" | "false" => Ok(false),
        other => bail!("label {other:?} is not 0/1 or positive/negative"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn reads_the_exercise_csv_layout() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("IMDB Dataset.csv");
        let mut f = std::fs::File::create(&path).unwrap();
        writeln!(f, "review,sentiment\n\"Great, really great\",positive\nDull,negative").unwrap();
        let reviews = LabeledReviews::load(&path, "review", None).unwrap();
        assert_eq!(reviews.texts, ["Great, really great", "Dull"]);
        assert_eq!(reviews.labels, [true, false]);
    }

    #[test]
    fn unlabeled_reviews_need_no_label_column() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("unsup.csv");
        std::fs::write(&path, "id,review\n1,Loved it\n2,\n").unwrap();
        assert_eq!(LabeledReviews::load_texts(&path, "review").unwrap(), ["Loved it", ""]);
        assert!(LabeledReviews::load(&path, "review", None).is_err());
    }

    #[test]
    fn names_a_missing_column_and_lists_the_others() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.csv");
        std::fs::write(&path, "text,label\nfine,1\n").unwrap();
        let err = format!("{:#}", LabeledReviews::load(&path, "review", None).unwrap_err());
        assert!(err.contains("no column \"review\"") && err.contains("\"text\""), "{err}");
    }

    /// 100 reviews, `per_movie` consecutive ones of each movie.
    fn movies(per_movie: usize) -> LabeledReviews {
        LabeledReviews {
            texts: (0..100).map(|i| i.to_string()).collect(),
            labels: (0..100).map(|i| i % 2 == 0).collect(),
            groups: Some((0..100).map(|i| format!("movie{}", i / per_movie)).collect()),
            ratings: None,
        }
    }

    #[test]
    fn integer_ratings_are_read_and_follow_their_reviews() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rated.csv");
        std::fs::write(&path, "review,label,rating\nLoved it,1,9\nAwful,0,2\nFine,1,7\n").unwrap();
        let reviews = LabeledReviews::load(&path, "review", None).unwrap();
        assert_eq!(reviews.ratings, Some(vec![9, 2, 7]));
        assert_eq!(reviews.select(&[2, 0]).ratings, Some(vec![7, 9]));
        assert_eq!(reviews.head(1).ratings, Some(vec![9]));
        // A rating column of words is not ratings: the reviews load without them.
        std::fs::write(&path, "review,label,rating\nLoved it,1,great\n").unwrap();
        assert_eq!(LabeledReviews::load(&path, "review", None).unwrap().ratings, None);
    }

    #[test]
    fn validation_takes_whole_groups() {
        let reviews = movies(10);
        let (train, validation) = reviews.split_validation(0.2, 1);
        assert_eq!(train.len() + validation.len(), 100);
        assert_eq!(validation.len(), 20);
        let held: std::collections::HashSet<_> = validation.groups.unwrap().into_iter().collect();
        assert!(train.groups.unwrap().iter().all(|g| !held.contains(g)));
    }

    #[test]
    fn folds_cover_every_review_once_and_keep_groups_whole() {
        let folds = movies(5).folds(4, 3);
        assert_eq!(folds.len(), 4);
        assert!(folds.iter().all(|f| f.len() == 25), "{folds:?}");
        let mut all: Vec<usize> = folds.concat();
        all.sort_unstable();
        assert_eq!(all, (0..100).collect::<Vec<_>>());
        let fold_of_group = |i: usize| folds.iter().position(|f| f.contains(&i)).unwrap();
        assert!((0..100).all(|i| fold_of_group(i) == fold_of_group(i / 5 * 5)));
    }

    #[test]
    fn rejects_odd_labels() {
        assert!(parse_label("maybe").is_err());
        assert!(parse_label(" Positive ").unwrap());
        assert!(!parse_label("0").unwrap());
    }
}
