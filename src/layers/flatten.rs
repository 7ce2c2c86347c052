//! Flatten layer: `[H, W, C]` to `[H * W * C]`, a reshape with no data movement.

use super::{batch_of, Layer, Pass, Saved};
use crate::tensor::Tensor;

pub(super) struct Flatten {
    input: Vec<usize>,
    output: Vec<usize>,
}

impl Flatten {
    pub(super) fn new(input: &[usize]) -> Self {
        Self {
            input: input.to_vec(),
            output: vec![input.iter().product()],
        }
    }
}

impl Layer for Flatten {
    fn output_shape(&self) -> &[usize] {
        &self.output
    }

    fn forward(&self, _pass: &Pass, x: &Tensor, _logits: bool) -> (Tensor, Saved) {
        let batch = batch_of(x, &self.input);
        (x.reshape(&[batch, self.output[0]]), Saved::default())
    }

    fn backward(&self, _pass: &Pass, _saved: &Saved, dy: &Tensor, need_dx: bool) -> Option<Tensor> {
        let batch = batch_of(dy, &self.output);
        need_dx.then(|| dy.reshape(&super::batched(batch, &self.input)))
    }
}
