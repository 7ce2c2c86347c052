//! [`Trainer`]: the object the browser worker drives. It owns the device, the embedded digits,
//! and the current model, which is either idle or inside a training run. Training advances a
//! few steps per [`Trainer::run`] call, so the worker stays responsive and can pause between
//! calls. Every method that fails leaves the current model as it was.

use wasm_bindgen::prelude::*;

#[cfg(feature = "pages")]
mod pages;

use super::backend::{Engine, Net, NetRef, OptimizerState, Run};
use super::{from_js, js_error, layer_rows, to_js};
use crate::data::{DataSplit, Dataset};
use crate::json::{self, from_json, to_json, ToJson};
use crate::model::ModelConfig;
use crate::ops::augment::AugmentConfig;
use crate::optim::OptimizerConfig;
use crate::train::{BatchReport, RunOutcome, TrainConfig};
use crate::Error;

/// Examples per batch when evaluating or predicting (no gradients, so larger than training).
const EVAL_BATCH: usize = 250;

/// Settings of [`Trainer::start`], sent by the page.
struct StartSettings {
    /// Model to build; `None` continues training the current model.
    model: Option<ModelConfig>,
    /// Optimizer and its hyperparameters.
    optimizer: OptimizerConfig,
    /// Epochs, batch size, validation split, seed.
    train: TrainConfig,
    /// Random warp of the training images; default none.
    augment: AugmentConfig,
}

from_json!(StartSettings {
    model = None,
    optimizer,
    train,
    augment = AugmentConfig::default(),
});

/// Outcome of one [`Trainer::run`] call.
enum RunResult {
    /// Steps ran; the metrics of the epoch so far and of each batch the call ran.
    Steps {
        progress: crate::train::StepReport,
        batches: Vec<BatchReport>,
    },
    /// An epoch ended; its report and the metrics of each batch the call ran.
    Epoch {
        report: crate::train::EpochReport,
        batches: Vec<BatchReport>,
    },
    /// Every epoch has run; the model is idle again.
    Done,
}

impl ToJson for RunResult {
    /// Writes an object with the variant in `kind` (`steps`, `epoch` or `done`) and its fields.
    fn write_json(&self, out: &mut String) {
        match self {
            RunResult::Steps { progress, batches } => json::write_object(
                out,
                &[
                    ("kind", &"steps"),
                    ("progress", progress),
                    ("batches", batches),
                ],
            ),
            RunResult::Epoch { report, batches } => json::write_object(
                out,
                &[("kind", &"epoch"), ("report", report), ("batches", batches)],
            ),
            RunResult::Done => json::write_object(out, &[("kind", &"done")]),
        }
    }
}

/// Result of [`Trainer::start`].
struct StartResult<'a> {
    steps_per_epoch: usize,
    /// Layer table of the model, as text.
    summary: String,
    config: &'a ModelConfig,
}

to_json!(StartResult<'_> {
    steps_per_epoch,
    summary,
    config,
});

/// Result of [`Trainer::load`].
struct ModelInfo<'a> {
    /// Layer table of the model, as text.
    summary: String,
    config: &'a ModelConfig,
}

to_json!(ModelInfo<'_> {
    summary,
    config,
});

enum State {
    Empty,
    /// A model not in training, with the optimizer state of its last run, if any.
    Idle(Net, Option<OptimizerState>),
    /// A run in progress, boxed because a session is much larger than the other states.
    Training(Box<Run>),
}

/// Trains and runs models for the page, on WebGPU or, without it, on the CPU.
#[wasm_bindgen]
pub struct Trainer {
    engine: Engine,
    fallback_reason: Option<String>,
    data: Option<DataSplit>,
    state: State,
}

#[wasm_bindgen]
impl Trainer {
    /// Opens a WebGPU device. Raises the adapter error when the browser has no WebGPU.
    #[cfg(feature = "webgpu")]
    pub async fn create() -> Result<Trainer, JsError> {
        let engine = Engine::webgpu().await.map_err(js_error)?;
        Ok(Trainer::with_engine(engine, None))
    }

