//! The augmentation warp on the GPU against the CPU reference, and the transforms it draws.

mod common;

use common::{assert_close, gpu, random, read};
use webcnn::ops::augment::{warp, AugmentConfig, Transform, TRANSFORM_LEN};
use webcnn::reference;
use webcnn::tensor::Tensor;

const IDENTITY: Transform = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 1.0];
/// A left-right mirror with gain 1: output (ox, oy) samples input (W - 1 - ox, oy).
const FLIP: Transform = [-1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 1.0];

fn gpu_warp(shape: [usize; 4], x: &[f32], transforms: &[Transform]) -> Vec<f32> {
    let gpu = gpu();
    let xt = Tensor::from_slice(&gpu, x, &shape);
    let flat: Vec<f32> = transforms.iter().flatten().copied().collect();
    let tt = Tensor::from_slice(&gpu, &flat, &[shape[0], TRANSFORM_LEN]);
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
        ..AugmentConfig::default()
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
    let shift_left = [1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0];
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
        ..AugmentConfig::default()
    };
    let first = config.transforms(50, 11);
    assert_eq!(first, config.transforms(50, 11));
    assert_ne!(first, config.transforms(50, 12));
    for [a, b, _, c, d, _, gain] in first {
        assert_eq!(gain, 1.0);
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
    let message = bad.validate(28, 28).unwrap_err().to_string();
    assert!(
        message.contains("scale must be between 0 and 0.9, got 1.5"),
        "{message}"
    );
}

#[test]
fn translation_bounded_by_image_side() {
    let shift = |pixels: f32| AugmentConfig {
        translation_pixels: pixels,
        ..AugmentConfig::default()
    };
    assert!(shift(28.0).validate(28, 28).is_ok());
    assert!(shift(24.0).validate(24, 40).is_ok());

    let message = shift(29.0).validate(28, 28).unwrap_err().to_string();
    let expected = "augmentation translation_pixels must be between 0 and 28 (the smaller side \
                    of the 28x28 images), got 29";
    assert!(message.contains(expected), "{message}");
    // The smaller side bounds the shift, since one value sets both axes' ranges.
    let message = shift(30.0).validate(24, 40).unwrap_err().to_string();
    assert!(message.contains("between 0 and 24"), "{message}");
    for pixels in [-1.0, f32::INFINITY, f32::NAN, 1e30] {
        assert!(shift(pixels).validate(28, 28).is_err(), "{pixels} accepted");
    }
}

#[test]
fn validate_named_uses_given_names() {
    let bad = AugmentConfig {
        rotation_degrees: 200.0,
        ..AugmentConfig::default()
    };
    let message = bad
        .validate_named(28, 28, |field| format!("<{field}>"))
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("<rotation_degrees> must be between 0 and 180, got 200"),
        "{message}"
    );
    assert!(!message.contains("augmentation"), "{message}");
}

#[test]
fn flip_and_brightness_match_reference() {
    let config = AugmentConfig {
        rotation_degrees: 10.0,
        translation_pixels: 2.0,
        scale: 0.1,
        flip: true,
        brightness: 0.3,
    };
    let shape = [6, 9, 13, 3];
    // A new seed each run, printed on failure.
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    let x = random(shape.iter().product(), seed);
    let transforms = config.transforms(shape[0], seed);
    let flipped = transforms.iter().filter(|t| t[0] < 0.0).count();
    let want = reference::augment::warp(&x, shape, &transforms);
    let got = gpu_warp(shape, &x, &transforms);
    let case = format!("warp with flip and brightness, seed {seed}, {flipped} flipped");
    assert_close(&case, &got, &want, 1e-5);
}

#[test]
fn flip_mirrors_columns_exactly() {
    let shape = [1, 3, 4, 2];
    let [_, h, w, c] = shape;
    let x: Vec<f32> = (1..=24).map(|v| v as f32).collect();
    let mut want = vec![0.0; x.len()];
    for row in 0..h {
        for col in 0..w {
            for ch in 0..c {
                want[(row * w + col) * c + ch] = x[(row * w + (w - 1 - col)) * c + ch];
            }
        }
    }
    assert_eq!(reference::augment::warp(&x, shape, &[FLIP]), want);
    assert_eq!(gpu_warp(shape, &x, &[FLIP]), want);
}

