// Elementwise activations selected by ACT: 0 linear, 1 relu, 2 sigmoid, 3 tanh (softmax is
// row-wise and lives in activation.wgsl). Gradients are written in terms of the output y.
// Code 5 (leaky ReLU) needs its slope, so only activation.wgsl applies it; GEMM callers pass
// linear instead (Activation::is_gemm_fusable), and here it would act as linear.

const ACT: u32 = {{ACT}}u;

fn activate(x: f32) -> f32 {
    if (ACT == 1u) {
        return max(x, 0.0);
    } else if (ACT == 2u) {
        // exp(-x) overflows to inf for x < -88 and the result is then exactly 0.
        return 1.0 / (1.0 + exp(-x));
    } else if (ACT == 3u) {
        return tanh(x);
    }
    return x;
}

// d activate / dx, given y = activate(x).
fn activate_grad(y: f32) -> f32 {
    if (ACT == 1u) {
        return select(0.0, 1.0, y > 0.0);
    } else if (ACT == 2u) {
        return y * (1.0 - y);
    } else if (ACT == 3u) {
        return 1.0 - y * y;
    }
    return 1.0;
}