    /// Creates a trainer on the CPU. `reason` explains why WebGPU is not used, for the page.
    #[cfg(feature = "cpu")]
    #[wasm_bindgen(js_name = createCpu)]
    pub fn create_cpu(reason: String) -> Trainer {
        log::warn!("WebGPU unavailable ({reason}); training on the CPU");
        Trainer::with_engine(Engine::Cpu, Some(reason))
    }

    /// Returns whether a training run is in progress (running or paused).
    #[wasm_bindgen(getter, js_name = isTraining)]
    pub fn is_training(&self) -> bool {
        matches!(self.state, State::Training(_))
    }

    /// `webgpu` or `cpu`.
    #[wasm_bindgen(getter)]
    pub fn backend(&self) -> String {
        self.engine.name().to_string()
    }

    /// Adapter name and driver.
    #[wasm_bindgen(getter)]
    pub fn adapter(&self) -> String {
        self.engine.adapter()
    }

    /// Returns why the CPU path is in use, or `None` on WebGPU.
    #[wasm_bindgen(getter, js_name = fallbackReason)]
    pub fn fallback_reason(&self) -> Option<String> {
        self.fallback_reason.clone()
    }

    /// Replaces the data with `images` (NHWC, flat, `shape` = [height, width, channels] per
    /// image) and their class `labels`, all for training; there is no test part. Raises on a
    /// label not below `classes`, a partial image or a non-finite pixel.
    #[wasm_bindgen(js_name = setTrainingData)]
    pub fn set_training_data(
        &mut self,
        images: Vec<f32>,
        labels: Vec<u32>,
        shape: Vec<usize>,
        classes: usize,
    ) -> Result<(), JsError> {
        let train = dataset("the training data", images, labels, &shape, classes)?;
        let test = train.subset(&[]);
        self.data = Some(DataSplit { train, test });
        Ok(())
    }

    /// Evaluates the current model on `images` with `labels` (as in
    /// [`Trainer::set_training_data`]). Returns `{loss, accuracy, confusion, per_class,
    /// predictions}`.
    #[wasm_bindgen(js_name = evaluateOn)]
    pub async fn evaluate_on(
        &self,
        images: Vec<f32>,
        labels: Vec<u32>,
        shape: Vec<usize>,
    ) -> Result<JsValue, JsError> {
        let net = self.net()?;
        let classes = layer_rows(net.config())
            .map_err(js_error)?
            .last()
            .map_or(0, |row| row.output_shape[0]);
        let data = dataset("the evaluation data", images, labels, &shape, classes)?;
        check_fits(net.config(), &data).map_err(js_error)?;
        Ok(to_js(
            &net.evaluate(&data, EVAL_BATCH).await.map_err(js_error)?,
        ))
    }

    /// Rebuilds the current model from `config` with its current weights, for example to
    /// freeze or unfreeze layers. Raises, keeping the model, when a parameter's shape changes.
    #[wasm_bindgen(js_name = setConfig)]
    pub async fn set_config(&mut self, config: JsValue) -> Result<(), JsError> {
        let config: ModelConfig = from_js(&config, "model config")?;
        if matches!(self.state, State::Training(_)) {
            return Err(js_error("a training run is in progress; stop it first"));
        }
        let weights = self.net()?.weights().await.map_err(js_error)?;
        let bytes = crate::io::encode(&config, &weights).map_err(js_error)?;
        let net = self
            .engine
            .load(&bytes, "the reconfigured model")
            .map_err(js_error)?;
        self.state = State::Idle(net, None);
        Ok(())
    }

