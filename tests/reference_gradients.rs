//! Checks every backward pass of the CPU reference against central finite differences.
//!
//! Each check differentiates the scalar objective `L = sum(y * r)`, accumulated in f64, where y is
//! the op's output and r a fixed random tensor, so the analytic gradient is the op's backward pass
//! with `dy = r`. The softmax cross-entropy check differentiates the mean loss instead, because
//! dlogits is defined as its gradient. The numeric gradient perturbs one input element at a time
//! by ±step in f32 and divides by the step that f32 rounding actually produced.
//!
//! Error budget: conv, avg pooling, matmul and dropout are linear, and max pooling is linear as
//! long as no window changes its winner. Central differences have no truncation error on these,
//! so the only error is the f32 rounding of the outputs that the element touches, divided by
//! `2 * step`. Smooth nonlinear ops add a truncation error of about `step^2 / 6 * |f'''|`.

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64;
use webcnn::ops::depthwise::DepthwiseGeometry;
use webcnn::ops::{Activation, Conv2dGeometry, Conv2dSpec, Padding, Pool2dGeometry};
use webcnn::reference::{
    activation_backward, activation_forward, add_bias, avg_pool_backward, avg_pool_forward,
    bias_backward, conv2d_backward_filter, conv2d_backward_input, conv2d_forward,
    depthwise_backward_filter, depthwise_backward_input, depthwise_forward, dropout_forward,
    dropout_mask, matmul, max_pool_backward, max_pool_forward, softmax_cross_entropy,
};

/// Allowed difference between the analytic and the numeric gradient:
/// `absolute + relative * |analytic|`.
#[derive(Clone, Copy)]
struct Tolerance {
    absolute: f64,
    relative: f64,
}

/// Tolerance for linear ops with step 1e-2. The worst observed error is 5.8e-5 (conv dw,
/// "3x3 valid, batch 2"), in line with an estimate of the f32 rounding of about 30 touched outputs
/// near 4 in magnitude (ulp 4.8e-7), divided by 2 * step. An indexing bug moves whole gradient
/// terms of order 0.1 to 1.
const LINEAR: Tolerance = Tolerance {
    absolute: 5e-4,
    relative: 1e-4,
};

/// Tolerance for smooth nonlinear ops with step 1e-2. The truncation error is at most
/// `step^2 / 6 * max|f'''|`, 3.4e-5 for tanh (max |f'''| = 2), and the worst observed error is
/// 1.1e-5 (tanh).
const SMOOTH: Tolerance = Tolerance {
    absolute: 2e-4,
    relative: 1e-3,
};

fn rng(seed: u64) -> Pcg64 {
    Pcg64::seed_from_u64(seed)
}

fn random_vec(rng: &mut Pcg64, len: usize, low: f32, high: f32) -> Vec<f32> {
    (0..len).map(|_| rng.random_range(low..high)).collect()
}

/// Values in [-2, 2) that are pairwise at least `4 / len` apart, in random order, so that a
/// perturbation below half that gap never changes which cell wins a max-pooling window.
fn distinct_vec(rng: &mut Pcg64, len: usize) -> Vec<f32> {
    let mut ranks: Vec<usize> = (0..len).collect();
    ranks.shuffle(rng);
    ranks
        .into_iter()
        .map(|rank| rank as f32 * 4.0 / len as f32 - 2.0)
        .collect()
}

/// `sum(y * r)` in f64. Each product of two f32 values is exact in f64.
fn weighted_sum(y: &[f32], r: &[f32]) -> f64 {
    assert_eq!(y.len(), r.len(), "output and weight lengths differ");
    y.iter()
        .zip(r)
        .map(|(&a, &b)| f64::from(a) * f64::from(b))
        .sum()
}

/// Compares `analytic` with central differences of `objective` at every element of `point`, and
/// returns the worst error as a fraction of the allowed error.
fn check_gradient(
    name: &str,
    point: &[f32],
    analytic: &[f32],
    step: f32,
    tolerance: Tolerance,
    objective: impl Fn(&[f32]) -> f64,
) -> f64 {
    assert_eq!(point.len(), analytic.len(), "{name}: gradient length");
    assert!(!point.is_empty(), "{name}: nothing to check");
    let mut probe = point.to_vec();
    let mut worst_fraction = 0.0f64;
    let mut worst_error = 0.0f64;
    for index in 0..point.len() {
        let plus = point[index] + step;
        let minus = point[index] - step;
        probe[index] = plus;
        let objective_plus = objective(&probe);
        probe[index] = minus;
        let objective_minus = objective(&probe);
        probe[index] = point[index];

        let numeric = (objective_plus - objective_minus) / (f64::from(plus) - f64::from(minus));
        let exact = f64::from(analytic[index]);
        let error = (numeric - exact).abs();
        let allowed = tolerance.absolute + tolerance.relative * exact.abs();
        assert!(
            error <= allowed,
            "{name}[{index}]: analytic {exact}, finite difference {numeric}, \
             error {error:e} exceeds {allowed:e}"
        );
        worst_fraction = worst_fraction.max(error / allowed);
        worst_error = worst_error.max(error);
    }
    println!("{name}: worst error {worst_error:.1e}, {worst_fraction:.3} of the tolerance");
    worst_fraction
}

