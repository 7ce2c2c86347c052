//! 2-D convolution: forward, input gradient, filter gradient and bias gradient. Shapes: x
//! [N, H, W, C_in], w [KH, KW, C_in, C_out], y [N, OH, OW, C_out]. All three products run through
//! the register-blocked implicit-GEMM kernel in conv2d.wgsl + gemm.wgsl.

use super::gemm::GemmPlan;
use super::{reduce, Activation, Conv2dGeometry};
use crate::gpu::{Gpu, Kernel};
use crate::tensor::Tensor;

/// Uniform of conv2d.wgsl (field order must match `Params` there): the sizes that change with
/// the batch. The rest of the geometry is compiled into the kernel by [`conv_kernel`].
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct ConvParams {
    k_slice: u32,
    gemm_m: u32,
    gemm_n: u32,
    gemm_k: u32,
}

impl ConvParams {
    fn new(plan: &GemmPlan, mnk: [usize; 3]) -> Self {
        Self {
            k_slice: plan.k_slice,
            gemm_m: mnk[0] as u32,
            gemm_n: mnk[1] as u32,
            gemm_k: mnk[2] as u32,
        }
    }
}

/// Builds the conv2d.wgsl kernel for `plan`, with the geometry of `g` (all but the batch) as
/// constants and `variant` (FORWARD, INPUT_GRAD or FILTER_GRAD) selected.
fn conv_kernel(
    plan: &GemmPlan,
    g: &Conv2dGeometry,
    variant: &'static str,
    act: Activation,
) -> Kernel {
    let u = |v: usize| v as u32;
    act.define(plan.kernel("conv2d"))
        .define(variant, 1)
        .define("IN_H", u(g.in_h))
        .define("IN_W", u(g.in_w))
        .define("IN_C", u(g.in_c))
        .define("K_H", u(g.k_h))
        .define("K_W", u(g.k_w))
        .define("OUT_C", u(g.out_c))
        .define("OUT_H", u(g.out_h))
        .define("OUT_W", u(g.out_w))
        .define("STRIDE_H", u(g.stride_h))
        .define("STRIDE_W", u(g.stride_w))
        .define("DILATION_H", u(g.dilation_h))
        .define("DILATION_W", u(g.dilation_w))
        .define("PAD_TOP", u(g.pad_top))
        .define("PAD_LEFT", u(g.pad_left))
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
    let kernel = conv_kernel(&plan, g, "FORWARD", act);
    let storage = [x.binding(), w.binding(), y.binding(), bias.binding()];
    gpu.dispatch(&kernel, &ConvParams::new(&plan, mnk), &storage, plan.grid);
    y
}

/// dx from dy `[N, OH, OW, C_out]` and w: `[N, H, W, C_in]`.
pub fn conv2d_backward_input(gpu: &Gpu, g: &Conv2dGeometry, dy: &Tensor, w: &Tensor) -> Tensor {
    assert_eq!(dy.len(), g.output_len(), "conv2d output-gradient shape");
    let dx = Tensor::empty(gpu, &[g.batch, g.in_h, g.in_w, g.in_c]);
    let mnk = [g.batch * g.in_h * g.in_w, g.in_c, g.k_h * g.k_w * g.out_c];
    let plan = GemmPlan::new(gpu, mnk[0], mnk[1], mnk[2], false);
    let kernel = conv_kernel(&plan, g, "INPUT_GRAD", Activation::Linear);
    let storage = [dy.binding(), w.binding(), dx.binding()];
    gpu.dispatch(&kernel, &ConvParams::new(&plan, mnk), &storage, plan.grid);
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
    // Few taps would fill a fraction of a thread's 16 rows, so such layers put channels on rows.
    let taps = g.k_h * g.k_w * g.in_c;
    let channel_rows = taps < GemmPlan::BLOCK as usize && g.out_c > taps;
    let positions = g.batch * g.out_h * g.out_w;
    let mnk = if channel_rows {
        [g.out_c, taps, positions]
    } else {
        [taps, g.out_c, positions]
    };
    let plan = GemmPlan::new(gpu, mnk[0], mnk[1], mnk[2], true);
    let partials = Tensor::empty(gpu, &[plan.slices as usize, dw.len()]);
    let rows = if channel_rows {
        "CHANNEL_ROWS"
    } else {
        "TAP_ROWS"
    };
    let kernel = conv_kernel(&plan, g, "FILTER_GRAD", Activation::Linear).define(rows, 1);
    let storage = [x.binding(), dy.binding(), partials.binding()];
    gpu.dispatch(&kernel, &ConvParams::new(&plan, mnk), &storage, plan.grid);
    reduce::sum_slices(gpu, &partials, plan.slices as usize, dw, accumulate);
}
