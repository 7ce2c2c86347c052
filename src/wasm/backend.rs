//! The device a [`super::Trainer`] trains on: WebGPU through [`crate::gpu::Gpu`], or the CPU
//! reference path when the browser has no usable WebGPU adapter. Each enum forwards to the
//! matching engine type, so the trainer is written once for both. The Cargo features `webgpu`
//! and `cpu` keep the variants of each engine, so a module can carry one engine or both.

#[cfg(feature = "webgpu")]
use std::rc::Rc;

#[cfg(feature = "cpu")]
use crate::cpu::{self, CpuModel, CpuOptimizer, CpuSession};
use crate::data::Dataset;
#[cfg(feature = "webgpu")]
use crate::gpu::Gpu;
use crate::io;
#[cfg(feature = "webgpu")]
use crate::model::Model;
use crate::model::ModelConfig;
use crate::ops::augment::AugmentConfig;
#[cfg(feature = "webgpu")]
use crate::optim::Optimizer;
use crate::optim::OptimizerConfig;
#[cfg(feature = "webgpu")]
use crate::train::{self, Session};
use crate::train::{EpochReport, Evaluation, RunOutcome, StepReport, TrainConfig};
use crate::Result;

/// Device that builds and trains the models.
pub enum Engine {
    /// A WebGPU device.
    #[cfg(feature = "webgpu")]
    Gpu(Rc<Gpu>),
    /// The CPU reference ops, on the worker's thread.
    #[cfg(feature = "cpu")]
    Cpu,
}

/// A built model that is not training.
pub enum Net {
    /// Parameters on the GPU.
    #[cfg(feature = "webgpu")]
    Gpu(Model),
    /// Parameters in wasm memory.
    #[cfg(feature = "cpu")]
    Cpu(CpuModel),
}