/// One convolution shape, with the output size and leading padding it must produce.
struct ConvCase {
    name: &'static str,
    batch: usize,
    input: [usize; 3],
    spec: Conv2dSpec,
    /// Expected `[out_h, out_w, pad_top, pad_left]`.
    expected: [usize; 4],
}

fn conv_spec(
    kernel: [usize; 2],
    filters: usize,
    stride: [usize; 2],
    dilation: [usize; 2],
    padding: Padding,
) -> Conv2dSpec {
    Conv2dSpec {
        kernel,
        filters,
        stride,
        dilation,
        padding,
    }
}

fn conv_cases() -> Vec<ConvCase> {
    use Padding::{Same, Valid};
    vec![
        ConvCase {
            name: "3x3 valid, batch 2",
            batch: 2,
            input: [5, 7, 3],
            spec: conv_spec([3, 3], 4, [1, 1], [1, 1], Valid),
            expected: [3, 5, 0, 0],
        },
        ConvCase {
            // Total padding (3 - 1) * 2 + 3 - 6 = 1 rows and (4 - 1) * 2 + 3 - 8 = 1 columns,
            // both odd, so all of it goes at the bottom and right.
            name: "3x3 stride 2 same, odd padding",
            batch: 2,
            input: [6, 8, 2],
            spec: conv_spec([3, 3], 3, [2, 2], [1, 1], Same),
            expected: [3, 4, 0, 0],
        },
        ConvCase {
            // Neither 8 nor 10 is a multiple of 3, so the last rows and columns are never read.
            name: "2x3 stride 3 valid",
            batch: 1,
            input: [8, 10, 2],
            spec: conv_spec([2, 3], 3, [3, 3], [1, 1], Valid),
            expected: [3, 3, 0, 0],
        },
        ConvCase {
            // Total padding 2 rows (1 on top) and 1 column (0 on the left).
            name: "3x3 stride 3 same",
            batch: 2,
            input: [7, 5, 1],
            spec: conv_spec([3, 3], 2, [3, 3], [1, 1], Same),
            expected: [3, 2, 1, 0],
        },
        ConvCase {
            // Even kernel: total padding 3 rows (1 on top) and 1 column (0 on the left).
            name: "4x2 stride 1 same",
            batch: 1,
            input: [5, 6, 2],
            spec: conv_spec([4, 2], 3, [1, 1], [1, 1], Same),
            expected: [5, 6, 1, 0],
        },
        ConvCase {
            name: "1x5 same",
            batch: 2,
            input: [4, 9, 3],
            spec: conv_spec([1, 5], 2, [1, 1], [1, 1], Same),
            expected: [4, 9, 0, 2],
        },
        ConvCase {
            name: "5x1 stride 2x1 valid",
            batch: 2,
            input: [9, 4, 2],
            spec: conv_spec([5, 1], 3, [2, 1], [1, 1], Valid),
            expected: [3, 4, 0, 0],
        },
        ConvCase {
            // Dilated window 5, total padding 4 on each axis.
            name: "3x3 dilation 2 same",
            batch: 2,
            input: [7, 8, 2],
            spec: conv_spec([3, 3], 3, [1, 1], [2, 2], Same),
            expected: [7, 8, 2, 2],
        },
        ConvCase {
            // Dilated windows 3x5.
            name: "2x3 dilation 2 stride 2 valid",
            batch: 1,
            input: [9, 10, 2],
            spec: conv_spec([2, 3], 2, [2, 2], [2, 2], Valid),
            expected: [4, 3, 0, 0],
        },
        ConvCase {
            // Dilated window 3, total padding (3 - 1) * 2 + 3 - 6 = 1 on each axis.
            name: "2x2 dilation 2 stride 2 same, odd padding",
            batch: 3,
            input: [6, 6, 1],
            spec: conv_spec([2, 2], 1, [2, 2], [2, 2], Same),
            expected: [3, 3, 0, 0],
        },
    ]
}

