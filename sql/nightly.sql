-- The nightly job: score everything that landed and write one Parquet file.
-- scorer sql --input landing/ -f sql/nightly.sql
COPY (
    SELECT *,
           sentiment(review)       AS sentiment_score,
           sentiment_label(review) AS sentiment_label
    FROM reviews
) TO 'reviews.scored.parquet' STORED AS PARQUET;
