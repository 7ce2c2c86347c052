//! 2-D convolution (cross-correlation): forward, input gradient and filter gradient.
//!
//! Input `x` is NHWC `[N, H, W, C_in]`, weights `w` are HWIO `[KH, KW, C_in, C_out]`, output `y` is
//! `[N, OH, OW, C_out]`. Output cell `(oh, ow)` at kernel tap `(kh, kw)` reads input cell
//! `(oh * stride_h - pad_top + kh * dilation_h, ow * stride_w - pad_left + kw * dilation_w)`, and
//! cells outside the input read as zero. Every loop nest visits `(n, oh, ow, kh, kw)` with the
//! channel loops innermost, because channels are the contiguous axis of all three tensors.

use webcnn_kernels as kernels;

use crate::ops::Conv2dGeometry;

/// Computes `y = conv(x, w) + bias`: x `[N, H, W, C_in]`, w `[KH, KW, C_in, C_out]`,
/// bias `[C_out]`, returns y `[N, OH, OW, C_out]`.
pub fn conv2d_forward(g: &Conv2dGeometry, x: &[f32], w: &[f32], bias: &[f32]) -> Vec<f32> {
    check_channels(g);
    assert_eq!(x.len(), g.input_len(), "conv2d_forward: x length");
    assert_eq!(w.len(), g.weight_len(), "conv2d_forward: w length");
    assert_eq!(bias.len(), g.out_c, "conv2d_forward: bias length");
    let (c_in, c_out) = (g.in_c, g.out_c);

    let mut y = Vec::with_capacity(g.output_len());
    for n in 0..g.batch {
        for oh in 0..g.out_h {
            for ow in 0..g.out_w {
                let start = y.len();
                y.extend_from_slice(bias);
                let y_pixel = &mut y[start..];
                for kh in 0..g.k_h {
                    let Some(ih) = input_row(g, oh, kh) else {
                        continue;
                    };
                    for kw in 0..g.k_w {
                        let Some(iw) = input_col(g, ow, kw) else {
                            continue;
                        };
                        let x_pixel = &x[input_offset(g, n, ih, iw)..][..c_in];
                        let w_tap = &w[tap_offset(g, kh, kw)..][..c_in * c_out];
                        kernels::add_vec_mat(y_pixel, x_pixel, w_tap);
                    }
                }
            }
        }
    }
    y
}

/// Computes the input gradient: dy `[N, OH, OW, C_out]`, w `[KH, KW, C_in, C_out]`,
/// returns dx `[N, H, W, C_in]`.
pub fn conv2d_backward_input(g: &Conv2dGeometry, dy: &[f32], w: &[f32]) -> Vec<f32> {
    check_channels(g);
    assert_eq!(dy.len(), g.output_len(), "conv2d_backward_input: dy length");
    assert_eq!(w.len(), g.weight_len(), "conv2d_backward_input: w length");
    let (c_in, c_out) = (g.in_c, g.out_c);

    // Scatter form: each output cell adds `w_tap · dy_pixel` to every input cell it read.
    let mut dx = vec![0.0f32; g.input_len()];
    for n in 0..g.batch {
        for oh in 0..g.out_h {
            for ow in 0..g.out_w {
                let dy_pixel = &dy[output_offset(g, n, oh, ow)..][..c_out];
                for kh in 0..g.k_h {
                    let Some(ih) = input_row(g, oh, kh) else {
                        continue;
                    };
                    for kw in 0..g.k_w {
                        let Some(iw) = input_col(g, ow, kw) else {
                            continue;
                        };
                        let dx_pixel = &mut dx[input_offset(g, n, ih, iw)..][..c_in];
                        let w_tap = &w[tap_offset(g, kh, kw)..][..c_in * c_out];
                        kernels::add_mat_vec(dx_pixel, w_tap, dy_pixel);
                    }
                }
            }
        }
    }
    dx
}

/// Computes the filter gradient: x `[N, H, W, C_in]`, dy `[N, OH, OW, C_out]`,
/// returns dw `[KH, KW, C_in, C_out]`.
pub fn conv2d_backward_filter(g: &Conv2dGeometry, x: &[f32], dy: &[f32]) -> Vec<f32> {
    check_channels(g);
    assert_eq!(x.len(), g.input_len(), "conv2d_backward_filter: x length");
    assert_eq!(
        dy.len(),
        g.output_len(),
        "conv2d_backward_filter: dy length"
    );
    let (c_in, c_out) = (g.in_c, g.out_c);

    // Each dw element sums N * OH * OW products, the longest reduction of the three passes, so it
    // accumulates in f64 to keep the reference well below the GPU's f32 rounding error.
    let mut dw = vec![0.0f64; g.weight_len()];
    for n in 0..g.batch {
        for oh in 0..g.out_h {
            for ow in 0..g.out_w {
                let dy_pixel = &dy[output_offset(g, n, oh, ow)..][..c_out];
                for kh in 0..g.k_h {
                    let Some(ih) = input_row(g, oh, kh) else {
                        continue;
                    };
                    for kw in 0..g.k_w {
                        let Some(iw) = input_col(g, ow, kw) else {
                            continue;
                        };
                        let x_pixel = &x[input_offset(g, n, ih, iw)..][..c_in];
                        let dw_tap = &mut dw[tap_offset(g, kh, kw)..][..c_in * c_out];
                        kernels::add_outer_f64(dw_tap, x_pixel, dy_pixel);
                    }
                }
            }
        }
    }
    dw.into_iter().map(|v| v as f32).collect()
}

