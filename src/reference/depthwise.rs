//! Depthwise 2-D convolution (cross-correlation): forward, input gradient and filter gradient.
//!
//! Input `x` is NHWC `[N, H, W, C]`, weights `w` are `[KH, KW, C, M]` (M is the depth
//! multiplier), output `y` is `[N, OH, OW, C * M]`. Output channel `o = c * M + m` reads input
//! channel `c` only, so tap `(kh, kw)` has one weight per output channel, at
//! `w[(kh * KW + kw) * C * M + o]`. Window positions and padding are those of
//! [`super::conv`].

use super::conv::{input_col, input_row};
use crate::ops::depthwise::DepthwiseGeometry;

/// Computes `y = conv(x, w) + bias`: x `[N, H, W, C]`, w `[KH, KW, C, M]`, bias `[C * M]`,
/// returns y `[N, OH, OW, C * M]`.
pub fn depthwise_forward(g: &DepthwiseGeometry, x: &[f32], w: &[f32], bias: &[f32]) -> Vec<f32> {
    assert_eq!(x.len(), g.input_len(), "depthwise_forward: x length");
    assert_eq!(w.len(), g.weight_len(), "depthwise_forward: w length");
    assert_eq!(bias.len(), g.conv.out_c, "depthwise_forward: bias length");
    let mut y = bias.repeat(g.output_len() / g.conv.out_c);
    for_each_tap(g, |n, oh, ow, kh, kw, ih, iw| {
        let start = output_offset(g, n, oh, ow);
        let y_pixel = &mut y[start..][..g.conv.out_c];
        let x_pixel = &x[input_offset(g, n, ih, iw)..][..g.conv.in_c];
        let w_tap = &w[tap_offset(g, kh, kw)..][..g.conv.out_c];
        for ((yv, &wv), o) in y_pixel.iter_mut().zip(w_tap).zip(0..) {
            *yv += x_pixel[o / g.multiplier] * wv;
        }
    });
    y
}

/// Computes the input gradient: dy `[N, OH, OW, C * M]`, w `[KH, KW, C, M]`, returns dx
/// `[N, H, W, C]`.
pub fn depthwise_backward_input(g: &DepthwiseGeometry, dy: &[f32], w: &[f32]) -> Vec<f32> {
    assert_eq!(
        dy.len(),
        g.output_len(),
        "depthwise_backward_input: dy length"
    );
    assert_eq!(
        w.len(),
        g.weight_len(),
        "depthwise_backward_input: w length"
    );
    // Scatter form: each output cell adds `w * dy` to the input cell it read.
    let mut dx = vec![0.0f32; g.input_len()];
    for_each_tap(g, |n, oh, ow, kh, kw, ih, iw| {
        let dy_pixel = &dy[output_offset(g, n, oh, ow)..][..g.conv.out_c];
        let w_tap = &w[tap_offset(g, kh, kw)..][..g.conv.out_c];
        let dx_pixel = &mut dx[input_offset(g, n, ih, iw)..][..g.conv.in_c];
        for ((&dyv, &wv), o) in dy_pixel.iter().zip(w_tap).zip(0..) {
            dx_pixel[o / g.multiplier] += dyv * wv;
        }
    });
    dx
}

/// Computes the filter gradient: x `[N, H, W, C]`, dy `[N, OH, OW, C * M]`, returns dw
/// `[KH, KW, C, M]`.
pub fn depthwise_backward_filter(g: &DepthwiseGeometry, x: &[f32], dy: &[f32]) -> Vec<f32> {
    assert_eq!(
        x.len(),
        g.input_len(),
        "depthwise_backward_filter: x length"
    );
    assert_eq!(
        dy.len(),
        g.output_len(),
        "depthwise_backward_filter: dy length"
    );
    // Each dw element sums up to N * OH * OW products, so it accumulates in f64 as the conv
    // reference does.
    let mut dw = vec![0.0f64; g.weight_len()];
    for_each_tap(g, |n, oh, ow, kh, kw, ih, iw| {
        let dy_pixel = &dy[output_offset(g, n, oh, ow)..][..g.conv.out_c];
        let x_pixel = &x[input_offset(g, n, ih, iw)..][..g.conv.in_c];
        let dw_tap = &mut dw[tap_offset(g, kh, kw)..][..g.conv.out_c];
        for ((dwv, &dyv), o) in dw_tap.iter_mut().zip(dy_pixel).zip(0..) {
            *dwv += f64::from(x_pixel[o / g.multiplier]) * f64::from(dyv);
        }
    });
    dw.into_iter().map(|v| v as f32).collect()
}

