//! The augmentation warp on the GPU against the CPU reference, and the transforms it draws.

mod common;

use common::{assert_close, gpu, random, read};
use webcnn::ops::augment::{warp, AugmentConfig};
use webcnn::reference;
use webcnn::tensor::Tensor;

const IDENTITY: [f32; 6] = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0];

fn gpu_warp(shape: [usize; 4], x: &[f32], transforms: &[[f32; 6]]) -> Vec<f32> {
    let gpu = gpu();
    let xt = Tensor::from_slice(&gpu, x, &shape);
    let flat: Vec<f32> = transforms.iter().flatten().copied().collect();
    let tt = Tensor::from_slice(&gpu, &flat, &[shape[0], 6]);
    let y = warp(&gpu, &xt, &tt);
    gpu.submit();
    read(&gpu, &y)
}

#[test]
fn warp_matches_reference() {
    let config = AugmentConfig {
        rotation_degrees: 20.0,
        translation_pixels: 3.0,
        scale: 0.2,
    };
    for (case, shape) in [[3, 9, 7, 2], [5, 28, 28, 1], [2, 5, 11, 3]]
        .into_iter()
        .enumerate()
    {
        let x = random(shape.iter().product(), case as u64);
        let transforms = config.transforms(shape[0], 7 + case as u64);
        let want = reference::augment::warp(&x, shape, &transforms);
        let got = gpu_warp(shape, &x, &transforms);
        assert_close(&format!("warp {shape:?}"), &got, &want, 1e-5);
    }
}

#[test]
fn identity_transform_copies() {
    let shape = [2, 6, 5, 3];
    let x = random(shape.iter().product(), 3);
    let got = gpu_warp(shape, &x, &[IDENTITY; 2]);
    assert_eq!(got, x);
}

#[test]
fn shift_moves_pixels_and_fills_zeros() {
    // Output pixel (ox, oy) samples input (ox + 1, oy): the image moves one pixel left.
    let shape = [1, 3, 4, 1];
    let x: Vec<f32> = (1..=12).map(|v| v as f32).collect();
    let shift_left = [1.0, 0.0, 1.0, 0.0, 1.0, 0.0];
    let want = [
        2.0, 3.0, 4.0, 0.0, 6.0, 7.0, 8.0, 0.0, 10.0, 11.0, 12.0, 0.0,
    ];
    assert_eq!(reference::augment::warp(&x, shape, &[shift_left]), want);
    assert_eq!(gpu_warp(shape, &x, &[shift_left]), want);
}

#[test]
fn transforms_seeded_and_in_range() {
    let config = AugmentConfig {
        rotation_degrees: 15.0,
        translation_pixels: 2.0,
        scale: 0.1,
    };
    let first = config.transforms(50, 11);
    assert_eq!(first, config.transforms(50, 11));
    assert_ne!(first, config.transforms(50, 12));
    for [a, b, _, c, d, _] in first {
        // The linear part is a rotation divided by a scale in [0.9, 1.1].
        let inverse_scale = (a * d - b * c).sqrt();
        assert!((1.0 / 1.1 - 1e-4..=1.0 / 0.9 + 1e-4).contains(&inverse_scale));
        let angle = b.atan2(a).to_degrees().abs();
        assert!(angle <= 15.0 + 1e-3, "rotation {angle} degrees");
    }
    assert_eq!(AugmentConfig::default().transforms(2, 1), vec![IDENTITY; 2]);
}

#[test]
fn invalid_ranges_are_rejected() {
    let bad = AugmentConfig {
        scale: 1.5,
        ..AugmentConfig::default()
    };
    let message = bad.validate().unwrap_err().to_string();
    assert!(
        message.contains("scale must be between 0 and 0.9, got 1.5"),
        "{message}"
    );
}
