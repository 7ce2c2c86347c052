//! Every GPU kernel against the CPU reference, on random shapes (lavapipe natively).

mod common;

use common::{assert_close, gpu, random, read, read_u32};
use webcnn::gpu::Gpu;
use webcnn::ops::{self, Activation, Conv2dGeometry, Conv2dSpec, Padding, Pool2dGeometry};
use webcnn::reference;
use webcnn::tensor::Tensor;

/// (batch, h, w, c_in, kernel, filters, stride, dilation, padding)
type ConvCase = (
    usize,
    usize,
    usize,
    usize,
    [usize; 2],
    usize,
    [usize; 2],
    [usize; 2],
    Padding,
);

const CONV_CASES: &[ConvCase] = &[
    // The seed CNN's two layers at a small batch.
    (2, 28, 28, 1, [3, 3], 32, [1, 1], [1, 1], Padding::Valid),
    (3, 13, 13, 32, [3, 3], 64, [1, 1], [1, 1], Padding::Valid),
    // Odd sizes, stride 2 and 3 that do not divide the input.
    (2, 9, 7, 3, [3, 3], 5, [2, 2], [1, 1], Padding::Valid),
    (1, 11, 10, 4, [3, 2], 7, [3, 3], [1, 1], Padding::Valid),
    (2, 10, 9, 3, [4, 4], 6, [3, 2], [1, 1], Padding::Same),
    // "Same" padding with odd total padding.
    (2, 6, 6, 2, [4, 4], 3, [1, 1], [1, 1], Padding::Same),
    (1, 7, 5, 5, [2, 2], 9, [2, 2], [1, 1], Padding::Same),
    // 1xN and Nx1 kernels.
    (2, 8, 9, 3, [1, 5], 4, [1, 1], [1, 1], Padding::Same),
    (2, 9, 8, 3, [5, 1], 4, [1, 2], [1, 1], Padding::Valid),
    // Dilation.
    (2, 12, 11, 2, [3, 3], 5, [1, 1], [2, 2], Padding::Valid),
    (1, 10, 10, 3, [3, 2], 4, [2, 1], [2, 3], Padding::Same),
    // Fewer taps than filters, so the filter gradient puts channels on the rows.
    (2, 9, 8, 2, [2, 3], 40, [2, 1], [1, 1], Padding::Same),
    (1, 10, 9, 1, [3, 3], 20, [1, 1], [2, 1], Padding::Valid),
    // Few taps and output channels in quads, so the direct kernels take all three products (the
    // input gradient at stride 1 only): RGB with stride 2 and "same" padding, several channel
    // blocks, dilation.
    (2, 9, 7, 3, [3, 3], 8, [2, 2], [1, 1], Padding::Same),
    (2, 30, 21, 1, [3, 3], 64, [1, 1], [1, 1], Padding::Valid),
    (1, 7, 23, 2, [3, 2], 12, [1, 1], [2, 1], Padding::Same),
    // Few taps but so many output channels that the direct input gradient's body would be too
    // long, so the input gradient takes the implicit GEMM.
    (2, 5, 4, 32, [1, 1], 160, [1, 1], [1, 1], Padding::Valid),
    // Channel counts that are multiples of 4 but not of 16, so the vec4 loads and stores meet a
    // partial column block, with stride 2 (same padding) and dilation 2.
    (2, 9, 9, 8, [3, 3], 12, [2, 2], [1, 1], Padding::Same),
    (1, 10, 10, 4, [3, 3], 8, [1, 1], [2, 2], Padding::Valid),
    // Many channels and a larger batch, so split-K and several tiles take part.
    (5, 12, 12, 17, [3, 3], 70, [1, 1], [1, 1], Padding::Same),
    // Batches of 16 or more that are not multiples of 16, so a thread's input-gradient rows span
    // one or two input cells and it skips their common dead taps. The 7x6 kernel has more taps
    // than the skip mask holds.
    (20, 9, 8, 8, [3, 3], 12, [1, 1], [1, 1], Padding::Valid),
    (17, 9, 9, 8, [3, 3], 12, [2, 2], [1, 1], Padding::Same),
    (2, 10, 10, 4, [7, 6], 8, [1, 1], [1, 1], Padding::Same),
];