    /// Starts a training run with `{model, optimizer, train}`. A `model` config builds a new
    /// model; `model: null` continues training the current one. With the same `optimizer`
    /// config the continued run goes on with the optimizer state (moments and update count) of
    /// the last run, as Keras does across `fit` calls. A changed config, `setConfig` or `load`
    /// starts fresh state. Returns `{steps_per_epoch, summary, config}`.
    pub async fn start(&mut self, settings: JsValue) -> Result<JsValue, JsError> {
        let settings: StartSettings = from_js(&settings, "training settings")?;
        settings.train.validate().map_err(js_error)?;
        settings.optimizer.validate().map_err(js_error)?;
        // Borrow the field directly, so `self.state` stays free to change below.
        let data = match &self.data {
            Some(split) => &split.train,
            None => return Err(js_error("the digits are not loaded yet")),
        };
        let (height, width) = (data.height, data.width);
        settings.augment.validate(height, width).map_err(js_error)?;
        if matches!(self.state, State::Training(_)) {
            return Err(js_error("a training run is in progress; stop it first"));
        }

        let mut run = match settings.model {
            Some(config) => {
                check_fits(&config, data).map_err(js_error)?;
                let net = self
                    .engine
                    .build(config, settings.train.seed)
                    .map_err(js_error)?;
                self.engine
                    .start(net, None, &settings.optimizer, data, &settings.train)
                    .map_err(js_error)?
            }
            None => {
                let State::Idle(net, optimizer) = std::mem::replace(&mut self.state, State::Empty)
                else {
                    return Err(js_error("there is no model to continue; train or load one"));
                };
                // `Engine::start` consumes the model even when it fails, so keep a copy.
                let backup = match net.as_ref().to_bytes().await {
                    Ok(bytes) => bytes,
                    Err(e) => {
                        self.state = State::Idle(net, optimizer);
                        return Err(js_error(e));
                    }
                };
                match self
                    .engine
                    .start(net, optimizer, &settings.optimizer, data, &settings.train)
                {
                    Ok(run) => run,
                    Err(e) => {
                        // NOTE: the copy contains the weights only, so the optimizer state is lost.
                        let restored = self.engine.load(&backup, "the model before training");
                        self.state = State::Idle(restored.map_err(js_error)?, None);
                        return Err(js_error(e));
                    }
                }
            }
        };
        run.set_augment(settings.augment).map_err(js_error)?;
        log::info!(
            "training started on {} ({} steps per epoch)",
            self.engine.name(),
            run.steps_per_epoch()
        );
        let result = StartResult {
            steps_per_epoch: run.steps_per_epoch(),
            summary: run.net().summary(),
            config: run.net().config(),
        };
        let result = to_js(&result);
        self.state = State::Training(Box::new(run));
        Ok(result)
    }

    /// Runs up to `steps` training steps and waits for them to finish. Returns
    /// `{kind: "steps", progress, batches}`, `{kind: "epoch", report, batches}` or
    /// `{kind: "done"}`, where `batches` lists `{batch, loss, accuracy}` of each step the call
    /// ran (`batch` counts from 0 in its epoch). After `done` (or an error) the model is idle
    /// and kept. After a diverged loss it is back at its weights from before that epoch, and
    /// a continued run starts with fresh optimizer state.
    pub async fn run(&mut self, steps: u32) -> Result<JsValue, JsError> {
        let State::Training(run) = &mut self.state else {
            return Err(js_error(
                "no training run is in progress; press Train first",
            ));
        };
        let outcome = match run.run(steps as usize).await {
            Ok(RunOutcome::Steps { batches }) => Ok(RunResult::Steps {
                progress: run.progress(),
                batches,
            }),
            Ok(RunOutcome::Epoch { report, batches }) => Ok(RunResult::Epoch { report, batches }),
            Ok(RunOutcome::Done) => Ok(RunResult::Done),
            Err(e) => Err(e),
        };
        if !matches!(
            outcome,
            Ok(RunResult::Steps { .. } | RunResult::Epoch { .. })
        ) {
            self.stop();
        }
        if let (Err(Error::Diverged { .. }), State::Idle(_, optimizer)) =
            (&outcome, &mut self.state)
        {
            *optimizer = None;
        }
        Ok(to_js(&outcome.map_err(js_error)?))
    }

