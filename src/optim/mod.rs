//! Optimizers: SGD with momentum and Adam. State (velocity or moments) lives on the GPU in arenas
//! shaped like the parameter arena; the per-step scalars are written once per step.

use serde::{Deserialize, Deserializer, Serialize};

use crate::model::Model;
use crate::ops::optim;
use crate::tagged::{self, Fields, Tagged};
use crate::tensor::Tensor;
use crate::{Error, Result};

fn adam_learning_rate() -> f64 {
    0.001
}
fn beta1() -> f64 {
    0.9
}
fn beta2() -> f64 {
    0.999
}
fn epsilon() -> f64 {
    1e-7
}
fn sgd_learning_rate() -> f64 {
    0.01
}

/// Optimizer and hyperparameters (defaults as in Keras). Its JSON is an object with the optimizer
/// in `type` and its hyperparameters; its `Deserialize` reads only JSON.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum OptimizerConfig {
    /// Stochastic gradient descent with momentum.
    Sgd {
        /// Step size; default 0.01.
        learning_rate: f64,
        /// Momentum in [0, 1); default 0 (plain SGD).
        momentum: f64,
    },
    /// Adam (Kingma & Ba, 2015) with bias correction.
    Adam {
        /// Step size; default 0.001.
        learning_rate: f64,
        /// Decay of the first moment; default 0.9.
        beta1: f64,
        /// Decay of the second moment; default 0.999.
        beta2: f64,
        /// Added to the root of the second moment; default 1e-7.
        epsilon: f64,
    },
}

impl Default for OptimizerConfig {
    fn default() -> Self {
        OptimizerConfig::Adam {
            learning_rate: adam_learning_rate(),
            beta1: beta1(),
            beta2: beta2(),
            epsilon: epsilon(),
        }
    }
}

/// The `type` of an [`OptimizerConfig`].
#[derive(Deserialize)]
#[serde(variant_identifier, rename_all = "snake_case")]
pub enum OptimizerType {
    /// [`OptimizerConfig::Sgd`].
    Sgd,
    /// [`OptimizerConfig::Adam`].
    Adam,
}

/// The fields of [`OptimizerConfig::Sgd`], with the same defaults.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SgdFields {
    #[serde(default = "sgd_learning_rate")]
    learning_rate: f64,
    #[serde(default)]
    momentum: f64,
}

/// The fields of [`OptimizerConfig::Adam`], with the same defaults.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AdamFields {
    #[serde(default = "adam_learning_rate")]
    learning_rate: f64,
    #[serde(default = "beta1")]
    beta1: f64,
    #[serde(default = "beta2")]
    beta2: f64,
    #[serde(default = "epsilon")]
    epsilon: f64,
}

impl Tagged for OptimizerConfig {
    type Tag = OptimizerType;
    const EXPECTING: &'static str = "internally tagged enum OptimizerConfig";

    fn from_fields(
        tag: OptimizerType,
        fields: Fields<'_>,
    ) -> std::result::Result<Self, serde_json::Error> {
        Ok(match tag {
            OptimizerType::Sgd => {
                let SgdFields {
                    learning_rate,
                    momentum,
                } = Deserialize::deserialize(fields)?;
                OptimizerConfig::Sgd {
                    learning_rate,
                    momentum,
                }
            }
            OptimizerType::Adam => {
                let AdamFields {
                    learning_rate,
                    beta1,
                    beta2,
                    epsilon,
                } = Deserialize::deserialize(fields)?;
                OptimizerConfig::Adam {
                    learning_rate,
                    beta1,
                    beta2,
                    epsilon,
                }
            }
        })
    }
}

impl<'de> Deserialize<'de> for OptimizerConfig {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        tagged::deserialize(deserializer)
    }
}

impl OptimizerConfig {
    /// The optimizer named `name` (`adam` or `sgd`) with default hyperparameters and the given
    /// learning rate, if any.
    pub fn named(name: &str, learning_rate: Option<f64>) -> Result<Self> {
        let mut config = match name {
            "adam" => OptimizerConfig::default(),
            "sgd" => OptimizerConfig::Sgd {
                learning_rate: sgd_learning_rate(),
                momentum: 0.0,
            },
            _ => {
                return Err(Error::Config(format!(
                    "unknown optimizer {name:?}; choose \"adam\" or \"sgd\""
                )))
            }
        };
        if let Some(lr) = learning_rate {
            match &mut config {
                OptimizerConfig::Sgd { learning_rate, .. } => *learning_rate = lr,
                OptimizerConfig::Adam { learning_rate, .. } => *learning_rate = lr,
            }
        }
        config.validate()?;
        Ok(config)
    }

    /// Checks hyperparameter ranges.
    pub fn validate(&self) -> Result<()> {
        let (lr, betas) = match *self {
            OptimizerConfig::Sgd {
                learning_rate,
                momentum,
            } => (learning_rate, vec![("momentum", momentum)]),
            OptimizerConfig::Adam {
                learning_rate,
                beta1,
                beta2,
                ..
            } => (learning_rate, vec![("beta1", beta1), ("beta2", beta2)]),
        };
        if !(lr.is_finite() && lr > 0.0) {
            return Err(Error::Config(format!(
                "learning rate must be a finite positive number, got {lr}; try 0.001 for Adam or 0.01 for SGD"
            )));
        }
        for (name, value) in betas {
            if !(0.0..1.0).contains(&value) {
                return Err(Error::Config(format!(
                    "{name} must be in [0, 1), got {value}"
                )));
            }
        }
        Ok(())
    }
}

