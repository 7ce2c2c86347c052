//! CPU layers: forward and backward of each layer kind through [`crate::reference`], with the
//! semantics of the GPU layers in `src/layers` (fused activations, dropout masks, frozen layers).

use crate::layers::{LayerConfig, ParamSlot, PoolConfig};
use crate::ops::depthwise::{DepthwiseGeometry, DepthwiseSpec};
use crate::ops::{Activation, Conv2dGeometry, Conv2dSpec, Padding, Pool2dGeometry};
use crate::reference;

/// Layer kind, with the settings its passes need.
enum Kind {
    Conv2d {
        spec: Conv2dSpec,
        activation: Activation,
        trainable: bool,
    },
    Depthwise {
        spec: DepthwiseSpec,
        activation: Activation,
        trainable: bool,
    },
    Dense {
        activation: Activation,
        trainable: bool,
    },
    Pool {
        max: bool,
        size: [usize; 2],
        strides: [usize; 2],
        padding: Padding,
    },
    Flatten,
    Activation(Activation),
    Dropout {
        rate: f32,
        /// Added to the step seed, so that distinct layers draw distinct masks (as on the GPU).
        salt: u32,
    },
}

/// One layer of a [`super::CpuModel`]: its kind, per-example shapes and parameter slots.
pub(super) struct CpuLayer {
    kind: Kind,
    input: Vec<usize>,
    output: Vec<usize>,
    slots: Vec<ParamSlot>,
}

/// Settings of one forward pass.
#[derive(Clone, Copy)]
pub(super) struct Pass {
    /// Whether dropout is active.
    pub training: bool,
    /// Whether a final softmax is left to the loss (set for the last layer only).
    pub logits: bool,
    /// Step seed of the dropout masks.
    pub seed: u32,
}

/// Data a forward pass keeps for the backward pass besides the layer's input and output.
pub(super) enum Aux {
    None,
    /// Flat input index of each max-pooling winner.
    Argmax(Vec<u32>),
    /// Dropout mask, `1 / (1 - rate)` or 0 per element.
    Mask(Vec<f32>),
    /// The softmax was left to the loss, so the backward pass receives d(logits).
    SoftmaxSkipped,
}

/// Tensors of one layer's forward pass, for its backward pass.
pub(super) struct Saved<'a> {
    /// Layer input `[batch, ..input]`.
    pub x: &'a [f32],
    /// Layer output `[batch, ..output]`.
    pub y: &'a [f32],
    /// Argmax, dropout mask or softmax flag.
    pub aux: &'a Aux,
}

impl CpuLayer {
    /// Builds layer `index` from its config, its per-example input and output shapes, and the
    /// parameter slots that [`crate::model::build_layers`] placed for it (which also validated
    /// the config).
    pub(super) fn new(
        config: &LayerConfig,
        index: usize,
        input: &[usize],
        output: &[usize],
        slots: Vec<ParamSlot>,
    ) -> CpuLayer {
        let kind = match config {
            LayerConfig::Conv2d(c) => Kind::Conv2d {
                spec: Conv2dSpec {
                    kernel: c.kernel_size,
                    filters: c.filters,
                    stride: c.strides,
                    dilation: c.dilation,
                    padding: c.padding,
                },
                activation: c.activation,
                trainable: c.trainable,
            },
            LayerConfig::DepthwiseConv2d(c) => Kind::Depthwise {
                spec: DepthwiseSpec {
                    kernel: c.kernel_size,
                    multiplier: c.depth_multiplier,
                    stride: c.strides,
                    dilation: c.dilation,
                    padding: c.padding,
                },
                activation: c.activation,
                trainable: c.trainable,
            },
            LayerConfig::Dense(c) => Kind::Dense {
                activation: c.activation,
                trainable: c.trainable,
            },
            LayerConfig::MaxPool2d(c) => pool_kind(c, true),
            LayerConfig::AvgPool2d(c) => pool_kind(c, false),
            LayerConfig::Flatten => Kind::Flatten,
            LayerConfig::Activation { activation } => Kind::Activation(*activation),
            LayerConfig::Dropout { rate } => Kind::Dropout {
                rate: *rate,
                salt: (index as u32).wrapping_mul(0x9e37_79b9),
            },
        };
        CpuLayer {
            kind,
            input: input.to_vec(),
            output: output.to_vec(),
            slots,
        }
    }

    /// Per-example output shape.
    pub(super) fn output_shape(&self) -> &[usize] {
        &self.output
    }

    /// Parameter slots in the model's parameter arena (empty for layers without parameters).
    pub(super) fn slots(&self) -> &[ParamSlot] {
        &self.slots
    }

