//! Errors returned for bad user input and unavailable hardware.

use crate::number::Shortest;
use thiserror::Error;

/// Every error webcnn returns to a caller.
#[derive(Debug, Error)]
pub enum Error {
    /// A dataset file or in-memory dataset is unusable.
    #[error(transparent)]
    Data(#[from] crate::data::DataError),
    /// A model configuration or hyperparameter is invalid.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// A model file is unreadable or does not match the model.
    #[error("invalid model file {path}: {message}")]
    ModelFile {
        /// File or source the model came from.
        path: String,
        /// Description of the problem.
        message: String,
    },
    /// The training loss of an epoch became NaN or infinite. The model is back at its weights
    /// from before that epoch.
    #[error(
        "training diverged in epoch {epoch}: the loss is {}; the model is back at its weights \
         from before that epoch; lower the learning rate and train again",
        Shortest(*.loss)
    )]
    Diverged {
        /// The epoch whose loss diverged, from 1.
        epoch: usize,
        /// Mean training loss of that epoch.
        loss: f64,
    },
    /// No usable GPU adapter or device.
    #[error("GPU unavailable: {0}")]
    Gpu(String),
    /// A file could not be read or written.
    #[error("{action} {path} failed: {source}; {}", io_hint(source))]
    Io {
        /// The operation that failed: `reading` or `writing`.
        action: &'static str,
        /// File path.
        path: String,
        /// Underlying error.
        source: std::io::Error,
    },
}

/// Picks the advice that ends the message of a failed read or write.
fn io_hint(error: &std::io::Error) -> &'static str {
    match error.kind() {
        std::io::ErrorKind::StorageFull | std::io::ErrorKind::FileTooLarge => {
            "free disk space or write to another location"
        }
        _ => "check the path and its permissions",
    }
}

/// Formats `n` and `noun`, adding an `s` unless `n` is 1, as in `1 sample` and `3 samples`.
pub fn counted(n: usize, noun: &str) -> String {
    let s = if n == 1 { "" } else { "s" };
    format!("{n} {noun}{s}")
}

/// Result with webcnn's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
