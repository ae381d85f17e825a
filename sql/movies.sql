-- Mean sentiment per movie, with how many reviews each movie has.
-- scorer sql --input reviews.parquet -f sql/movies.sql
SELECT movie_id,
       count(*)                                           AS reviews,
       round(avg(sentiment(review)), 3)                   AS mean_sentiment,
       sum(CASE WHEN sentiment_label(review) = 'positive' THEN 1 ELSE 0 END) AS positive
FROM reviews
GROUP BY movie_id
ORDER BY reviews DESC, mean_sentiment DESC
LIMIT 20;
