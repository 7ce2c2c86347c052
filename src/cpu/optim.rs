//! Optimizer state of a [`CpuModel`], updated through [`crate::reference::optim`] with the
//! rounding of the GPU update.

use crate::optim::OptimizerConfig;
use crate::reference::{adam_update, sgd_update, AdamHyper, SgdHyper};
use crate::Result;

use super::CpuModel;

/// SGD velocity or Adam moments, shaped like the model's parameter arena.
pub struct CpuOptimizer {
    config: OptimizerConfig,
    /// First moment (Adam) or velocity (SGD).
    first: Vec<f32>,
    /// Second moment (Adam only; empty for SGD).
    second: Vec<f32>,
    /// Updates applied so far (Adam's t of the next update is `steps + 1`).
    steps: u32,
}

impl CpuOptimizer {
    /// Creates zeroed optimizer state for `model`, after checking the hyperparameters.
    pub fn new(model: &CpuModel, config: OptimizerConfig) -> Result<Self> {
        config.validate()?;
        let len = model.params().len();
        let second = match config {
            OptimizerConfig::Adam { .. } => vec![0.0; len],
            OptimizerConfig::Sgd { .. } => Vec::new(),
        };
        Ok(Self {
            config,
            first: vec![0.0; len],
            second,
            steps: 0,
        })
    }

    /// Returns `previous`, the state of an earlier run on `model`, when it was made with `config`
    /// for `model`'s parameter count, as [`crate::optim::Optimizer::resume`] does on the GPU.
    /// Otherwise creates zeroed state.
    pub fn resume(
        previous: Option<CpuOptimizer>,
        model: &CpuModel,
        config: OptimizerConfig,
    ) -> Result<Self> {
        match previous {
            Some(state) if state.config == config && state.first.len() == model.params().len() => {
                Ok(state)
            }
            _ => Self::new(model, config),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &OptimizerConfig {
        &self.config
    }

    /// Updates applied so far.
    pub fn steps(&self) -> u32 {
        self.steps
    }

    /// Updates every trainable parameter of `model` from `grads` (laid out as the parameter
    /// arena, from [`CpuModel::backward`]). Frozen parameters and their state stay unchanged.
    pub fn update(&mut self, model: &mut CpuModel, grads: &[f32]) {
        assert_eq!(
            grads.len(),
            self.first.len(),
            "update: gradient arena length"
        );
        let ranges = model.trainable_ranges();
        let params = model.params_mut();
        let step = self.steps + 1;
        for (start, len) in ranges {
            let range = start..start + len;
            let (p, g) = (&mut params[range.clone()], &grads[range.clone()]);
            match self.config {
                OptimizerConfig::Sgd {
                    learning_rate,
                    momentum,
                } => {
                    let hyper = SgdHyper {
                        learning_rate: learning_rate as f32,
                        momentum: momentum as f32,
                    };
                    sgd_update(p, g, &mut self.first[range], &hyper);
                }
                OptimizerConfig::Adam {
                    learning_rate,
                    beta1,
                    beta2,
                    epsilon,
                } => {
                    let hyper = AdamHyper {
                        learning_rate,
                        beta1,
                        beta2,
                        epsilon,
                    };
                    let (m, v) = (&mut self.first[range.clone()], &mut self.second[range]);
                    adam_update(p, g, m, v, &hyper, step);
                }
            }
        }
        self.steps = step;
    }
}
