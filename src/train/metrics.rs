//! Classification metrics from a confusion matrix, and the loss and accuracy sums of training
//! batches shared by the GPU and CPU sessions.

use crate::json::to_json;

/// Loss and accuracy of one training batch.
#[derive(Clone, Debug, PartialEq)]
pub struct BatchReport {
    /// Index of the batch in its epoch, from 0.
    pub batch: usize,
    /// Mean loss over the batch's examples.
    pub loss: f64,
    /// Fraction of the batch's examples predicted correctly.
    pub accuracy: f64,
}

to_json!(BatchReport {
    batch,
    loss,
    accuracy,
});

/// Loss sum, correct predictions and example count of one batch or of an epoch so far.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct MetricSums {
    pub loss: f64,
    pub correct: f64,
    pub count: f64,
}

impl MetricSums {
    /// Sums the per-example `losses` and the `predictions` scored against `labels`.
    pub fn of_batch(losses: &[f32], predictions: &[u32], labels: &[u32]) -> Self {
        Self {
            loss: losses.iter().map(|&loss| f64::from(loss)).sum(),
            correct: predictions
                .iter()
                .zip(labels)
                .filter(|(prediction, label)| prediction == label)
                .count() as f64,
            count: labels.len() as f64,
        }
    }

    /// Adds the sums of `other`.
    pub fn add(&mut self, other: &MetricSums) {
        self.loss += other.loss;
        self.correct += other.correct;
        self.count += other.count;
    }

    /// Returns `(mean loss, accuracy)`. A count of 0 is taken as 1, so both are 0 without examples.
    pub fn means(&self) -> (f64, f64) {
        let count = self.count.max(1.0);
        (self.loss / count, self.correct / count)
    }

    /// Returns the report of batch `batch` of an epoch with these sums.
    pub fn batch_report(&self, batch: usize) -> BatchReport {
        let (loss, accuracy) = self.means();
        BatchReport {
            batch,
            loss,
            accuracy,
        }
    }
}

/// Precision, recall and F1 of one class.
#[derive(Clone, Debug, PartialEq)]
pub struct ClassMetrics {
    /// Correct predictions of this class over all predictions of it (0 when never predicted).
    pub precision: f64,
    /// Correct predictions of this class over its true samples (0 when it has none).
    pub recall: f64,
    /// Harmonic mean of precision and recall (0 when both are 0).
    pub f1: f64,
    /// Number of true samples of this class.
    pub support: u64,
}

to_json!(ClassMetrics {
    precision,
    recall,
    f1,
    support,
});

/// Per-class metrics of a confusion matrix indexed `[true label][prediction]`.
pub fn class_metrics(confusion: &[Vec<u32>]) -> Vec<ClassMetrics> {
    let classes = confusion.len();
    (0..classes)
        .map(|c| {
            let tp = confusion[c][c] as f64;
            let support: u64 = confusion[c].iter().map(|&v| v as u64).sum();
            let predicted: u64 = confusion.iter().map(|row| row[c] as u64).sum();
            let ratio = |n: f64, d: u64| if d == 0 { 0.0 } else { n / d as f64 };
            let precision = ratio(tp, predicted);
            let recall = ratio(tp, support);
            let f1 = if precision + recall == 0.0 {
                0.0
            } else {
                2.0 * precision * recall / (precision + recall)
            };
            ClassMetrics {
                precision,
                recall,
                f1,
                support,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_from_confusion_matrix() {
        // Class 0: 3 right, 1 predicted as 1. Class 1: 2 right, none wrong. Class 2: never seen
        // and never predicted.
        let confusion = vec![vec![3, 1, 0], vec![0, 2, 0], vec![0, 0, 0]];
        let m = class_metrics(&confusion);
        assert_eq!(m[0].precision, 1.0);
        assert_eq!(m[0].recall, 0.75);
        assert!((m[0].f1 - 6.0 / 7.0).abs() < 1e-12);
        assert!((m[1].precision - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(m[1].recall, 1.0);
        assert_eq!(m[2].f1, 0.0);
        assert_eq!(m[2].support, 0);
    }
}
