//! Scoring whole batches of reviews: the path shared by the CLI and the SQL functions.
//!
//! A review with no words to judge gets no score: NULL, and also an empty string, whitespace,
//! digits and punctuation, or text in other scripts, since the text pipeline keeps only `[A-Za-z]`
//! words. A review whose words are all unknown to GloVe does get one (the model's prior).

use anyhow::{Result, bail};
use arrow::array::{Array, AsArray, Float32Array, StringArray};
use arrow::datatypes::DataType;

use crate::card::label_for;
use crate::encoding::AsTextBytes;
use crate::model::SentimentModel;

/// True for the Arrow types a review column may have: the three string types, the three binary
/// types (bytes that are not UTF-8 only separate words), a dictionary of any of them (a pandas or
/// Polars categorical column), and the NULL type (a column or literal with no value at all).
pub fn is_text_type(data_type: &DataType) -> bool {
    match data_type {
        DataType::Utf8
        | DataType::LargeUtf8
        | DataType::Utf8View
        | DataType::Binary
        | DataType::LargeBinary
        | DataType::BinaryView
        | DataType::Null => true,
        DataType::Dictionary(_, values) => is_text_type(values),
        _ => false,
    }
}

/// The reviews of a text array as bytes, `None` for NULL.
pub fn text_values(array: &dyn Array) -> Result<Vec<Option<&[u8]>>> {
    Ok(match array.data_type() {
        DataType::Utf8 => array.as_string::<i32>().iter().map(|v| v.map(str::as_bytes)).collect(),
        DataType::LargeUtf8 => array.as_string::<i64>().iter().map(|v| v.map(str::as_bytes)).collect(),
        DataType::Utf8View => array.as_string_view().iter().map(|v| v.map(str::as_bytes)).collect(),
        DataType::Binary => array.as_binary::<i32>().iter().collect(),
        DataType::LargeBinary => array.as_binary::<i64>().iter().collect(),
        DataType::BinaryView => array.as_binary_view().iter().collect(),
        DataType::Null => vec![None; array.len()],
        DataType::Dictionary(_, values) if is_text_type(values) => {
            let dictionary = array.as_any_dictionary();
            let values = text_values(dictionary.values().as_ref())?;
            let keys = dictionary.normalized_keys();
            (0..array.len()).map(|row| if array.is_null(row) { None } else { values[keys[row]] }).collect()
        }
        other => bail!("reviews must be text, not {other}"),
    })
}

/// P(positive) for each review, `None` for a review with no words (NULL included).
pub fn score_texts<T>(model: &SentimentModel, texts: &[T]) -> Result<Vec<Option<f32>>>
where
    T: AsTextBytes + Sync,
{
    let batch = model.encode(texts);
    let probabilities = model.probabilities(&batch)?;
    Ok(batch.has_words().zip(probabilities).map(|(words, p)| words.then_some(p)).collect())
}

/// P(positive) for every review of `array`, NULL where the review has no words (NULL included).
pub fn score_array(model: &SentimentModel, array: &dyn Array) -> Result<Float32Array> {
    Ok(score_texts(model, &text_values(array)?)?.into_iter().collect())
}

/// `positive`/`negative` for each score, NULL for NULL.
pub fn label_array(scores: &Float32Array) -> StringArray {
    scores.iter().map(|score| score.map(label_for)).collect()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{DictionaryArray, Int8Array, NullArray};
    use arrow::datatypes::Int8Type;

    use super::*;

    #[test]
    fn a_dictionary_of_text_and_the_null_type_are_text() {
        let values = Arc::new(StringArray::from(vec!["great film", "dull"]));
        let keys = Int8Array::from(vec![Some(1), None, Some(0), Some(1)]);
        let dictionary = DictionaryArray::<Int8Type>::try_new(keys, values).unwrap();
        assert!(is_text_type(dictionary.data_type()));
        let texts = text_values(&dictionary).unwrap();
        assert_eq!(texts, [Some(&b"dull"[..]), None, Some(&b"great film"[..]), Some(&b"dull"[..])]);
        assert_eq!(text_values(&NullArray::new(3)).unwrap(), [None, None, None]);
        let numbers =
            DictionaryArray::<Int8Type>::try_new(Int8Array::from(vec![0]), Arc::new(Int8Array::from(vec![7])));
        assert!(!is_text_type(numbers.unwrap().data_type()));
    }
}