    /// Ends the training run, keeping the model as trained so far and its optimizer state.
    pub fn stop(&mut self) {
        if let State::Training(run) = std::mem::replace(&mut self.state, State::Empty) {
            let epochs = crate::error::counted(run.reports().len(), "epoch");
            log::info!("training stopped after {epochs}");
            let (net, optimizer) = run.finish();
            self.state = State::Idle(net, Some(optimizer));
        }
    }

    /// Class probabilities of `images` (whole images, HWC, flat).
    pub async fn predict(&self, images: Vec<f32>) -> Result<Vec<f32>, JsError> {
        self.net()?
            .predict(&images, EVAL_BATCH)
            .await
            .map_err(js_error)
    }

    /// Serialises the current model (config and weights) as a webcnn safetensors file.
    pub async fn save(&self) -> Result<Vec<u8>, JsError> {
        self.net()?.to_bytes().await.map_err(js_error)
    }

    /// Replaces the current model with the one in `bytes` (a file written by [`Trainer::save`];
    /// `name` labels it in errors). Raises, keeping the current model, when the file is corrupt,
    /// truncated, or made for another input shape. Returns `{config, summary}`.
    pub fn load(&mut self, bytes: &[u8], name: &str) -> Result<JsValue, JsError> {
        if matches!(self.state, State::Training(_)) {
            return Err(js_error(
                "a training run is in progress; stop it before loading a model",
            ));
        }
        let net = self.engine.load(bytes, name).map_err(js_error)?;
        if let Some(data) = &self.data {
            check_fits(net.as_ref().config(), &data.train).map_err(|e| {
                js_error(Error::ModelFile {
                    path: name.to_string(),
                    message: e.to_string(),
                })
            })?;
        }
        let result = to_js(&ModelInfo {
            summary: net.as_ref().summary(),
            config: net.as_ref().config(),
        });
        log::info!("loaded model {name}");
        self.state = State::Idle(net, None);
        Ok(result)
    }

    /// Returns whether a model is built (idle or training).
    #[wasm_bindgen(getter, js_name = hasModel)]
    pub fn has_model(&self) -> bool {
        !matches!(self.state, State::Empty)
    }
}

impl Trainer {
    fn with_engine(engine: Engine, fallback_reason: Option<String>) -> Trainer {
        log::info!("trainer on {}: {}", engine.name(), engine.adapter());
        Trainer {
            engine,
            fallback_reason,
            data: None,
            state: State::Empty,
        }
    }

    fn net(&self) -> Result<NetRef<'_>, JsError> {
        match &self.state {
            State::Empty => Err(js_error("there is no model yet; train or load one")),
            State::Idle(net, _) => Ok(net.as_ref()),
            State::Training(run) => Ok(run.net()),
        }
    }
}

/// Builds a dataset from flat NHWC `images` of `shape` [height, width, channels] and `labels`.
fn dataset(
    name: &str,
    images: Vec<f32>,
    labels: Vec<u32>,
    shape: &[usize],
    classes: usize,
) -> Result<Dataset, JsError> {
    let &[height, width, channels] = shape else {
        return Err(js_error(format!(
            "{name} has image shape {shape:?}; pass [height, width, channels]"
        )));
    };
    Dataset::from_parts(name, images, labels, height, width, channels, classes).map_err(js_error)
}

/// Checks that a model built from `config` takes the images of `data` and has a score for each
/// of its classes.
fn check_fits(config: &ModelConfig, data: &Dataset) -> crate::Result<()> {
    let shape = [data.height, data.width, data.channels];
    if config.input_shape != shape {
        return Err(Error::Config(format!(
            "the model takes {:?} images but the digits are {shape:?}; use a model with \
             input_shape {shape:?}",
            config.input_shape
        )));
    }
    let rows = layer_rows(config)?;
    let classes = rows.last().map_or(0, |row| row.output_shape[0]);
    if classes < data.num_classes {
        return Err(Error::Config(format!(
            "the model's last layer has {classes} units but the digits have {} classes; set its \
             units to {}",
            data.num_classes, data.num_classes
        )));
    }
    Ok(())
}
