//! Activations: forward, and backward from the forward output.

use crate::ops::Activation;

/// Applies `act` to x `[rows, row_len]`, returning y of the same shape. Every activation but
/// softmax is elementwise and ignores `row_len`. Softmax normalizes each row of `row_len` elements.
pub fn activation_forward(act: Activation, x: &[f32], row_len: usize) -> Vec<f32> {
    match act {
        Activation::Linear => x.to_vec(),
        Activation::Relu => x.iter().map(|&v| if v > 0.0 { v } else { 0.0 }).collect(),
        Activation::Sigmoid => x.iter().map(|&v| sigmoid(v)).collect(),
        Activation::Tanh => x.iter().map(|&v| v.tanh()).collect(),
        Activation::Softmax => softmax_forward(x, row_len),
        Activation::LeakyRelu { alpha } => x
            .iter()
            .map(|&v| if v > 0.0 { v } else { alpha * v })
            .collect(),
    }
}

/// Computes the input gradient dx `[rows, row_len]` from the forward OUTPUT y and dy, both
/// `[rows, row_len]`. Every activation but softmax ignores `row_len`.
///
/// Relu passes dy where `y > 0`, so the gradient at exactly `x = 0` is 0. Leaky ReLU likewise
/// takes the slope `alpha` at `x = 0`.
pub fn activation_backward(act: Activation, y: &[f32], dy: &[f32], row_len: usize) -> Vec<f32> {
    assert_eq!(
        y.len(),
        dy.len(),
        "activation_backward: y and dy lengths differ"
    );
    let pairs = y.iter().zip(dy);
    match act {
        Activation::Linear => dy.to_vec(),
        Activation::Relu => pairs
            .map(|(&y, &d)| if y > 0.0 { d } else { 0.0 })
            .collect(),
        Activation::Sigmoid => pairs.map(|(&y, &d)| d * y * (1.0 - y)).collect(),
        Activation::Tanh => pairs.map(|(&y, &d)| d * (1.0 - y * y)).collect(),
        Activation::Softmax => softmax_backward(y, dy, row_len),
        Activation::LeakyRelu { alpha } => pairs
            .map(|(&y, &d)| if y > 0.0 { d } else { alpha * d })
            .collect(),
    }
}

/// Logistic sigmoid in a form where every `exp` argument is at most 0, so it cannot overflow:
/// `1 / (1 + e^-x)` for x >= 0 and `e^x / (1 + e^x)` for x < 0.
fn sigmoid(x: f32) -> f32 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

/// Softmax of each row, shifted by the row maximum so that `exp` cannot overflow on finite input.
fn softmax_forward(x: &[f32], row_len: usize) -> Vec<f32> {
    check_rows("softmax", x.len(), row_len);
    let mut y = Vec::with_capacity(x.len());
    for row in x.chunks_exact(row_len) {
        let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let start = y.len();
        y.extend(row.iter().map(|&v| (v - max).exp()));
        let total: f32 = y[start..].iter().sum();
        for v in &mut y[start..] {
            *v /= total;
        }
    }
    y
}

/// Softmax Jacobian-vector product per row: `dx = y * (dy - sum(dy * y))`.
fn softmax_backward(y: &[f32], dy: &[f32], row_len: usize) -> Vec<f32> {
    check_rows("softmax backward", y.len(), row_len);
    let mut dx = Vec::with_capacity(y.len());
    for (y_row, dy_row) in y.chunks_exact(row_len).zip(dy.chunks_exact(row_len)) {
        let weighted: f32 = y_row.iter().zip(dy_row).map(|(&y, &d)| y * d).sum();
        dx.extend(y_row.iter().zip(dy_row).map(|(&y, &d)| y * (d - weighted)));
    }
    dx
}