fn geometry(case: &ConvCase) -> Conv2dGeometry {
    let &(batch, h, w, c, kernel, filters, stride, dilation, padding) = case;
    let spec = Conv2dSpec {
        kernel,
        filters,
        stride,
        dilation,
        padding,
    };
    Conv2dGeometry::new(batch, h, w, c, &spec).expect("case fits")
}

#[test]
fn conv2d_forward_matches_reference() {
    check_conv2d_forward(&gpu(), CONV_CASES);
}

/// The direct forward kernel sums each output in one chain of multiply-adds in the browser's
/// WebGPU, so this runs its cases (few taps, output channels in quads) with lavapipe marked as
/// that backend.
#[test]
fn conv2d_forward_chains_match_reference() {
    let mut gpu = gpu();
    gpu.info.backend = wgpu::Backend::BrowserWebGpu;
    let direct: Vec<ConvCase> = CONV_CASES
        .iter()
        .filter(|case| {
            let g = geometry(case);
            g.k_h * g.k_w * g.in_c <= 32 && g.out_c.is_multiple_of(4)
        })
        .copied()
        .collect();
    assert!(direct.len() >= 4, "too few direct cases: {direct:?}");
    check_conv2d_forward(&gpu, &direct);
}

/// Checks conv2d_forward against the reference, with and without ReLU, on `cases`.
fn check_conv2d_forward(gpu: &Gpu, cases: &[ConvCase]) {
    for (i, case) in cases.iter().enumerate() {
        let g = geometry(case);
        let x = random(g.input_len(), i as u64);
        let w = random(g.weight_len(), 100 + i as u64);
        let b = random(g.out_c, 200 + i as u64);
        let want = reference::conv::conv2d_forward(&g, &x, &w, &b);
        let xt = Tensor::from_slice(gpu, &x, &[x.len()]);
        let wt = Tensor::from_slice(gpu, &w, &[w.len()]);
        let bt = Tensor::from_slice(gpu, &b, &[b.len()]);

        let y = ops::conv::conv2d_forward(gpu, &g, &xt, &wt, &bt, Activation::Linear);
        assert_close(&format!("case {i} {case:?}"), &read(gpu, &y), &want, 1e-4);

        let y = ops::conv::conv2d_forward(gpu, &g, &xt, &wt, &bt, Activation::Relu);
        let relu: Vec<f32> = want.iter().map(|v| v.max(0.0)).collect();
        assert_close(&format!("relu case {i}"), &read(gpu, &y), &relu, 1e-4);
    }
}

#[test]
fn conv2d_input_gradient_matches_reference() {
    let gpu = gpu();
    for (i, case) in CONV_CASES.iter().enumerate() {
        let g = geometry(case);
        let dy = random(g.output_len(), i as u64);
        let w = random(g.weight_len(), 100 + i as u64);
        let want = reference::conv::conv2d_backward_input(&g, &dy, &w);
        let dyt = Tensor::from_slice(&gpu, &dy, &[dy.len()]);
        let wt = Tensor::from_slice(&gpu, &w, &[w.len()]);
        let dx = ops::conv::conv2d_backward_input(&gpu, &g, &dyt, &wt);
        assert_close(&format!("case {i} {case:?}"), &read(&gpu, &dx), &want, 1e-4);
    }
}

#[test]
fn conv2d_filter_and_bias_gradients_match_reference() {
    let gpu = gpu();
    for (i, case) in CONV_CASES.iter().enumerate() {
        let g = geometry(case);
        let x = random(g.input_len(), i as u64);
        let dy = random(g.output_len(), 300 + i as u64);
        let xt = Tensor::from_slice(&gpu, &x, &[x.len()]);
        let dyt = Tensor::from_slice(&gpu, &dy, &[dy.len()]);

        let dw = Tensor::empty(&gpu, &[g.weight_len()]);
        ops::conv::conv2d_backward_filter(&gpu, &g, &xt, &dyt, &dw, false);
        let want = reference::conv::conv2d_backward_filter(&g, &x, &dy);
        assert_close(
            &format!("dw case {i} {case:?}"),
            &read(&gpu, &dw),
            &want,
            1e-4,
        );

        let db = Tensor::empty(&gpu, &[g.out_c]);
        ops::reduce::bias_backward(&gpu, &dyt, &db, false);
        let want = reference::reduce::bias_backward(&dy, g.out_c);
        assert_close(&format!("db case {i}"), &read(&gpu, &db), &want, 1e-4);
    }
}

