//! Errors for dataset files that cannot be read and datasets that are invalid.

use crate::number::Shortest;
use std::io;

use thiserror::Error;

/// A dataset file or in-memory dataset that webcnn cannot use.
///
/// Each message names the file or dataset, the sample or value at fault, and what to do next.
#[derive(Debug, Error)]
pub enum DataError {
    /// A file or folder is missing or cannot be read.
    #[error("cannot read {path}: {source}; check that the path exists and is readable")]
    Read {
        /// File or folder path.
        path: String,
        /// Error from the operating system.
        #[source]
        source: io::Error,
    },

    /// A file cannot be created or written.
    #[error("cannot write {path}: {source}; check that the folder exists and is writable")]
    Write {
        /// File path.
        path: String,
        /// Error from the operating system.
        #[source]
        source: io::Error,
    },

    /// A file starts with the gzip magic bytes but its compressed data is corrupt.
    #[error(
        "cannot decompress {name}: {source}; the gzip data is corrupt, so download or \
        regenerate the file"
    )]
    Gzip {
        /// File or source name.
        name: String,
        /// Error from the gzip decoder.
        #[source]
        source: io::Error,
    },

    /// Gzipped input in the WebAssembly build, which has no gzip decoder. Native builds
    /// decompress it.
    #[error(
        "{name} is gzipped, but the WebAssembly build reads plain IDX only; decompress it \
        first, for example with DecompressionStream('gzip') as fetchIdx of the npm package does"
    )]
    GzipUnsupported {
        /// File or source name.
        name: String,
    },

    /// An IDX header whose dimensions describe more bytes than any file can hold.
    #[error(
        "{name} has an IDX header with dimensions {dims:?}, which describe more than 2^64 bytes; \
        the header is damaged, so download or regenerate the file"
    )]
    OversizedHeader {
        /// File or source name.
        name: String,
        /// The dimensions the header lists.
        dims: Vec<usize>,
    },

    /// An IDX file is shorter than its header describes.
    #[error(
        "{name} is truncated: expected {expected} bytes from its IDX header, got {actual}; \
        download or regenerate the file"
    )]
    Truncated {
        /// File or source name.
        name: String,
        /// Byte count the header describes (header included, after decompression).
        expected: u64,
        /// Byte count present (after decompression).
        actual: u64,
    },

    /// An IDX file is longer than its header describes.
    #[error(
        "{name} has {actual} bytes but its IDX header describes {expected}; the file is \
        corrupt, so download or regenerate it"
    )]
    TrailingBytes {
        /// File or source name.
        name: String,
        /// Byte count the header describes (header included, after decompression).
        expected: u64,
        /// Byte count present (after decompression).
        actual: u64,
    },

    /// A file does not start with the IDX magic number `00 00 <type> <rank>`.
    #[error(
        "{name} is not an IDX file: it starts with bytes [{found}], but IDX files start with \
        00 00, a type code and a dimension count; pass an IDX file, plain or gzipped"
    )]
    BadMagic {
        /// File or source name.
        name: String,
        /// First bytes of the file (up to 4) in hexadecimal.
        found: String,
    },

    /// An IDX file stores values of a type that this reader does not accept.
    #[error(
        "{name} has IDX data type 0x{code:02X}, which cannot be read as {kind}; supported \
        types: {supported}"
    )]
    UnsupportedIdxType {
        /// File or source name.
        name: String,
        /// IDX type code (third byte of the file).
        code: u8,
        /// Kind of file that was read: "images" or "labels".
        kind: &'static str,
        /// Type codes accepted for this kind of file.
        supported: &'static str,
    },

    /// An IDX file has a dimension count that does not fit its kind.
    #[error(
        "{name} has {rank} dimensions, but an IDX {kind} file needs {expected}; pass the \
        {kind} file of the dataset"
    )]
    BadIdxRank {
        /// File or source name.
        name: String,
        /// Dimension count (fourth byte of the file).
        rank: u8,
        /// Kind of file that was read: "images" or "labels".
        kind: &'static str,
        /// Accepted dimension counts.
        expected: &'static str,
    },

    /// The images and labels of one dataset have different sample counts.
    #[error(
        "{images_name} has {images} images but {labels_name} has {labels} labels; use the \
        images and labels of the same set"
    )]
    CountMismatch {
        /// Images file or dataset name.
        images_name: String,
        /// Number of images.
        images: usize,
        /// Labels file or dataset name.
        labels_name: String,
        /// Number of labels.
        labels: usize,
    },

    /// A dataset has no samples.
    #[error("dataset {name} has no samples; pass a file or sample list with at least one sample")]
    Empty {
        /// File or dataset name.
        name: String,
    },

    /// A label is not below the number of classes.
    #[error(
        "label {label} of sample {index} in {name} is out of range for {num_classes} classes; \
        labels must be less than the number of classes, so fix the label or raise the class count"
    )]
    LabelOutOfRange {
        /// File or dataset name.
        name: String,
        /// Sample index.
        index: usize,
        /// Label value.
        label: u32,
        /// Number of classes.
        num_classes: usize,
    },

    /// A label does not fit in the u8 labels that the IDX writer stores.
    #[error(
        "label {label} of sample {index} in {name} does not fit in an IDX u8 label (0 to \
        255); keep at most 256 classes to write IDX labels"
    )]
    LabelTooLarge {
        /// Dataset name.
        name: String,
        /// Sample index.
        index: usize,
        /// Label value.
        label: u32,
    },

    /// The pixel buffer does not hold a whole number of images.
    #[error(
        "image {index} of {name} has {actual} values, expected {expected} (height {height} x \
        width {width} x channels {channels}); pass whole images in NHWC order"
    )]
    ImageSize {
        /// Dataset name.
        name: String,
        /// Index of the incomplete image.
        index: usize,
        /// Values present for that image.
        actual: usize,
        /// Values one image needs.
        expected: usize,
        /// Image height in pixels.
        height: usize,
        /// Image width in pixels.
        width: usize,
        /// Channels per pixel.
        channels: usize,
    },

    /// An image shape has a zero dimension, or a size that overflows `usize`.
    #[error(
        "{name} has image shape {height}x{width}x{channels} (height x width x channels); each \
        must be at least 1 and their product must fit in memory"
    )]
    InvalidShape {
        /// File or dataset name.
        name: String,
        /// Image height in pixels.
        height: usize,
        /// Image width in pixels.
        width: usize,
        /// Channels per pixel.
        channels: usize,
    },

    /// Two datasets that must match (train and test) have different image shapes.
    #[error(
        "{name} has {height}x{width}x{channels} images but {other_name} has \
        {other_height}x{other_width}x{other_channels} images; use train and test files of the \
        same dataset"
    )]
    ShapeMismatch {
        /// First dataset name.
        name: String,
        /// Image height of the first dataset.
        height: usize,
        /// Image width of the first dataset.
        width: usize,
        /// Channels of the first dataset.
        channels: usize,
        /// Second dataset name.
        other_name: String,
        /// Image height of the second dataset.
        other_height: usize,
        /// Image width of the second dataset.
        other_width: usize,
        /// Channels of the second dataset.
        other_channels: usize,
    },

    /// A pixel value is NaN or infinite.
    #[error(
        "pixel {pixel} of sample {index} in {name} is {}; pixels must be finite, so fix or \
        remove that sample",
        Shortest(*.value)
    )]
    NonFinitePixel {
        /// File or dataset name.
        name: String,
        /// Sample index.
        index: usize,
        /// Index of the value within the sample, in HWC order.
        pixel: usize,
        /// The value (NaN or an infinity).
        value: f32,
    },

    /// A split fraction is not strictly between 0 and 1.
    #[error(
        "split fraction {} is invalid; pass a number greater than 0 and less than 1, such as \
        0.3",
        Shortest(*.fraction)
    )]
    InvalidSplitFraction {
        /// The rejected fraction.
        fraction: f64,
    },

    /// A split leaves one of its parts without samples.
    #[error(
        "splitting {name} ({}) with test fraction {} leaves the {part} part empty; use more \
        samples or a fraction nearer 0.5",
        crate::error::counted(*len, "sample"),
        Shortest(*.fraction)
    )]
    EmptySplit {
        /// Dataset name.
        name: String,
        /// Samples in the dataset.
        len: usize,
        /// Requested test fraction.
        fraction: f64,
        /// The empty part: "train" or "test".
        part: &'static str,
    },

    /// A folder contains no IDX images file with a matching labels file.
    #[error(
        "no IDX dataset found in {dir}; expected train-images-idx3-ubyte and \
        train-labels-idx1-ubyte (each optionally .gz), optionally with t10k-images-idx3-ubyte and \
        t10k-labels-idx1-ubyte, or one pair PREFIX-images-idx3-ubyte and \
        PREFIX-labels-idx1-ubyte; {}{unpaired}",
        if unpaired.is_empty() { "the folder has no IDX files" } else { "IDX files without a partner: " }
    )]
    NoDataFiles {
        /// Folder searched.
        dir: String,
        /// IDX files found without a partner, comma-separated (empty when none).
        unpaired: String,
    },

    /// A folder contains several IDX pairs but not exactly one train and one test pair.
    #[error(
        "{dir} contains several IDX image/label pairs ({prefixes}) and not exactly one train \
        and one test pair; move the extra pairs out or load the files one by one"
    )]
    AmbiguousDataFiles {
        /// Folder searched.
        dir: String,
        /// File name prefixes of the pairs found, comma-separated.
        prefixes: String,
    },
}