/// Optimizer state for one model.
pub struct Optimizer {
    config: OptimizerConfig,
    /// First moment (Adam) or velocity (SGD), shaped like the parameter arena.
    state_a: Tensor,
    /// Second moment (Adam only).
    state_b: Option<Tensor>,
    /// Updates applied so far (Adam's t after the next update is `steps + 1`).
    steps: u32,
}

impl Optimizer {
    /// Creates zeroed optimizer state for `model`.
    pub fn new(model: &Model, config: OptimizerConfig) -> Result<Self> {
        config.validate()?;
        let gpu = model.gpu();
        let zeros = vec![0.0f32; model.params().len()];
        let state_a = Tensor::from_slice(gpu, &zeros, &[zeros.len()]);
        let state_b = matches!(config, OptimizerConfig::Adam { .. })
            .then(|| Tensor::from_slice(gpu, &zeros, &[zeros.len()]));
        Ok(Self {
            config,
            state_a,
            state_b,
            steps: 0,
        })
    }

    /// Returns `previous`, the state of an earlier run on `model`, when it was made with `config`
    /// for a parameter arena of `model`'s size, so training goes on with its moments and update
    /// count as Keras's optimizer does across `fit` calls. Otherwise creates zeroed state.
    pub fn resume(
        previous: Option<Optimizer>,
        model: &Model,
        config: OptimizerConfig,
    ) -> Result<Self> {
        match previous {
            Some(state)
                if state.config == config && state.state_a.len() == model.params().len() =>
            {
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

    /// Scalars of the next update: `[learning_rate, 1 - beta1^t, 1 - beta2^t]`, with the powers
    /// taken in f64.
    pub fn next_scalars(&self) -> [f32; 3] {
        let t = self.steps as i32 + 1;
        match self.config {
            OptimizerConfig::Sgd { learning_rate, .. } => [learning_rate as f32, 1.0, 1.0],
            OptimizerConfig::Adam {
                learning_rate,
                beta1,
                beta2,
                ..
            } => [
                learning_rate as f32,
                (1.0 - beta1.powi(t)) as f32,
                (1.0 - beta2.powi(t)) as f32,
            ],
        }
    }

    /// Records the update of every trainable range of `model`; `step` contains the scalars of
    /// [`Optimizer::next_scalars`], already written.
    pub fn update(&mut self, model: &Model, step: &Tensor) {
        let gpu = model.gpu();
        for (start, len) in model.trainable_ranges() {
            let view = |t: &Tensor| t.view(start, &[len]);
            let (param, grad, a) = (
                view(model.params()),
                view(model.grads()),
                view(&self.state_a),
            );
            match self.config {
                OptimizerConfig::Sgd { momentum, .. } => {
                    optim::sgd_update(gpu, [&param, &grad, &a], step, momentum as f32)
                }
                OptimizerConfig::Adam {
                    beta1,
                    beta2,
                    epsilon,
                    ..
                } => {
                    let b = view(self.state_b.as_ref().expect("Adam has a second moment"));
                    optim::adam_update(gpu, [&param, &grad, &a, &b], step, beta1, beta2, epsilon)
                }
            }
        }
        self.steps += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// [`OptimizerConfig`] as serde derives it, to compare with [`crate::tagged`]. Its name is in
    /// the derived code's messages.
    mod derived {
        use super::*;

        #[derive(Serialize, Deserialize)]
        #[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
        pub enum OptimizerConfig {
            Sgd {
                #[serde(default = "sgd_learning_rate")]
                learning_rate: f64,
                #[serde(default)]
                momentum: f64,
            },
            Adam {
                #[serde(default = "adam_learning_rate")]
                learning_rate: f64,
                #[serde(default = "beta1")]
                beta1: f64,
                #[serde(default = "beta2")]
                beta2: f64,
                #[serde(default = "epsilon")]
                epsilon: f64,
            },
        }
    }

    #[test]
    fn optimizer_json_matches_derived_serde() {
        tagged::assert_matches_derived::<OptimizerConfig, derived::OptimizerConfig>(&[
            r#"{"type": "adam"}"#,
            r#"{"learning_rate": 0.01, "type": "adam", "beta1": 0.8, "beta2": 0.99,
                "epsilon": 1e-8}"#,
            r#"{"type": "sgd"}"#,
            r#"{"type": "sgd", "learning_rate": 0.1, "momentum": 0.9}"#,
            r#"{"type": 1}"#,
            r#"{"type": 2}"#,
            r#"{"type": "rmsprop"}"#,
            r#"{"learning_rate": 0.1}"#,
            r#"{"type": "sgd", "type": "adam"}"#,
            r#"{"type": "sgd", "beta1": 0.9}"#,
            r#"{"type": "adam", "momentum": 0.9}"#,
            r#"{"type": "adam", "learning_rate": "fast"}"#,
            r#"{"type": "adam", "learning_rate": 0.1, "learning_rate": 0.2}"#,
            r#"{"type": "sgd", "momentum": null}"#,
            r#""adam""#,
        ]);
    }

    #[test]
    fn infinite_learning_rate_rejected() {
        for lr in [f64::INFINITY, f64::NAN, 0.0, -0.5] {
            let config = OptimizerConfig::Sgd {
                learning_rate: lr,
                momentum: 0.0,
            };
            let error = config.validate().unwrap_err().to_string();
            assert!(error.contains("finite positive number"), "{lr}: {error}");
            assert!(error.contains(&format!("got {lr}")), "{lr}: {error}");
        }
    }
}
