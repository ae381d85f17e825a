"""What a linear model over naive-Bayes-weighted n-grams can reach on IMDB with our text pipeline,
against the same model over NBSVM's kind of tokens (issue 36's 0.915 goal; models/README.md).

Both fit scikit-learn's logistic regression to convergence (liblinear) on binarised n-grams
scaled by their naive-Bayes log-count ratios, as NBSVM does (Wang & Manning 2012; Mesnil et al.
2014), on the training file less a validation split of whole movies (20% of the reviews). C is
chosen on validation; test is reported only for the chosen C.

- `pipeline`: the exercise's loader, which `ngram` reads (letters only; single letters dropped);
- `punctuation`: lowercased runs of letters and digits with their apostrophe ("didn't", "10"),
  and "!" and "?" as tokens of their own, closer to the tokens NBSVM's numbers come from.

usage: ngram_ceiling.py TRAIN.parquet TEST.parquet
"""
import re
import sys
import time

import numpy as np
import pyarrow.parquet as pq
from scipy.sparse import diags
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.linear_model import LogisticRegression

VALIDATION_FRACTION = 0.2
SEED = 7
C_GRID = (0.1, 1.0)
MAX_N = (1, 2, 3)

NON_LETTERS = re.compile(r"[^a-zA-Z]")
SINGLE_LETTER = re.compile(r"\s+[a-zA-Z]\s+")
PUNCTUATION_TOKENS = re.compile(r"[a-z0-9]+(?:'[a-z]+)?|[!?]")


def pipeline(text):
    """The exercise's loader, as bench/python_way.py has it, without the cut to 100 words."""
    return " ".join(SINGLE_LETTER.sub(" ", NON_LETTERS.sub(" ", text)).lower().split())


def punctuation(text):
    return " ".join(PUNCTUATION_TOKENS.findall(text.replace("<br />", " ").lower()))


def movie_split(movies):
    """Indices of the fitting and the validation reviews: whole movies, shuffled, until 20%."""
    rng = np.random.default_rng(SEED)
    distinct = np.unique(movies)
    rng.shuffle(distinct)
    held, count = set(), 0
    sizes = dict(zip(*np.unique(movies, return_counts=True)))
    for movie in distinct:
        if count >= VALIDATION_FRACTION * len(movies):
            break
        held.add(movie)
        count += sizes[movie]
    is_held = np.array([m in held for m in movies])
    return np.flatnonzero(~is_held), np.flatnonzero(is_held)


def main(train_path, test_path):
    train = pq.read_table(train_path, columns=["movie_id", "review", "label"]).to_pydict()
    test = pq.read_table(test_path, columns=["review", "label"]).to_pydict()
    labels, test_labels = np.array(train["label"]), np.array(test["label"])
    fit, validation = movie_split(np.array(train["movie_id"]))
    print(f"{len(fit)} fitting, {len(validation)} validation (whole movies), {len(test_labels)} test reviews")
    print("| tokens | n-grams | C | validation | test (chosen C only) | seconds |")
    print("|---|---|---:|---:|---:|---:|")
    for tokenize in (pipeline, punctuation):
        texts = [tokenize(t) for t in train["review"]]
        test_texts = [tokenize(t) for t in test["review"]]
        for max_n in MAX_N:
            vectorizer = CountVectorizer(ngram_range=(1, max_n), binary=True, token_pattern=r"\S+", lowercase=False)
            x = vectorizer.fit_transform([texts[i] for i in fit])
            y = labels[fit]
            positive = np.asarray(x[y == 1].sum(0)).ravel() + 1
            negative = np.asarray(x[y == 0].sum(0)).ravel() + 1
            ratios = diags(np.log((positive / positive.sum()) / (negative / negative.sum())))
            x_validation = vectorizer.transform([texts[i] for i in validation]) @ ratios
            x_test = vectorizer.transform(test_texts) @ ratios
            results = []
            for c in C_GRID:
                started = time.time()
                model = LogisticRegression(C=c, solver="liblinear").fit(x @ ratios, y)
                accuracy = (model.predict(x_validation) == labels[validation]).mean()
                results.append((accuracy, c, model, time.time() - started))
            chosen = max(results, key=lambda r: r[0])
            for accuracy, c, model, seconds in results:
                test_accuracy = (model.predict(x_test) == test_labels).mean() if model is chosen[2] else None
                print(
                    f"| {tokenize.__name__} | 1-{max_n} | {c} | {accuracy:.4f} | "
                    f"{'' if test_accuracy is None else f'{test_accuracy:.4f}'} | {seconds:.1f} |",
                    flush=True,
                )


if __name__ == "__main__":
    main(*sys.argv[1:])
