//! 2-D convolution: forward, input gradient, filter gradient and bias gradient. Shapes: x
//! [N, H, W, C_in], w [KH, KW, C_in, C_out], y [N, OH, OW, C_out]. All three products run through
//! the register-blocked implicit-GEMM kernel in conv2d.wgsl + gemm.wgsl, except for layers with
//! few taps, which conv_direct.rs computes directly.

use super::conv_direct;
use super::gemm::{Access, BLoad, GemmPlan, MAX_K_RUNS};
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
/// constants, `variant` (FORWARD, INPUT_GRAD or FILTER_GRAD) selected and operands moved as
/// `access` selects.
fn conv_kernel(
    plan: &GemmPlan,
    g: &Conv2dGeometry,
    variant: &'static str,
    access: Access,
    act: Activation,
) -> Kernel {
    let kernel = act
        .define(plan.kernel("conv2d", access))
        .define(variant, 1)
        .define("A_CELL", (variant != "FILTER_GRAD") as u32);
    define_geometry(kernel, g)
}

/// Sets the placeholders of `g`'s geometry (all but the batch), which conv2d.wgsl and
/// conv2d_direct.wgsl share.
pub(super) fn define_geometry(kernel: Kernel, g: &Conv2dGeometry) -> Kernel {
    let u = |v: usize| v as u32;
    kernel
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
    if conv_direct::suits(gpu, g) {
        return conv_direct::forward(gpu, g, x, w, bias, act);
    }
    let y = Tensor::empty(gpu, &[g.batch, g.out_h, g.out_w, g.out_c]);
    let mnk = [g.batch * g.out_h * g.out_w, g.out_c, g.k_h * g.k_w * g.in_c];
    let plan = GemmPlan::new(gpu, mnk[0], mnk[1], mnk[2], false);
    // A along k is x's channels, B along n and C are output channels.
    let access = Access {
        a_vec4: g.in_c.is_multiple_of(4),
        b: vec4_if(g.out_c.is_multiple_of(4), BLoad::Rows4),
        c_vec4: g.out_c.is_multiple_of(4),
        bias: true,
        k_runs: false,
    };
    let kernel = conv_kernel(&plan, g, "FORWARD", access, act);
    let storage = [x.binding(), w.binding(), y.binding(), bias.binding()];
    gpu.dispatch(&kernel, &ConvParams::new(&plan, mnk), &storage, plan.grid);
    y
}

/// dx from dy `[N, OH, OW, C_out]` and w: `[N, H, W, C_in]`.
pub fn conv2d_backward_input(gpu: &Gpu, g: &Conv2dGeometry, dy: &Tensor, w: &Tensor) -> Tensor {
    assert_eq!(dy.len(), g.output_len(), "conv2d output-gradient shape");
    if conv_direct::suits_input_grad(gpu, g) {
        return conv_direct::backward_input(gpu, g, dy, w);
    }
    let dx = Tensor::empty(gpu, &[g.batch, g.in_h, g.in_w, g.in_c]);
    let mnk = [g.batch * g.in_h * g.in_w, g.in_c, g.k_h * g.k_w * g.out_c];
    let plan = GemmPlan::new(gpu, mnk[0], mnk[1], mnk[2], false);
    // A along k is dy's channels, B along k is w's output channels, C along n is dx's channels.
    let access = Access {
        a_vec4: g.out_c.is_multiple_of(4),
        b: vec4_if(g.out_c.is_multiple_of(4), BLoad::Cols4),
        c_vec4: g.in_c.is_multiple_of(4),
        bias: false,
        k_runs: g.k_h * g.k_w <= MAX_K_RUNS,
    };
    let kernel = conv_kernel(&plan, g, "INPUT_GRAD", access, Activation::Linear);
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
    if conv_direct::suits(gpu, g) {
        return conv_direct::backward_filter(gpu, g, x, dy, dw, accumulate);
    }
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
    // With tap rows, B along n and C are dy's channels.
    let (rows, access) = if channel_rows {
        ("CHANNEL_ROWS", Access::SCALAR)
    } else {
        let vec4 = g.out_c.is_multiple_of(4);
        let access = Access {
            a_vec4: false,
            b: vec4_if(vec4, BLoad::Rows4),
            c_vec4: vec4,
            bias: false,
            k_runs: false,
        };
        ("TAP_ROWS", access)
    };
    let kernel = conv_kernel(&plan, g, "FILTER_GRAD", access, Activation::Linear).define(rows, 1);
    let storage = [x.binding(), dy.binding(), partials.binding()];
    gpu.dispatch(&kernel, &ConvParams::new(&plan, mnk), &storage, plan.grid);
    reduce::sum_slices(gpu, &partials, plan.slices as usize, dw, accumulate);
}

/// `load` when `vec4` holds, else scalar loads.
fn vec4_if(vec4: bool, load: BLoad) -> BLoad {
    if vec4 {
        load
    } else {
        BLoad::Scalar
    }
}