/// Calls `visit(n, oh, ow, kh, kw, ih, iw)` for every output cell `(n, oh, ow)` and kernel tap
/// `(kh, kw)` whose input cell `(ih, iw)` lies inside the input, in row-major order.
fn for_each_tap(
    g: &DepthwiseGeometry,
    mut visit: impl FnMut(usize, usize, usize, usize, usize, usize, usize),
) {
    let c = &g.conv;
    for n in 0..c.batch {
        for oh in 0..c.out_h {
            for ow in 0..c.out_w {
                for kh in 0..c.k_h {
                    for kw in 0..c.k_w {
                        if let (Some(ih), Some(iw)) = (input_row(c, oh, kh), input_col(c, ow, kw)) {
                            visit(n, oh, ow, kh, kw, ih, iw);
                        }
                    }
                }
            }
        }
    }
}

fn input_offset(g: &DepthwiseGeometry, n: usize, ih: usize, iw: usize) -> usize {
    ((n * g.conv.in_h + ih) * g.conv.in_w + iw) * g.conv.in_c
}

fn output_offset(g: &DepthwiseGeometry, n: usize, oh: usize, ow: usize) -> usize {
    ((n * g.conv.out_h + oh) * g.conv.out_w + ow) * g.conv.out_c
}

/// Offset of the `[C * M]` weight row of kernel tap `(kh, kw)`.
fn tap_offset(g: &DepthwiseGeometry, kh: usize, kw: usize) -> usize {
    (kh * g.conv.k_w + kw) * g.conv.out_c
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::depthwise::DepthwiseSpec;
    use crate::ops::Padding;
    use crate::reference::conv::conv2d_forward;

    /// Deterministic values in [-1, 1] without a random generator.
    fn wave(len: usize, phase: f32) -> Vec<f32> {
        (0..len).map(|i| (i as f32 * 0.73 + phase).sin()).collect()
    }

    /// Expands a depthwise kernel into the HWIO kernel of a full convolution: zero except where output
    /// channel `c * M + m` meets input channel `c`.
    fn as_full_kernel(g: &DepthwiseGeometry, w: &[f32]) -> Vec<f32> {
        let (c_in, c_out) = (g.conv.in_c, g.conv.out_c);
        let mut full = vec![0.0; g.conv.weight_len()];
        for (tap, row) in w.chunks_exact(c_out).enumerate() {
            for (o, &value) in row.iter().enumerate() {
                full[(tap * c_in + o / g.multiplier) * c_out + o] = value;
            }
        }
        full
    }

    #[test]
    fn depthwise_equals_block_diagonal_conv() {
        for (stride, padding, multiplier) in [
            ([1, 1], Padding::Same, 1),
            ([2, 2], Padding::Same, 3),
            ([2, 1], Padding::Valid, 2),
        ] {
            let spec = DepthwiseSpec {
                kernel: [3, 2],
                multiplier,
                stride,
                dilation: [1, 2],
                padding,
            };
            let g = DepthwiseGeometry::new(2, 7, 6, 3, &spec).expect("kernel fits");
            let x = wave(g.input_len(), 0.2);
            let w = wave(g.weight_len(), 0.9);
            let bias = wave(g.conv.out_c, 1.7);
            let want = conv2d_forward(&g.conv, &x, &as_full_kernel(&g, &w), &bias);
            let got = depthwise_forward(&g, &x, &w, &bias);
            assert_eq!(got.len(), want.len());
            for (i, (a, b)) in got.iter().zip(&want).enumerate() {
                assert!((a - b).abs() < 1e-5, "{spec:?} element {i}: {a} vs {b}");
            }
        }
    }

    #[test]
    fn depthwise_by_hand() {
        // Two channels of a 1x3 row, x = [[1, 10], [2, 20], [3, 30]], kernel 1x2 with multiplier
        // 1: w = [[1, -1], [2, 0.5]], so y[ow][0] = x[ow][0] + 2 x[ow+1][0] and
        // y[ow][1] = -x[ow][1] + 0.5 x[ow+1][1].
        let spec = DepthwiseSpec {
            kernel: [1, 2],
            multiplier: 1,
            stride: [1, 1],
            dilation: [1, 1],
            padding: Padding::Valid,
        };
        let g = DepthwiseGeometry::new(1, 1, 3, 2, &spec).expect("kernel fits");
        let x = [1.0, 10.0, 2.0, 20.0, 3.0, 30.0];
        let y = depthwise_forward(&g, &x, &[1.0, -1.0, 2.0, 0.5], &[0.0, 100.0]);
        assert_eq!(y, vec![5.0, 100.0, 8.0, 95.0]);
    }
}
