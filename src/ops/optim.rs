//! Optimizer updates (optim.wgsl) over contiguous ranges of the parameter arena: one dispatch per
//! range, so a model without frozen layers updates every parameter in one dispatch.

use crate::gpu::{Gpu, Kernel};
use crate::tensor::Tensor;

/// Uniform of optim.wgsl.
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct OptimParams {
    len: u32,
    beta1: f32,
    beta2: f32,
    epsilon: f32,
    one_minus_beta1: f32,
    one_minus_beta2: f32,
    pad: [u32; 2],
}

/// Adam step on one range. `step` contains `[learning_rate, 1 - beta1^t, 1 - beta2^t, ..]`; the
/// hyperparameters are f64 so that `1 - beta` is exact before rounding to f32.
pub fn adam_update(
    gpu: &Gpu,
    [param, grad, m, v]: [&Tensor; 4],
    step: &Tensor,
    beta1: f64,
    beta2: f64,
    epsilon: f64,
) {
    let params = OptimParams {
        len: param.len() as u32,
        beta1: beta1 as f32,
        beta2: beta2 as f32,
        epsilon: epsilon as f32,
        one_minus_beta1: (1.0 - beta1) as f32,
        one_minus_beta2: (1.0 - beta2) as f32,
        pad: [0; 2],
    };
    let kernel = Kernel::new("optim", "adam").define("ADAM", 1);
    let storage = [
        param.binding(),
        grad.binding(),
        m.binding(),
        v.binding(),
        step.binding(),
    ];
    gpu.dispatch(&kernel, &params, &storage, gpu.grid_elements(param.len()));
}

/// SGD with momentum on one range. `step` contains `[learning_rate, ..]`.
pub fn sgd_update(gpu: &Gpu, [param, grad, velocity]: [&Tensor; 3], step: &Tensor, momentum: f32) {
    let params = OptimParams {
        len: param.len() as u32,
        beta1: momentum,
        beta2: 0.0,
        epsilon: 0.0,
        one_minus_beta1: 0.0,
        one_minus_beta2: 0.0,
        pad: [0; 2],
    };
    let kernel = Kernel::new("optim", "sgd").define("SGD", 1);
    let storage = [
        param.binding(),
        grad.binding(),
        velocity.binding(),
        step.binding(),
    ];
    gpu.dispatch(&kernel, &params, &storage, gpu.grid_elements(param.len()));
}
