//! Shapes of the windowed ops (convolution and pooling), shared by the GPU kernels and the CPU
//! reference so that both agree on output size and padding.

use crate::json::string_enum;

/// How a windowed op pads its input, with TensorFlow's rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Padding {
    /// No padding: the window stays inside the input.
    #[default]
    Valid,
    /// Output size is `ceil(input / stride)`; when the total padding is odd, the extra row or
    /// column goes at the bottom or right.
    Same,
}

string_enum!(Padding {
    Valid = "valid",
    Same = "same"
});

/// Output size and leading padding of one spatial axis.
///
/// `window` is the dilated window extent `(k - 1) * dilation + 1`. Returns `None` when the window
/// does not fit (a valid output size below 1).
pub fn axis_output(
    input: usize,
    window: usize,
    stride: usize,
    padding: Padding,
) -> Option<(usize, usize)> {
    match padding {
        Padding::Valid => {
            if input < window {
                return None;
            }
            Some(((input - window) / stride + 1, 0))
        }
        Padding::Same => {
            let out = input.div_ceil(stride);
            let total = ((out - 1) * stride + window).saturating_sub(input);
            Some((out, total / 2))
        }
    }
}

/// Geometry of a 2-D convolution over an NHWC input with HWIO weights.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Conv2dGeometry {
    /// Batch size N.
    pub batch: usize,
    /// Input height H.
    pub in_h: usize,
    /// Input width W.
    pub in_w: usize,
    /// Input channels C_in.
    pub in_c: usize,
    /// Kernel height KH.
    pub k_h: usize,
    /// Kernel width KW.
    pub k_w: usize,
    /// Output channels (filters) C_out.
    pub out_c: usize,
    /// Stride along height.
    pub stride_h: usize,
    /// Stride along width.
    pub stride_w: usize,
    /// Dilation along height (1 is a dense kernel).
    pub dilation_h: usize,
    /// Dilation along width.
    pub dilation_w: usize,
    /// Rows of zero padding above the input.
    pub pad_top: usize,
    /// Columns of zero padding left of the input.
    pub pad_left: usize,
    /// Output height OH.
    pub out_h: usize,
    /// Output width OW.
    pub out_w: usize,
}

/// Parameters that define a convolution, before the input size is known.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conv2dSpec {
    /// Kernel size (KH, KW).
    pub kernel: [usize; 2],
    /// Output channels.
    pub filters: usize,
    /// Stride (height, width).
    pub stride: [usize; 2],
    /// Dilation (height, width).
    pub dilation: [usize; 2],
    /// Padding mode.
    pub padding: Padding,
}

impl Conv2dGeometry {
    /// Computes the geometry of `spec` applied to an NHWC input of shape `[batch, h, w, c]`.
    /// Returns `None` when the dilated kernel does not fit in the input.
    pub fn new(
        batch: usize,
        in_h: usize,
        in_w: usize,
        in_c: usize,
        spec: &Conv2dSpec,
    ) -> Option<Self> {
        let window_h = (spec.kernel[0] - 1) * spec.dilation[0] + 1;
        let window_w = (spec.kernel[1] - 1) * spec.dilation[1] + 1;
        let (out_h, pad_top) = axis_output(in_h, window_h, spec.stride[0], spec.padding)?;
        let (out_w, pad_left) = axis_output(in_w, window_w, spec.stride[1], spec.padding)?;
        Some(Self {
            batch,
            in_h,
            in_w,
            in_c,
            k_h: spec.kernel[0],
            k_w: spec.kernel[1],
            out_c: spec.filters,
            stride_h: spec.stride[0],
            stride_w: spec.stride[1],
            dilation_h: spec.dilation[0],
            dilation_w: spec.dilation[1],
            pad_top,
            pad_left,
            out_h,
            out_w,
        })
    }

    /// Element count of the input `[N, H, W, C_in]`.
    pub fn input_len(&self) -> usize {
        self.batch * self.in_h * self.in_w * self.in_c
    }

