//! Square crops of an RGBA frame with bilinear resizing, as crop.wgsl computes them.

use crate::ops::crop::CropBox;

/// Cuts `boxes` out of `frame` (`[height, width]` RGBA8 pixels as u32, red in the lowest byte)
/// and resizes each to `size`x`size`. Output pixel `(ox, oy)` samples the frame at
/// `left + (ox + 0.5) * side / size - 0.5` (and likewise for y) as the bilinear interpolation
/// of the four pixels around it, each black outside the frame. Returns `[boxes, size, size, 3]`
/// RGB in [0, 1].
pub fn crop_resize(
    frame: &[u32],
    width: usize,
    height: usize,
    boxes: &[CropBox],
    size: usize,
) -> Vec<f32> {
    assert_eq!(frame.len(), width * height, "crop_resize: frame length");
    let pixel = |row: f32, col: f32, channel: usize| -> f32 {
        let inside = row >= 0.0 && col >= 0.0 && row < height as f32 && col < width as f32;
        if !inside {
            return 0.0;
        }
        let rgba = frame[row as usize * width + col as usize];
        f32::from((rgba >> (8 * channel)) as u8) / 255.0
    };
    let mut out = Vec::with_capacity(boxes.len() * size * size * 3);
    for b in boxes {
        let step = b.side / size as f32;
        for oy in 0..size {
            let sy = b.top + (oy as f32 + 0.5) * step - 0.5;
            let (y0, fy) = (sy.floor(), sy - sy.floor());
            for ox in 0..size {
                let sx = b.left + (ox as f32 + 0.5) * step - 0.5;
                let (x0, fx) = (sx.floor(), sx - sx.floor());
                for channel in 0..3 {
                    let upper = lerp(pixel(y0, x0, channel), pixel(y0, x0 + 1.0, channel), fx);
                    let lower = lerp(
                        pixel(y0 + 1.0, x0, channel),
                        pixel(y0 + 1.0, x0 + 1.0, channel),
                        fx,
                    );
                    out.push(lerp(upper, lower, fy));
                }
            }
        }
    }
    out
}

/// `a + (b - a) * t`, the form of WGSL's `mix`.
fn lerp(a: f32, b: f32, t: f32) -> f32 {
    a * (1.0 - t) + b * t
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Packs a pixel with the same grey value in R, G and B.
    fn grey(value: u8) -> u32 {
        u32::from_le_bytes([value, value, value, 255])
    }

    #[test]
    fn crop_resize_by_hand() {
        // A 2x1 frame [0, 255]. A crop of side 2 from (0, 0) resized to 2 copies the frame,
        // with the missing second row black.
        let frame = [grey(0), grey(255)];
        let whole = CropBox {
            left: 0.0,
            top: 0.0,
            side: 2.0,
        };
        let y = crop_resize(&frame, 2, 1, &[whole], 2);
        assert_eq!(
            y,
            [0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]
        );
        // Resized to 1 pixel, the sample sits at (0.5, 0.5): the mean of the four pixels
        // around it, two of them black, is 0.25.
        let y = crop_resize(&frame, 2, 1, &[whole], 1);
        assert_eq!(y, [0.25, 0.25, 0.25]);
    }

    #[test]
    fn crop_reads_red_from_lowest_byte() {
        let frame = [u32::from_le_bytes([255, 0, 51, 255])];
        let pixel = CropBox {
            left: 0.0,
            top: 0.0,
            side: 1.0,
        };
        assert_eq!(crop_resize(&frame, 1, 1, &[pixel], 1), [1.0, 0.0, 0.2]);
    }
}