#[test]
fn gain_scales_values_exactly() {
    let shape = [2, 2, 3, 1];
    let x: Vec<f32> = (1..=12).map(|v| v as f32).collect();
    let mut darker = IDENTITY;
    darker[6] = 0.5;
    let mut flipped_brighter = FLIP;
    flipped_brighter[6] = 1.5;
    let want = [
        0.5, 1.0, 1.5, 2.0, 2.5, 3.0, // image 0 at gain 0.5
        13.5, 12.0, 10.5, 18.0, 16.5, 15.0, // image 1 mirrored at gain 1.5
    ];
    let transforms = [darker, flipped_brighter];
    assert_eq!(reference::augment::warp(&x, shape, &transforms), want);
    assert_eq!(gpu_warp(shape, &x, &transforms), want);
}

#[test]
fn flip_draws_about_half() {
    let config = AugmentConfig {
        flip: true,
        ..AugmentConfig::default()
    };
    let draws = config.transforms(1000, 5);
    assert_eq!(draws, config.transforms(1000, 5), "same seed, other draws");
    assert_ne!(draws, config.transforms(1000, 6), "other seed, same draws");
    for t in &draws {
        assert!(*t == IDENTITY || *t == FLIP, "flip-only transform {t:?}");
    }
    let flipped = draws.iter().filter(|t| **t == FLIP).count();
    assert!((400..=600).contains(&flipped), "{flipped} of 1000 flipped");
}

#[test]
fn brightness_gain_in_range() {
    let config = AugmentConfig {
        brightness: 0.2,
        ..AugmentConfig::default()
    };
    let draws = config.transforms(500, 9);
    assert_eq!(draws, config.transforms(500, 9));
    for t in &draws {
        assert_eq!(t[..6], IDENTITY[..6], "brightness moved pixels: {t:?}");
        assert!((0.8..=1.2).contains(&t[6]), "gain {}", t[6]);
    }
    let gains: Vec<f32> = draws.iter().map(|t| t[6]).collect();
    let below = gains.iter().filter(|&&g| g < 0.9).count();
    let above = gains.iter().filter(|&&g| g > 1.1).count();
    assert!(below > 50, "only {below} of 500 gains below 0.9");
    assert!(above > 50, "only {above} of 500 gains above 1.1");
}

#[test]
fn flip_and_brightness_keep_other_draws() {
    let base = AugmentConfig {
        rotation_degrees: 15.0,
        translation_pixels: 2.0,
        scale: 0.1,
        ..AugmentConfig::default()
    };
    let gain_only = AugmentConfig {
        brightness: 0.5,
        ..base
    };
    let first = base.transforms(1, 3)[0];
    let with_gain = gain_only.transforms(1, 3)[0];
    assert_eq!(first[..6], with_gain[..6]);
    assert_ne!(with_gain[6], 1.0);
}

#[test]
fn identity_only_when_nothing_on() {
    assert!(AugmentConfig::default().is_identity());
    let flip = AugmentConfig {
        flip: true,
        ..AugmentConfig::default()
    };
    assert!(!flip.is_identity());
    let brightness = AugmentConfig {
        brightness: 0.1,
        ..AugmentConfig::default()
    };
    assert!(!brightness.is_identity());
}

#[test]
fn invalid_brightness_is_rejected() {
    for value in [-0.1, 1.5, f32::NAN] {
        let bad = AugmentConfig {
            brightness: value,
            ..AugmentConfig::default()
        };
        let message = bad.validate(28, 28).unwrap_err().to_string();
        let expected = format!("brightness must be between 0 and 1, got {value}");
        assert!(message.contains(&expected), "{value}: {message}");
    }
    let edge = AugmentConfig {
        brightness: 1.0,
        ..AugmentConfig::default()
    };
    assert!(edge.validate(28, 28).is_ok());
}

#[test]
fn config_json_defaults_new_fields() {
    let old: AugmentConfig =
        webcnn::json::from_str(r#"{"rotation_degrees": 15, "scale": 0.1}"#).unwrap();
    assert!(!old.flip);
    assert_eq!(old.brightness, 0.0);
    let new: AugmentConfig =
        webcnn::json::from_str(r#"{"flip": true, "brightness": 0.2}"#).unwrap();
    assert!(new.flip);
    assert_eq!(new.brightness, 0.2);
    let unknown = webcnn::json::from_str::<AugmentConfig>(r#"{"hue": 0.1}"#);
    assert!(unknown.is_err(), "an unknown field was accepted");
}