fn check_channels(g: &Conv2dGeometry) {
    assert!(
        g.in_c > 0 && g.out_c > 0,
        "conv2d: channel counts must be positive, got {g:?}"
    );
}

/// Input row read by output row `oh` at kernel row `kh`, or `None` when it falls in the padding.
#[inline(always)]
pub(crate) fn input_row(g: &Conv2dGeometry, oh: usize, kh: usize) -> Option<usize> {
    input_coord(oh * g.stride_h + kh * g.dilation_h, g.pad_top, g.in_h)
}

/// Input column read by output column `ow` at kernel column `kw`, or `None` in the padding.
#[inline(always)]
pub(crate) fn input_col(g: &Conv2dGeometry, ow: usize, kw: usize) -> Option<usize> {
    input_coord(ow * g.stride_w + kw * g.dilation_w, g.pad_left, g.in_w)
}

/// Maps a coordinate in the padded input to the unpadded one, or `None` when it is padding.
#[inline(always)]
fn input_coord(padded: usize, pad: usize, size: usize) -> Option<usize> {
    let coord = padded.checked_sub(pad)?;
    (coord < size).then_some(coord)
}

#[inline(always)]
fn input_offset(g: &Conv2dGeometry, n: usize, ih: usize, iw: usize) -> usize {
    ((n * g.in_h + ih) * g.in_w + iw) * g.in_c
}

#[inline(always)]
fn output_offset(g: &Conv2dGeometry, n: usize, oh: usize, ow: usize) -> usize {
    ((n * g.out_h + oh) * g.out_w + ow) * g.out_c
}

