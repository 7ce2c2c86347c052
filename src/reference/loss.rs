//! Softmax cross-entropy loss on logits, and the predicted class per row.

/// Computes softmax cross-entropy of logits `[N, classes]` against labels `[N]`.
///
/// Returns the per-sample loss `[N]` and dlogits `[N, classes]`, the gradient of the MEAN loss over
/// the batch: `(softmax(z) - onehot(label)) / N`. The loss is computed by log-sum-exp,
/// `max(z) + ln(sum(exp(z - max(z)))) - z[label]`, so large logits give the exact finite loss
/// (logits `[1e4, 0]` with label 1 give 1e4). Internally it works in f64 and uses `ln_1p` on the
/// terms other than the maximum, so a tiny loss such as `ln(1 + e^-90)` is not rounded to 0.
pub fn softmax_cross_entropy(
    logits: &[f32],
    labels: &[u32],
    classes: usize,
) -> (Vec<f32>, Vec<f32>) {
    assert!(
        classes > 0,
        "softmax_cross_entropy: classes must be positive"
    );
    assert_eq!(
        logits.len(),
        labels.len() * classes,
        "softmax_cross_entropy: logits length"
    );
    let inverse_batch = 1.0 / labels.len() as f64;

    let mut losses = Vec::with_capacity(labels.len());
    let mut dlogits = Vec::with_capacity(logits.len());
    for (row, &label) in logits.chunks_exact(classes).zip(labels) {
        let label = label as usize;
        assert!(
            label < classes,
            "softmax_cross_entropy: label {label} is not below {classes}"
        );

        let max_index = first_max_index(row);
        let max = f64::from(row[max_index]);
        // Sum of exp(z - max) over every class except the first maximum, whose term is exactly 1.
        let rest: f64 = row
            .iter()
            .enumerate()
            .filter(|&(index, _)| index != max_index)
            .map(|(_, &z)| (f64::from(z) - max).exp())
            .sum();
        losses.push(((max - f64::from(row[label])) + rest.ln_1p()) as f32);

        let total = 1.0 + rest;
        for (index, &z) in row.iter().enumerate() {
            let probability = (f64::from(z) - max).exp() / total;
            let target = if index == label { 1.0 } else { 0.0 };
            dlogits.push(((probability - target) * inverse_batch) as f32);
        }
    }
    (losses, dlogits)
}

/// Returns the index of the first maximum of each row of x `[rows, classes]`, as `[rows]`.
pub fn argmax_rows(x: &[f32], classes: usize) -> Vec<u32> {
    assert!(classes > 0, "argmax_rows: classes must be positive");
    assert_eq!(
        x.len() % classes,
        0,
        "argmax_rows: length {} is not a multiple of {classes}",
        x.len()
    );
    x.chunks_exact(classes)
        .map(|row| first_max_index(row) as u32)
        .collect()
}

/// Index of the first maximum: only a strictly greater value replaces the current one.
fn first_max_index(row: &[f32]) -> usize {
    let mut best = 0;
    for (index, &v) in row.iter().enumerate().skip(1) {
        if v > row[best] {
            best = index;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cross_entropy_of_huge_logit_is_exact() {
        // [1e4, 0], label 1: loss = 1e4 + ln(1 + e^-1e4) - 0 = 1e4 exactly in f32.
        // Label 0: loss = ln(1 + e^-1e4), which underflows to 0 in f32 and f64.
        let (loss, dlogits) = softmax_cross_entropy(&[1.0e4, 0.0, 1.0e4, 0.0], &[1, 0], 2);
        assert_eq!(loss, vec![1.0e4, 0.0]);
        // Mean over 2 samples: softmax is [1, 0], so row 0 gives [1, -1] / 2 and row 1 gives 0.
        assert_eq!(dlogits, vec![0.5, -0.5, 0.0, 0.0]);
    }

    #[test]
    fn cross_entropy_of_logit_90_is_exact() {
        // exp(90) overflows f32, so a softmax without the max shift returns NaN here.
        // [90, 0], label 1: loss = 90 + ln(1 + e^-90) = 90 in f32.
        // Label 0: loss = ln(1 + e^-90) = e^-90 = 8.194e-40 (an f32 subnormal), not 0.
        let (loss, dlogits) = softmax_cross_entropy(&[90.0, 0.0, 90.0, 0.0], &[1, 0], 2);
        assert_eq!(loss[0], 90.0);
        assert!(loss[1] > 0.0, "loss {} rounded to 0", loss[1]);
        assert!(
            (f64::from(loss[1]) - 8.194_012_624e-40).abs() < 1e-44,
            "loss {}",
            loss[1]
        );
        assert!(dlogits.iter().all(|v| v.is_finite()), "{dlogits:?}");
        assert_eq!(dlogits[..2], [0.5, -0.5]);
    }

    #[test]
    fn cross_entropy_by_hand() {
        // Logits [0, ln 3], label 0: softmax = [1/4, 3/4], loss = -ln(1/4) = ln 4 = 1.386294.
        // One sample, so dlogits = softmax - onehot = [-3/4, 3/4].
        let (loss, dlogits) = softmax_cross_entropy(&[0.0, 3.0f32.ln()], &[0], 2);
        assert!((loss[0] - 4.0f32.ln()).abs() < 1e-6, "loss {}", loss[0]);
        assert!((dlogits[0] + 0.75).abs() < 1e-6, "dlogits {dlogits:?}");
        assert!((dlogits[1] - 0.75).abs() < 1e-6, "dlogits {dlogits:?}");
    }

    #[test]
    fn cross_entropy_gradient_rows_sum_to_zero() {
        let logits = [0.3, -1.2, 2.0, 0.1, 0.0, 0.0, 0.0, 0.0, -5.0, 4.0, 1.0, 1.0];
        let (_, dlogits) = softmax_cross_entropy(&logits, &[2, 0, 1], 4);
        for (row_index, row) in dlogits.chunks(4).enumerate() {
            let total: f32 = row.iter().sum();
            assert!(total.abs() < 1e-7, "row {row_index} sums to {total}");
        }
    }

    #[test]
    #[should_panic(expected = "label 3 is not below 3")]
    fn cross_entropy_rejects_label_out_of_range() {
        softmax_cross_entropy(&[0.0; 3], &[3], 3);
    }

    #[test]
    fn argmax_rows_takes_first_maximum() {
        let x = [1.0, 3.0, 3.0, -1.0, -1.0, -2.0, 0.0, 0.0, 5.0];
        assert_eq!(argmax_rows(&x, 3), vec![1, 0, 2]);
    }
}
