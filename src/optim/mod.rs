//! Optimizers: SGD with momentum and Adam. State (velocity or moments) lives on the GPU in arenas
//! shaped like the parameter arena; the per-step scalars are written once per step.

use crate::json::{self, from_json, to_json, FromJson, Json, JsonResult, ToJson};
use crate::model::Model;
use crate::number::Shortest;
use crate::ops::optim;
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
/// in `type` and its hyperparameters.
#[derive(Clone, Debug, PartialEq)]
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

/// The fields of [`OptimizerConfig::Sgd`].
struct SgdFields {
    learning_rate: f64,
    momentum: f64,
}

to_json!(SgdFields {
    learning_rate,
    momentum
});
from_json!(SgdFields {
    learning_rate = sgd_learning_rate(),
    momentum = 0.0,
});

/// The fields of [`OptimizerConfig::Adam`].
struct AdamFields {
    learning_rate: f64,
    beta1: f64,
    beta2: f64,
    epsilon: f64,
}

to_json!(AdamFields {
    learning_rate,
    beta1,
    beta2,
    epsilon
});
from_json!(AdamFields {
    learning_rate = adam_learning_rate(),
    beta1 = beta1(),
    beta2 = beta2(),
    epsilon = epsilon(),
});

impl FromJson for OptimizerConfig {
    fn from_json(value: &Json) -> JsonResult<Self> {
        let (tag, fields) = json::untag(value, &["sgd", "adam"])?;
        if tag == "sgd" {
            let SgdFields {
                learning_rate,
                momentum,
            } = SgdFields::from_json(&fields)?;
            return Ok(OptimizerConfig::Sgd {
                learning_rate,
                momentum,
            });
        }
        let AdamFields {
            learning_rate,
            beta1,
            beta2,
            epsilon,
        } = AdamFields::from_json(&fields)?;
        Ok(OptimizerConfig::Adam {
            learning_rate,
            beta1,
            beta2,
            epsilon,
        })
    }
}

impl ToJson for OptimizerConfig {
    fn write_json(&self, out: &mut String) {
        match *self {
            OptimizerConfig::Sgd {
                learning_rate,
                momentum,
            } => {
                let fields = SgdFields {
                    learning_rate,
                    momentum,
                };
                json::write_tagged(out, "sgd", &fields);
            }
            OptimizerConfig::Adam {
                learning_rate,
                beta1,
                beta2,
                epsilon,
            } => {
                let fields = AdamFields {
                    learning_rate,
                    beta1,
                    beta2,
                    epsilon,
                };
                json::write_tagged(out, "adam", &fields);
            }
        }
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
                "learning rate must be a finite positive number, got {}; try 0.001 for Adam or 0.01 for SGD",
                Shortest(lr)
            )));
        }
        for (name, value) in betas {
            if !(0.0..1.0).contains(&value) {
                return Err(Error::Config(format!(
                    "{name} must be in [0, 1), got {}",
                    Shortest(value)
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

    #[test]
    fn optimizer_json_round_trips_with_defaults() {
        let adam: OptimizerConfig = json::from_str(r#"{"type": "adam"}"#).unwrap();
        assert_eq!(adam, OptimizerConfig::default());
        let sgd = OptimizerConfig::Sgd {
            learning_rate: 0.1,
            momentum: 0.9,
        };
        let text = json::to_string(&sgd);
        assert_eq!(text, r#"{"type":"sgd","learning_rate":0.1,"momentum":0.9}"#);
        assert_eq!(json::from_str::<OptimizerConfig>(&text).unwrap(), sgd);
        let written = json::to_string(&OptimizerConfig::default());
        assert_eq!(
            written,
            r#"{"type":"adam","learning_rate":0.001,"beta1":0.9,"beta2":0.999,"epsilon":0.0000001}"#
        );
    }

    #[test]
    fn bad_optimizer_json_names_what_failed() {
        let cases = [
            (
                r#"{"type": "rmsprop"}"#,
                "type: unknown variant `rmsprop`, expected one of `sgd`, `adam`",
            ),
            (r#"{"learning_rate": 0.1}"#, "missing field `type`"),
            (
                r#"{"type": "sgd", "beta1": 0.9}"#,
                "unknown field `beta1`, expected one of `learning_rate`, `momentum`",
            ),
            (
                r#"{"type": "adam", "learning_rate": "fast"}"#,
                "learning_rate: expected a number, got the string \"fast\"",
            ),
            (
                r#"{"type": "sgd", "momentum": null}"#,
                "momentum: expected a number, got null",
            ),
        ];
        for (text, expected) in cases {
            let error = json::from_str::<OptimizerConfig>(text)
                .unwrap_err()
                .to_string();
            assert_eq!(error, expected, "{text}");
        }
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
