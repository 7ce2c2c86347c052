//! Inverted dropout with a seeded, stateless mask (dropout.wgsl).

use crate::gpu::{Gpu, Kernel};
use crate::tensor::Tensor;

/// Uniform of dropout.wgsl.
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct DropoutParams {
    len: u32,
    rate: f32,
    salt: u32,
    pad: u32,
}

/// y = x * mask, where the mask depends on `seed_word[0] + salt` and the element index. Returns
/// y and the mask for the backward pass.
pub fn dropout_forward(
    gpu: &Gpu,
    x: &Tensor,
    rate: f32,
    seed_word: &Tensor,
    salt: u32,
) -> (Tensor, Tensor) {
    let y = Tensor::empty(gpu, x.shape());
    let mask = Tensor::empty(gpu, x.shape());
    let params = DropoutParams {
        len: x.len() as u32,
        rate,
        salt,
        pad: 0,
    };
    let kernel = Kernel::new("dropout", "forward").define("FORWARD", 1);
    let storage = [
        x.binding(),
        y.binding(),
        mask.binding(),
        seed_word.binding(),
    ];
    gpu.dispatch(&kernel, &params, &storage, gpu.grid_elements(x.len()));
    (y, mask)
}

/// dx = dy * mask.
pub fn dropout_backward(gpu: &Gpu, dy: &Tensor, mask: &Tensor) -> Tensor {
    let dx = Tensor::empty(gpu, dy.shape());
    let params = DropoutParams {
        len: dy.len() as u32,
        rate: 0.0,
        salt: 0,
        pad: 0,
    };
    let kernel = Kernel::new("dropout", "backward").define("BACKWARD", 1);
    let storage = [dy.binding(), dx.binding(), mask.binding()];
    gpu.dispatch(&kernel, &params, &storage, gpu.grid_elements(dy.len()));
    dx
}
