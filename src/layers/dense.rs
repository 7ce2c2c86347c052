//! Dense layer: `[batch, in]` times a `[in, out]` kernel, plus bias, fused activation.

use super::{batch_of, Layer, ParamInit, ParamSlot, Pass, Saved};
use crate::ops::{activation, matmul, Activation};
use crate::tensor::Tensor;
use crate::{Error, Result};

use super::config::DenseConfig;

pub(super) struct Dense {
    inputs: usize,
    output: Vec<usize>,
    activation: Activation,
    trainable: bool,
    slots: Vec<ParamSlot>,
}

impl Dense {
    pub(super) fn new(
        c: &DenseConfig,
        index: usize,
        input: &[usize],
        slot: &mut impl FnMut(&'static str, Vec<usize>, ParamInit) -> ParamSlot,
    ) -> Result<Self> {
        let &[inputs] = input else {
            return Err(Error::Config(format!(
                "layer {index} (dense) needs a flat input, got {input:?}; add a flatten layer before it"
            )));
        };
        if c.units == 0 {
            return Err(Error::Config(format!(
                "layer {index} (dense): units must be at least 1, got 0"
            )));
        }
        let kernel_init = ParamInit::Kernel {
            initializer: c.kernel_initializer,
            fan_in: inputs,
            fan_out: c.units,
        };
        let slots = vec![
            slot("kernel", vec![inputs, c.units], kernel_init),
            slot("bias", vec![c.units], ParamInit::Zeros),
        ];
        Ok(Self {
            inputs,
            output: vec![c.units],
            activation: c.activation,
            trainable: c.trainable,
            slots,
        })
    }
}

impl Layer for Dense {
    fn output_shape(&self) -> &[usize] {
        &self.output
    }

    fn params(&self) -> &[ParamSlot] {
        &self.slots
    }

    fn activation(&self) -> Activation {
        self.activation
    }

    fn forward(&self, pass: &Pass, x: &Tensor, logits: bool) -> (Tensor, Saved) {
        let w = pass.param(&self.slots[0]);
        let b = pass.param(&self.slots[1]);
        let fused = super::gemm_part(self.activation);
        let mut y = matmul::dense_forward(pass.gpu, x, &w, &b, fused);
        if fused != self.activation && !(logits && self.activation == Activation::Softmax) {
            y = activation::activation_forward(pass.gpu, self.activation, &y);
        }
        let saved = Saved::input_output(x, &y);
        (y, saved)
    }

    fn backward(&self, pass: &Pass, saved: &Saved, dy: &Tensor, need_dx: bool) -> Option<Tensor> {
        let x = saved.input.as_ref().expect("dense saves its input");
        let y = saved.output.as_ref().expect("dense saves its output");
        let dz = super::pre_activation_grad(pass, self.activation, y, dy);
        let batch = batch_of(x, &[self.inputs]);
        let dz = dz.reshape(&[batch, self.output[0]]);

        if self.trainable {
            let dw = pass.grad(&self.slots[0]);
            matmul::dense_backward_weight(pass.gpu, x, &dz, &dw, pass.accumulate);
            crate::ops::reduce::bias_backward(
                pass.gpu,
                &dz,
                &pass.grad(&self.slots[1]),
                pass.accumulate,
            );
        }
        need_dx.then(|| {
            let w = pass.param(&self.slots[0]);
            matmul::dense_backward_input(pass.gpu, &dz, &w, self.inputs)
        })
    }
}
