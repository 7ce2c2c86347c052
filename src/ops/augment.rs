//! Data augmentation on the GPU: a random affine warp (rotation, translation, scaling) of each
//! image, with bilinear sampling and zero fill (augment.wgsl).

use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::gpu::{Gpu, Kernel};
use crate::tensor::Tensor;
use crate::{Error, Result};

/// Ranges of the random transform drawn for each training image; 0 turns a part off.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AugmentConfig {
    /// Largest rotation either way, in degrees; default 0.
    pub rotation_degrees: f32,
    /// Largest shift along each axis, in pixels; default 0.
    pub translation_pixels: f32,
    /// Largest relative change of size, e.g. 0.1 for 90 % to 110 %; default 0.
    pub scale: f32,
}

impl AugmentConfig {
    /// Returns whether every range is 0, so that the warp would copy the images.
    pub fn is_identity(&self) -> bool {
        self.rotation_degrees == 0.0 && self.translation_pixels == 0.0 && self.scale == 0.0
    }

    /// Checks the ranges.
    pub fn validate(&self) -> Result<()> {
        let ranges = [
            ("rotation_degrees", self.rotation_degrees, 180.0),
            ("translation_pixels", self.translation_pixels, f32::MAX),
            ("scale", self.scale, 0.9),
        ];
        for (name, value, max) in ranges {
            if !(value.is_finite() && (0.0..=max).contains(&value)) {
                return Err(Error::Config(format!(
                    "augmentation {name} must be between 0 and {max}, got {value}"
                )));
            }
        }
        Ok(())
    }

    /// Draws one transform per image, reproducibly for `seed`: a rotation, a scale and a shift
    /// uniformly within the ranges. Each row is `[a, b, tx, c, d, ty]`, the inverse mapping from
    /// an output pixel to the input position it samples, as augment.wgsl reads it.
    pub fn transforms(&self, images: usize, seed: u64) -> Vec<[f32; 6]> {
        let mut rng = rand_pcg::Pcg64::seed_from_u64(seed);
        let mut uniform = |range: f32| {
            if range > 0.0 {
                rng.random_range(-range..=range)
            } else {
                0.0
            }
        };
        (0..images)
            .map(|_| {
                let angle = uniform(self.rotation_degrees).to_radians();
                let scale = 1.0 + uniform(self.scale);
                let shift = [
                    uniform(self.translation_pixels),
                    uniform(self.translation_pixels),
                ];
                // The image moves by rotation, then scaling, then the shift, so an output pixel
                // samples the input at R^-1 (o - shift) / scale around the centre.
                let (sin, cos) = angle.sin_cos();
                let [a, b, c, d] = [cos / scale, sin / scale, -sin / scale, cos / scale];
                let tx = -(a * shift[0] + b * shift[1]);
                let ty = -(c * shift[0] + d * shift[1]);
                [a, b, tx, c, d, ty]
            })
            .collect()
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

/// Warps each image of `x` `[n, H, W, C]` by its row of `transforms` `[n, 6]`; returns the
/// warped batch `[n, H, W, C]`.
pub fn warp(gpu: &Gpu, x: &Tensor, transforms: &Tensor) -> Tensor {
    let &[n, h, w, c] = x.shape() else {
        panic!("warp: x must be [n, H, W, C], got {:?}", x.shape());
    };
    assert_eq!(transforms.len(), n * 6, "warp: one transform per image");
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
