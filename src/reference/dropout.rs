//! Dropout with a counter-based mask, so the GPU and the CPU draw the same mask from a seed.

use crate::number::Shortest;

/// Hashes a 32-bit value with the PCG-based hash of Jarzynski and Olano, "Hash Functions for GPU
/// Rendering" (JCGT 2020). All arithmetic wraps.
pub fn pcg_hash(x: u32) -> u32 {
    let state = x.wrapping_mul(747_796_405).wrapping_add(2_891_336_453);
    let word = ((state >> ((state >> 28) + 4)) ^ state).wrapping_mul(277_803_737);
    (word >> 22) ^ word
}

/// Builds the dropout mask `[len]` for `seed`: element i is `1 / (1 - rate)` when its uniform draw
/// `u = (pcg_hash(i ^ pcg_hash(seed)) >> 8) / 2^24` in [0, 1) is at least `rate`, else 0.
///
/// Index i is taken modulo 2^32, so masks longer than that repeat.
pub fn dropout_mask(seed: u32, len: usize, rate: f32) -> Vec<f32> {
    assert!(
        (0.0..1.0).contains(&rate),
        "dropout_mask: rate {} is not in [0, 1)",
        Shortest(rate)
    );
    let seed_hash = pcg_hash(seed);
    let keep_scale = 1.0 / (1.0 - rate);
    (0..len)
        .map(|i| {
            let bits = pcg_hash(i as u32 ^ seed_hash);
            // The top 24 bits convert to f32 exactly.
            let u = (bits >> 8) as f32 / 16_777_216.0;
            if u >= rate {
                keep_scale
            } else {
                0.0
            }
        })
        .collect()
}

/// Multiplies x `[len]` by mask `[len]` from [`dropout_mask`]. The backward pass is the same
/// product, `dx = dropout_forward(dy, mask)`.
pub fn dropout_forward(x: &[f32], mask: &[f32]) -> Vec<f32> {
    assert_eq!(
        x.len(),
        mask.len(),
        "dropout_forward: x and mask lengths differ"
    );
    x.iter().zip(mask).map(|(&v, &keep)| v * keep).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pcg_hash_known_values() {
        // Values from an independent Python implementation of the same formula.
        assert_eq!(pcg_hash(0), 129_708_002);
        assert_eq!(pcg_hash(1), 2_831_084_092);
        assert_eq!(pcg_hash(2), 2_055_130_248);
        assert_eq!(pcg_hash(12_345), 4_099_845_390);
        assert_eq!(pcg_hash(u32::MAX), 3_861_530_882);
    }

    #[test]
    fn dropout_mask_known_values() {
        // Seed 42: the draws u are 0.6485, 0.2052, 0.3208, 0.8888, 0.7389, 0.4152, 0.6047, 0.4519,
        // so rate 0.5 keeps elements 0, 3, 4 and 6, each scaled by 1 / (1 - 0.5).
        let mask = dropout_mask(42, 8, 0.5);
        assert_eq!(mask, vec![2.0, 0.0, 0.0, 2.0, 2.0, 0.0, 2.0, 0.0]);
    }

    #[test]
    fn dropout_mask_rate_zero_keeps_all() {
        assert_eq!(dropout_mask(7, 100, 0.0), vec![1.0; 100]);
    }

    #[test]
    fn dropout_mask_drops_about_rate() {
        let len = 100_000;
        let mask = dropout_mask(3, len, 0.3);
        let dropped = mask.iter().filter(|&&keep| keep == 0.0).count();
        let kept_scale = 1.0 / 0.7f32;
        assert!(mask.iter().all(|&keep| keep == 0.0 || keep == kept_scale));
        // The dropped count is binomial with standard deviation sqrt(len * 0.3 * 0.7) = 145;
        // 1% of len is about 7 standard deviations.
        let fraction = dropped as f64 / len as f64;
        assert!((fraction - 0.3).abs() < 0.01, "dropped fraction {fraction}");
    }

    #[test]
    fn dropout_mask_depends_on_seed() {
        assert_eq!(dropout_mask(5, 64, 0.5), dropout_mask(5, 64, 0.5));
        assert_ne!(dropout_mask(5, 64, 0.5), dropout_mask(6, 64, 0.5));
    }

    #[test]
    fn dropout_forward_applies_mask() {
        let y = dropout_forward(&[1.0, 2.0, 3.0], &[2.0, 0.0, 2.0]);
        assert_eq!(y, vec![2.0, 0.0, 6.0]);
    }
}
