-- Score every review of the table `reviews` with the default model.
-- scorer sql --input reviews.parquet -f sql/score.sql
SELECT id,
       sentiment(review)       AS sentiment_score,
       sentiment_label(review) AS sentiment_label
FROM reviews
ORDER BY id;