fn check_rows(op: &str, len: usize, row_len: usize) {
    assert!(row_len > 0, "{op}: row_len must be positive");
    assert_eq!(
        len % row_len,
        0,
        "{op}: length {len} is not a multiple of row_len {row_len}"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_close(got: &[f32], want: &[f32], tolerance: f32) {
        assert_eq!(got.len(), want.len(), "lengths differ");
        for (index, (&g, &w)) in got.iter().zip(want).enumerate() {
            assert!((g - w).abs() <= tolerance, "[{index}]: {g} vs {w}");
        }
    }

    #[test]
    fn relu_forward_and_backward() {
        let x = [-2.0, 0.0, 3.0];
        let y = activation_forward(Activation::Relu, &x, 3);
        assert_eq!(y, vec![0.0, 0.0, 3.0]);
        // The gradient at exactly 0 is 0.
        assert_eq!(
            activation_backward(Activation::Relu, &y, &[5.0, 5.0, 5.0], 3),
            vec![0.0, 0.0, 5.0]
        );
    }

    #[test]
    fn sigmoid_is_finite_at_extremes() {
        let y = activation_forward(Activation::Sigmoid, &[-1.0e4, 0.0, 1.0e4], 1);
        assert_eq!(y, vec![0.0, 0.5, 1.0]);
        let dx = activation_backward(Activation::Sigmoid, &y, &[1.0; 3], 1);
        assert_eq!(dx, vec![0.0, 0.25, 0.0]);
    }

    #[test]
    fn sigmoid_and_tanh_values() {
        // sigmoid(2) = 1 / (1 + e^-2) = 0.880797, sigmoid(-2) = 0.119203, tanh(1) = 0.761594.
        let y = activation_forward(Activation::Sigmoid, &[2.0, -2.0], 1);
        assert_close(&y, &[0.880_797, 0.119_203], 1e-6);
        let y = activation_forward(Activation::Tanh, &[1.0, -1.0], 1);
        assert_close(&y, &[0.761_594, -0.761_594], 1e-6);
        // tanh' = 1 - y^2 = 0.419974.
        let dx = activation_backward(Activation::Tanh, &y, &[1.0, 2.0], 1);
        assert_close(&dx, &[0.419_974, 0.839_949], 1e-6);
    }

    #[test]
    fn linear_is_identity() {
        let x = [-1.5, 0.0, 2.5];
        assert_eq!(activation_forward(Activation::Linear, &x, 1), x.to_vec());
        assert_eq!(
            activation_backward(Activation::Linear, &x, &[1.0, 2.0, 3.0], 1),
            vec![1.0, 2.0, 3.0]
        );
    }

    #[test]
    fn softmax_rows_sum_to_one() {
        // Second row would overflow exp without the max shift, third row is constant.
        let x = [1.0, 2.0, 3.0, 1000.0, 999.0, -1000.0, 5.0, 5.0, 5.0];
        let y = activation_forward(Activation::Softmax, &x, 3);
        for (row_index, row) in y.chunks(3).enumerate() {
            let total: f32 = row.iter().sum();
            assert!(
                (total - 1.0).abs() < 1e-6,
                "row {row_index} sums to {total}"
            );
            assert!(
                row.iter().all(|v| v.is_finite() && *v >= 0.0),
                "row {row_index}: {row:?}"
            );
        }
        // e^k / (e + e^2 + e^3) for k = 1, 2, 3.
        assert_close(&y[..3], &[0.090_031, 0.244_728, 0.665_241], 1e-6);
        // 1 / (1 + e^-1) and e^-1 / (1 + e^-1); e^-2000 underflows to 0.
        assert_close(&y[3..6], &[0.731_059, 0.268_941, 0.0], 1e-6);
        assert_close(&y[6..], &[1.0 / 3.0; 3], 1e-7);
    }

    #[test]
    fn softmax_backward_by_hand() {
        // y = [0.5, 0.5], dy = [1, 0]: sum(dy * y) = 0.5, dx = [0.5 * 0.5, 0.5 * -0.5].
        let dx = activation_backward(Activation::Softmax, &[0.5, 0.5], &[1.0, 0.0], 2);
        assert_eq!(dx, vec![0.25, -0.25]);
        // A gradient equal in every class does not change the normalized output.
        let y = [0.2, 0.3, 0.5];
        let dx = activation_backward(Activation::Softmax, &y, &[7.0; 3], 3);
        assert_close(&dx, &[0.0; 3], 1e-6);
    }
}
