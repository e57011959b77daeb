//! Small statistics for the scan benchmark: the ROC AUC of a score that should separate right
//! from wrong (corner confidence vs crop IoU, field confidence vs exact match), means and
//! medians.

/// The ROC AUC of `positive` vs `negative` scores: the probability that a random positive
/// scores above a random negative, ties counting one half (the Mann-Whitney U statistic over
/// `positive.len() * negative.len()`). 1.0 separates perfectly, 0.5 is chance, 0.0 is
/// perfectly reversed. `None` when either side is empty (the AUC is not defined) or a score is
/// NaN.
///
/// ```
/// use outpost_tests::scan_stats::roc_auc;
/// assert_eq!(roc_auc(&[0.9, 0.8], &[0.3, 0.1]), Some(1.0));
/// assert_eq!(roc_auc(&[0.5], &[0.5]), Some(0.5));
/// assert_eq!(roc_auc(&[], &[0.5]), None);
/// ```
pub fn roc_auc(positive: &[f64], negative: &[f64]) -> Option<f64> {
    if positive.is_empty()
        || negative.is_empty()
        || positive.iter().chain(negative).any(|v| v.is_nan())
    {
        return None;
    }
    // Sort the negatives once; count, for each positive, those below it and those equal.
    let mut neg = negative.to_vec();
    neg.sort_by(f64::total_cmp);
    let mut wins = 0.0;
    for &p in positive {
        let below = neg.partition_point(|&n| n < p);
        let not_above = neg.partition_point(|&n| n <= p);
        wins += below as f64 + 0.5 * (not_above - below) as f64;
    }
    Some(wins / (positive.len() as f64 * negative.len() as f64))
}

/// The mean of `v`, `None` when empty.
pub fn mean(v: &[f64]) -> Option<f64> {
    (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
}

/// The smallest value of `v`, `None` when empty.
pub fn min(v: &[f64]) -> Option<f64> {
    v.iter().copied().reduce(f64::min)
}

/// The median (upper middle for even lengths) of `v`, `None` when empty.
pub fn median(v: &[f64]) -> Option<f64> {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    s.get(s.len() / 2).copied()
}