#[test]
fn filter_gradient_accumulates() {
    let gpu = gpu();
    let g = geometry(&CONV_CASES[2]);
    let x = random(g.input_len(), 1);
    let dy = random(g.output_len(), 2);
    let start = random(g.weight_len(), 3);
    let xt = Tensor::from_slice(&gpu, &x, &[x.len()]);
    let dyt = Tensor::from_slice(&gpu, &dy, &[dy.len()]);
    let dw = Tensor::from_slice(&gpu, &start, &[start.len()]);
    ops::conv::conv2d_backward_filter(&gpu, &g, &xt, &dyt, &dw, true);
    let grad = reference::conv::conv2d_backward_filter(&g, &x, &dy);
    let want: Vec<f32> = start.iter().zip(&grad).map(|(a, b)| a + b).collect();
    assert_close("accumulated dw", &read(&gpu, &dw), &want, 1e-4);
}

/// (batch, h, w, c, pool, stride, padding)
type PoolCase = (usize, usize, usize, usize, [usize; 2], [usize; 2], Padding);

const POOL_CASES: &[PoolCase] = &[
    (2, 26, 26, 32, [2, 2], [2, 2], Padding::Valid),
    (2, 11, 11, 5, [2, 2], [2, 2], Padding::Valid),
    (2, 9, 9, 3, [3, 3], [2, 2], Padding::Valid),
    (1, 10, 7, 4, [3, 3], [2, 2], Padding::Same),
    (3, 7, 8, 2, [2, 3], [3, 1], Padding::Same),
    (1, 5, 5, 1, [5, 5], [1, 1], Padding::Valid),
];

fn pool_geometry(case: &PoolCase) -> Pool2dGeometry {
    let &(batch, h, w, c, pool, stride, padding) = case;
    Pool2dGeometry::new(batch, h, w, c, pool, stride, padding).expect("case fits")
}

#[test]
fn pooling_matches_reference() {
    let gpu = gpu();
    for (i, case) in POOL_CASES.iter().enumerate() {
        let g = pool_geometry(case);
        let x = random(g.input_len(), i as u64);
        let dy = random(g.output_len(), 50 + i as u64);
        let xt = Tensor::from_slice(&gpu, &x, &[x.len()]);
        let dyt = Tensor::from_slice(&gpu, &dy, &[dy.len()]);

        let (y, argmax) = ops::pool::max_pool_forward(&gpu, &g, &xt);
        let (want_y, want_argmax) = reference::pool::max_pool_forward(&g, &x);
        assert_close(&format!("max case {i}"), &read(&gpu, &y), &want_y, 0.0);
        assert_eq!(read_u32(&gpu, &argmax), want_argmax, "argmax case {i}");
        let dx = ops::pool::max_pool_backward(&gpu, &g, &dyt, &argmax);
        let want = reference::pool::max_pool_backward(&g, &dy, &want_argmax);
        assert_close(
            &format!("max backward case {i}"),
            &read(&gpu, &dx),
            &want,
            1e-6,
        );

        let y = ops::pool::avg_pool_forward(&gpu, &g, &xt);
        let want = reference::pool::avg_pool_forward(&g, &x);
        assert_close(&format!("avg case {i}"), &read(&gpu, &y), &want, 1e-5);
        let dx = ops::pool::avg_pool_backward(&gpu, &g, &dyt);
        let want = reference::pool::avg_pool_backward(&g, &dy);
        assert_close(
            &format!("avg backward case {i}"),
            &read(&gpu, &dx),
            &want,
            1e-5,
        );
    }
}

