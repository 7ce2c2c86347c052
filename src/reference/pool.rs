//! 2-D max and average pooling over NHWC tensors: forward and backward.
//!
//! Input x is `[N, H, W, C]`, output y is `[N, OH, OW, C]`. The window of output cell `(oh, ow)`
//! starts at input cell `(oh * stride_h - pad_top, ow * stride_w - pad_left)`. Cells of the window
//! outside the input (padding) never win a max and do not count in a mean, as in TensorFlow.

use std::ops::Range;

use crate::ops::Pool2dGeometry;

/// Computes max pooling of x `[N, H, W, C]`. Returns y `[N, OH, OW, C]` and, per output cell,
/// the flat index into x of the cell that won.
///
/// The window is scanned in row-major order and only a strictly greater value replaces the
/// current winner, so ties go to the first maximum in scan order.
pub fn max_pool_forward(g: &Pool2dGeometry, x: &[f32]) -> (Vec<f32>, Vec<u32>) {
    assert_eq!(x.len(), g.input_len(), "max_pool_forward: x length");
    assert!(
        u32::try_from(x.len()).is_ok(),
        "max_pool_forward: input too large for u32 indices"
    );
    let channels = g.channels;

    let mut y = vec![0.0f32; g.output_len()];
    let mut argmax = vec![0u32; g.output_len()];
    for n in 0..g.batch {
        for oh in 0..g.out_h {
            let rows = window_rows(g, oh);
            for ow in 0..g.out_w {
                let cols = window_cols(g, ow);
                let out = output_offset(g, n, oh, ow);
                let y_pixel = &mut y[out..out + channels];
                let argmax_pixel = &mut argmax[out..out + channels];
                let mut first_cell = true;
                for ih in rows.clone() {
                    for iw in cols.clone() {
                        let start = input_offset(g, n, ih, iw);
                        let x_pixel = &x[start..start + channels];
                        for c in 0..channels {
                            if first_cell || x_pixel[c] > y_pixel[c] {
                                y_pixel[c] = x_pixel[c];
                                argmax_pixel[c] = (start + c) as u32;
                            }
                        }
                        first_cell = false;
                    }
                }
                assert!(
                    !first_cell,
                    "max_pool_forward: window ({oh}, {ow}) has no input cell"
                );
            }
        }
    }
    (y, argmax)
}

/// Computes the max pooling input gradient: dy `[N, OH, OW, C]` and argmax `[N, OH, OW, C]` from
/// [`max_pool_forward`], returns dx `[N, H, W, C]`. Each dy goes to its argmax cell, and cells that
/// win several overlapping windows sum their gradients.
pub fn max_pool_backward(g: &Pool2dGeometry, dy: &[f32], argmax: &[u32]) -> Vec<f32> {
    assert_eq!(dy.len(), g.output_len(), "max_pool_backward: dy length");
    assert_eq!(
        argmax.len(),
        g.output_len(),
        "max_pool_backward: argmax length"
    );

    let mut dx = vec![0.0f32; g.input_len()];
    for (&d, &index) in dy.iter().zip(argmax) {
        dx[index as usize] += d;
    }
    dx
}

/// Computes average pooling of x `[N, H, W, C]`, returning y `[N, OH, OW, C]`. Each output is the
/// mean of the window cells inside the input.
pub fn avg_pool_forward(g: &Pool2dGeometry, x: &[f32]) -> Vec<f32> {
    assert_eq!(x.len(), g.input_len(), "avg_pool_forward: x length");
    let channels = g.channels;

    let mut y = vec![0.0f32; g.output_len()];
    for n in 0..g.batch {
        for oh in 0..g.out_h {
            let rows = window_rows(g, oh);
            for ow in 0..g.out_w {
                let cols = window_cols(g, ow);
                let out = output_offset(g, n, oh, ow);
                let y_pixel = &mut y[out..out + channels];
                for ih in rows.clone() {
                    for iw in cols.clone() {
                        let start = input_offset(g, n, ih, iw);
                        for (yv, &xv) in y_pixel.iter_mut().zip(&x[start..start + channels]) {
                            *yv += xv;
                        }
                    }
                }
                let count = cell_count(&rows, &cols, oh, ow);
                for yv in y_pixel.iter_mut() {
                    *yv /= count;
                }
            }
        }
    }
    y
}

