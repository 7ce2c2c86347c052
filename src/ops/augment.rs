//! Data augmentation on the GPU: a random affine warp (rotation, translation, scaling and a
//! left-right flip) of each image, with bilinear sampling and zero fill, then a random
//! brightness gain (augment.wgsl).

use crate::json::{from_json, to_json};
use crate::number::Shortest;
use rand::{Rng, SeedableRng};

use crate::gpu::{Gpu, Kernel};
use crate::tensor::Tensor;
use crate::{Error, Result};

/// Values per image in a transform row.
pub const TRANSFORM_LEN: usize = 7;

/// One image's transform, `[a, b, tx, c, d, ty, gain]`, as augment.wgsl and
/// [`crate::reference::augment::warp`] read it. Output pixel (ox, oy) samples the input at
/// `(a * dx + b * dy + cx + tx, c * dx + d * dy + cy + ty)`, with `(dx, dy)` its offset from the
/// image centre `(cx, cy) = ((W - 1) / 2, (H - 1) / 2)`. The bilinear sample is then multiplied by
/// `gain`. The identity is `[1, 0, 0, 0, 1, 0, 1]`.
pub type Transform = [f32; TRANSFORM_LEN];

/// Ranges of the random transform drawn for each training image; 0 or `false` turns a part off.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct AugmentConfig {
    /// Largest rotation either way, in degrees; default 0.
    pub rotation_degrees: f32,
    /// Largest shift along each axis, in pixels; default 0.
    pub translation_pixels: f32,
    /// Largest relative change of size, e.g. 0.1 for 90 % to 110 %; default 0.
    pub scale: f32,
    /// Mirror each image left-right with probability 0.5; default false.
    pub flip: bool,
    /// Largest relative change of pixel values: each image is multiplied by a gain drawn
    /// uniformly in [1 - brightness, 1 + brightness], e.g. 0.2 for 80 % to 120 %; default 0.
    pub brightness: f32,
}

to_json!(AugmentConfig {
    rotation_degrees,
    translation_pixels,
    scale,
    flip,
    brightness,
});
from_json!(AugmentConfig {
    rotation_degrees = Self::default().rotation_degrees,
    translation_pixels = Self::default().translation_pixels,
    scale = Self::default().scale,
    flip = Self::default().flip,
    brightness = Self::default().brightness,
});

impl AugmentConfig {
    /// Returns whether no flip, brightness 0 and every range 0 leave the images unchanged.
    pub fn is_identity(&self) -> bool {
        !self.flip
            && self.brightness == 0.0
            && self.rotation_degrees == 0.0
            && self.translation_pixels == 0.0
            && self.scale == 0.0
    }

    /// Checks the ranges for training images of `height` x `width` pixels, naming each range
    /// by its config field, such as `augmentation translation_pixels`.
    pub fn validate(&self, height: usize, width: usize) -> Result<()> {
        self.validate_named(height, width, |field| format!("augmentation {field}"))
    }

    /// Checks the ranges like [`AugmentConfig::validate`], naming each range by what `name`
    /// returns for its config field, such as the command-line flag that sets it. A shift beyond
    /// the images' smaller side can move an image out of the frame entirely, so that side
    /// bounds `translation_pixels`.
    pub fn validate_named(
        &self,
        height: usize,
        width: usize,
        name: impl Fn(&str) -> String,
    ) -> Result<()> {
        let side = height.min(width);
        let side_note = format!(" (the smaller side of the {height}x{width} images)");
        let ranges = [
            ("rotation_degrees", self.rotation_degrees, 180.0, ""),
            (
                "translation_pixels",
                self.translation_pixels,
                side as f32,
                &side_note,
            ),
            ("scale", self.scale, 0.9, ""),
            ("brightness", self.brightness, 1.0, ""),
        ];
        for (field, value, max, note) in ranges {
            if !(value.is_finite() && (0.0..=max).contains(&value)) {
                return Err(Error::Config(format!(
                    "{} must be between 0 and {}{note}, got {}",
                    name(field),
                    Shortest(max),
                    Shortest(value)
                )));
            }
        }
        Ok(())
    }

    /// Draws one [`Transform`] per image, reproducibly for `seed`: a rotation, a scale and a
    /// shift uniformly within the ranges, then a flip with probability 0.5 and a brightness
    /// gain. A part that is off draws nothing, so turning on flip or brightness leaves the
    /// other parts' draws as they were.
    pub fn transforms(&self, images: usize, seed: u64) -> Vec<Transform> {
        let mut rng = rand_pcg::Pcg64::seed_from_u64(seed);
        (0..images).map(|_| self.draw(&mut rng)).collect()
    }

    /// Draws the transform of one image.
    fn draw(&self, rng: &mut rand_pcg::Pcg64) -> Transform {
        let angle = uniform(rng, self.rotation_degrees).to_radians();
        let scale = 1.0 + uniform(rng, self.scale);
        let shift = [
            uniform(rng, self.translation_pixels),
            uniform(rng, self.translation_pixels),
        ];
        let flip = self.flip && rng.random_bool(0.5);
        let gain = 1.0 + uniform(rng, self.brightness);

        // The image is mirrored, then rotated, scaled and shifted, so an output pixel samples
        // the input at M R^-1 (o - shift) / scale around the centre, where the mirror M
        // negates x.
        let (sin, cos) = crate::math::sin_cos(f64::from(angle));
        let (sin, cos) = (sin as f32, cos as f32);
        let [a, b, c, d] = [cos / scale, sin / scale, -sin / scale, cos / scale];
        let tx = -(a * shift[0] + b * shift[1]);
        let ty = -(c * shift[0] + d * shift[1]);
        let mirror = if flip { -1.0 } else { 1.0 };
        [mirror * a, mirror * b, mirror * tx, c, d, ty, gain]
    }
}

/// Draws uniformly in [-range, range] when `range` is above 0, else returns 0 without drawing.
fn uniform(rng: &mut rand_pcg::Pcg64, range: f32) -> f32 {
    if range > 0.0 {
        rng.random_range(-range..=range)
    } else {
        0.0
    }
}

/// Uniform of augment.wgsl.
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct AugmentParams {
    len: u32,
    height: u32,
    width: u32,
    channels: u32,
}

/// Warps each image of `x` `[n, H, W, C]` by its [`Transform`] row of `transforms`
/// `[n, TRANSFORM_LEN]`; returns the warped batch `[n, H, W, C]`.
pub fn warp(gpu: &Gpu, x: &Tensor, transforms: &Tensor) -> Tensor {
    let &[n, h, w, c] = x.shape() else {
        panic!("warp: x must be [n, H, W, C], got {:?}", x.shape());
    };
    assert_eq!(
        transforms.len(),
        n * TRANSFORM_LEN,
        "warp: one transform per image"
    );
    let y = Tensor::empty(gpu, x.shape());
    let params = AugmentParams {
        len: x.len() as u32,
        height: h as u32,
        width: w as u32,
        channels: c as u32,
    };
    let kernel = Kernel::new("augment", "warp");
    let storage = [x.binding(), y.binding(), transforms.binding()];
    gpu.dispatch(&kernel, &params, &storage, gpu.grid_elements(x.len()));
    y
}