fn conv_geometry(case: &ConvCase) -> Conv2dGeometry {
    let [h, w, c] = case.input;
    let g = Conv2dGeometry::new(case.batch, h, w, c, &case.spec).expect("kernel fits");
    assert_eq!(
        [g.out_h, g.out_w, g.pad_top, g.pad_left],
        case.expected,
        "{}: [out_h, out_w, pad_top, pad_left]",
        case.name
    );
    g
}

#[test]
fn conv2d_gradients_match_finite_differences() {
    let mut rng = rng(1);
    for case in conv_cases() {
        let g = conv_geometry(&case);
        let x = random_vec(&mut rng, g.input_len(), -1.0, 1.0);
        let w = random_vec(&mut rng, g.weight_len(), -1.0, 1.0);
        let bias = random_vec(&mut rng, g.out_c, -1.0, 1.0);
        let r = random_vec(&mut rng, g.output_len(), -1.0, 1.0);

        let dx = conv2d_backward_input(&g, &r, &w);
        let dw = conv2d_backward_filter(&g, &x, &r);
        let db = bias_backward(&r, g.out_c);
        let name = case.name;
        check_gradient(&format!("{name}: dx"), &x, &dx, 1e-2, LINEAR, |x| {
            weighted_sum(&conv2d_forward(&g, x, &w, &bias), &r)
        });
        check_gradient(&format!("{name}: dw"), &w, &dw, 1e-2, LINEAR, |w| {
            weighted_sum(&conv2d_forward(&g, &x, w, &bias), &r)
        });
        check_gradient(
            &format!("{name}: dbias"),
            &bias,
            &db,
            1e-2,
            LINEAR,
            |bias| weighted_sum(&conv2d_forward(&g, &x, &w, bias), &r),
        );
    }
}

/// One pooling shape, with the output size and leading padding it must produce.
struct PoolCase {
    name: &'static str,
    batch: usize,
    input: [usize; 3],
    pool: [usize; 2],
    stride: [usize; 2],
    padding: Padding,
    /// Expected `[out_h, out_w, pad_top, pad_left]`.
    expected: [usize; 4],
}

fn pool_cases() -> Vec<PoolCase> {
    use Padding::{Same, Valid};
    vec![
        PoolCase {
            // The last row and column of the odd-sized input are never read.
            name: "2x2 stride 2 valid, odd input",
            batch: 2,
            input: [5, 7, 3],
            pool: [2, 2],
            stride: [2, 2],
            padding: Valid,
            expected: [2, 3, 0, 0],
        },
        PoolCase {
            name: "3x3 stride 2 valid, overlapping",
            batch: 2,
            input: [7, 6, 2],
            pool: [3, 3],
            stride: [2, 2],
            padding: Valid,
            expected: [3, 2, 0, 0],
        },
        PoolCase {
            // Total padding 1 row (odd, all at the bottom) and 2 columns (1 on the left).
            name: "3x3 stride 2 same, overlapping",
            batch: 1,
            input: [6, 7, 2],
            pool: [3, 3],
            stride: [2, 2],
            padding: Same,
            expected: [3, 4, 0, 1],
        },
        PoolCase {
            // Total padding 1 row and 1 column, both at the bottom and right.
            name: "2x3 stride 3 same",
            batch: 2,
            input: [7, 8, 1],
            pool: [2, 3],
            stride: [3, 3],
            padding: Same,
            expected: [3, 3, 0, 0],
        },
        PoolCase {
            name: "3x3 stride 1 same",
            batch: 1,
            input: [4, 5, 2],
            pool: [3, 3],
            stride: [1, 1],
            padding: Same,
            expected: [4, 5, 1, 1],
        },
    ]
}

fn pool_geometry(case: &PoolCase) -> Pool2dGeometry {
    let [h, w, c] = case.input;
    let g = Pool2dGeometry::new(case.batch, h, w, c, case.pool, case.stride, case.padding)
        .expect("window fits");
    assert_eq!(
        [g.out_h, g.out_w, g.pad_top, g.pad_left],
        case.expected,
        "{}: [out_h, out_w, pad_top, pad_left]",
        case.name
    );
    g
}

