// Elementwise activations selected by ACT: 0 linear, 1 relu, 2 sigmoid, 3 tanh, 5 leaky ReLU
// with slope alpha() (softmax is row-wise and lives in activation.wgsl). Gradients are written in
// terms of the output y.

const ACT: u32 = {{ACT}}u;
// Leaky ReLU's slope for negative inputs (at least 0), as the bits of an f32: naga does not
// evaluate bitcast in a const declaration, so alpha() converts it where it is used.
const ALPHA_BITS: u32 = {{ALPHA_BITS}}u;

fn alpha() -> f32 {
    return bitcast<f32>(ALPHA_BITS);
}

fn activate(x: f32) -> f32 {
    if (ACT == 1u) {
        return max(x, 0.0);
    } else if (ACT == 2u) {
        // exp(-x) overflows to inf for x < -88 and the result is then exactly 0.
        return 1.0 / (1.0 + exp(-x));
    } else if (ACT == 3u) {
        return tanh(x);
    } else if (ACT == 5u) {
        return select(alpha() * x, x, x > 0.0);
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
    } else if (ACT == 5u) {
        // With alpha() >= 0, y > 0 exactly when x > 0.
        return select(alpha(), 1.0, y > 0.0);
    }
    return 1.0;
}