#[test]
fn max_pool_ties_go_to_first_cell() {
    let gpu = gpu();
    // One channel, 3x3 input of equal values, pool 3 stride 2 with "same" padding: the windows
    // overlap and every cell ties.
    let g = Pool2dGeometry::new(1, 3, 3, 1, [3, 3], [2, 2], Padding::Same).unwrap();
    let x = vec![1.0f32; 9];
    let xt = Tensor::from_slice(&gpu, &x, &[9]);
    let (_, argmax) = ops::pool::max_pool_forward(&gpu, &g, &xt);
    // Output 2x2 with one padded row and column on each side. Window (0,0) covers rows and
    // columns -1..=1, so its first real cell is index 0; window (0,1) covers columns 1..=3, so
    // index 1; (1,0) starts at row 1: index 3; (1,1): index 4.
    assert_eq!(read_u32(&gpu, &argmax), vec![0, 1, 3, 4]);
    let dy = Tensor::from_slice(&gpu, &[1.0f32, 2.0, 3.0, 4.0], &[4]);
    let dx = ops::pool::max_pool_backward(&gpu, &g, &dy, &argmax);
    assert_eq!(
        read(&gpu, &dx),
        vec![1.0, 2.0, 0.0, 3.0, 4.0, 0.0, 0.0, 0.0, 0.0]
    );
}

#[test]
fn overlapping_max_pool_accumulates() {
    let gpu = gpu();
    // Pool 3 stride 2 over 5x5: the centre cell (2,2) is in all four windows and is the maximum.
    let g = Pool2dGeometry::new(1, 5, 5, 1, [3, 3], [2, 2], Padding::Valid).unwrap();
    let mut x = vec![0.0f32; 25];
    x[12] = 9.0;
    let xt = Tensor::from_slice(&gpu, &x, &[25]);
    let (_, argmax) = ops::pool::max_pool_forward(&gpu, &g, &xt);
    let dy = Tensor::from_slice(&gpu, &[1.0f32, 2.0, 3.0, 4.0], &[4]);
    let dx = read(&gpu, &ops::pool::max_pool_backward(&gpu, &g, &dy, &argmax));
    assert_eq!(dx[12], 10.0);
    assert_eq!(dx.iter().sum::<f32>(), 10.0);
}

#[test]
fn matmul_matches_reference_for_all_transposes() {
    let gpu = gpu();
    let shapes = [
        [1, 1, 1],
        [7, 13, 5],
        [64, 1600, 64],
        [33, 65, 70],
        [130, 3, 17],
    ];
    for (i, &[m, k, n]) in shapes.iter().enumerate() {
        for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
            let a = random(m * k, i as u64);
            let b = random(k * n, 10 + i as u64);
            let want = reference::matmul::matmul(&a, &b, m, k, n, ta, tb);
            let at = Tensor::from_slice(&gpu, &a, &[a.len()]);
            let bt = Tensor::from_slice(&gpu, &b, &[b.len()]);
            let c = Tensor::empty(&gpu, &[m * n]);
            ops::matmul::matmul_into(&gpu, &at, &bt, &c, [m, k, n], ta, tb, false);
            let what = format!("matmul {m}x{k}x{n} ta={ta} tb={tb}");
            assert_close(&what, &read(&gpu, &c), &want, 1e-4);
        }
    }
}

#[test]
fn dense_layer_matches_reference() {
    // Odd sizes take scalar loads; multiples of 4 take vec4 loads and stores, with a bias.
    for shape in [(9, 37, 11), (6, 40, 20)] {
        check_dense(shape);
    }
}