#[test]
fn max_pool_gradient_matches_finite_differences() {
    let mut rng = rng(2);
    let step = 1e-3;
    for case in pool_cases() {
        let g = pool_geometry(&case);
        // Values at least 4 / len apart: a step below half that gap never creates a tie.
        assert!(
            4.0 / g.input_len() as f32 > 2.0 * step,
            "{}: input too large",
            case.name
        );
        let x = distinct_vec(&mut rng, g.input_len());
        let r = random_vec(&mut rng, g.output_len(), -1.0, 1.0);

        let (_, argmax) = max_pool_forward(&g, &x);
        let dx = max_pool_backward(&g, &r, &argmax);
        check_gradient(
            &format!("max pool {}: dx", case.name),
            &x,
            &dx,
            step,
            LINEAR,
            |x| weighted_sum(&max_pool_forward(&g, x).0, &r),
        );
    }
}

#[test]
fn avg_pool_gradient_matches_finite_differences() {
    let mut rng = rng(3);
    for case in pool_cases() {
        let g = pool_geometry(&case);
        let x = random_vec(&mut rng, g.input_len(), -1.0, 1.0);
        let r = random_vec(&mut rng, g.output_len(), -1.0, 1.0);

        let dx = avg_pool_backward(&g, &r);
        check_gradient(
            &format!("avg pool {}: dx", case.name),
            &x,
            &dx,
            1e-2,
            LINEAR,
            |x| weighted_sum(&avg_pool_forward(&g, x), &r),
        );
    }
}

#[test]
fn matmul_gradients_match_finite_differences() {
    let mut rng = rng(4);
    for (m, k, n) in [(5, 3, 4), (1, 7, 2), (6, 1, 3)] {
        for (transpose_a, transpose_b) in
            [(false, false), (true, false), (false, true), (true, true)]
        {
            let a = random_vec(&mut rng, m * k, -1.0, 1.0);
            let b = random_vec(&mut rng, k * n, -1.0, 1.0);
            let r = random_vec(&mut rng, m * n, -1.0, 1.0);

            // With C = op(A) op(B) and dC = R: d op(A) = R op(B)^T and d op(B) = op(A)^T R. The
            // gradient of a stored-transposed operand is the transpose of that, so each case is one
            // matmul with the transposes chosen to read the stored layouts.
            let da = if transpose_a {
                matmul(&b, &r, k, n, m, transpose_b, true)
            } else {
                matmul(&r, &b, m, n, k, false, !transpose_b)
            };
            let db = if transpose_b {
                matmul(&r, &a, n, m, k, true, transpose_a)
            } else {
                matmul(&a, &r, k, m, n, !transpose_a, false)
            };
            let name = format!("matmul m={m} k={k} n={n} ta={transpose_a} tb={transpose_b}");
            check_gradient(&format!("{name}: da"), &a, &da, 1e-2, LINEAR, |a| {
                weighted_sum(&matmul(a, &b, m, k, n, transpose_a, transpose_b), &r)
            });
            check_gradient(&format!("{name}: db"), &b, &db, 1e-2, LINEAR, |b| {
                weighted_sum(&matmul(&a, b, m, k, n, transpose_a, transpose_b), &r)
            });
        }
    }
}

#[test]
fn dense_layer_gradients_match_finite_differences() {
    let mut rng = rng(5);
    let (batch, inputs, outputs) = (3, 5, 4);
    let x = random_vec(&mut rng, batch * inputs, -1.0, 1.0);
    let w = random_vec(&mut rng, inputs * outputs, -1.0, 1.0);
    let bias = random_vec(&mut rng, outputs, -1.0, 1.0);
    let r = random_vec(&mut rng, batch * outputs, -1.0, 1.0);
    let dense = |x: &[f32], w: &[f32], bias: &[f32]| {
        let mut y = matmul(x, w, batch, inputs, outputs, false, false);
        add_bias(&mut y, bias);
        y
    };

    let dx = matmul(&r, &w, batch, outputs, inputs, false, true);
    let dw = matmul(&x, &r, inputs, batch, outputs, true, false);
    let db = bias_backward(&r, outputs);
    check_gradient("dense: dx", &x, &dx, 1e-2, LINEAR, |x| {
        weighted_sum(&dense(x, &w, &bias), &r)
    });
    check_gradient("dense: dw", &w, &dw, 1e-2, LINEAR, |w| {
        weighted_sum(&dense(&x, w, &bias), &r)
    });
    check_gradient("dense: dbias", &bias, &db, 1e-2, LINEAR, |bias| {
        weighted_sum(&dense(&x, &w, bias), &r)
    });
}

