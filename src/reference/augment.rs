//! Affine warp of a batch of images with bilinear sampling, zero fill and a brightness gain
//! (CPU reference of `shaders/augment.wgsl`).

use crate::ops::augment::Transform;

/// Warps each image of `x` `[n, h, w, c]` (NHWC) by its [`Transform`] row of `transforms`:
/// output pixel (ox, oy) is `gain` times the bilinear sample of the input at
/// `(a * dx + b * dy + cx + tx, c * dx + d * dy + cy + ty)`, with `(dx, dy)` its offset from the
/// image centre `(cx, cy)`. Neighbours outside the image count as 0.
pub fn warp(x: &[f32], shape: [usize; 4], transforms: &[Transform]) -> Vec<f32> {
    let [n, h, w, c] = shape;
    assert_eq!(x.len(), n * h * w * c, "warp: x length");
    assert_eq!(transforms.len(), n, "warp: one transform per image");
    let pixel = |image: usize, row: i64, col: i64, ch: usize| -> f32 {
        if row < 0 || col < 0 || row >= h as i64 || col >= w as i64 {
            return 0.0;
        }
        x[((image * h + row as usize) * w + col as usize) * c + ch]
    };
    let cx = (w as f32 - 1.0) * 0.5;
    let cy = (h as f32 - 1.0) * 0.5;
    let mut y = vec![0.0f32; x.len()];
    for (image, t) in transforms.iter().enumerate() {
        for oy in 0..h {
            for ox in 0..w {
                let dx = ox as f32 - cx;
                let dy = oy as f32 - cy;
                let sx = t[0] * dx + t[1] * dy + cx + t[2];
                let sy = t[3] * dx + t[4] * dy + cy + t[5];
                let (x0, y0) = (sx.floor(), sy.floor());
                let (fx, fy) = (sx - x0, sy - y0);
                let (col, row) = (x0 as i64, y0 as i64);
                for ch in 0..c {
                    let top = pixel(image, row, col, ch) * (1.0 - fx)
                        + pixel(image, row, col + 1, ch) * fx;
                    let bottom = pixel(image, row + 1, col, ch) * (1.0 - fx)
                        + pixel(image, row + 1, col + 1, ch) * fx;
                    let sample = top * (1.0 - fy) + bottom * fy;
                    y[((image * h + oy) * w + ox) * c + ch] = t[6] * sample;
                }
            }
        }
    }
    y
}
