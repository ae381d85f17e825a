-- The nightly job in SQL: score everything that landed into a folder of Parquet files, one
-- folder per label (sentiment_label=positive/, sentiment_label=negative/, and one for reviews
-- with no words). Each file's footer says which model scored it.
--   scorer sql --input landing/ -f sql/nightly.sql
-- For one folder per day instead, partition by a date column of the input:
--   ... TO 'scored/' STORED AS PARQUET PARTITIONED BY (day)
-- For one output per landed file, resumable, skipping what is already scored:
--   scorer score --input landing/ --output-dir scored/
COPY (
    SELECT *,
           sentiment(review)       AS sentiment_score,
           sentiment_label(review) AS sentiment_label
    FROM reviews
) TO 'scored/' STORED AS PARQUET PARTITIONED BY (sentiment_label);
