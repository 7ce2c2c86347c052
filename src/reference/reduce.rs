//! Reductions: per-channel bias gradient and a full sum.

/// Sums dy `[..., C]` over every leading axis, returning `[C]`: the bias gradient of a
/// convolution (`[N, OH, OW, C]`) or a dense layer (`[N, C]`).
pub fn bias_backward(dy: &[f32], channels: usize) -> Vec<f32> {
    assert!(channels > 0, "bias_backward: channels must be positive");
    assert_eq!(
        dy.len() % channels,
        0,
        "bias_backward: dy length {} is not a multiple of {channels}",
        dy.len()
    );

    // A batch of feature maps sums many terms per channel, so the sums accumulate in f64.
    let mut totals = vec![0.0f64; channels];
    for row in dy.chunks_exact(channels) {
        for (total, &v) in totals.iter_mut().zip(row) {
            *total += f64::from(v);
        }
    }
    totals.into_iter().map(|v| v as f32).collect()
}

/// Sums all elements of x `[len]`, accumulating in f64.
pub fn sum(x: &[f32]) -> f32 {
    x.iter().map(|&v| f64::from(v)).sum::<f64>() as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bias_backward_sums_leading_axes() {
        // Shape [2, 2, 3]: channel c sums dy[.., .., c] over four rows.
        let dy = [
            1.0, 2.0, 3.0, 10.0, 20.0, 30.0, 100.0, 200.0, 300.0, 1000.0, 2000.0, 3000.0,
        ];
        assert_eq!(bias_backward(&dy, 3), vec![1111.0, 2222.0, 3333.0]);
    }

    #[test]
    fn bias_backward_empty_batch_is_zero() {
        assert_eq!(bias_backward(&[], 2), vec![0.0, 0.0]);
    }

    #[test]
    fn sum_keeps_small_terms() {
        // In f32, 1e8 + 1 rounds back to 1e8, so a left-to-right f32 sum of this slice is 0.
        let x = [1.0e8, 1.0, 1.0, 1.0, 1.0, -1.0e8];
        assert_eq!(sum(&x), 4.0);
        assert_eq!(sum(&[]), 0.0);
    }
}
