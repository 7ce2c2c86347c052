//! 2-D convolution: forward, input gradient, filter gradient and bias gradient. Shapes: x
//! [N, H, W, C_in], w [KH, KW, C_in, C_out], y [N, OH, OW, C_out]. All three products run through
//! the tiled implicit-GEMM kernel in conv2d.wgsl + gemm.wgsl.

use super::gemm::GemmPlan;
use super::{reduce, Activation, Conv2dGeometry};
use crate::gpu::Gpu;
use crate::tensor::Tensor;

/// Uniform of conv2d.wgsl (field order must match `Params` there).
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct ConvParams {
    batch: u32,
    in_h: u32,
    in_w: u32,
    in_c: u32,
    k_h: u32,
    k_w: u32,
    out_c: u32,
    out_h: u32,
    out_w: u32,
    stride_h: u32,
    stride_w: u32,
    dilation_h: u32,
    dilation_w: u32,
    pad_top: u32,
    pad_left: u32,
    k_slice: u32,
    gemm_m: u32,
    gemm_n: u32,
    gemm_k: u32,
    pad: u32,
}

impl ConvParams {
    fn new(g: &Conv2dGeometry, plan: &GemmPlan, mnk: [usize; 3]) -> Self {
        let u = |v: usize| v as u32;
        Self {
            batch: u(g.batch),
            in_h: u(g.in_h),
            in_w: u(g.in_w),
            in_c: u(g.in_c),
            k_h: u(g.k_h),
            k_w: u(g.k_w),
            out_c: u(g.out_c),
            out_h: u(g.out_h),
            out_w: u(g.out_w),
            stride_h: u(g.stride_h),
            stride_w: u(g.stride_w),
            dilation_h: u(g.dilation_h),
            dilation_w: u(g.dilation_w),
            pad_top: u(g.pad_top),
            pad_left: u(g.pad_left),
            k_slice: plan.k_slice,
            gemm_m: u(mnk[0]),
            gemm_n: u(mnk[1]),
            gemm_k: u(mnk[2]),
            pad: 0,
        }
    }
}

/// y = act(conv(x, w) + bias): `[N, H, W, C_in]` to `[N, OH, OW, C_out]`.
pub fn conv2d_forward(
    gpu: &Gpu,
    g: &Conv2dGeometry,
    x: &Tensor,
    w: &Tensor,
    bias: &Tensor,
    act: Activation,
) -> Tensor {
    assert_eq!(x.len(), g.input_len(), "conv2d input shape");
    assert_eq!(w.len(), g.weight_len(), "conv2d weight shape");
    assert!(
        act != Activation::Softmax,
        "softmax is not fused into conv2d"
    );
    let y = Tensor::empty(gpu, &[g.batch, g.out_h, g.out_w, g.out_c]);
    let mnk = [g.batch * g.out_h * g.out_w, g.out_c, g.k_h * g.k_w * g.in_c];
    let plan = GemmPlan::new(gpu, mnk[0], mnk[1], mnk[2], false);
    let kernel = plan
        .kernel("conv2d")
        .define("FORWARD", 1)
        .define("ACT", act.code());
    let storage = [x.binding(), w.binding(), y.binding(), bias.binding()];
    gpu.dispatch(
        &kernel,
        &ConvParams::new(g, &plan, mnk),
        &storage,
        plan.grid,
    );
    y
}

/// dx from dy `[N, OH, OW, C_out]` and w: `[N, H, W, C_in]`.
pub fn conv2d_backward_input(gpu: &Gpu, g: &Conv2dGeometry, dy: &Tensor, w: &Tensor) -> Tensor {
    assert_eq!(dy.len(), g.output_len(), "conv2d output-gradient shape");
    let dx = Tensor::empty(gpu, &[g.batch, g.in_h, g.in_w, g.in_c]);
    let mnk = [g.batch * g.in_h * g.in_w, g.in_c, g.k_h * g.k_w * g.out_c];
    let plan = GemmPlan::new(gpu, mnk[0], mnk[1], mnk[2], false);
    let kernel = plan
        .kernel("conv2d")
        .define("INPUT_GRAD", 1)
        .define("ACT", 0);
    let storage = [dy.binding(), w.binding(), dx.binding()];
    gpu.dispatch(
        &kernel,
        &ConvParams::new(g, &plan, mnk),
        &storage,
        plan.grid,
    );
    dx
}

/// dw (HWIO) from x and dy, written into `dw`, or added to it when `accumulate`.
pub fn conv2d_backward_filter(
    gpu: &Gpu,
    g: &Conv2dGeometry,
    x: &Tensor,
    dy: &Tensor,
    dw: &Tensor,
    accumulate: bool,
) {
    assert_eq!(dw.len(), g.weight_len(), "conv2d weight-gradient shape");
    let mnk = [g.k_h * g.k_w * g.in_c, g.out_c, g.batch * g.out_h * g.out_w];
    let plan = GemmPlan::new(gpu, mnk[0], mnk[1], mnk[2], true);
    let partials = Tensor::empty(gpu, &[plan.slices as usize, dw.len()]);
    let kernel = plan
        .kernel("conv2d")
        .define("FILTER_GRAD", 1)
        .define("ACT", 0);
    let storage = [x.binding(), dy.binding(), partials.binding()];
    gpu.dispatch(
        &kernel,
        &ConvParams::new(g, &plan, mnk),
        &storage,
        plan.grid,
    );
    reduce::sum_slices(gpu, &partials, plan.slices as usize, dw, accumulate);
}
