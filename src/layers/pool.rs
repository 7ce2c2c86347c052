//! MaxPool2d and AvgPool2d layers.

use super::{batch_of, batched, Layer, Pass, Saved};
use crate::ops::{pool, Pool2dGeometry};
use crate::tensor::Tensor;
use crate::{Error, Result};

use super::config::PoolConfig;

pub(super) struct Pool2d {
    max: bool,
    pool_size: [usize; 2],
    strides: [usize; 2],
    padding: crate::ops::Padding,
    input: [usize; 3],
    output: Vec<usize>,
}

impl Pool2d {
    pub(super) fn new(c: &PoolConfig, max: bool, index: usize, input: &[usize]) -> Result<Self> {
        let name = if max { "max_pool2d" } else { "avg_pool2d" };
        let &[h, w, channels] = input else {
            return Err(Error::Config(format!(
                "layer {index} ({name}) needs an [height, width, channels] input, got {input:?}"
            )));
        };
        let strides = c.strides.unwrap_or(c.pool_size);
        if c.pool_size.contains(&0) || strides.contains(&0) {
            return Err(Error::Config(format!(
                "layer {index} ({name}): pool_size and strides must be at least 1, got {:?} and {strides:?}",
                c.pool_size
            )));
        }
        let g = Pool2dGeometry::new(1, h, w, channels, c.pool_size, strides, c.padding)
            .ok_or_else(|| {
                Error::Config(format!(
                    "layer {index} ({name}): window {:?} does not fit the {h}x{w} input (the image \
                     shrinks below 1x1); remove a pooling or conv layer or use padding \"same\"",
                    c.pool_size
                ))
            })?;
        Ok(Self {
            max,
            pool_size: c.pool_size,
            strides,
            padding: c.padding,
            input: [h, w, channels],
            output: vec![g.out_h, g.out_w, channels],
        })
    }

    fn geometry(&self, batch: usize) -> Pool2dGeometry {
        let [h, w, c] = self.input;
        Pool2dGeometry::new(batch, h, w, c, self.pool_size, self.strides, self.padding)
            .expect("checked when the layer was built")
    }
}

impl Layer for Pool2d {
    fn output_shape(&self) -> &[usize] {
        &self.output
    }

    fn forward(&self, pass: &Pass, x: &Tensor, _logits: bool) -> (Tensor, Saved) {
        let g = self.geometry(batch_of(x, &self.input));
        let shape = batched(g.batch, &self.output);
        if self.max {
            let (y, argmax) = pool::max_pool_forward(pass.gpu, &g, x);
            let y = y.reshape(&shape);
            let saved = Saved {
                aux: Some(argmax),
                ..Saved::default()
            };
            (y, saved)
        } else {
            (
                pool::avg_pool_forward(pass.gpu, &g, x).reshape(&shape),
                Saved::default(),
            )
        }
    }

    fn backward(&self, pass: &Pass, saved: &Saved, dy: &Tensor, need_dx: bool) -> Option<Tensor> {
        if !need_dx {
            return None;
        }
        let g = self.geometry(batch_of(dy, &self.output));
        let dx = if self.max {
            let argmax = saved.aux.as_ref().expect("max pooling saves its argmax");
            pool::max_pool_backward(pass.gpu, &g, dy, argmax)
        } else {
            pool::avg_pool_backward(pass.gpu, &g, dy)
        };
        Some(dx.reshape(&batched(g.batch, &self.input)))
    }
}
