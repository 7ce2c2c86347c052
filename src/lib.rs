//! webcnn: train convolutional networks on the GPU through WebGPU, in the browser and natively.

pub mod bench;
mod clock;
pub mod cpu;
pub mod data;
pub mod error;
pub mod face;
pub mod gpu;
mod hash;
pub mod io;
pub mod json;
pub mod layers;
mod math;
pub mod model;
pub mod number;
pub mod ops;
pub mod optim;
pub mod reference;
pub mod tensor;
pub mod train;
#[cfg(target_arch = "wasm32")]
pub mod wasm;

pub use error::{Error, Result};