    /// Returns whether training updates this layer's parameters.
    pub(super) fn is_trainable(&self) -> bool {
        match self.kind {
            Kind::Conv2d { trainable, .. }
            | Kind::Depthwise { trainable, .. }
            | Kind::Dense { trainable, .. } => trainable,
            _ => false,
        }
    }

    /// Runs the layer on x `[batch, ..input]` with parameters read from `params`. Returns y
    /// `[batch, ..output]` and what the backward pass needs.
    pub(super) fn forward(
        &self,
        params: &[f32],
        x: &[f32],
        batch: usize,
        pass: Pass,
    ) -> (Vec<f32>, Aux) {
        match self.kind {
            Kind::Conv2d {
                ref spec,
                activation,
                ..
            } => {
                let g = self.conv_geometry(spec, batch);
                let (w, b) = self.kernel_and_bias(params);
                let z = reference::conv2d_forward(&g, x, w, b);
                (self.activate(activation, z), Aux::None)
            }
            Kind::Depthwise {
                ref spec,
                activation,
                ..
            } => {
                let g = self.depthwise_geometry(spec, batch);
                let (w, b) = self.kernel_and_bias(params);
                let z = reference::depthwise_forward(&g, x, w, b);
                (self.activate(activation, z), Aux::None)
            }
            Kind::Dense { activation, .. } => {
                self.dense_forward(params, x, batch, activation, pass)
            }
            Kind::Pool { max, .. } => self.pool_forward(x, batch, max),
            Kind::Flatten => (x.to_vec(), Aux::None),
            Kind::Activation(activation) => {
                if activation == Activation::Softmax && pass.logits {
                    (x.to_vec(), Aux::SoftmaxSkipped)
                } else {
                    (self.activate(activation, x.to_vec()), Aux::None)
                }
            }
            Kind::Dropout { rate, salt } => {
                if !pass.training || rate == 0.0 {
                    return (x.to_vec(), Aux::None);
                }
                let mask = reference::dropout_mask(pass.seed.wrapping_add(salt), x.len(), rate);
                (reference::dropout_forward(x, &mask), Aux::Mask(mask))
            }
        }
    }

    /// Backpropagates dy `[batch, ..output]`: writes the parameter gradients into `grads` (same
    /// layout as the parameter arena) unless the layer is frozen, and returns dx
    /// `[batch, ..input]` when `need_dx`.
    pub(super) fn backward(
        &self,
        params: &[f32],
        saved: Saved,
        dy: &[f32],
        batch: usize,
        grads: &mut [f32],
        need_dx: bool,
    ) -> Option<Vec<f32>> {
        match self.kind {
            Kind::Conv2d {
                ref spec,
                activation,
                trainable,
            } => {
                let g = self.conv_geometry(spec, batch);
                let dz = self.activation_backward(activation, saved.y, dy);
                if trainable {
                    let dw = reference::conv2d_backward_filter(&g, saved.x, &dz);
                    self.write_grads(grads, &dw, &reference::bias_backward(&dz, g.out_c));
                }
                need_dx.then(|| reference::conv2d_backward_input(&g, &dz, self.kernel(params)))
            }
            Kind::Depthwise {
                ref spec,
                activation,
                trainable,
            } => {
                let g = self.depthwise_geometry(spec, batch);
                let dz = self.activation_backward(activation, saved.y, dy);
                if trainable {
                    let dw = reference::depthwise_backward_filter(&g, saved.x, &dz);
                    self.write_grads(grads, &dw, &reference::bias_backward(&dz, g.conv.out_c));
                }
                need_dx.then(|| reference::depthwise_backward_input(&g, &dz, self.kernel(params)))
            }
            Kind::Dense {
                activation,
                trainable,
            } => {
                let dz = match saved.aux {
                    Aux::SoftmaxSkipped => dy.to_vec(),
                    _ => self.activation_backward(activation, saved.y, dy),
                };
                let (inputs, units) = (self.input[0], self.output[0]);
                if trainable {
                    let dw = reference::matmul(saved.x, &dz, inputs, batch, units, true, false);
                    self.write_grads(grads, &dw, &reference::bias_backward(&dz, units));
                }
                need_dx.then(|| {
                    reference::matmul(&dz, self.kernel(params), batch, units, inputs, false, true)
                })
            }
            Kind::Pool { max, .. } if need_dx => {
                let g = self.pool_geometry(batch);
                Some(match saved.aux {
                    Aux::Argmax(argmax) if max => reference::max_pool_backward(&g, dy, argmax),
                    _ => reference::avg_pool_backward(&g, dy),
                })
            }
            Kind::Flatten if need_dx => Some(dy.to_vec()),
            Kind::Activation(activation) if need_dx => Some(match saved.aux {
                Aux::SoftmaxSkipped => dy.to_vec(),
                _ => self.activation_backward(activation, saved.y, dy),
            }),
            Kind::Dropout { .. } if need_dx => Some(match saved.aux {
                Aux::Mask(mask) => reference::dropout_forward(dy, mask),
                _ => dy.to_vec(),
            }),
            _ => None,
        }
    }

