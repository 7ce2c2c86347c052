//! Depthwise 2-D convolution (depthwise.wgsl): forward, input gradient and filter gradient.
//! Shapes: x [N, H, W, C], w [KH, KW, C, M] as Keras's and tfjs's DepthwiseConv2D (M is the
//! depth multiplier), y [N, OH, OW, C * M] with output channel `c * M + m` computed from input
//! channel c alone. Padding and output sizes follow [`super::Conv2dGeometry`], so "same" puts
//! an odd extra row or column at the bottom or right, as TensorFlow does. A separable
//! convolution is this op followed by a 1x1 conv2d.

use super::{reduce, Conv2dGeometry, Conv2dSpec, Padding};
use crate::gpu::{Gpu, Kernel, ELEMENTWISE_WORKGROUP};
use crate::tensor::Tensor;

/// Output rows (n, oh, ow) one filter-gradient thread sums before the chunks are reduced.
const ROWS_PER_CHUNK: usize = 256;

/// Parameters that define a depthwise convolution, before the input size is known.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DepthwiseSpec {
    /// Kernel size (KH, KW).
    pub kernel: [usize; 2],
    /// Output channels per input channel (M).
    pub multiplier: usize,
    /// Stride (height, width).
    pub stride: [usize; 2],
    /// Dilation (height, width).
    pub dilation: [usize; 2],
    /// Padding mode.
    pub padding: Padding,
}

/// Geometry of a depthwise convolution: a [`Conv2dGeometry`] whose `out_c` is C * M.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DepthwiseGeometry {
    /// Sizes, strides and padding; `conv.out_c` is `conv.in_c * multiplier`.
    pub conv: Conv2dGeometry,
    /// Output channels per input channel (M).
    pub multiplier: usize,
}

impl DepthwiseGeometry {
    /// Computes the geometry of `spec` on an NHWC input `[batch, h, w, c]`. Returns `None` when
    /// the dilated kernel does not fit in the input.
    pub fn new(batch: usize, h: usize, w: usize, c: usize, spec: &DepthwiseSpec) -> Option<Self> {
        let conv_spec = Conv2dSpec {
            kernel: spec.kernel,
            filters: c * spec.multiplier,
            stride: spec.stride,
            dilation: spec.dilation,
            padding: spec.padding,
        };
        Some(Self {
            conv: Conv2dGeometry::new(batch, h, w, c, &conv_spec)?,
            multiplier: spec.multiplier,
        })
    }

    /// Element count of the input `[N, H, W, C]`.
    pub fn input_len(&self) -> usize {
        self.conv.input_len()
    }

    /// Element count of the weights `[KH, KW, C, M]`.
    pub fn weight_len(&self) -> usize {
        self.conv.k_h * self.conv.k_w * self.conv.out_c
    }

    /// Element count of the output `[N, OH, OW, C * M]`.
    pub fn output_len(&self) -> usize {
        self.conv.output_len()
    }
}

/// Uniform of depthwise.wgsl (field order must match `Params` there): the values that change
/// with the batch. The rest of the geometry is compiled into the kernel by [`kernel`].
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct DepthwiseParams {
    batch: u32,
    rows_per_chunk: u32,
    pad: [u32; 2],
}

impl DepthwiseParams {
    fn new(g: &DepthwiseGeometry, rows_per_chunk: usize) -> Self {
        Self {
            batch: g.conv.batch as u32,
            rows_per_chunk: rows_per_chunk as u32,
            pad: [0; 2],
        }
    }
}

/// Builds the depthwise.wgsl kernel `entry` (with section `variant` selected) for the geometry
/// of `g`, all but the batch as constants.
fn kernel(g: &DepthwiseGeometry, entry: &'static str, variant: &'static str) -> Kernel {
    let c = &g.conv;
    let u = |v: usize| v as u32;
    Kernel::new("depthwise", entry)
        .define(variant, 1)
        .define("IN_H", u(c.in_h))
        .define("IN_W", u(c.in_w))
        .define("CHANNELS", u(c.in_c))
        .define("MULTIPLIER", u(g.multiplier))
        .define("K_H", u(c.k_h))
        .define("K_W", u(c.k_w))
        .define("STRIDE_H", u(c.stride_h))
        .define("STRIDE_W", u(c.stride_w))
        .define("DILATION_H", u(c.dilation_h))
        .define("DILATION_W", u(c.dilation_w))
        .define("PAD_TOP", u(c.pad_top))
        .define("PAD_LEFT", u(c.pad_left))
        .define("OUT_H", u(c.out_h))
        .define("OUT_W", u(c.out_w))
}

