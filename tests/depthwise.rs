//! The depthwise convolution and leaky ReLU kernels against the CPU reference, on random shapes
//! (lavapipe natively).

mod common;

use common::{assert_close, gpu, random, read};
use webcnn::ops::depthwise::{self, DepthwiseGeometry, DepthwiseSpec};
use webcnn::ops::{self, Activation, Padding};
use webcnn::reference;
use webcnn::tensor::Tensor;

/// (batch, h, w, channels, kernel, multiplier, stride, dilation, padding)
type Case = (
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

const CASES: &[Case] = &[
    // The face detector's blocks: 3x3 "same", multiplier 1.
    (1, 26, 26, 128, [3, 3], 1, [1, 1], [1, 1], Padding::Same),
    (2, 13, 13, 16, [3, 3], 1, [1, 1], [1, 1], Padding::Same),
    // Odd sizes, strides that do not divide the input, odd total "same" padding.
    (2, 9, 7, 3, [3, 3], 2, [2, 2], [1, 1], Padding::Valid),
    (2, 6, 8, 2, [4, 4], 3, [1, 1], [1, 1], Padding::Same),
    (1, 11, 10, 5, [3, 2], 1, [3, 3], [1, 1], Padding::Same),
    // 1xN and Nx1 kernels.
    (2, 8, 9, 3, [1, 5], 2, [1, 1], [1, 1], Padding::Same),
    (3, 9, 8, 4, [5, 1], 1, [2, 1], [1, 1], Padding::Valid),
    // Dilation.
    (2, 12, 11, 2, [3, 3], 2, [1, 1], [2, 2], Padding::Valid),
    (1, 10, 10, 3, [3, 2], 1, [2, 1], [2, 3], Padding::Same),
    // Enough rows (4 * 30 * 30 = 3,600) for several filter-gradient chunks of 256 rows.
    (4, 30, 30, 6, [3, 3], 1, [1, 1], [1, 1], Padding::Same),
];

fn geometry(case: &Case) -> DepthwiseGeometry {
    let &(batch, h, w, c, kernel, multiplier, stride, dilation, padding) = case;
    let spec = DepthwiseSpec {
        kernel,
        multiplier,
        stride,
        dilation,
        padding,
    };
    DepthwiseGeometry::new(batch, h, w, c, &spec).expect("case fits")
}

fn upload(gpu: &webcnn::gpu::Gpu, values: &[f32]) -> Tensor {
    Tensor::from_slice(gpu, values, &[values.len()])
}

#[test]
fn depthwise_forward_matches_reference() {
    let gpu = gpu();
    for (i, case) in CASES.iter().enumerate() {
        let g = geometry(case);
        let x = random(g.input_len(), i as u64);
        let w = random(g.weight_len(), 100 + i as u64);
        let b = random(g.conv.out_c, 200 + i as u64);
        let want = reference::depthwise_forward(&g, &x, &w, &b);
        let (xt, wt, bt) = (upload(&gpu, &x), upload(&gpu, &w), upload(&gpu, &b));
        let y = depthwise::depthwise_forward(&gpu, &g, &xt, &wt, &bt);
        assert_close(&format!("case {i} {case:?}"), &read(&gpu, &y), &want, 1e-5);
    }
}

#[test]
fn depthwise_input_gradient_matches_reference() {
    let gpu = gpu();
    for (i, case) in CASES.iter().enumerate() {
        let g = geometry(case);
        let dy = random(g.output_len(), i as u64);
        let w = random(g.weight_len(), 100 + i as u64);
        let want = reference::depthwise_backward_input(&g, &dy, &w);
        let dx =
            depthwise::depthwise_backward_input(&gpu, &g, &upload(&gpu, &dy), &upload(&gpu, &w));
        assert_close(&format!("case {i} {case:?}"), &read(&gpu, &dx), &want, 1e-5);
    }
}

#[test]
fn depthwise_filter_and_bias_gradients_match_reference() {
    let gpu = gpu();
    for (i, case) in CASES.iter().enumerate() {
        let g = geometry(case);
        let x = random(g.input_len(), i as u64);
        let dy = random(g.output_len(), 300 + i as u64);
        let (xt, dyt) = (upload(&gpu, &x), upload(&gpu, &dy));

        let dw = Tensor::empty(&gpu, &[g.weight_len()]);
        depthwise::depthwise_backward_filter(&gpu, &g, &xt, &dyt, &dw, false);
        let want = reference::depthwise_backward_filter(&g, &x, &dy);
        assert_close(
            &format!("dw case {i} {case:?}"),
            &read(&gpu, &dw),
            &want,
            1e-4,
        );

        let db = Tensor::empty(&gpu, &[g.conv.out_c]);
        ops::reduce::bias_backward(&gpu, &dyt, &db, false);
        let want = reference::bias_backward(&dy, g.conv.out_c);
        assert_close(&format!("db case {i}"), &read(&gpu, &db), &want, 1e-4);
    }
}

#[test]
fn depthwise_filter_gradient_accumulates() {
    let gpu = gpu();
    let g = geometry(&CASES[2]);
    let x = random(g.input_len(), 1);
    let dy = random(g.output_len(), 2);
    let start = random(g.weight_len(), 3);
    let dw = upload(&gpu, &start);
    depthwise::depthwise_backward_filter(
        &gpu,
        &g,
        &upload(&gpu, &x),
        &upload(&gpu, &dy),
        &dw,
        true,
    );
    let grad = reference::depthwise_backward_filter(&g, &x, &dy);
    let want: Vec<f32> = start.iter().zip(&grad).map(|(a, b)| a + b).collect();
    assert_close("accumulated dw", &read(&gpu, &dw), &want, 1e-4);
}

#[test]
fn leaky_relu_matches_reference() {
    let gpu = gpu();
    let len = 1000;
    let x: Vec<f32> = random(len, 5).iter().map(|v| v * 6.0).collect();
    let dy = random(len, 6);
    let (xt, dyt) = (upload(&gpu, &x), upload(&gpu, &dy));
    // Two slopes through the same pipeline: the slope is a uniform, not a shader constant.
    for alpha in [0.1f32, 0.3] {
        let act = Activation::LeakyRelu { alpha };
        let y = ops::activation::activation_forward(&gpu, act, &xt);
        let want = reference::activation_forward(act, &x, 1);
        assert_close(&format!("{act:?} forward"), &read(&gpu, &y), &want, 1e-6);
        let negative = x.iter().position(|&v| v < 0.0).expect("a negative input");
        assert_eq!(
            want[negative],
            alpha * x[negative],
            "{act:?} at x[{negative}]"
        );
        let dx = ops::activation::activation_backward(&gpu, act, &y, &dyt);
        let want = reference::activation_backward(act, &want, &dy, 1);
        assert_close(&format!("{act:?} backward"), &read(&gpu, &dx), &want, 1e-6);
    }
}

#[test]
fn negative_leaky_slope_is_rejected() {
    let text = r#"{"input_shape": [4, 4, 1], "layers": [
        {"type": "flatten"},
        {"type": "dense", "units": 3, "activation": {"leaky_relu": {"alpha": -0.5}}},
        {"type": "dense", "units": 2, "activation": "softmax"}
    ]}"#;
    let config = webcnn::model::ModelConfig::from_json(text).expect("valid JSON");
    let error = webcnn::cpu::CpuModel::new(config, 1)
        .err()
        .expect("rejected");
    let message = error.to_string();
    assert!(message.contains("layer 1"), "{message}");
    assert!(
        message.contains("alpha must be a finite number of at least 0, got -0.5"),
        "{message}"
    );
}
