//! Conv2d layer: NHWC input, HWIO kernel, bias, fused activation.

use super::{batch_of, batched, Layer, ParamInit, ParamSlot, Pass, Saved};
use crate::ops::{activation, conv, Activation, Conv2dGeometry, Conv2dSpec};
use crate::tensor::Tensor;
use crate::{Error, Result};

use super::config::Conv2dConfig;

pub(super) struct Conv2d {
    spec: Conv2dSpec,
    input: [usize; 3],
    output: Vec<usize>,
    activation: Activation,
    trainable: bool,
    slots: Vec<ParamSlot>,
}

impl Conv2d {
    pub(super) fn new(
        c: &Conv2dConfig,
        index: usize,
        input: &[usize],
        slot: &mut impl FnMut(&'static str, Vec<usize>, ParamInit) -> ParamSlot,
    ) -> Result<Self> {
        let &[h, w, channels] = input else {
            return Err(Error::Config(format!(
                "layer {index} (conv2d) needs an [height, width, channels] input, got {input:?}; \
                 remove the flatten or dense layer before it"
            )));
        };
        let positive = |v: &[usize; 2]| v.iter().all(|&x| x > 0);
        if c.filters == 0
            || !positive(&c.kernel_size)
            || !positive(&c.strides)
            || !positive(&c.dilation)
        {
            return Err(Error::Config(format!(
                "layer {index} (conv2d): filters, kernel_size, strides and dilation must be at least 1, \
                 got filters {}, kernel_size {:?}, strides {:?}, dilation {:?}",
                c.filters, c.kernel_size, c.strides, c.dilation
            )));
        }
        if c.activation == Activation::Softmax {
            return Err(Error::Config(format!(
                "layer {index} (conv2d): softmax is only supported on the last dense layer"
            )));
        }
        let spec = Conv2dSpec {
            kernel: c.kernel_size,
            filters: c.filters,
            stride: c.strides,
            dilation: c.dilation,
            padding: c.padding,
        };
        let g = Conv2dGeometry::new(1, h, w, channels, &spec).ok_or_else(|| {
            Error::Config(format!(
                "layer {index} (conv2d): kernel {:?} with dilation {:?} does not fit the {h}x{w} input; \
                 use padding \"same\", a smaller kernel, or fewer pooling layers before it",
                c.kernel_size, c.dilation
            ))
        })?;
        let taps = c.kernel_size[0] * c.kernel_size[1];
        let kernel_init = ParamInit::Kernel {
            initializer: c.kernel_initializer,
            fan_in: taps * channels,
            fan_out: taps * c.filters,
        };
        let slots = vec![
            slot(
                "kernel",
                vec![c.kernel_size[0], c.kernel_size[1], channels, c.filters],
                kernel_init,
            ),
            slot("bias", vec![c.filters], ParamInit::Zeros),
        ];
        Ok(Self {
            spec,
            input: [h, w, channels],
            output: vec![g.out_h, g.out_w, c.filters],
            activation: c.activation,
            trainable: c.trainable,
            slots,
        })
    }

    fn geometry(&self, batch: usize) -> Conv2dGeometry {
        let [h, w, c] = self.input;
        Conv2dGeometry::new(batch, h, w, c, &self.spec).expect("checked when the layer was built")
    }
}

impl Layer for Conv2d {
    fn output_shape(&self) -> &[usize] {
        &self.output
    }

    fn params(&self) -> &[ParamSlot] {
        &self.slots
    }

    fn activation(&self) -> Activation {
        self.activation
    }

    fn forward(&self, pass: &Pass, x: &Tensor, _logits: bool) -> (Tensor, Saved) {
        let g = self.geometry(batch_of(x, &self.input));
        let w = pass.param(&self.slots[0]);
        let b = pass.param(&self.slots[1]);
        let fused = super::gemm_part(self.activation);
        let mut y = conv::conv2d_forward(pass.gpu, &g, x, &w, &b, fused);
        if fused != self.activation {
            y = activation::activation_forward(pass.gpu, self.activation, &y);
        }
        let y = y.reshape(&batched(g.batch, &self.output));
        let saved = Saved::input_output(x, &y);
        (y, saved)
    }

    fn backward(&self, pass: &Pass, saved: &Saved, dy: &Tensor, need_dx: bool) -> Option<Tensor> {
        let x = saved.input.as_ref().expect("conv2d saves its input");
        let y = saved.output.as_ref().expect("conv2d saves its output");
        let g = self.geometry(batch_of(x, &self.input));
        let dz = super::pre_activation_grad(pass, self.activation, y, dy);

        if self.trainable {
            let dw = pass.grad(&self.slots[0]);
            conv::conv2d_backward_filter(pass.gpu, &g, x, &dz, &dw, pass.accumulate);
            crate::ops::reduce::bias_backward(
                pass.gpu,
                &dz,
                &pass.grad(&self.slots[1]),
                pass.accumulate,
            );
        }
        need_dx.then(|| {
            let w = pass.param(&self.slots[0]);
            let dx = conv::conv2d_backward_input(pass.gpu, &g, &dz, &w);
            dx.reshape(&batched(g.batch, &self.input))
        })
    }
}