    /// Dense forward: `x w + b`, then the activation. A softmax of the last layer is left to the
    /// loss when `pass.logits` is set.
    fn dense_forward(
        &self,
        params: &[f32],
        x: &[f32],
        batch: usize,
        activation: Activation,
        pass: Pass,
    ) -> (Vec<f32>, Aux) {
        let (inputs, units) = (self.input[0], self.output[0]);
        let (w, b) = self.kernel_and_bias(params);
        let mut z = reference::matmul(x, w, batch, inputs, units, false, false);
        reference::add_bias(&mut z, b);
        if activation == Activation::Softmax && pass.logits {
            return (z, Aux::SoftmaxSkipped);
        }
        (self.activate(activation, z), Aux::None)
    }

    fn pool_forward(&self, x: &[f32], batch: usize, max: bool) -> (Vec<f32>, Aux) {
        let g = self.pool_geometry(batch);
        if max {
            let (y, argmax) = reference::max_pool_forward(&g, x);
            (y, Aux::Argmax(argmax))
        } else {
            (reference::avg_pool_forward(&g, x), Aux::None)
        }
    }

    /// Applies `activation` row-wise over the last axis of the output (softmax) or elementwise.
    fn activate(&self, activation: Activation, z: Vec<f32>) -> Vec<f32> {
        match activation {
            Activation::Linear => z,
            act => reference::activation_forward(act, &z, self.row_len()),
        }
    }

    /// Gradient through the layer's activation, from its output y and dy.
    fn activation_backward(&self, activation: Activation, y: &[f32], dy: &[f32]) -> Vec<f32> {
        reference::activation_backward(activation, y, dy, self.row_len())
    }

    fn row_len(&self) -> usize {
        *self.output.last().expect("every output shape has an axis")
    }

    fn conv_geometry(&self, spec: &Conv2dSpec, batch: usize) -> Conv2dGeometry {
        let &[h, w, c] = self.input.as_slice() else {
            unreachable!("build_layers checked that conv2d gets an [H, W, C] input");
        };
        Conv2dGeometry::new(batch, h, w, c, spec).expect("checked when the layer was built")
    }

    fn depthwise_geometry(&self, spec: &DepthwiseSpec, batch: usize) -> DepthwiseGeometry {
        let &[h, w, c] = self.input.as_slice() else {
            unreachable!("build_layers checked that depthwise_conv2d gets an [H, W, C] input");
        };
        DepthwiseGeometry::new(batch, h, w, c, spec).expect("checked when the layer was built")
    }

    fn pool_geometry(&self, batch: usize) -> Pool2dGeometry {
        let Kind::Pool {
            size,
            strides,
            padding,
            ..
        } = self.kind
        else {
            unreachable!("pool_geometry of a layer that does not pool");
        };
        let &[h, w, c] = self.input.as_slice() else {
            unreachable!("build_layers checked that pooling gets an [H, W, C] input");
        };
        Pool2dGeometry::new(batch, h, w, c, size, strides, padding)
            .expect("checked when the layer was built")
    }

    /// Returns the kernel values (the first parameter slot).
    fn kernel<'a>(&self, params: &'a [f32]) -> &'a [f32] {
        slot_values(params, &self.slots[0])
    }

    fn kernel_and_bias<'a>(&self, params: &'a [f32]) -> (&'a [f32], &'a [f32]) {
        (
            slot_values(params, &self.slots[0]),
            slot_values(params, &self.slots[1]),
        )
    }

    fn write_grads(&self, grads: &mut [f32], kernel: &[f32], bias: &[f32]) {
        let [kernel_slot, bias_slot] = &self.slots[..] else {
            unreachable!("layers with parameters have a kernel and a bias");
        };
        grads[kernel_slot.offset..][..kernel_slot.len()].copy_from_slice(kernel);
        grads[bias_slot.offset..][..bias_slot.len()].copy_from_slice(bias);
    }
}

fn pool_kind(config: &PoolConfig, max: bool) -> Kind {
    Kind::Pool {
        max,
        size: config.pool_size,
        strides: config.strides.unwrap_or(config.pool_size),
        padding: config.padding,
    }
}

/// Values of `slot` in a parameter or gradient arena.
pub(super) fn slot_values<'a>(arena: &'a [f32], slot: &ParamSlot) -> &'a [f32] {
    &arena[slot.offset..slot.offset + slot.len()]
}