/// A borrowed model, idle or inside a training session.
#[derive(Clone, Copy)]
pub enum NetRef<'a> {
    /// Parameters on the GPU.
    #[cfg(feature = "webgpu")]
    Gpu(&'a Model),
    /// Parameters in wasm memory.
    #[cfg(feature = "cpu")]
    Cpu(&'a CpuModel),
}

/// Optimizer state kept from a finished run, for the next run on the same model.
pub enum OptimizerState {
    /// Moments or velocity on the GPU.
    #[cfg(feature = "webgpu")]
    Gpu(Optimizer),
    /// Moments or velocity in wasm memory.
    #[cfg(feature = "cpu")]
    Cpu(CpuOptimizer),
}

/// A training run in progress.
pub enum Run {
    /// Training on the GPU.
    #[cfg(feature = "webgpu")]
    Gpu(Session),
    /// Training on the CPU.
    #[cfg(feature = "cpu")]
    Cpu(CpuSession),
}

impl Engine {
    /// Opens a WebGPU device. Fails with the adapter error when the browser has no WebGPU.
    #[cfg(feature = "webgpu")]
    pub async fn webgpu() -> Result<Engine> {
        Ok(Engine::Gpu(Rc::new(super::open_gpu().await?)))
    }

    /// Short name shown on the page: `webgpu` or `cpu`.
    pub fn name(&self) -> &'static str {
        match self {
            #[cfg(feature = "webgpu")]
            Engine::Gpu(_) => "webgpu",
            #[cfg(feature = "cpu")]
            Engine::Cpu => "cpu",
        }
    }

    /// Adapter description, for the page's status line.
    pub fn adapter(&self) -> String {
        match self {
            #[cfg(feature = "webgpu")]
            Engine::Gpu(gpu) => {
                let info = &gpu.info;
                match info.driver_info.as_str() {
                    "" => info.name.trim().to_string(),
                    driver => format!("{} ({driver})", info.name).trim().to_string(),
                }
            }
            #[cfg(feature = "cpu")]
            Engine::Cpu => "WebAssembly on the CPU".to_string(),
        }
    }

    /// Buffers the engine has created (zero on the CPU).
    #[cfg(feature = "pages")]
    pub fn buffer_stats(&self) -> crate::gpu::BufferStats {
        match self {
            #[cfg(feature = "webgpu")]
            Engine::Gpu(gpu) => gpu.buffer_stats(),
            #[cfg(feature = "cpu")]
            Engine::Cpu => crate::gpu::BufferStats::default(),
        }
    }

    /// Builds `config` with weights drawn from `seed`.
    pub fn build(&self, config: ModelConfig, seed: u64) -> Result<Net> {
        match self {
            #[cfg(feature = "webgpu")]
            Engine::Gpu(gpu) => Ok(Net::Gpu(Model::new(gpu.clone(), config, seed)?)),
            #[cfg(feature = "cpu")]
            Engine::Cpu => Ok(Net::Cpu(CpuModel::new(config, seed)?)),
        }
    }

    /// Builds a model from a file written by [`NetRef::to_bytes`]; `source` names it in errors.
    pub fn load(&self, bytes: &[u8], source: &str) -> Result<Net> {
        match self {
            #[cfg(feature = "webgpu")]
            Engine::Gpu(gpu) => Ok(Net::Gpu(io::from_bytes(gpu.clone(), bytes, source)?)),
            #[cfg(feature = "cpu")]
            Engine::Cpu => Ok(Net::Cpu(CpuModel::from_bytes(bytes, source)?)),
        }
    }

    /// Starts training `net` on `data`. The run goes on with `previous`, the optimizer state of
    /// the previous run on `net`, when it has the same `optimizer` config, and starts fresh state
    /// otherwise. On error the model is dropped, so callers keep a copy.
    pub fn start(
        &self,
        net: Net,
        previous: Option<OptimizerState>,
        optimizer: &OptimizerConfig,
        data: &Dataset,
        config: &TrainConfig,
    ) -> Result<Run> {
        match net {
            #[cfg(feature = "webgpu")]
            Net::Gpu(model) => {
                let previous = match previous {
                    Some(OptimizerState::Gpu(state)) => Some(state),
                    _ => None,
                };
                let optimizer = Optimizer::resume(previous, &model, optimizer.clone())?;
                log_resumed(optimizer.steps());
                Ok(Run::Gpu(Session::new(model, optimizer, data, config)?))
            }
            #[cfg(feature = "cpu")]
            Net::Cpu(model) => {
                let previous = match previous {
                    Some(OptimizerState::Cpu(state)) => Some(state),
                    _ => None,
                };
                let optimizer = CpuOptimizer::resume(previous, &model, optimizer.clone())?;
                log_resumed(optimizer.steps());
                let session = CpuSession::with_optimizer(model, optimizer, data, config)?;
                Ok(Run::Cpu(session))
            }
        }
    }
}

impl Net {
    /// Borrows the model.
    pub fn as_ref(&self) -> NetRef<'_> {
        match self {
            #[cfg(feature = "webgpu")]
            Net::Gpu(model) => NetRef::Gpu(model),
            #[cfg(feature = "cpu")]
            Net::Cpu(model) => NetRef::Cpu(model),
        }
    }
}