/// Offset of the `[C_in, C_out]` weight block of kernel tap `(kh, kw)`.
#[inline(always)]
fn tap_offset(g: &Conv2dGeometry, kh: usize, kw: usize) -> usize {
    (kh * g.k_w + kw) * g.in_c * g.out_c
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::{Conv2dSpec, Padding};

    fn geometry(
        batch: usize,
        input: [usize; 3],
        kernel: [usize; 2],
        filters: usize,
        stride: [usize; 2],
        dilation: [usize; 2],
        padding: Padding,
    ) -> Conv2dGeometry {
        let spec = Conv2dSpec {
            kernel,
            filters,
            stride,
            dilation,
            padding,
        };
        let [h, w, c] = input;
        Conv2dGeometry::new(batch, h, w, c, &spec).expect("kernel fits")
    }

    /// 4x4 single-channel input holding 1..=16 in row-major order, so `x[r][c] = 4r + c + 1`.
    fn counting_4x4() -> Vec<f32> {
        (1..=16).map(|v| v as f32).collect()
    }

    /// Asymmetric 3x3 kernel, so a flipped (true convolution) or transposed kernel gives other
    /// values: `[[1, 0, 2], [0, -1, 0], [3, 0, 1]]`.
    const KERNEL_3X3: [f32; 9] = [1.0, 0.0, 2.0, 0.0, -1.0, 0.0, 3.0, 0.0, 1.0];

    #[test]
    fn conv3x3_valid_by_hand() {
        let g = geometry(1, [4, 4, 1], [3, 3], 1, [1, 1], [1, 1], Padding::Valid);
        assert_eq!((g.out_h, g.out_w), (2, 2));
        let y = conv2d_forward(&g, &counting_4x4(), &KERNEL_3X3, &[0.5]);
        // y[oh][ow] = x[oh][ow] + 2 x[oh][ow+2] - x[oh+1][ow+1] + 3 x[oh+2][ow] + x[oh+2][ow+2]
        //           = 6 (4 oh + ow) + 39, plus bias 0.5.
        // y[0][0] = 1 + 2*3 - 6 + 3*9 + 11 = 39.
        assert_eq!(y, vec![39.5, 45.5, 63.5, 69.5]);
    }

    #[test]
    fn conv3x3_same_stride1_corner() {
        let g = geometry(1, [4, 4, 1], [3, 3], 1, [1, 1], [1, 1], Padding::Same);
        assert_eq!((g.out_h, g.out_w, g.pad_top, g.pad_left), (4, 4, 1, 1));
        let y = conv2d_forward(&g, &counting_4x4(), &KERNEL_3X3, &[0.5]);
        // The window of y[0][0] covers rows -1..=1 and columns -1..=1. Only taps with kh, kw >= 1
        // are inside: w[1][1] x[0][0] + w[2][2] x[1][1] = -1 + 6 = 5.
        assert_eq!(y[0], 5.5);
        // y[1][1] is the first valid-padding output.
        assert_eq!(y[5], 39.5);
    }

    #[test]
    fn conv3x3_same_stride2_pads_bottom_right() {
        // 4 wide, kernel 3, stride 2: output 2, total padding 1, which goes at the bottom/right.
        let g = geometry(1, [4, 4, 1], [3, 3], 1, [2, 2], [1, 1], Padding::Same);
        assert_eq!((g.out_h, g.out_w, g.pad_top, g.pad_left), (2, 2, 0, 0));
        let y = conv2d_forward(&g, &counting_4x4(), &KERNEL_3X3, &[0.5]);
        // y[0][0]: rows 0..=2, columns 0..=2, all inside: 39.
        // y[0][1]: columns 2..=4, column 4 is padding: x[0][2] - x[1][3] + 3 x[2][2] = 3 - 8 + 33.
        // y[1][0]: rows 2..=4, row 4 is padding: x[2][0] + 2 x[2][2] - x[3][1] = 9 + 22 - 14.
        // y[1][1]: only x[2][2] and x[3][3] are inside: 11 - 16.
        assert_eq!(y, vec![39.5, 28.5, 17.5, -4.5]);
    }

    #[test]
    fn conv1x1_weight_layout_hwio() {
        let g = geometry(1, [1, 1, 2], [1, 1], 3, [1, 1], [1, 1], Padding::Valid);
        // w[ci][co] = [[1, 2, 3], [4, 5, 6]], x = [1, 2]: y[co] = w[0][co] + 2 w[1][co].
        let y = conv2d_forward(&g, &[1.0, 2.0], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[0.0; 3]);
        assert_eq!(y, vec![9.0, 12.0, 15.0]);
    }

    #[test]
    fn conv_dilation2_by_hand() {
        // One row [1, 2, 3, 4, 5], kernel 1x2 = [1, 10] with dilation 2: window 3, output 3,
        // y[i] = x[i] + 10 x[i + 2].
        let g = geometry(1, [1, 5, 1], [1, 2], 1, [1, 1], [1, 2], Padding::Valid);
        let y = conv2d_forward(&g, &[1.0, 2.0, 3.0, 4.0, 5.0], &[1.0, 10.0], &[0.0]);
        assert_eq!(y, vec![31.0, 42.0, 53.0]);
    }

    #[test]
    fn conv_backward_input_by_hand() {
        // 3x3 input, 2x2 kernel [[1, 2], [3, 4]], valid: 2x2 output. dy is 1 at (0, 0) and (1, 1),
        // so dx is the kernel placed at offsets (0, 0) and (1, 1), overlapping at x[1][1].
        let g = geometry(1, [3, 3, 1], [2, 2], 1, [1, 1], [1, 1], Padding::Valid);
        let dx = conv2d_backward_input(&g, &[1.0, 0.0, 0.0, 1.0], &[1.0, 2.0, 3.0, 4.0]);
        assert_eq!(dx, vec![1.0, 2.0, 0.0, 3.0, 5.0, 2.0, 0.0, 3.0, 4.0]);
    }

    #[test]
    fn conv_backward_filter_by_hand() {
        // x = 1..=9 on 3x3, dy is 1 at (0, 0) and (1, 1): dw[kh][kw] = x[kh][kw] + x[kh+1][kw+1],
        // so [[1 + 5, 2 + 6], [4 + 8, 5 + 9]].
        let g = geometry(1, [3, 3, 1], [2, 2], 1, [1, 1], [1, 1], Padding::Valid);
        let x: Vec<f32> = (1..=9).map(|v| v as f32).collect();
        let dw = conv2d_backward_filter(&g, &x, &[1.0, 0.0, 0.0, 1.0]);
        assert_eq!(dw, vec![6.0, 8.0, 12.0, 14.0]);
    }

    /// Deterministic values in [-1, 1] without a random generator.
    fn wave(len: usize, phase: f32) -> Vec<f32> {
        (0..len).map(|i| (i as f32 * 0.73 + phase).sin()).collect()
    }

    #[test]
    fn conv_backward_is_adjoint_of_forward() {
        // For the linear map x -> conv(x, w), <conv(x, w), dy> = <x, dx(dy)>, and likewise for w.
        let g = geometry(2, [7, 6, 3], [3, 2], 4, [2, 3], [1, 1], Padding::Same);
        let x = wave(g.input_len(), 0.1);
        let w = wave(g.weight_len(), 0.7);
        let dy = wave(g.output_len(), 1.3);
        let y = conv2d_forward(&g, &x, &w, &[0.0; 4]);
        let dx = conv2d_backward_input(&g, &dy, &w);
        let dw = conv2d_backward_filter(&g, &x, &dy);
        let inner = |a: &[f32], b: &[f32]| -> f64 {
            a.iter()
                .zip(b)
                .map(|(&p, &q)| f64::from(p) * f64::from(q))
                .sum()
        };
        let y_dy = inner(&y, &dy);
        assert!(
            (y_dy - inner(&x, &dx)).abs() < 1e-4,
            "{y_dy} vs {}",
            inner(&x, &dx)
        );
        assert!(
            (y_dy - inner(&w, &dw)).abs() < 1e-4,
            "{y_dy} vs {}",
            inner(&w, &dw)
        );
    }
}
