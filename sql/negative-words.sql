-- The words that pull reviews most toward negative across a corpus: the mean sub-score of each
-- word (token-wise `mlp` model), over words seen at least 50 times.
-- scorer sql --input reviews.parquet -f sql/negative-words.sql
SELECT word['token']      AS token,
       avg(word['score']) AS mean_sub_score,
       count(*)           AS occurrences
FROM (SELECT unnest(sentiment_explain(review, 'mlp')) AS word FROM reviews)
GROUP BY word['token']
HAVING count(*) >= 50
ORDER BY mean_sub_score ASC
LIMIT 20;
