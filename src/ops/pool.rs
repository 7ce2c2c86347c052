//! Max and average pooling (pool.wgsl), forward and backward, over NHWC tensors.

use super::Pool2dGeometry;
use crate::gpu::{Gpu, Kernel};
use crate::tensor::Tensor;

/// Uniform of pool.wgsl: the batch, padded to 16 bytes.
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct PoolParams([u32; 4]);

impl PoolParams {
    fn new(g: &Pool2dGeometry) -> Self {
        Self([g.batch as u32, 0, 0, 0])
    }
}

/// Builds the pool.wgsl kernel `entry` with `variant` selected and the geometry of `g` (all but the
/// batch) compiled in.
fn pool_kernel(g: &Pool2dGeometry, entry: &'static str, variant: &'static str) -> Kernel {
    let u = |v: usize| v as u32;
    Kernel::new("pool", entry)
        .define(variant, 1)
        .define("IN_H", u(g.in_h))
        .define("IN_W", u(g.in_w))
        .define("CHANNELS", u(g.channels))
        .define("POOL_H", u(g.pool_h))
        .define("POOL_W", u(g.pool_w))
        .define("STRIDE_H", u(g.stride_h))
        .define("STRIDE_W", u(g.stride_w))
        .define("PAD_TOP", u(g.pad_top))
        .define("PAD_LEFT", u(g.pad_left))
        .define("OUT_H", u(g.out_h))
        .define("OUT_W", u(g.out_w))
}

/// Max pooling: returns y `[N, OH, OW, C]` and, per output, the flat input index of the first
/// maximum in row-major window order.
pub fn max_pool_forward(gpu: &Gpu, g: &Pool2dGeometry, x: &Tensor) -> (Tensor, Tensor) {
    assert_eq!(x.len(), g.input_len(), "max-pool input shape");
    let shape = [g.batch, g.out_h, g.out_w, g.channels];
    let y = Tensor::empty(gpu, &shape);
    let argmax = Tensor::empty(gpu, &shape);
    let storage = [x.binding(), y.binding(), argmax.binding()];
    let (kernel, threads) = if g.channels.is_multiple_of(4) {
        (pool_kernel(g, "max_forward4", "MAX_FORWARD4"), y.len() / 4)
    } else {
        (pool_kernel(g, "max_forward", "MAX_FORWARD"), y.len())
    };
    gpu.dispatch(
        &kernel,
        &PoolParams::new(g),
        &storage,
        gpu.grid_elements(threads),
    );
    (y, argmax)
}

/// Max pooling input gradient: each dy goes to its window's argmax; overlaps add up.
pub fn max_pool_backward(gpu: &Gpu, g: &Pool2dGeometry, dy: &Tensor, argmax: &Tensor) -> Tensor {
    let dx = Tensor::empty(gpu, &[g.batch, g.in_h, g.in_w, g.channels]);
    let storage = [dy.binding(), argmax.binding(), dx.binding()];
    let (kernel, threads) = if g.channels.is_multiple_of(4) {
        (
            pool_kernel(g, "max_backward4", "MAX_BACKWARD4"),
            dx.len() / 4,
        )
    } else {
        (pool_kernel(g, "max_backward", "MAX_BACKWARD"), dx.len())
    };
    gpu.dispatch(
        &kernel,
        &PoolParams::new(g),
        &storage,
        gpu.grid_elements(threads),
    );
    dx
}

/// Average pooling over the window cells inside the input.
pub fn avg_pool_forward(gpu: &Gpu, g: &Pool2dGeometry, x: &Tensor) -> Tensor {
    assert_eq!(x.len(), g.input_len(), "average-pool input shape");
    let y = Tensor::empty(gpu, &[g.batch, g.out_h, g.out_w, g.channels]);
    let kernel = pool_kernel(g, "avg_forward", "AVG_FORWARD");
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
    let kernel = pool_kernel(g, "avg_backward", "AVG_BACKWARD");
    let storage = [dy.binding(), dx.binding()];
    gpu.dispatch(
        &kernel,
        &PoolParams::new(g),
        &storage,
        gpu.grid_elements(dx.len()),
    );
    dx
}