fn check_dense((batch, inputs, units): (usize, usize, usize)) {
    let gpu = gpu();
    let x = random(batch * inputs, 1);
    let w = random(inputs * units, 2);
    let b = random(units, 3);
    let dy = random(batch * units, 4);
    let xt = Tensor::from_slice(&gpu, &x, &[batch, inputs]);
    let wt = Tensor::from_slice(&gpu, &w, &[inputs, units]);
    let bt = Tensor::from_slice(&gpu, &b, &[units]);
    let dyt = Tensor::from_slice(&gpu, &dy, &[batch, units]);

    for act in [
        Activation::Linear,
        Activation::Relu,
        Activation::Sigmoid,
        Activation::Tanh,
    ] {
        let y = ops::matmul::dense_forward(&gpu, &xt, &wt, &bt, act);
        let mut want = reference::matmul::matmul(&x, &w, batch, inputs, units, false, false);
        reference::matmul::add_bias(&mut want, &b);
        let want = reference::activation::activation_forward(act, &want, units);
        assert_close(&format!("dense {act:?}"), &read(&gpu, &y), &want, 1e-4);
    }
    let dx = ops::matmul::dense_backward_input(&gpu, &dyt, &wt, inputs);
    let want = reference::matmul::matmul(&dy, &w, batch, units, inputs, false, true);
    assert_close("dense dx", &read(&gpu, &dx), &want, 1e-4);
    let dw = Tensor::empty(&gpu, &[inputs, units]);
    ops::matmul::dense_backward_weight(&gpu, &xt, &dyt, &dw, false);
    let want = reference::matmul::matmul(&x, &dy, inputs, batch, units, true, false);
    assert_close("dense dw", &read(&gpu, &dw), &want, 1e-4);
}

#[test]
fn activations_match_reference() {
    let gpu = gpu();
    let cols = 10;
    // 370 elements take the one-per-thread backward kernel, 360 the vec4 one.
    for rows in [37, 36] {
        let x: Vec<f32> = random(rows * cols, 5).iter().map(|v| v * 6.0).collect();
        let dy = random(rows * cols, 6);
        let xt = Tensor::from_slice(&gpu, &x, &[rows, cols]);
        let dyt = Tensor::from_slice(&gpu, &dy, &[rows, cols]);
        for act in [
            Activation::Linear,
            Activation::Relu,
            Activation::Sigmoid,
            Activation::Tanh,
        ] {
            let y = ops::activation::activation_forward(&gpu, act, &xt);
            let want = reference::activation::activation_forward(act, &x, cols);
            assert_close(&format!("{act:?} forward"), &read(&gpu, &y), &want, 1e-5);
            let dx = ops::activation::activation_backward(&gpu, act, &y, &dyt);
            let want = reference::activation::activation_backward(act, &want, &dy, cols);
            assert_close(&format!("{act:?} backward"), &read(&gpu, &dx), &want, 1e-5);
        }
        let y = ops::activation::activation_forward(&gpu, Activation::Softmax, &xt);
        let want = reference::activation::activation_forward(Activation::Softmax, &x, cols);
        assert_close("softmax", &read(&gpu, &y), &want, 1e-5);
    }
}

#[test]
fn softmax_cross_entropy_matches_reference() {
    let gpu = gpu();
    let (batch, classes) = (70, 10);
    let logits: Vec<f32> = random(batch * classes, 7)
        .iter()
        .map(|v| v * 10.0)
        .collect();
    let labels: Vec<u32> = (0..batch as u32)
        .map(|i| (i * 7) % classes as u32)
        .collect();
    let lt = Tensor::from_slice(&gpu, &logits, &[batch, classes]);
    let labt = Tensor::from_slice(&gpu, &labels, &[batch]);
    let out = ops::loss::softmax_cross_entropy(&gpu, &lt, &labt, labels.len());
    let (loss, dlogits) = reference::loss::softmax_cross_entropy(&logits, &labels, classes);
    assert_close("loss", &read(&gpu, &out.loss), &loss, 1e-5);
    assert_close("dlogits", &read(&gpu, &out.dlogits), &dlogits, 1e-5);
    let pred = reference::loss::argmax_rows(&logits, classes);
    assert_eq!(read_u32(&gpu, &out.pred), pred);

    let metrics = Tensor::from_slice(&gpu, &[0.0f32; 3], &[3]);
    ops::loss::accumulate_metrics(&gpu, &out, &labt, &metrics);
    ops::loss::accumulate_metrics(&gpu, &out, &labt, &metrics);
    let got = read(&gpu, &metrics);
    let correct = pred.iter().zip(&labels).filter(|(p, l)| p == l).count() as f32;
    assert_close(
        "loss sum",
        &got[..1],
        &[2.0 * loss.iter().sum::<f32>()],
        1e-5,
    );
    assert_eq!(got[1], 2.0 * correct);
    assert_eq!(got[2], 2.0 * batch as f32);

    let confusion = Tensor::from_slice(&gpu, &vec![0u32; classes * classes], &[classes, classes]);
    ops::loss::accumulate_confusion(&gpu, &out.pred, &labt, &confusion);
    let counts = read_u32(&gpu, &confusion);
    let mut want = vec![0u32; classes * classes];
    for (p, l) in pred.iter().zip(&labels) {
        want[*l as usize * classes + *p as usize] += 1;
    }
    assert_eq!(counts, want);
}

