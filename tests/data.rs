//! Integration tests for `webcnn::data`: IDX files on disk, folder loading, splits and the
//! embedded MNIST digits.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use flate2::write::GzEncoder;
use flate2::Compression;
use webcnn::data::{
    load_dir, read_idx_dataset, read_idx_images, read_idx_labels, stratified_split,
    write_idx_images, write_idx_labels, DataError, Dataset,
};

/// Folder where Debian's `dataset-fashion-mnist` package installs the gzipped IDX files.
const FASHION_MNIST_DIR: &str = "/usr/share/datasets/fashion-mnist";

/// A fresh empty folder under the system temp folder, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(test_name: &str) -> TempDir {
        let path =
            std::env::temp_dir().join(format!("webcnn-data-{}-{test_name}", std::process::id()));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }

    fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// `len` 3x2 grey samples with labels `i % classes` and pixels `((i + p) % 256) / 255`.
fn sample_dataset(len: usize, classes: usize) -> Dataset {
    let images = (0..len)
        .flat_map(|i| (0..6).map(move |p| ((i + p) % 256) as f32 / 255.0))
        .collect();
    let labels = (0..len).map(|i| (i % classes) as u32).collect();
    Dataset::from_parts("sample", images, labels, 3, 2, 1, classes).unwrap()
}