/// Computes the average pooling input gradient: dy `[N, OH, OW, C]`, returns dx `[N, H, W, C]`.
/// Each dy is divided by its window's cell count and added to every cell of that window.
pub fn avg_pool_backward(g: &Pool2dGeometry, dy: &[f32]) -> Vec<f32> {
    assert_eq!(dy.len(), g.output_len(), "avg_pool_backward: dy length");
    let channels = g.channels;

    let mut dx = vec![0.0f32; g.input_len()];
    for n in 0..g.batch {
        for oh in 0..g.out_h {
            let rows = window_rows(g, oh);
            for ow in 0..g.out_w {
                let cols = window_cols(g, ow);
                let count = cell_count(&rows, &cols, oh, ow);
                let out = output_offset(g, n, oh, ow);
                let dy_pixel = &dy[out..out + channels];
                for ih in rows.clone() {
                    for iw in cols.clone() {
                        let start = input_offset(g, n, ih, iw);
                        for (dxv, &d) in dx[start..start + channels].iter_mut().zip(dy_pixel) {
                            *dxv += d / count;
                        }
                    }
                }
            }
        }
    }
    dx
}

/// Input rows covered by the window of output row `oh`, clipped to the input.
fn window_rows(g: &Pool2dGeometry, oh: usize) -> Range<usize> {
    clip_window(oh * g.stride_h, g.pool_h, g.pad_top, g.in_h)
}

/// Input columns covered by the window of output column `ow`, clipped to the input.
fn window_cols(g: &Pool2dGeometry, ow: usize) -> Range<usize> {
    clip_window(ow * g.stride_w, g.pool_w, g.pad_left, g.in_w)
}

/// Clips the window `[padded_start, padded_start + size)` of the padded axis to the input
/// `[0, input)`, in unpadded coordinates.
fn clip_window(padded_start: usize, size: usize, pad: usize, input: usize) -> Range<usize> {
    let start = padded_start.saturating_sub(pad).min(input);
    let end = (padded_start + size).saturating_sub(pad).min(input);
    start..end.max(start)
}

/// Number of input cells in a window, as the divisor of the mean.
fn cell_count(rows: &Range<usize>, cols: &Range<usize>, oh: usize, ow: usize) -> f32 {
    let count = rows.len() * cols.len();
    assert!(count > 0, "avg_pool: window ({oh}, {ow}) has no input cell");
    count as f32
}

fn input_offset(g: &Pool2dGeometry, n: usize, ih: usize, iw: usize) -> usize {
    ((n * g.in_h + ih) * g.in_w + iw) * g.channels
}