#[test]
fn large_logits_give_exact_finite_loss() {
    let gpu = gpu();
    // Row 0: logits 90 and 0, label 1: loss = 90 + ln(1 + e^-90) = 90.
    // Row 1: logits 1e4 and 0, label 1: loss = 1e4. Row 2: the label is the large logit's class: 0.
    let logits = [90.0f32, 0.0, 1e4, 0.0, 0.0, 1e4];
    let labels = [1u32, 1, 1];
    let lt = Tensor::from_slice(&gpu, &logits, &[3, 2]);
    let labt = Tensor::from_slice(&gpu, &labels, &[3]);
    let out = ops::loss::softmax_cross_entropy(&gpu, &lt, &labt, labels.len());
    let loss = read(&gpu, &out.loss);
    assert_eq!(loss, vec![90.0, 1e4, 0.0]);
    let dlogits = read(&gpu, &out.dlogits);
    assert!(dlogits.iter().all(|v| v.is_finite()), "dlogits {dlogits:?}");
    assert_close(
        "dlogits",
        &dlogits,
        &[1.0 / 3.0, -1.0 / 3.0, 1.0 / 3.0, -1.0 / 3.0, 0.0, 0.0],
        1e-6,
    );
}

#[test]
fn adam_first_steps_match_hand_computed_values() {
    let gpu = gpu();
    // One parameter p = 1 with gradient g = 0.5 on both steps, lr 0.1, b1 0.9, b2 0.999, eps 1e-7.
    // Step 1: m = 0.05, v = 0.00025, m_hat = 0.5, v_hat = 0.25, p = 1 - 0.1 * 0.5 / (0.5 + 1e-7).
    // Step 2: m = 0.095, v = 0.00049975, m_hat = 0.095 / 0.19 = 0.5,
    //         v_hat = 0.00049975 / 0.001999 = 0.25, so p drops by the same 0.1 again.
    let p = Tensor::from_slice(&gpu, &[1.0f32], &[1]);
    let g = Tensor::from_slice(&gpu, &[0.5f32], &[1]);
    let m = Tensor::from_slice(&gpu, &[0.0f32], &[1]);
    let v = Tensor::from_slice(&gpu, &[0.0f32], &[1]);
    let want_p = [
        1.0 - 0.1 * 0.5 / (0.5 + 1e-7),
        1.0 - 2.0 * 0.1 * 0.5 / (0.5 + 1e-7),
    ];
    for t in 1..=2 {
        let step = [
            0.1,
            (1.0 - 0.9f64.powi(t)) as f32,
            (1.0 - 0.999f64.powi(t)) as f32,
            0.0,
        ];
        let step = Tensor::from_slice(&gpu, &step, &[4]);
        ops::optim::adam_update(&gpu, [&p, &g, &m, &v], &step, 0.9, 0.999, 1e-7);
        let got = read(&gpu, &p)[0];
        assert!(
            (got - want_p[t as usize - 1] as f32).abs() < 1e-6,
            "step {t}: p = {got}"
        );
    }
    assert!((read(&gpu, &m)[0] - 0.095).abs() < 1e-7);
    assert!((read(&gpu, &v)[0] - 0.00049975).abs() < 1e-9);
}

