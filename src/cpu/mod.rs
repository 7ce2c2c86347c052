//! Training on the CPU: the same models, files, batches and results as the GPU path, computed
//! with the plain-Rust ops of [`crate::reference`].
//!
//! The browser page trains here when it has no WebGPU, and the tests use it as a model-level
//! reference for the GPU. [`CpuModel`] builds from a [`crate::model::ModelConfig`] with the
//! validation, initial weights and parameter names of [`crate::model::Model`], and reads and
//! writes the model files of [`crate::io`]. [`CpuSession`], [`evaluate`] and [`predict`] follow
//! [`crate::train`], but run synchronously on one thread.

mod layer;
mod model;
mod optim;
mod train;

pub use model::{CpuModel, Trace};
pub use optim::CpuOptimizer;
pub use train::{evaluate, predict, CpuSession};
