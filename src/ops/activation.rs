//! Activation layers (activation.wgsl + act.wgsl): elementwise forward and backward, and
//! row-wise softmax.

use super::Activation;
use crate::gpu::{Gpu, Kernel};
use crate::tensor::Tensor;

/// Uniform of activation.wgsl.
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct ActivationParams {
    len: u32,
    cols: u32,
    pad: [u32; 2],
}

impl ActivationParams {
    fn new(len: usize, cols: usize) -> Self {
        Self {
            len: len as u32,
            cols: cols as u32,
            pad: [0; 2],
        }
    }
}

/// y = act(x); softmax runs over the last axis.
pub fn activation_forward(gpu: &Gpu, act: Activation, x: &Tensor) -> Tensor {
    let y = Tensor::empty(gpu, x.shape());
    let cols = *x.shape().last().expect("tensor has a shape");
    let params = ActivationParams::new(x.len(), cols);
    let storage = [x.binding(), y.binding()];
    if act == Activation::Softmax {
        let kernel =
            Activation::Linear.define(Kernel::new("activation", "softmax").define("SOFTMAX", 1));
        gpu.dispatch(
            &kernel,
            &params,
            &storage,
            gpu.grid_elements(x.len() / cols),
        );
    } else {
        let kernel = act.define(Kernel::new("activation", "forward").define("FORWARD", 1));
        gpu.dispatch(&kernel, &params, &storage, gpu.grid_elements(x.len()));
    }
    y
}

/// dx = dy * act'(x), computed from the output y. Softmax's Jacobian is not supported here
/// because softmax outputs feed the fused loss in [`super::loss`].
pub fn activation_backward(gpu: &Gpu, act: Activation, y: &Tensor, dy: &Tensor) -> Tensor {
    assert!(
        act != Activation::Softmax,
        "softmax backward goes through the fused loss"
    );
    let dx = Tensor::empty(gpu, y.shape());
    let params = ActivationParams::new(y.len(), 1);
    let storage = [y.binding(), dy.binding(), dx.binding()];
    if y.len().is_multiple_of(4) {
        let kernel = act.define(Kernel::new("activation", "backward4").define("BACKWARD4", 1));
        gpu.dispatch(&kernel, &params, &storage, gpu.grid_elements(y.len() / 4));
    } else {
        let kernel = act.define(Kernel::new("activation", "backward").define("BACKWARD", 1));
        gpu.dispatch(&kernel, &params, &storage, gpu.grid_elements(y.len()));
    }
    dx
}