impl<'a> NetRef<'a> {
    /// Returns the config the model was built from.
    pub fn config(self) -> &'a ModelConfig {
        match self {
            #[cfg(feature = "webgpu")]
            NetRef::Gpu(model) => model.config(),
            #[cfg(feature = "cpu")]
            NetRef::Cpu(model) => model.config(),
        }
    }

    /// Keras-style summary, one line per layer.
    pub fn summary(self) -> String {
        match self {
            #[cfg(feature = "webgpu")]
            NetRef::Gpu(model) => model.summary(),
            #[cfg(feature = "cpu")]
            NetRef::Cpu(model) => format!(
                "{} layers, {} parameters",
                model.config().layers.len(),
                model.parameter_count()
            ),
        }
    }

    /// Serialises the config and weights (the webcnn safetensors file).
    pub async fn to_bytes(self) -> Result<Vec<u8>> {
        match self {
            #[cfg(feature = "webgpu")]
            NetRef::Gpu(model) => io::to_bytes(model).await,
            #[cfg(feature = "cpu")]
            NetRef::Cpu(model) => model.to_bytes(),
        }
    }

    /// Named parameter tensors: name, shape, values.
    pub async fn weights(self) -> Result<io::Weights> {
        match self {
            #[cfg(feature = "webgpu")]
            NetRef::Gpu(model) => model.weights().await,
            #[cfg(feature = "cpu")]
            NetRef::Cpu(model) => Ok(model.weights()),
        }
    }

    /// Loss, accuracy, confusion matrix and predictions on `data`.
    pub async fn evaluate(self, data: &Dataset, batch_size: usize) -> Result<Evaluation> {
        match self {
            #[cfg(feature = "webgpu")]
            NetRef::Gpu(model) => train::evaluate(model, data, batch_size).await,
            #[cfg(feature = "cpu")]
            NetRef::Cpu(model) => cpu::evaluate(model, data, batch_size),
        }
    }

    /// Returns the class probabilities `[n, classes]` of `images` (`n` images, NHWC, flat).
    pub async fn predict(self, images: &[f32], batch_size: usize) -> Result<Vec<f32>> {
        match self {
            #[cfg(feature = "webgpu")]
            NetRef::Gpu(model) => train::predict(model, images, batch_size).await,
            #[cfg(feature = "cpu")]
            NetRef::Cpu(model) => cpu::predict(model, images, batch_size),
        }
    }
}

impl Run {
    /// Runs up to `max_steps` steps; see [`Session::run`].
    pub async fn run(&mut self, max_steps: usize) -> Result<RunOutcome> {
        match self {
            #[cfg(feature = "webgpu")]
            Run::Gpu(session) => session.run(max_steps).await,
            #[cfg(feature = "cpu")]
            Run::Cpu(session) => session.run(max_steps),
        }
    }

    /// Sets the random warp of the training images.
    pub fn set_augment(&mut self, config: AugmentConfig) -> Result<()> {
        match self {
            #[cfg(feature = "webgpu")]
            Run::Gpu(session) => session.set_augment(config),
            #[cfg(feature = "cpu")]
            Run::Cpu(session) => session.set_augment(config),
        }
    }

    /// Metrics of the current epoch so far, as of the last [`Run::run`] call.
    pub fn progress(&self) -> StepReport {
        match self {
            #[cfg(feature = "webgpu")]
            Run::Gpu(session) => session.progress(),
            #[cfg(feature = "cpu")]
            Run::Cpu(session) => session.progress(),
        }
    }

    /// Steps per epoch.
    pub fn steps_per_epoch(&self) -> usize {
        match self {
            #[cfg(feature = "webgpu")]
            Run::Gpu(session) => session.steps_per_epoch(),
            #[cfg(feature = "cpu")]
            Run::Cpu(session) => session.steps_per_epoch(),
        }
    }

    /// Reports of the finished epochs.
    pub fn reports(&self) -> &[EpochReport] {
        match self {
            #[cfg(feature = "webgpu")]
            Run::Gpu(session) => session.reports(),
            #[cfg(feature = "cpu")]
            Run::Cpu(session) => session.reports(),
        }
    }

    /// Returns the model being trained.
    pub fn net(&self) -> NetRef<'_> {
        match self {
            #[cfg(feature = "webgpu")]
            Run::Gpu(session) => NetRef::Gpu(session.model()),
            #[cfg(feature = "cpu")]
            Run::Cpu(session) => NetRef::Cpu(session.model()),
        }
    }

    /// Ends the run and gives the model back with its optimizer state, which the next
    /// [`Engine::start`] on the model can go on with.
    pub fn finish(self) -> (Net, OptimizerState) {
        match self {
            #[cfg(feature = "webgpu")]
            Run::Gpu(session) => {
                let (model, optimizer) = session.into_parts();
                (Net::Gpu(model), OptimizerState::Gpu(optimizer))
            }
            #[cfg(feature = "cpu")]
            Run::Cpu(session) => {
                let (model, optimizer) = session.into_parts();
                (Net::Cpu(model), OptimizerState::Cpu(optimizer))
            }
        }
    }
}

fn log_resumed(steps: u32) {
    if steps > 0 {
        log::info!("resuming the optimizer state after {steps} updates");
    }
}
