//! The crop-and-resize kernel against the CPU reference (lavapipe natively).

mod common;

use common::{assert_close, gpu, read};
use rand::{Rng, SeedableRng};
use webcnn::ops::crop::{self, CropBox};
use webcnn::reference;
use webcnn::tensor::Tensor;

#[test]
fn crop_resize_matches_reference() {
    let gpu = gpu();
    let (width, height) = (37, 23);
    let mut rng = rand_pcg::Pcg64::seed_from_u64(4);
    let frame: Vec<u32> = (0..width * height).map(|_| rng.random()).collect();
    let square = |left: f32, top: f32, side: f32| CropBox { left, top, side };
    let boxes = [
        // The detector's input: the frame padded to a square at the bottom.
        square(0.0, 0.0, 37.0),
        // Inside the frame, downscaled and upscaled, at fractional positions.
        square(3.5, 2.25, 15.0),
        square(10.0, 4.0, 3.3),
        // Past the left, top, right and bottom edges.
        square(-4.0, -6.0, 12.0),
        square(30.0, 18.0, 11.0),
    ];
    for size in [1, 8, 13] {
        let want = reference::crop::crop_resize(&frame, width, height, &boxes, size);
        let pixels = Tensor::from_slice(&gpu, &frame, &[frame.len()]);
        let y = crop::crop_resize(&gpu, &pixels, width, height, &boxes, size);
        assert_eq!(y.shape(), [boxes.len(), size, size, 3]);
        assert_close(&format!("size {size}"), &read(&gpu, &y), &want, 1e-5);
    }
}
