//! Max and average pooling (pool.wgsl), forward and backward, over NHWC tensors.

use super::Pool2dGeometry;
use crate::gpu::{Gpu, Kernel};
use crate::tensor::Tensor;

/// Uniform of pool.wgsl.
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct PoolParams([u32; 12]);

impl PoolParams {
    fn new(g: &Pool2dGeometry) -> Self {
        let values = [
            g.batch, g.in_h, g.in_w, g.channels, g.pool_h, g.pool_w, g.stride_h, g.stride_w,
            g.pad_top, g.pad_left, g.out_h, g.out_w,
        ];
        Self(values.map(|v| v as u32))
    }
}

/// Max pooling: returns y `[N, OH, OW, C]` and, per output, the flat input index of the first
/// maximum in row-major window order.
pub fn max_pool_forward(gpu: &Gpu, g: &Pool2dGeometry, x: &Tensor) -> (Tensor, Tensor) {
    assert_eq!(x.len(), g.input_len(), "max-pool input shape");
    let shape = [g.batch, g.out_h, g.out_w, g.channels];
    let y = Tensor::empty(gpu, &shape);
    let argmax = Tensor::empty(gpu, &shape);
    let kernel = Kernel::new("pool", "max_forward").define("MAX_FORWARD", 1);
    let storage = [x.binding(), y.binding(), argmax.binding()];
    gpu.dispatch(
        &kernel,
        &PoolParams::new(g),
        &storage,
        gpu.grid_elements(y.len()),
    );
    (y, argmax)
}

/// Max pooling input gradient: each dy goes to its window's argmax; overlaps add up.
pub fn max_pool_backward(gpu: &Gpu, g: &Pool2dGeometry, dy: &Tensor, argmax: &Tensor) -> Tensor {
    let dx = Tensor::empty(gpu, &[g.batch, g.in_h, g.in_w, g.channels]);
    let kernel = Kernel::new("pool", "max_backward").define("MAX_BACKWARD", 1);
    let storage = [dy.binding(), argmax.binding(), dx.binding()];
    gpu.dispatch(
        &kernel,
        &PoolParams::new(g),
        &storage,
        gpu.grid_elements(dx.len()),
    );
    dx
}

/// Average pooling over the window cells inside the input.
pub fn avg_pool_forward(gpu: &Gpu, g: &Pool2dGeometry, x: &Tensor) -> Tensor {
    assert_eq!(x.len(), g.input_len(), "average-pool input shape");
    let y = Tensor::empty(gpu, &[g.batch, g.out_h, g.out_w, g.channels]);
    let kernel = Kernel::new("pool", "avg_forward").define("AVG_FORWARD", 1);
    let storage = [x.binding(), y.binding()];
    gpu.dispatch(
        &kernel,
        &PoolParams::new(g),
        &storage,
        gpu.grid_elements(y.len()),
    );
    y
}

/// Average pooling input gradient.
pub fn avg_pool_backward(gpu: &Gpu, g: &Pool2dGeometry, dy: &Tensor) -> Tensor {
    let dx = Tensor::empty(gpu, &[g.batch, g.in_h, g.in_w, g.channels]);
    let kernel = Kernel::new("pool", "avg_backward").define("AVG_BACKWARD", 1);
    let storage = [dy.binding(), dx.binding()];
    gpu.dispatch(
        &kernel,
        &PoolParams::new(g),
        &storage,
        gpu.grid_elements(dx.len()),
    );
    dx
}