/// Builds an IDX file from a type code, dimension sizes and raw payload bytes.
fn idx_bytes(type_code: u8, dims: &[u32], payload: &[u8]) -> Vec<u8> {
    let mut bytes = vec![0, 0, type_code, dims.len() as u8];
    for size in dims {
        bytes.extend_from_slice(&size.to_be_bytes());
    }
    bytes.extend_from_slice(payload);
    bytes
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

/// Writes `dataset` as `PREFIX-images-idx3-ubyte[.gz]` and `PREFIX-labels-idx1-ubyte[.gz]`.
fn write_pair(dir: &Path, prefix: &str, dataset: &Dataset, gz: bool) {
    let suffix = if gz { ".gz" } else { "" };
    let images = dir.join(format!("{prefix}-images-idx3-ubyte{suffix}"));
    let labels = dir.join(format!("{prefix}-labels-idx1-ubyte{suffix}"));
    write_idx_images(images, dataset).unwrap();
    write_idx_labels(labels, dataset).unwrap();
}

fn assert_mentions(error: &DataError, parts: &[&str]) {
    let message = error.to_string();
    for part in parts {
        assert!(message.contains(part), "{message:?} lacks {part:?}");
    }
}

#[test]
fn round_trip_plain_and_gzip() {
    let dir = TempDir::new("round-trip");
    let dataset = sample_dataset(25, 4);
    for name in ["set-images-idx3-ubyte", "set-images-idx3-ubyte.gz"] {
        let images_path = dir.join(name);
        let labels_path = dir.join(&name.replace("images-idx3", "labels-idx1"));
        write_idx_images(&images_path, &dataset).unwrap();
        write_idx_labels(&labels_path, &dataset).unwrap();

        let is_gzip = fs::read(&images_path).unwrap().starts_with(&[0x1f, 0x8b]);
        assert_eq!(is_gzip, name.ends_with(".gz"), "{name}");
        let read = read_idx_dataset(&images_path, &labels_path).unwrap();
        assert_eq!(read.images, dataset.images, "{name}");
        assert_eq!(read.labels, dataset.labels, "{name}");
        assert_eq!((read.height, read.width, read.channels), (3, 2, 1));
        assert_eq!(read.num_classes, 4);
        assert_eq!(read.name, images_path.display().to_string());
    }
}

#[test]
fn gzip_detected_without_gz_name() {
    let dir = TempDir::new("gzip-magic");
    let path = dir.join("labels-without-suffix");
    fs::write(&path, gzip(&idx_bytes(0x08, &[3], &[2, 0, 1]))).unwrap();
    assert_eq!(read_idx_labels(&path).unwrap(), vec![2, 0, 1]);
}

#[test]
fn missing_file_names_path() {
    let dir = TempDir::new("missing");
    let path = dir.join("absent-images-idx3-ubyte");
    let error = read_idx_images(&path).unwrap_err();
    assert!(matches!(error, DataError::Read { .. }), "{error}");
    assert_mentions(
        &error,
        &[&path.display().to_string(), "check that the path exists"],
    );
}

#[test]
fn truncated_file_reports_sizes() {
    let dir = TempDir::new("truncated");
    let path = dir.join("cut-images-idx3-ubyte.gz");
    let mut bytes = idx_bytes(0x08, &[2, 2, 2], &[0; 8]);
    bytes.truncate(bytes.len() - 3);
    fs::write(&path, gzip(&bytes)).unwrap();
    let error = read_idx_images(&path).unwrap_err();
    assert!(
        matches!(
            error,
            DataError::Truncated {
                expected: 24,
                actual: 21,
                ..
            }
        ),
        "{error}"
    );
    assert_mentions(
        &error,
        &[&path.display().to_string(), "expected 24", "got 21"],
    );
}

#[test]
fn wrong_magic_names_file() {
    let dir = TempDir::new("magic");
    let path = dir.join("page-labels-idx1-ubyte");
    fs::write(&path, b"<html>not found</html>").unwrap();
    let error = read_idx_labels(&path).unwrap_err();
    assert!(matches!(error, DataError::BadMagic { .. }), "{error}");
    assert_mentions(&error, &[&path.display().to_string(), "3c 68 74 6d"]);
}

#[test]
fn count_mismatch_names_both_files() {
    let dir = TempDir::new("count");
    let images = dir.join("a-images-idx3-ubyte");
    let labels = dir.join("b-labels-idx1-ubyte");
    write_idx_images(&images, &sample_dataset(5, 2)).unwrap();
    write_idx_labels(&labels, &sample_dataset(4, 2)).unwrap();
    let error = read_idx_dataset(&images, &labels).unwrap_err();
    assert!(
        matches!(
            error,
            DataError::CountMismatch {
                images: 5,
                labels: 4,
                ..
            }
        ),
        "{error}"
    );
    assert_mentions(
        &error,
        &[&images.display().to_string(), &labels.display().to_string()],
    );
}

#[test]
fn label_out_of_range_names_sample() {
    let images = vec![0.0; 4 * 6];
    let labels = vec![0, 1, 9, 2];
    let error = Dataset::from_parts("digits", images, labels, 3, 2, 1, 3).unwrap_err();
    assert!(
        matches!(
            error,
            DataError::LabelOutOfRange {
                index: 2,
                label: 9,
                num_classes: 3,
                ..
            }
        ),
        "{error}"
    );
    assert_mentions(&error, &["digits", "sample 2", "label 9", "3 classes"]);
}

#[test]
fn nan_pixel_from_parts_names_sample() {
    let mut images = vec![0.5; 3 * 6];
    images[2 * 6 + 4] = f32::NAN;
    let error = Dataset::from_parts("camera", images, vec![0, 1, 0], 3, 2, 1, 2).unwrap_err();
    assert!(
        matches!(
            error,
            DataError::NonFinitePixel {
                index: 2,
                pixel: 4,
                ..
            }
        ),
        "{error}"
    );
    assert_mentions(&error, &["camera", "sample 2", "pixel 4", "NaN"]);
}

#[test]
fn nan_pixel_in_float_idx_names_sample() {
    let dir = TempDir::new("float-nan");
    let path = dir.join("float-images-idx3-ubyte");
    let mut values = [0.25f32; 3 * 4];
    values[4 + 3] = f32::INFINITY;
    let payload: Vec<u8> = values.iter().flat_map(|v| v.to_be_bytes()).collect();
    fs::write(&path, idx_bytes(0x0D, &[3, 2, 2], &payload)).unwrap();
    let error = read_idx_images(&path).unwrap_err();
    assert!(
        matches!(
            error,
            DataError::NonFinitePixel {
                index: 1,
                pixel: 3,
                ..
            }
        ),
        "{error}"
    );
    assert_mentions(&error, &[&path.display().to_string(), "sample 1", "inf"]);
}

#[test]
fn float_idx_values_kept() {
    let dir = TempDir::new("float");
    let path = dir.join("float-images-idx3-ubyte");
    let values = [0.0f32, 0.5, 1.0, 0.123_456];
    let payload: Vec<u8> = values.iter().flat_map(|v| v.to_be_bytes()).collect();
    fs::write(&path, idx_bytes(0x0D, &[1, 2, 2], &payload)).unwrap();
    assert_eq!(read_idx_images(&path).unwrap().pixels, values);
}

#[test]
fn empty_inputs_are_rejected() {
    let error = Dataset::from_parts("nothing", vec![], vec![], 28, 28, 1, 10).unwrap_err();
    assert!(matches!(error, DataError::Empty { .. }), "{error}");
    assert_mentions(&error, &["nothing", "no samples"]);

    let dir = TempDir::new("empty");
    let path = dir.join("none-labels-idx1-ubyte");
    fs::write(&path, idx_bytes(0x08, &[0], &[])).unwrap();
    let error = read_idx_labels(&path).unwrap_err();
    assert!(matches!(error, DataError::Empty { .. }), "{error}");
    assert_mentions(&error, &[&path.display().to_string()]);
}

#[test]
fn unsupported_type_names_code() {
    let dir = TempDir::new("type");
    let path = dir.join("double-images-idx3-ubyte");
    fs::write(&path, idx_bytes(0x0E, &[1, 1, 1], &[0; 8])).unwrap();
    let error = read_idx_images(&path).unwrap_err();
    assert!(
        matches!(error, DataError::UnsupportedIdxType { code: 0x0E, .. }),
        "{error}"
    );
    assert_mentions(&error, &[&path.display().to_string(), "0x0E", "0x0D (f32)"]);
}

#[test]
fn load_dir_uses_train_and_test_files() {
    let dir = TempDir::new("train-test");
    write_pair(&dir.0, "train", &sample_dataset(40, 3), true);
    write_pair(&dir.0, "t10k", &sample_dataset(12, 2), false);
    let split = load_dir(&dir.0).unwrap();
    assert_eq!(split.train.len(), 40);
    assert_eq!(split.test.len(), 12);
    assert_eq!(split.train.num_classes, 3);
    assert_eq!(split.test.num_classes, 3);
    assert!(split.train.name.ends_with("train-images-idx3-ubyte.gz"));
    assert!(split.test.name.ends_with("t10k-images-idx3-ubyte"));
}

#[test]
fn load_dir_splits_single_pair() {
    let dir = TempDir::new("single");
    let dataset = sample_dataset(100, 5);
    write_pair(&dir.0, "letters", &dataset, true);
    let split = load_dir(&dir.0).unwrap();
    assert_eq!(split.train.len(), 70);
    assert_eq!(split.test.len(), 30);
    assert_eq!(split.train.class_counts(), vec![14; 5]);
    assert_eq!(split.test.class_counts(), vec![6; 5]);
}

#[test]
fn load_dir_lists_expected_files() {
    let dir = TempDir::new("no-files");
    fs::write(dir.join("train-images-idx3-ubyte.gz"), b"").unwrap();
    fs::write(dir.join("notes.txt"), b"").unwrap();
    let error = load_dir(&dir.0).unwrap_err();
    assert!(matches!(error, DataError::NoDataFiles { .. }), "{error}");
    assert_mentions(
        &error,
        &[
            &dir.0.display().to_string(),
            "train-labels-idx1-ubyte",
            "t10k-images-idx3-ubyte",
            "IDX files without a partner: train-images-idx3-ubyte.gz",
        ],
    );

    let empty = TempDir::new("empty");
    let error = load_dir(&empty.0).unwrap_err().to_string();
    assert!(error.ends_with("; the folder has no IDX files"), "{error}");
    assert!(!error.contains("[]"), "{error}");
}

#[test]
fn load_dir_rejects_ambiguous_pairs() {
    let dir = TempDir::new("ambiguous");
    write_pair(&dir.0, "first", &sample_dataset(10, 2), false);
    write_pair(&dir.0, "second", &sample_dataset(10, 2), false);
    let error = load_dir(&dir.0).unwrap_err();
    assert!(
        matches!(error, DataError::AmbiguousDataFiles { .. }),
        "{error}"
    );
    assert_mentions(&error, &["first, second"]);
}

#[test]
fn load_dir_rejects_shape_mismatch() {
    let dir = TempDir::new("shapes");
    write_pair(&dir.0, "train", &sample_dataset(10, 2), false);
    let wide = Dataset::from_parts("wide", vec![0.0; 2 * 8], vec![0, 1], 2, 4, 1, 2).unwrap();
    write_pair(&dir.0, "t10k", &wide, false);
    let error = load_dir(&dir.0).unwrap_err();
    assert!(matches!(error, DataError::ShapeMismatch { .. }), "{error}");
    assert_mentions(&error, &["3x2x1", "2x4x1"]);
}

#[test]
fn load_dir_missing_folder() {
    let error = load_dir("/nonexistent/webcnn-data").unwrap_err();
    assert!(matches!(error, DataError::Read { .. }), "{error}");
    assert_mentions(&error, &["/nonexistent/webcnn-data"]);
}

#[test]
fn fashion_mnist_loads_full_set() {
    if !Path::new(FASHION_MNIST_DIR).is_dir() {
        println!("skipped: {FASHION_MNIST_DIR} is absent (install dataset-fashion-mnist)");
        return;
    }
    let split = load_dir(FASHION_MNIST_DIR).unwrap();
    assert_eq!(split.train.len(), 60_000);
    assert_eq!(split.test.len(), 10_000);
    for part in [&split.train, &split.test] {
        assert_eq!((part.height, part.width, part.channels), (28, 28, 1));
        assert_eq!(part.num_classes, 10);
        assert!(part.images.iter().all(|&v| (0.0..=1.0).contains(&v)));
    }
    // Fashion-MNIST is balanced: 6,000 train and 1,000 test images per class.
    assert_eq!(split.train.class_counts(), vec![6_000; 10]);
    assert_eq!(split.test.class_counts(), vec![1_000; 10]);
}

#[test]
fn split_repeats_for_seed() {
    let dataset = sample_dataset(300, 4);
    let (train, test) = stratified_split(&dataset, 0.2, 99).unwrap();
    let (train_again, test_again) = stratified_split(&dataset, 0.2, 99).unwrap();
    assert_eq!(train, train_again);
    assert_eq!(test, test_again);
    assert_eq!(train.len() + test.len(), 300);
    assert_eq!(test.class_counts(), vec![15; 4]);
}

#[cfg(feature = "embedded-data")]
mod embedded {
    use webcnn::data::{embedded_mnist, parse_idx_dataset, stratified_split, DataSplit, Dataset};

    const IMAGES: &[u8] = include_bytes!("../data/mnist-10k-images-idx3-ubyte.gz");
    const LABELS: &[u8] = include_bytes!("../data/mnist-10k-labels-idx1-ubyte.gz");

    /// Lists each sample as its label and pixel bytes, to compare samples across datasets.
    fn sample_keys(dataset: &Dataset) -> Vec<(u32, Vec<u8>)> {
        (0..dataset.len())
            .map(|i| {
                let pixels = dataset.image(i).iter();
                let bytes = pixels.map(|&v| (v * 255.0).round() as u8).collect();
                (dataset.labels[i], bytes)
            })
            .collect()
    }

    #[test]
    fn embedded_split_is_7000_3000() {
        let DataSplit { train, test } = embedded_mnist().unwrap();
        assert_eq!(train.len(), 7_000);
        assert_eq!(test.len(), 3_000);
        for part in [&train, &test] {
            assert_eq!((part.height, part.width, part.channels), (28, 28, 1));
            assert_eq!(part.num_classes, 10);
        }
    }

    #[test]
    fn embedded_split_is_class_balanced() {
        let DataSplit { train, test } = embedded_mnist().unwrap();
        let train_counts = train.class_counts();
        let test_counts = test.class_counts();
        for class in 0..10 {
            let total = (train_counts[class] + test_counts[class]) as f64;
            let test_share = test_counts[class] as f64;
            assert!(
                (test_share - total * 0.3).abs() <= 1.0,
                "class {class}: {test_share} of {total} in test"
            );
        }
    }

    #[test]
    fn embedded_split_is_deterministic() {
        let first = embedded_mnist().unwrap();
        let second = embedded_mnist().unwrap();
        assert_eq!(first.train.labels, second.train.labels);
        assert_eq!(first.test.labels, second.test.labels);
        assert_eq!(first.train.images, second.train.images);
        assert_eq!(first.test.images, second.test.images);
    }

    #[test]
    fn embedded_split_partitions_the_files() {
        let whole = parse_idx_dataset(IMAGES, "images", LABELS, "labels").unwrap();
        let DataSplit { train, test } = embedded_mnist().unwrap();
        // Sorted (label, pixels) keys: equal lists mean every sample of the files landed in
        // exactly one part, even where MNIST repeats an image.
        let mut parts = sample_keys(&train);
        parts.extend(sample_keys(&test));
        parts.sort_unstable();
        let mut files = sample_keys(&whole);
        files.sort_unstable();
        assert_eq!(parts.len(), files.len());
        assert!(
            parts == files,
            "train and test do not partition the embedded files"
        );
    }

    #[test]
    fn embedded_resplit_for_validation() {
        let DataSplit { train, .. } = embedded_mnist().unwrap();
        let (fit, validation) = stratified_split(&train, 0.1, 1).unwrap();
        assert_eq!(fit.len(), 6_300);
        assert_eq!(validation.len(), 700);
    }
}
