//! Dropout layer: inverted dropout in training, identity otherwise.

use super::{Layer, Pass, Saved};
use crate::number::Shortest;
use crate::ops::dropout;
use crate::tensor::Tensor;
use crate::{Error, Result};

pub(super) struct Dropout {
    rate: f32,
    salt: u32,
    shape: Vec<usize>,
}

impl Dropout {
    pub(super) fn new(rate: f32, index: usize, input: &[usize]) -> Result<Self> {
        if !(0.0..1.0).contains(&rate) {
            return Err(Error::Config(format!(
                "layer {index} (dropout): rate must be in [0, 1), got {}",
                Shortest(rate)
            )));
        }
        Ok(Self {
            rate,
            // Distinct layers draw distinct masks from the same step seed.
            salt: (index as u32).wrapping_mul(0x9e37_79b9),
            shape: input.to_vec(),
        })
    }
}

impl Layer for Dropout {
    fn output_shape(&self) -> &[usize] {
        &self.shape
    }

    fn forward(&self, pass: &Pass, x: &Tensor, _logits: bool) -> (Tensor, Saved) {
        if !pass.training || self.rate == 0.0 {
            return (x.clone(), Saved::default());
        }
        let (y, mask) = dropout::dropout_forward(pass.gpu, x, self.rate, pass.step, self.salt);
        let saved = Saved {
            aux: Some(mask),
            ..Saved::default()
        };
        (y, saved)
    }

    fn backward(&self, pass: &Pass, saved: &Saved, dy: &Tensor, need_dx: bool) -> Option<Tensor> {
        if !need_dx {
            return None;
        }
        Some(match &saved.aux {
            Some(mask) => dropout::dropout_backward(pass.gpu, dy, mask),
            None => dy.clone(),
        })
    }
}
