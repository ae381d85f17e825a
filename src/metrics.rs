//! Classification metrics for P(positive) scores against 0/1 labels: accuracy, F1 of the positive
//! class, exact ROC AUC (ties count one half), the confusion matrix, and the log loss that says
//! whether the scores are calibrated.

use serde::{Deserialize, Serialize};

/// A score above this is a positive prediction, as in the exercise.
pub const THRESHOLD: f32 = 0.5;

/// Counts of predictions against labels.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfusionMatrix {
    /// Negative reviews predicted negative.
    pub true_negative: u64,
    /// Negative reviews predicted positive.
    pub false_positive: u64,
    /// Positive reviews predicted negative.
    pub false_negative: u64,
    /// Positive reviews predicted positive.
    pub true_positive: u64,
}

/// The evaluation of one model on one labeled set.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    /// Number of reviews.
    pub n: u64,
    /// Share of reviews whose predicted label is right.
    pub accuracy: f64,
    /// F1 score of the positive class (0 when nothing is predicted or labeled positive).
    pub f1: f64,
    /// Area under the ROC curve; `None` when the labels hold only one class.
    pub roc_auc: Option<f64>,
    /// The counts behind accuracy and F1.
    pub confusion: ConfusionMatrix,
}

impl Metrics {
    /// Evaluates `scores` (P(positive)) against `labels` (true = positive).
    ///
    /// # Panics
    /// When the two slices differ in length.
    pub fn compute(scores: &[f32], labels: &[bool]) -> Self {
        assert_eq!(scores.len(), labels.len(), "one label per score");
        let mut c = ConfusionMatrix::default();
        for (&score, &label) in scores.iter().zip(labels) {
            match (label, score > THRESHOLD) {
                (false, false) => c.true_negative += 1,
                (false, true) => c.false_positive += 1,
                (true, false) => c.false_negative += 1,
                (true, true) => c.true_positive += 1,
            }
        }
        let n = scores.len() as u64;
        let accuracy = if n == 0 { 0.0 } else { (c.true_positive + c.true_negative) as f64 / n as f64 };
        let f1_denominator = 2 * c.true_positive + c.false_positive + c.false_negative;
        let f1 = if f1_denominator == 0 { 0.0 } else { 2.0 * c.true_positive as f64 / f1_denominator as f64 };
        Self { n, accuracy, f1, roc_auc: roc_auc(scores, labels), confusion: c }
    }
}

/// Exact ROC AUC: the probability that a random positive scores above a random negative, a tie
/// counting one half (the Mann-Whitney U statistic over both class sizes).
pub fn roc_auc(scores: &[f32], labels: &[bool]) -> Option<f64> {
    let positives = labels.iter().filter(|&&l| l).count();
    let negatives = labels.len() - positives;
    if positives == 0 || negatives == 0 {
        return None;
    }
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    // Sum of the positives' ranks, tied scores sharing their average rank.
    let mut positive_rank_sum = 0.0;
    let mut start = 0;
    while start < order.len() {
        let mut end = start + 1;
        while end < order.len() && scores[order[end]] == scores[order[start]] {
            end += 1;
        }
        let average_rank = (start + 1 + end) as f64 / 2.0;
        let tied_positives = order[start..end].iter().filter(|&&i| labels[i]).count();
        positive_rank_sum += average_rank * tied_positives as f64;
        start = end;
    }
    let p = positives as f64;
    Some((positive_rank_sum - p * (p + 1.0) / 2.0) / (p * negatives as f64))
}

/// The mean log loss, `-ln P(label)` averaged over the scores: 0 for sure and right, ln 2 for
/// always 1/2; lower for calibrated scores than for ones surer (or less sure) than they are right.
/// A score is clamped to [`LOG_LOSS_CLAMP`] from 0 and 1, as a score rounded to 1 in `f32` would
/// otherwise cost infinity. 0 for no scores.
pub fn log_loss(scores: &[f32], labels: &[bool]) -> f64 {
    if scores.is_empty() {
        return 0.0;
    }
    let total: f64 = scores
        .iter()
        .zip(labels)
        .map(|(&score, &label)| {
            let p = f64::from(score).clamp(LOG_LOSS_CLAMP, 1.0 - LOG_LOSS_CLAMP);
            -(if label { p } else { 1.0 - p }).ln()
        })
        .sum();
    total / scores.len() as f64
}

/// How close to 0 or 1 [`log_loss`] lets a score be.
pub const LOG_LOSS_CLAMP: f64 = 1e-7;

