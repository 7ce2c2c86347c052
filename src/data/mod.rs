//! Datasets: IDX files (MNIST and Fashion-MNIST format), folders of them, seeded stratified
//! splits, and 10,000 MNIST digits embedded in the library (feature `embedded-data`).
//!
//! Every dataset is a [`Dataset`]: f32 pixels in NHWC order with u32 class labels. Readers and
//! [`Dataset::from_parts`] validate their input and return a [`DataError`] that names the file or
//! dataset and the sample at fault.

mod dataset;
mod dir;
// The digits are gzipped, and the WebAssembly build has no gzip decoder (see `gzip`).
#[cfg(all(feature = "embedded-data", not(target_arch = "wasm32")))]
mod embedded;
mod error;
mod gzip;
mod idx;
mod split;

pub use dataset::{DataSplit, Dataset};
pub use dir::load_dir;
#[cfg(all(feature = "embedded-data", not(target_arch = "wasm32")))]
pub use embedded::embedded_mnist;
pub use error::DataError;
pub use idx::{
    encode_idx_images, encode_idx_labels, parse_idx_dataset, parse_idx_images, parse_idx_labels,
    read_idx_dataset, read_idx_images, read_idx_labels, IdxImages,
};
#[cfg(not(target_arch = "wasm32"))]
pub use idx::{write_idx_images, write_idx_labels};
pub use split::{stratified_split, DEFAULT_SPLIT_SEED, DEFAULT_TEST_FRACTION};