fn output_offset(g: &Pool2dGeometry, n: usize, oh: usize, ow: usize) -> usize {
    ((n * g.out_h + oh) * g.out_w + ow) * g.channels
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::Padding;

    fn geometry(
        in_hw: [usize; 2],
        channels: usize,
        pool: usize,
        stride: usize,
        padding: Padding,
    ) -> Pool2dGeometry {
        Pool2dGeometry::new(
            1,
            in_hw[0],
            in_hw[1],
            channels,
            [pool, pool],
            [stride, stride],
            padding,
        )
        .expect("window fits")
    }

    #[test]
    fn max_pool_2x2_by_hand() {
        // 4x4 input 1..=16 in row-major order, two channels: channel 1 is the negation.
        let g = geometry([4, 4], 2, 2, 2, Padding::Valid);
        let x: Vec<f32> = (1..=16).flat_map(|v| [v as f32, -(v as f32)]).collect();
        let (y, argmax) = max_pool_forward(&g, &x);
        // Channel 0 wins at each window's bottom-right cell, channel 1 at its top-left cell.
        assert_eq!(y, vec![6.0, -1.0, 8.0, -3.0, 14.0, -9.0, 16.0, -11.0]);
        // Flat index of cell (r, c), channel k is (4r + c) * 2 + k.
        assert_eq!(argmax, vec![10, 1, 14, 5, 26, 17, 30, 21]);
    }

    #[test]
    fn max_pool_tie_picks_first() {
        // One 2x2 window, all cells equal: the winner is the first scanned cell, (0, 0).
        let g = geometry([2, 2], 1, 2, 2, Padding::Valid);
        let (y, argmax) = max_pool_forward(&g, &[7.0, 7.0, 7.0, 7.0]);
        assert_eq!(y, vec![7.0]);
        assert_eq!(argmax, vec![0]);

        // Tie between (0, 1) and (1, 0): row-major order scans (0, 1) first.
        let (_, argmax) = max_pool_forward(&g, &[1.0, 5.0, 5.0, 2.0]);
        assert_eq!(argmax, vec![1]);

        // A window of equal negative values still has a winner.
        let (y, argmax) = max_pool_forward(&g, &[f32::NEG_INFINITY; 4]);
        assert_eq!(y, vec![f32::NEG_INFINITY]);
        assert_eq!(argmax, vec![0]);
    }

    #[test]
    fn max_pool_padding_never_wins() {
        // 3x3 input of negative values, pool 2 stride 2 "same": output 2x2, total padding 1,
        // which goes at the bottom/right. Windows on the edge see one or two real cells only.
        let g = geometry([3, 3], 1, 2, 2, Padding::Same);
        assert_eq!((g.out_h, g.out_w, g.pad_top, g.pad_left), (2, 2, 0, 0));
        let x = [-1.0, -2.0, -3.0, -4.0, -5.0, -6.0, -7.0, -8.0, -9.0];
        let (y, argmax) = max_pool_forward(&g, &x);
        assert_eq!(y, vec![-1.0, -3.0, -7.0, -9.0]);
        assert_eq!(argmax, vec![0, 2, 6, 8]);
    }

    #[test]
    fn max_pool_overlapping_windows_accumulate() {
        // 5x5 input with its maximum at the center (2, 2), pool 3 stride 2 valid: 2x2 output, and
        // all four windows contain the center, so it receives the sum of the four dy values.
        let g = geometry([5, 5], 1, 3, 2, Padding::Valid);
        let mut x = vec![0.0f32; 25];
        x[12] = 10.0;
        let (y, argmax) = max_pool_forward(&g, &x);
        assert_eq!(y, vec![10.0; 4]);
        assert_eq!(argmax, vec![12; 4]);
        let dx = max_pool_backward(&g, &[1.0, 2.0, 3.0, 4.0], &argmax);
        let mut expected = vec![0.0f32; 25];
        expected[12] = 10.0;
        assert_eq!(dx, expected);
    }

    #[test]
    fn avg_pool_excludes_padding_from_count() {
        // 3x3 input 1..=9, pool 2 stride 2 "same": windows (0..2, 0..2), (0..2, 2..3), (2..3, 0..2)
        // and (2..3, 2..3), holding 4, 2, 2 and 1 real cells.
        let g = geometry([3, 3], 1, 2, 2, Padding::Same);
        let x: Vec<f32> = (1..=9).map(|v| v as f32).collect();
        let y = avg_pool_forward(&g, &x);
        // (1 + 2 + 4 + 5) / 4, (3 + 6) / 2, (7 + 8) / 2, 9 / 1.
        assert_eq!(y, vec![3.0, 4.5, 7.5, 9.0]);

        // Backward spreads dy / count over the same cells.
        let dx = avg_pool_backward(&g, &[4.0, 2.0, 2.0, 1.0]);
        assert_eq!(dx, vec![1.0; 9]);
    }

    #[test]
    fn avg_pool_overlapping_windows_accumulate() {
        // 3x3 input, pool 2 stride 1 valid: the center cell is in all four windows.
        let g = geometry([3, 3], 1, 2, 1, Padding::Valid);
        let dx = avg_pool_backward(&g, &[4.0, 8.0, 12.0, 16.0]);
        // Each window gives dy / 4 to its cells: center gets 1 + 2 + 3 + 4, corners one share each.
        assert_eq!(dx, vec![1.0, 3.0, 2.0, 4.0, 10.0, 6.0, 3.0, 7.0, 4.0]);
    }
}