#[test]
fn optimizers_match_reference() {
    let gpu = gpu();
    let len = 1000;
    let mut p = random(len, 1);
    let grads: Vec<Vec<f32>> = (0..3).map(|s| random(len, 10 + s)).collect();
    let (mut m, mut v) = (vec![0.0; len], vec![0.0; len]);
    let pt = Tensor::from_slice(&gpu, &p, &[len]);
    let mt = Tensor::from_slice(&gpu, &m, &[len]);
    let vt = Tensor::from_slice(&gpu, &v, &[len]);
    let hyper = reference::optim::AdamHyper {
        learning_rate: 0.01,
        beta1: 0.9,
        beta2: 0.999,
        epsilon: 1e-7,
    };
    for (t, g) in grads.iter().enumerate() {
        let t = t as i32 + 1;
        reference::optim::adam_update(&mut p, g, &mut m, &mut v, &hyper, t as u32);
        let step = [
            0.01,
            (1.0 - 0.9f64.powi(t)) as f32,
            (1.0 - 0.999f64.powi(t)) as f32,
            0.0,
        ];
        let step = Tensor::from_slice(&gpu, &step, &[4]);
        let gt = Tensor::from_slice(&gpu, g, &[len]);
        ops::optim::adam_update(&gpu, [&pt, &gt, &mt, &vt], &step, 0.9, 0.999, 1e-7);
    }
    assert_close("adam", &read(&gpu, &pt), &p, 1e-6);

    let mut p = random(len, 2);
    let mut velocity = vec![0.0; len];
    let pt = Tensor::from_slice(&gpu, &p, &[len]);
    let velt = Tensor::from_slice(&gpu, &velocity, &[len]);
    let hyper = reference::optim::SgdHyper {
        learning_rate: 0.1,
        momentum: 0.9,
    };
    let step = Tensor::from_slice(&gpu, &[0.1f32, 0.0, 0.0, 0.0], &[4]);
    for g in &grads {
        reference::optim::sgd_update(&mut p, g, &mut velocity, &hyper);
        let gt = Tensor::from_slice(&gpu, g, &[len]);
        ops::optim::sgd_update(&gpu, [&pt, &gt, &velt], &step, 0.9);
    }
    assert_close("sgd", &read(&gpu, &pt), &p, 1e-6);
}

#[test]
fn dropout_mask_matches_reference() {
    let gpu = gpu();
    let len = 5000;
    let x = random(len, 3);
    let xt = Tensor::from_slice(&gpu, &x, &[len]);
    let step = Tensor::from_slice(&gpu, &[0u32, 0, 0, 1234], &[4]);
    let (y, mask) = ops::dropout::dropout_forward(&gpu, &xt, 0.25, &step, 7);
    let want_mask = reference::dropout::dropout_mask(1234 + 7, len, 0.25);
    assert_eq!(read(&gpu, &mask), want_mask);
    let want = reference::dropout::dropout_forward(&x, &want_mask);
    assert_close("dropout", &read(&gpu, &y), &want, 0.0);
    let kept = want_mask.iter().filter(|&&m| m > 0.0).count() as f32 / len as f32;
    assert!((kept - 0.75).abs() < 0.03, "kept fraction {kept}");
    let dx = ops::dropout::dropout_backward(&gpu, &xt, &mask);
    assert_close("dropout backward", &read(&gpu, &dx), &want, 0.0);
}

#[test]
fn grid_beyond_65535_workgroups_covers_every_element() {
    let gpu = gpu();
    // 65,536 * 64 + 100 elements need more than 65,535 workgroups of 64 threads.
    let len = 65_536 * 64 + 100;
    let groups = gpu.grid_elements(len);
    assert!(groups[1] > 1, "grid {groups:?} was not split");
    let x: Vec<f32> = (0..len).map(|i| (i % 1000) as f32 - 500.0).collect();
    let xt = Tensor::from_slice(&gpu, &x, &[len]);
    let y = read(
        &gpu,
        &ops::activation::activation_forward(&gpu, Activation::Relu, &xt),
    );
    for (i, (got, v)) in y.iter().zip(&x).enumerate() {
        assert_eq!(*got, v.max(0.0), "element {i}");
    }
}