    /// Element count of the HWIO weights `[KH, KW, C_in, C_out]`.
    pub fn weight_len(&self) -> usize {
        self.k_h * self.k_w * self.in_c * self.out_c
    }

    /// Element count of the output `[N, OH, OW, C_out]`.
    pub fn output_len(&self) -> usize {
        self.batch * self.out_h * self.out_w * self.out_c
    }

    /// Multiply-adds of the forward pass (each backward pass does the same number). A u64,
    /// because large layers exceed the 32-bit `usize` of wasm32.
    pub fn macs(&self) -> u64 {
        self.output_len() as u64 * (self.k_h * self.k_w * self.in_c) as u64
    }
}

/// Geometry of a 2-D pooling window over an NHWC input.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Pool2dGeometry {
    /// Batch size N.
    pub batch: usize,
    /// Input height H.
    pub in_h: usize,
    /// Input width W.
    pub in_w: usize,
    /// Channels C (unchanged by pooling).
    pub channels: usize,
    /// Window height.
    pub pool_h: usize,
    /// Window width.
    pub pool_w: usize,
    /// Stride along height.
    pub stride_h: usize,
    /// Stride along width.
    pub stride_w: usize,
    /// Rows of padding above the input (padded cells never win a max and do not count in a mean).
    pub pad_top: usize,
    /// Columns of padding left of the input.
    pub pad_left: usize,
    /// Output height OH.
    pub out_h: usize,
    /// Output width OW.
    pub out_w: usize,
}

impl Pool2dGeometry {
    /// Computes the geometry of a `pool` window moving by `stride` over `[batch, h, w, c]`.
    /// Returns `None` when the window does not fit.
    pub fn new(
        batch: usize,
        in_h: usize,
        in_w: usize,
        channels: usize,
        pool: [usize; 2],
        stride: [usize; 2],
        padding: Padding,
    ) -> Option<Self> {
        let (out_h, pad_top) = axis_output(in_h, pool[0], stride[0], padding)?;
        let (out_w, pad_left) = axis_output(in_w, pool[1], stride[1], padding)?;
        Some(Self {
            batch,
            in_h,
            in_w,
            channels,
            pool_h: pool[0],
            pool_w: pool[1],
            stride_h: stride[0],
            stride_w: stride[1],
            pad_top,
            pad_left,
            out_h,
            out_w,
        })
    }

    /// Element count of the input `[N, H, W, C]`.
    pub fn input_len(&self) -> usize {
        self.batch * self.in_h * self.in_w * self.channels
    }

    /// Element count of the output `[N, OH, OW, C]`.
    pub fn output_len(&self) -> usize {
        self.batch * self.out_h * self.out_w * self.channels
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_padding_puts_odd_extra_at_end() {
        // 6 wide, kernel 3, stride 2: out 3, total padding 1, so 0 before and 1 after.
        assert_eq!(axis_output(6, 3, 2, Padding::Same), Some((3, 0)));
        // 5 wide, kernel 4, stride 1: total padding 3, 1 before and 2 after.
        assert_eq!(axis_output(5, 4, 1, Padding::Same), Some((5, 1)));
    }

    #[test]
    fn valid_padding_rejects_too_small_input() {
        assert_eq!(axis_output(2, 3, 1, Padding::Valid), None);
        assert_eq!(axis_output(7, 3, 3, Padding::Valid), Some((2, 0)));
    }

    #[test]
    fn macs_exceed_32_bits_without_wrapping() {
        // 254 * 254 outputs * 128 filters * 3 * 3 * 64 inputs: more than u32::MAX, which wrapped
        // on wasm32 while macs() returned usize.
        let spec = Conv2dSpec {
            kernel: [3, 3],
            filters: 128,
            stride: [1, 1],
            dilation: [1, 1],
            padding: Padding::Valid,
        };
        let g = Conv2dGeometry::new(1, 256, 256, 64, &spec).unwrap();
        assert_eq!(g.macs(), 4_756_635_648);
    }
}