/// The ROC curve: (false-positive rate, true-positive rate) points from (0, 0) to (1, 1), one per
/// distinct score, highest threshold first. Empty when the labels hold only one class.
pub fn roc_curve(scores: &[f32], labels: &[bool]) -> Vec<(f64, f64)> {
    let positives = labels.iter().filter(|&&l| l).count() as f64;
    let negatives = labels.len() as f64 - positives;
    if positives == 0.0 || negatives == 0.0 {
        return Vec::new();
    }
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let mut points = vec![(0.0, 0.0)];
    let (mut true_positives, mut false_positives) = (0.0, 0.0);
    for (k, &i) in order.iter().enumerate() {
        if labels[i] {
            true_positives += 1.0
        } else {
            false_positives += 1.0
        }
        let last_of_tie = order.get(k + 1).is_none_or(|&next| scores[next] != scores[i]);
        if last_of_tie {
            points.push((false_positives / negatives, true_positives / positives));
        }
    }
    points
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_a_hand_computed_case() {
        // labels:  1    1    0    0    1    0
        // preds:   1    0    1    0    1    0
        let scores = [0.9, 0.4, 0.7, 0.1, 0.6, 0.5];
        let labels = [true, true, false, false, true, false];
        let m = Metrics::compute(&scores, &labels);
        assert_eq!(
            m.confusion,
            ConfusionMatrix { true_negative: 2, false_positive: 1, false_negative: 1, true_positive: 2 }
        );
        assert_eq!(m.n, 6);
        assert!((m.accuracy - 4.0 / 6.0).abs() < 1e-12);
        // precision 2/3, recall 2/3
        assert!((m.f1 - 2.0 / 3.0).abs() < 1e-12);
        // pairs (pos, neg): 0.9 beats all 3; 0.4 beats 0.1 only; 0.6 beats 0.1, 0.5 -> 6 of 9
        assert!((m.roc_auc.unwrap() - 6.0 / 9.0).abs() < 1e-12);
    }

    #[test]
    fn log_loss_rewards_calibrated_scores() {
        assert!((log_loss(&[0.5, 0.5], &[true, false]) - 2f64.ln()).abs() < 1e-12);
        assert!((log_loss(&[0.8, 0.2], &[true, false]) - -(0.8f64.ln())).abs() < 1e-6);
        // Right four times in five: 0.8 costs less than a surer 0.99 or a less sure 0.6.
        let labels = [true, true, true, true, false];
        let loss = |p: f32| log_loss(&[p; 5], &labels);
        assert!(loss(0.8) < loss(0.99) && loss(0.8) < loss(0.6));
        assert!(log_loss(&[1.0], &[false]).is_finite(), "a score rounded to 1 costs a finite amount");
        assert_eq!(log_loss(&[], &[]), 0.0);
    }

    #[test]
    fn ties_count_one_half() {
        let scores = [0.5, 0.5, 0.5, 0.2];
        let labels = [true, false, true, false];
        // positives 0.5, 0.5 against negatives 0.5 (tie: 1/2 each) and 0.2 (win): (0.5+1)*2/4
        assert!((roc_auc(&scores, &labels).unwrap() - 0.75).abs() < 1e-12);
    }

    #[test]
    fn the_threshold_is_strict() {
        let m = Metrics::compute(&[0.5], &[true]);
        assert_eq!(m.confusion.false_negative, 1);
        assert_eq!(m.f1, 0.0);
    }

    #[test]
    fn the_roc_curve_steps_through_distinct_scores() {
        let curve = roc_curve(&[0.9, 0.5, 0.5, 0.2], &[true, true, false, false]);
        assert_eq!(curve, [(0.0, 0.0), (0.0, 0.5), (0.5, 1.0), (1.0, 1.0)]);
        // The trapezoids under it are the AUC.
        let area: f64 = curve.windows(2).map(|w| (w[1].0 - w[0].0) * (w[1].1 + w[0].1) / 2.0).sum();
        assert!((area - roc_auc(&[0.9, 0.5, 0.5, 0.2], &[true, true, false, false]).unwrap()).abs() < 1e-12);
    }

    #[test]
    fn one_class_has_no_auc() {
        assert_eq!(roc_auc(&[0.1, 0.9], &[true, true]), None);
        assert_eq!(roc_auc(&[], &[]), None);
    }

    #[test]
    fn perfect_and_inverted_rankings() {
        let labels = [false, false, true, true];
        assert_eq!(roc_auc(&[0.1, 0.2, 0.8, 0.9], &labels), Some(1.0));
        assert_eq!(roc_auc(&[0.9, 0.8, 0.2, 0.1], &labels), Some(0.0));
    }
}