/// Computes y = conv(x, w) + bias: `[N, H, W, C]` to `[N, OH, OW, C * M]`.
pub fn depthwise_forward(
    gpu: &Gpu,
    g: &DepthwiseGeometry,
    x: &Tensor,
    w: &Tensor,
    bias: &Tensor,
) -> Tensor {
    assert_eq!(x.len(), g.input_len(), "depthwise input shape");
    assert_eq!(w.len(), g.weight_len(), "depthwise weight shape");
    assert_eq!(bias.len(), g.conv.out_c, "depthwise bias shape");
    let c = &g.conv;
    let y = Tensor::empty(gpu, &[c.batch, c.out_h, c.out_w, c.out_c]);
    let storage = [x.binding(), w.binding(), bias.binding(), y.binding()];
    let params = DepthwiseParams::new(g, 0);
    let kernel = kernel(g, "forward", "FORWARD");
    gpu.dispatch(&kernel, &params, &storage, gpu.grid_elements(y.len()));
    y
}

/// Computes dx `[N, H, W, C]` from dy `[N, OH, OW, C * M]` and w.
pub fn depthwise_backward_input(
    gpu: &Gpu,
    g: &DepthwiseGeometry,
    dy: &Tensor,
    w: &Tensor,
) -> Tensor {
    assert_eq!(dy.len(), g.output_len(), "depthwise output-gradient shape");
    assert_eq!(w.len(), g.weight_len(), "depthwise weight shape");
    let c = &g.conv;
    let dx = Tensor::empty(gpu, &[c.batch, c.in_h, c.in_w, c.in_c]);
    let storage = [dy.binding(), w.binding(), dx.binding()];
    let params = DepthwiseParams::new(g, 0);
    let kernel = kernel(g, "input_grad", "INPUT_GRAD");
    gpu.dispatch(&kernel, &params, &storage, gpu.grid_elements(dx.len()));
    dx
}

/// Computes dw `[KH, KW, C, M]` from x and dy into `dw`, or adds it when `accumulate`.
pub fn depthwise_backward_filter(
    gpu: &Gpu,
    g: &DepthwiseGeometry,
    x: &Tensor,
    dy: &Tensor,
    dw: &Tensor,
    accumulate: bool,
) {
    assert_eq!(x.len(), g.input_len(), "depthwise input shape");
    assert_eq!(dy.len(), g.output_len(), "depthwise output-gradient shape");
    assert_eq!(dw.len(), g.weight_len(), "depthwise weight-gradient shape");
    let max_groups = gpu.limits.max_compute_workgroups_per_dimension as usize;
    let weight_groups = g.weight_len().div_ceil(ELEMENTWISE_WORKGROUP as usize);
    assert!(
        weight_groups <= max_groups,
        "depthwise weights exceed one grid row"
    );
    let rows = g.conv.batch * g.conv.out_h * g.conv.out_w;
    // Larger chunks once the row count would need more workgroups than one grid column holds.
    let rows_per_chunk = ROWS_PER_CHUNK.max(rows.div_ceil(max_groups));
    let chunks = rows.div_ceil(rows_per_chunk);
    let partials = Tensor::empty(gpu, &[chunks, g.weight_len()]);
    let storage = [x.binding(), dy.binding(), partials.binding()];
    let params = DepthwiseParams::new(g, rows_per_chunk);
    let kernel = kernel(g, "filter_grad", "FILTER_GRAD");
    let grid = [weight_groups as u32, chunks as u32, 1];
    gpu.dispatch(&kernel, &params, &storage, grid);
    reduce::sum_slices(gpu, &partials, chunks, dw, accumulate);
}
