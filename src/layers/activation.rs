//! Standalone activation layer.

use super::{Layer, Pass, Saved};
use crate::ops::{activation, Activation};
use crate::tensor::Tensor;

pub(super) struct ActivationLayer {
    activation: Activation,
    shape: Vec<usize>,
}

impl ActivationLayer {
    pub(super) fn new(activation: Activation, input: &[usize]) -> Self {
        Self {
            activation,
            shape: input.to_vec(),
        }
    }
}

impl Layer for ActivationLayer {
    fn output_shape(&self) -> &[usize] {
        &self.shape
    }

    fn activation(&self) -> Activation {
        self.activation
    }

    fn forward(&self, pass: &Pass, x: &Tensor, logits: bool) -> (Tensor, Saved) {
        if self.activation == Activation::Linear
            || (logits && self.activation == Activation::Softmax)
        {
            return (x.clone(), Saved::default());
        }
        let y = activation::activation_forward(pass.gpu, self.activation, x);
        let saved = Saved {
            output: Some(y.clone()),
            ..Saved::default()
        };
        (y, saved)
    }

    fn backward(&self, pass: &Pass, saved: &Saved, dy: &Tensor, need_dx: bool) -> Option<Tensor> {
        if !need_dx {
            return None;
        }
        match self.activation {
            // Softmax is trained only as the last layer, through the fused loss.
            Activation::Linear | Activation::Softmax => Some(dy.clone()),
            act => {
                let y = saved.output.as_ref().expect("activation saves its output");
                Some(activation::activation_backward(pass.gpu, act, y, dy))
            }
        }
    }
}
