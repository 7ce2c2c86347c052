//! Batch normalization in inference mode, and its folding into the convolution before it.
//!
//! With per-channel statistics, `bn(z) = gamma * (z - mean) / sqrt(variance + epsilon) + beta`
//! is an affine map of each channel, so `bn(conv(x, w) + b)` equals `conv(x, w') + b'` with
//! `w'[.., o] = w[.., o] * s[o]` and `b' = (b - mean) * s + beta`, `s = gamma / sqrt(variance +
//! epsilon)`. Model converters apply this once, so the engine needs no batch-norm layer for
//! inference.

/// Per-channel batch-normalization parameters, as Keras's `BatchNormalization` stores them.
#[derive(Clone, Debug, PartialEq)]
pub struct BatchNorm {
    /// Scale per channel.
    pub gamma: Vec<f32>,
    /// Offset per channel.
    pub beta: Vec<f32>,
    /// Moving mean per channel.
    pub mean: Vec<f32>,
    /// Moving variance per channel.
    pub variance: Vec<f32>,
    /// Added to the variance before the square root (Keras's default is 0.001).
    pub epsilon: f32,
}

impl BatchNorm {
    /// Number of channels; panics unless all four vectors have it.
    pub fn channels(&self) -> usize {
        let channels = self.gamma.len();
        assert!(
            [self.beta.len(), self.mean.len(), self.variance.len()] == [channels; 3],
            "batch norm: gamma, beta, mean and variance lengths differ"
        );
        channels
    }

    /// `gamma / sqrt(variance + epsilon)` per channel, in f64.
    fn scales(&self) -> Vec<f64> {
        self.gamma
            .iter()
            .zip(&self.variance)
            .map(|(&g, &v)| f64::from(g) / (f64::from(v) + f64::from(self.epsilon)).sqrt())
            .collect()
    }
}

/// Applies `bn` to x `[.., C]` (channels last).
pub fn batch_norm_inference(bn: &BatchNorm, x: &[f32]) -> Vec<f32> {
    let channels = bn.channels();
    assert_eq!(x.len() % channels, 0, "batch_norm_inference: x length");
    let scales = bn.scales();
    x.chunks_exact(channels)
        .flat_map(|pixel| {
            pixel.iter().enumerate().map(|(c, &v)| {
                let centred = f64::from(v) - f64::from(bn.mean[c]);
                (centred * scales[c] + f64::from(bn.beta[c])) as f32
            })
        })
        .collect()
}

/// Folds `bn` into a convolution with kernel `[.., C]` (HWIO, output channels last, as conv2d,
/// depthwise and dense kernels all are) and bias `[C]`. Returns the new kernel and bias.
pub fn fold_batch_norm(bn: &BatchNorm, kernel: &[f32], bias: &[f32]) -> (Vec<f32>, Vec<f32>) {
    let channels = bn.channels();
    assert_eq!(bias.len(), channels, "fold_batch_norm: bias length");
    assert_eq!(kernel.len() % channels, 0, "fold_batch_norm: kernel length");
    let scales = bn.scales();
    let kernel = kernel
        .chunks_exact(channels)
        .flat_map(|row| {
            row.iter()
                .zip(&scales)
                .map(|(&w, &s)| (f64::from(w) * s) as f32)
        })
        .collect();
    let bias = (0..channels)
        .map(|c| {
            let centred = f64::from(bias[c]) - f64::from(bn.mean[c]);
            (centred * scales[c] + f64::from(bn.beta[c])) as f32
        })
        .collect();
    (kernel, bias)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::{Conv2dGeometry, Conv2dSpec, Padding};
    use crate::reference::conv::conv2d_forward;

    /// Deterministic values in [-1, 1] without a random generator.
    fn wave(len: usize, phase: f32) -> Vec<f32> {
        (0..len).map(|i| (i as f32 * 0.73 + phase).sin()).collect()
    }

    #[test]
    fn folded_conv_equals_conv_then_batch_norm() {
        let spec = Conv2dSpec {
            kernel: [3, 3],
            filters: 5,
            stride: [2, 1],
            dilation: [1, 1],
            padding: Padding::Same,
        };
        let g = Conv2dGeometry::new(2, 7, 6, 3, &spec).expect("kernel fits");
        let x = wave(g.input_len(), 0.3);
        let w = wave(g.weight_len(), 1.1);
        let b = wave(5, 2.0);
        let bn = BatchNorm {
            gamma: vec![1.5, -0.5, 2.0, 0.25, 1.0],
            beta: vec![0.1, -0.2, 0.3, 0.0, 1.0],
            mean: vec![0.5, -1.0, 0.0, 2.0, -0.3],
            variance: vec![0.25, 4.0, 1.0, 0.01, 9.0],
            epsilon: 1e-3,
        };
        let want = batch_norm_inference(&bn, &conv2d_forward(&g, &x, &w, &b));
        let (folded_w, folded_b) = fold_batch_norm(&bn, &w, &b);
        let got = conv2d_forward(&g, &x, &folded_w, &folded_b);
        for (i, (a, e)) in got.iter().zip(&want).enumerate() {
            assert!(
                (a - e).abs() <= 1e-4 * (1.0 + e.abs()),
                "element {i}: {a} vs {e}"
            );
        }
    }

    #[test]
    fn batch_norm_by_hand() {
        // One channel: (3 - 1) / sqrt(3 + 1) * 2 + 0.5 = 2.5.
        let bn = BatchNorm {
            gamma: vec![2.0],
            beta: vec![0.5],
            mean: vec![1.0],
            variance: vec![3.0],
            epsilon: 1.0,
        };
        assert_eq!(batch_norm_inference(&bn, &[3.0]), vec![2.5]);
    }
}