#[test]
fn activation_gradients_match_finite_differences() {
    let mut rng = rng(6);
    let (rows, row_len) = (4, 6);
    let activations = [
        Activation::Linear,
        Activation::Relu,
        Activation::Sigmoid,
        Activation::Tanh,
        Activation::Softmax,
        Activation::LeakyRelu { alpha: 0.1 },
    ];
    for act in activations {
        let mut x = random_vec(&mut rng, rows * row_len, -3.0, 3.0);
        // Relu and leaky ReLU have a kink at 0: keep every input at least 0.05 away, well
        // beyond the step.
        for v in &mut x {
            if v.abs() < 0.05 {
                *v += 0.1f32.copysign(*v);
            }
        }
        let r = random_vec(&mut rng, rows * row_len, -1.0, 1.0);

        let y = activation_forward(act, &x, row_len);
        let dx = activation_backward(act, &y, &r, row_len);
        check_gradient(&format!("{act:?}: dx"), &x, &dx, 1e-2, SMOOTH, |x| {
            weighted_sum(&activation_forward(act, x, row_len), &r)
        });
    }
}

#[test]
fn softmax_cross_entropy_gradient_matches_finite_differences() {
    let mut rng = rng(7);
    let (batch, classes) = (5, 7);
    // Logits around 0, and around 80, where exp(z) without the max shift is near f32 overflow.
    for offset in [0.0f32, 80.0] {
        let logits: Vec<f32> = random_vec(&mut rng, batch * classes, -3.0, 3.0)
            .iter()
            .map(|z| z + offset)
            .collect();
        let labels: Vec<u32> = (0..batch)
            .map(|_| rng.random_range(0..classes as u32))
            .collect();

        let (_, dlogits) = softmax_cross_entropy(&logits, &labels, classes);
        // dlogits is the gradient of the mean loss over the batch.
        let mean_loss = |logits: &[f32]| {
            let (losses, _) = softmax_cross_entropy(logits, &labels, classes);
            losses.iter().map(|&l| f64::from(l)).sum::<f64>() / batch as f64
        };
        let name = format!("softmax cross-entropy, logits near {offset}: dlogits");
        check_gradient(&name, &logits, &dlogits, 1e-2, SMOOTH, mean_loss);
    }
}

#[test]
fn dropout_gradient_matches_finite_differences() {
    let mut rng = rng(8);
    let len = 50;
    let x = random_vec(&mut rng, len, -1.0, 1.0);
    let r = random_vec(&mut rng, len, -1.0, 1.0);
    let mask = dropout_mask(11, len, 0.4);
    assert!(
        mask.contains(&0.0),
        "mask drops nothing, so the check is weak"
    );

    let dx = dropout_forward(&r, &mask);
    check_gradient("dropout: dx", &x, &dx, 1e-2, LINEAR, |x| {
        weighted_sum(&dropout_forward(x, &mask), &r)
    });
}

/// The conv cases as depthwise convolutions, with the conv's filter count as depth multiplier.
#[test]
fn depthwise_gradients_match_finite_differences() {
    let mut rng = rng(9);
    for case in conv_cases() {
        let conv = conv_geometry(&case);
        let multiplier = case.spec.filters;
        let g = DepthwiseGeometry {
            conv: Conv2dGeometry {
                out_c: conv.in_c * multiplier,
                ..conv
            },
            multiplier,
        };
        let x = random_vec(&mut rng, g.input_len(), -1.0, 1.0);
        let w = random_vec(&mut rng, g.weight_len(), -1.0, 1.0);
        let bias = random_vec(&mut rng, g.conv.out_c, -1.0, 1.0);
        let r = random_vec(&mut rng, g.output_len(), -1.0, 1.0);

        let dx = depthwise_backward_input(&g, &r, &w);
        let dw = depthwise_backward_filter(&g, &x, &r);
        let db = bias_backward(&r, g.conv.out_c);
        let name = format!("depthwise {}", case.name);
        check_gradient(&format!("{name}: dx"), &x, &dx, 1e-2, LINEAR, |x| {
            weighted_sum(&depthwise_forward(&g, x, &w, &bias), &r)
        });
        check_gradient(&format!("{name}: dw"), &w, &dw, 1e-2, LINEAR, |w| {
            weighted_sum(&depthwise_forward(&g, &x, w, &bias), &r)
        });
        check_gradient(
            &format!("{name}: dbias"),
            &bias,
            &db,
            1e-2,
            LINEAR,
            |bias| weighted_sum(&depthwise_forward(&g, &x, &w, bias), &r),
        );
    }
}
