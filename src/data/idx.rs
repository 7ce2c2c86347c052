//! Reading and writing IDX files, the format of MNIST and Fashion-MNIST.
//!
//! An IDX file starts with the magic number `00 00 TYPE RANK`, then RANK big-endian u32 dimension
//! sizes, then the values in row-major order, big-endian. Image files have rank 3 (count, height,
//! width) or rank 4 (count, height, width, channels), and label files have rank 1. Input that
//! starts with the gzip magic bytes `1f 8b` is decompressed first, whatever the file is called,
//! except in the WebAssembly build, which raises [`DataError::GzipUnsupported`] (see
//! [`super::gzip`]).

use std::borrow::Cow;
use std::fs;
use std::path::Path;

use super::dataset::find_non_finite;
use super::gzip::gunzip;
use super::{DataError, Dataset};

/// First two bytes of every gzip stream.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
/// IDX type code for unsigned bytes.
const IDX_U8: u8 = 0x08;
/// IDX type code for big-endian IEEE 754 single-precision floats.
const IDX_F32: u8 = 0x0D;
/// Type codes that [`parse_idx_images`] accepts, for messages.
const IMAGE_TYPES: &str = "0x08 (u8), 0x0D (f32)";

/// Images read from an IDX file, before they are paired with labels.
#[derive(Clone, Debug, PartialEq)]
pub struct IdxImages {
    /// File or source name, used in messages.
    pub name: String,
    /// Pixel values, NHWC. u8 files give `byte / 255`, f32 files give the stored values.
    pub pixels: Vec<f32>,
    /// Number of images.
    pub count: usize,
    /// Image height in pixels.
    pub height: usize,
    /// Image width in pixels.
    pub width: usize,
    /// Channels per pixel: 1 for rank-3 files, the fourth dimension for rank-4 files.
    pub channels: usize,
}

/// Type code, dimension sizes and byte length of an IDX header.
struct IdxHeader {
    type_code: u8,
    dims: Vec<usize>,
    len: usize,
}

/// Parses IDX images, plain or gzipped, from memory.
///
/// Accepts u8 data (type 0x08, scaled to [0, 1] by dividing by 255) and f32 data (type 0x0D,
/// taken as stored). `name` identifies the source in errors. Errors: corrupt gzip, bad magic,
/// another data type, a rank other than 3 or 4, a byte count that does not match the header, no
/// images, a zero dimension, or a NaN or infinite f32 value.
pub fn parse_idx_images(bytes: &[u8], name: &str) -> Result<IdxImages, DataError> {
    let bytes = decompress(bytes, name)?;
    let header = parse_header(&bytes, name)?;
    let element_size = match header.type_code {
        IDX_U8 => 1,
        IDX_F32 => 4,
        code => return Err(unsupported_type(name, code, "images", IMAGE_TYPES)),
    };
    let [count, height, width, channels] = image_dims(&header, name)?;
    let payload = payload(&bytes, &header, element_size, name)?;
    let image_len = height * width * channels;
    let pixels = match header.type_code {
        IDX_U8 => decode_u8(payload),
        _ => decode_f32(payload, image_len, name)?,
    };
    Ok(IdxImages {
        name: name.to_string(),
        pixels,
        count,
        height,
        width,
        channels,
    })
}

/// Parses IDX labels (u8, rank 1), plain or gzipped, from memory.
///
/// `name` identifies the source in errors. Errors: corrupt gzip, bad magic, a data type other
/// than u8, a rank other than 1, a byte count that does not match the header, or no labels.
pub fn parse_idx_labels(bytes: &[u8], name: &str) -> Result<Vec<u32>, DataError> {
    let bytes = decompress(bytes, name)?;
    let header = parse_header(&bytes, name)?;
    if header.type_code != IDX_U8 {
        return Err(unsupported_type(
            name,
            header.type_code,
            "labels",
            "0x08 (u8)",
        ));
    }
    if header.dims.len() != 1 {
        return Err(bad_rank(name, &header, "labels", "1"));
    }
    if header.dims[0] == 0 {
        return Err(DataError::Empty {
            name: name.to_string(),
        });
    }
    let payload = payload(&bytes, &header, 1, name)?;
    Ok(payload.iter().map(|&label| u32::from(label)).collect())
}

/// Reads IDX images from a file, plain or gzipped. See [`parse_idx_images`].
pub fn read_idx_images(path: impl AsRef<Path>) -> Result<IdxImages, DataError> {
    let path = path.as_ref();
    parse_idx_images(&read_file(path)?, &path.display().to_string())
}

/// Reads IDX labels from a file, plain or gzipped. See [`parse_idx_labels`].
pub fn read_idx_labels(path: impl AsRef<Path>) -> Result<Vec<u32>, DataError> {
    let path = path.as_ref();
    parse_idx_labels(&read_file(path)?, &path.display().to_string())
}

/// Parses an IDX images file and its labels file into a dataset named after the images.
///
/// The class count is the largest label plus one. Errors: those of [`parse_idx_images`] and
/// [`parse_idx_labels`], and different image and label counts.
pub fn parse_idx_dataset(
    images_bytes: &[u8],
    images_name: &str,
    labels_bytes: &[u8],
    labels_name: &str,
) -> Result<Dataset, DataError> {
    let images = parse_idx_images(images_bytes, images_name)?;
    let labels = parse_idx_labels(labels_bytes, labels_name)?;
    pair_images_and_labels(images, labels, labels_name)
}

/// Reads an IDX images file and its labels file into a dataset. See [`parse_idx_dataset`].
pub fn read_idx_dataset(
    images_path: impl AsRef<Path>,
    labels_path: impl AsRef<Path>,
) -> Result<Dataset, DataError> {
    let images = read_idx_images(images_path)?;
    let labels_path = labels_path.as_ref();
    let labels = read_idx_labels(labels_path)?;
    pair_images_and_labels(images, labels, &labels_path.display().to_string())
}

/// Encodes the images of `dataset` as an uncompressed u8 IDX file.
///
/// Grey datasets get rank 3 (count, height, width), others rank 4 (count, height, width,
/// channels). Each value is clamped to [0, 1] and stored as `round(value * 255)`, so only values
/// of the form k/255 read back exactly. Panics if a dimension exceeds `u32::MAX`.
pub fn encode_idx_images(dataset: &Dataset) -> Vec<u8> {
    let mut dims = vec![dataset.len(), dataset.height, dataset.width];
    if dataset.channels != 1 {
        dims.push(dataset.channels);
    }
    let mut bytes = encode_header(IDX_U8, &dims);
    bytes.extend(dataset.images.iter().map(|&value| quantize(value)));
    bytes
}

/// Encodes the labels of `dataset` as an uncompressed u8 IDX file of rank 1.
///
/// Errors: a label above 255. Panics if the sample count exceeds `u32::MAX`.
pub fn encode_idx_labels(dataset: &Dataset) -> Result<Vec<u8>, DataError> {
    let mut bytes = encode_header(IDX_U8, &[dataset.len()]);
    for (index, &label) in dataset.labels.iter().enumerate() {
        let byte = u8::try_from(label).map_err(|_| DataError::LabelTooLarge {
            name: dataset.name.clone(),
            index,
            label,
        })?;
        bytes.push(byte);
    }
    Ok(bytes)
}

/// Writes the images of `dataset` as a u8 IDX file, gzipped when `path` ends in `.gz`.
///
/// See [`encode_idx_images`] for the format and rounding.
#[cfg(not(target_arch = "wasm32"))]
pub fn write_idx_images(path: impl AsRef<Path>, dataset: &Dataset) -> Result<(), DataError> {
    write_file(path.as_ref(), &encode_idx_images(dataset))
}

/// Writes the labels of `dataset` as a u8 IDX file, gzipped when `path` ends in `.gz`.
///
/// Errors: a label above 255, or a file that cannot be written.
#[cfg(not(target_arch = "wasm32"))]
pub fn write_idx_labels(path: impl AsRef<Path>, dataset: &Dataset) -> Result<(), DataError> {
    write_file(path.as_ref(), &encode_idx_labels(dataset)?)
}

fn decompress<'a>(bytes: &'a [u8], name: &str) -> Result<Cow<'a, [u8]>, DataError> {
    if !bytes.starts_with(&GZIP_MAGIC) {
        return Ok(Cow::Borrowed(bytes));
    }
    gunzip(bytes, name).map(Cow::Owned)
}

fn parse_header(bytes: &[u8], name: &str) -> Result<IdxHeader, DataError> {
    let magic_prefix = &bytes[..bytes.len().min(2)];
    if magic_prefix.iter().any(|&byte| byte != 0) {
        return Err(DataError::BadMagic {
            name: name.to_string(),
            found: hex_bytes(&bytes[..bytes.len().min(4)]),
        });
    }
    // The header length is known only once the rank byte is present, so a shorter file is
    // reported against the 4-byte magic number.
    let len = bytes.get(3).map_or(4, |&rank| 4 + 4 * usize::from(rank));
    if bytes.len() < len {
        return Err(DataError::Truncated {
            name: name.to_string(),
            expected: len as u64,
            actual: bytes.len() as u64,
        });
    }
    let dims = bytes[4..len]
        .chunks_exact(4)
        .map(|size| u32::from_be_bytes([size[0], size[1], size[2], size[3]]) as usize)
        .collect();
    Ok(IdxHeader {
        type_code: bytes[2],
        dims,
        len,
    })
}

/// Returns `[count, height, width, channels]` of a rank-3 or rank-4 images header.
fn image_dims(header: &IdxHeader, name: &str) -> Result<[usize; 4], DataError> {
    let dims = match header.dims[..] {
        [count, height, width] => [count, height, width, 1],
        [count, height, width, channels] => [count, height, width, channels],
        _ => return Err(bad_rank(name, header, "images", "3 or 4")),
    };
    let [count, height, width, channels] = dims;
    if count == 0 {
        return Err(DataError::Empty {
            name: name.to_string(),
        });
    }
    if height == 0 || width == 0 || channels == 0 {
        return Err(DataError::InvalidShape {
            name: name.to_string(),
            height,
            width,
            channels,
        });
    }
    Ok(dims)
}

/// Returns the bytes after the header after checking that their count matches the header.
fn payload<'a>(
    bytes: &'a [u8],
    header: &IdxHeader,
    element_size: u64,
    name: &str,
) -> Result<&'a [u8], DataError> {
    // Checked arithmetic, so that a corrupt header is reported instead of wrapping.
    let expected = header
        .dims
        .iter()
        .try_fold(element_size, |product, &size| {
            product.checked_mul(size as u64)
        })
        .and_then(|payload| payload.checked_add(header.len as u64))
        .ok_or_else(|| DataError::OversizedHeader {
            name: name.to_string(),
            dims: header.dims.clone(),
        })?;
    let actual = bytes.len() as u64;
    if actual < expected {
        return Err(DataError::Truncated {
            name: name.to_string(),
            expected,
            actual,
        });
    }
    if actual > expected {
        return Err(DataError::TrailingBytes {
            name: name.to_string(),
            expected,
            actual,
        });
    }
    Ok(&bytes[header.len..])
}

fn decode_u8(payload: &[u8]) -> Vec<f32> {
    payload
        .iter()
        .map(|&byte| f32::from(byte) / 255.0)
        .collect()
}

fn decode_f32(payload: &[u8], image_len: usize, name: &str) -> Result<Vec<f32>, DataError> {
    let pixels: Vec<f32> = payload
        .chunks_exact(4)
        .map(|value| f32::from_be_bytes([value[0], value[1], value[2], value[3]]))
        .collect();
    find_non_finite(&pixels, image_len, name)?;
    Ok(pixels)
}

fn pair_images_and_labels(
    images: IdxImages,
    labels: Vec<u32>,
    labels_name: &str,
) -> Result<Dataset, DataError> {
    if images.count != labels.len() {
        return Err(DataError::CountMismatch {
            images_name: images.name,
            images: images.count,
            labels_name: labels_name.to_string(),
            labels: labels.len(),
        });
    }
    let num_classes = labels.iter().max().map_or(0, |&max| max as usize + 1);
    Dataset::from_parts(
        images.name,
        images.pixels,
        labels,
        images.height,
        images.width,
        images.channels,
        num_classes,
    )
}

fn encode_header(type_code: u8, dims: &[usize]) -> Vec<u8> {
    let rank = u8::try_from(dims.len()).expect("IDX rank fits in a byte");
    let mut bytes = vec![0, 0, type_code, rank];
    for &size in dims {
        let size = u32::try_from(size).expect("IDX dimension sizes must fit in u32");
        bytes.extend_from_slice(&size.to_be_bytes());
    }
    bytes
}

fn quantize(value: f32) -> u8 {
    (value.clamp(0.0, 1.0) * 255.0).round() as u8
}

fn read_file(path: &Path) -> Result<Vec<u8>, DataError> {
    fs::read(path).map_err(|source| DataError::Read {
        path: path.display().to_string(),
        source,
    })
}

/// Writes `bytes` to `path`, gzipped when its name ends in `.gz`. A write that fails leaves
/// any earlier file at `path` as it was ([`crate::io::replace_file`]).
#[cfg(not(target_arch = "wasm32"))]
fn write_file(path: &Path, bytes: &[u8]) -> Result<(), DataError> {
    let gzip = path.extension().is_some_and(|extension| extension == "gz");
    let result = crate::io::replace_file(path, |partial| {
        if gzip {
            super::gzip::write_gzip(partial, bytes)
        } else {
            fs::write(partial, bytes)
        }
    });
    result.map_err(|source| DataError::Write {
        path: path.display().to_string(),
        source,
    })
}

fn unsupported_type(
    name: &str,
    code: u8,
    kind: &'static str,
    supported: &'static str,
) -> DataError {
    DataError::UnsupportedIdxType {
        name: name.to_string(),
        code,
        kind,
        supported,
    }
}

fn bad_rank(
    name: &str,
    header: &IdxHeader,
    kind: &'static str,
    expected: &'static str,
) -> DataError {
    DataError::BadIdxRank {
        name: name.to_string(),
        rank: header.dims.len() as u8,
        kind,
        expected,
    }
}

fn hex_bytes(bytes: &[u8]) -> String {
    let hex: Vec<String> = bytes.iter().map(|byte| format!("{byte:02x}")).collect();
    hex.join(" ")
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use flate2::write::GzEncoder;
    use flate2::Compression;

    use super::*;

    /// Builds an IDX file from a type code, dimension sizes and raw payload bytes.
    fn idx(type_code: u8, dims: &[usize], payload: &[u8]) -> Vec<u8> {
        let mut bytes = encode_header(type_code, dims);
        bytes.extend_from_slice(payload);
        bytes
    }

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
        encoder.write_all(bytes).unwrap();
        encoder.finish().unwrap()
    }

    #[test]
    fn u8_images_scale_to_unit_range() {
        let images = parse_idx_images(&idx(IDX_U8, &[1, 1, 3], &[0, 51, 255]), "u8").unwrap();
        assert_eq!(images.pixels, vec![0.0, 0.2, 1.0]);
        assert_eq!((images.count, images.height, images.width), (1, 1, 3));
        assert_eq!(images.channels, 1);
    }

    #[test]
    fn rank_four_sets_channels() {
        let images = parse_idx_images(&idx(IDX_U8, &[2, 1, 1, 3], &[0; 6]), "rgb").unwrap();
        assert_eq!(images.channels, 3);
        assert_eq!(images.count, 2);
    }

    #[test]
    fn f32_images_keep_values() {
        let payload: Vec<u8> = [0.25f32, -1.5]
            .iter()
            .flat_map(|v| v.to_be_bytes())
            .collect();
        let images = parse_idx_images(&idx(IDX_F32, &[1, 1, 2], &payload), "f32").unwrap();
        assert_eq!(images.pixels, vec![0.25, -1.5]);
    }

    #[test]
    fn f32_nan_names_sample_and_pixel() {
        let values = [0.0f32, 0.0, 0.0, f32::NAN];
        let payload: Vec<u8> = values.iter().flat_map(|v| v.to_be_bytes()).collect();
        let error = parse_idx_images(&idx(IDX_F32, &[2, 1, 2], &payload), "nan").unwrap_err();
        assert!(matches!(
            error,
            DataError::NonFinitePixel {
                index: 1,
                pixel: 1,
                ..
            }
        ));
    }

    #[test]
    fn gzip_is_detected_by_magic() {
        let plain = idx(IDX_U8, &[3], &[1, 2, 3]);
        assert_eq!(
            parse_idx_labels(&gzip(&plain), "gz").unwrap(),
            vec![1, 2, 3]
        );
    }

    #[test]
    fn corrupt_gzip_is_rejected() {
        let mut bytes = gzip(&idx(IDX_U8, &[3], &[1, 2, 3]));
        bytes.truncate(12);
        let error = parse_idx_labels(&bytes, "cut.gz").unwrap_err();
        assert!(matches!(error, DataError::Gzip { ref name, .. } if name == "cut.gz"));
    }

    #[test]
    fn bad_magic_shows_bytes() {
        let error = parse_idx_labels(b"PK\x03\x04rest", "zip").unwrap_err();
        assert!(matches!(error, DataError::BadMagic { ref found, .. } if found == "50 4b 03 04"));
    }

    #[test]
    fn short_header_is_truncated() {
        let error = parse_idx_labels(&[0, 0, IDX_U8], "short").unwrap_err();
        assert!(matches!(
            error,
            DataError::Truncated {
                expected: 4,
                actual: 3,
                ..
            }
        ));
        let error = parse_idx_labels(&[0, 0, IDX_U8, 1, 0], "dims").unwrap_err();
        assert!(matches!(
            error,
            DataError::Truncated {
                expected: 8,
                actual: 5,
                ..
            }
        ));
    }

    #[test]
    fn short_payload_is_truncated() {
        let error = parse_idx_images(&idx(IDX_U8, &[2, 2, 2], &[0; 7]), "img").unwrap_err();
        assert!(matches!(
            error,
            DataError::Truncated {
                expected: 24,
                actual: 23,
                ..
            }
        ));
    }

    #[test]
    fn long_payload_is_rejected() {
        let error = parse_idx_labels(&idx(IDX_U8, &[2], &[0; 3]), "long").unwrap_err();
        assert!(matches!(
            error,
            DataError::TrailingBytes {
                expected: 10,
                actual: 11,
                ..
            }
        ));
    }

    #[test]
    fn huge_header_does_not_overflow() {
        let dims = [u32::MAX as usize; 4];
        let error = parse_idx_images(&idx(IDX_F32, &dims, &[]), "huge").unwrap_err();
        assert!(matches!(error, DataError::OversizedHeader { .. }));
        let message = error.to_string();
        assert!(message.contains("more than 2^64 bytes"), "{message}");
        assert!(!message.contains(&u64::MAX.to_string()), "{message}");
    }

    #[test]
    fn unsupported_types_are_rejected() {
        let error = parse_idx_images(&idx(0x0E, &[1, 1, 1], &[0; 8]), "f64").unwrap_err();
        assert!(matches!(
            error,
            DataError::UnsupportedIdxType {
                code: 0x0E,
                kind: "images",
                ..
            }
        ));
        let error = parse_idx_labels(&idx(IDX_F32, &[1], &[0; 4]), "f32").unwrap_err();
        assert!(matches!(
            error,
            DataError::UnsupportedIdxType {
                code: IDX_F32,
                kind: "labels",
                ..
            }
        ));
    }

    #[test]
    fn wrong_rank_is_rejected() {
        let error = parse_idx_images(&idx(IDX_U8, &[4], &[0; 4]), "labels").unwrap_err();
        assert!(matches!(error, DataError::BadIdxRank { rank: 1, .. }));
        let error = parse_idx_labels(&idx(IDX_U8, &[1, 1, 1], &[0]), "image").unwrap_err();
        assert!(matches!(error, DataError::BadIdxRank { rank: 3, .. }));
    }

    #[test]
    fn zero_counts_are_rejected() {
        let error = parse_idx_images(&idx(IDX_U8, &[0, 2, 2], &[]), "none").unwrap_err();
        assert!(matches!(error, DataError::Empty { .. }));
        let error = parse_idx_labels(&idx(IDX_U8, &[0], &[]), "none").unwrap_err();
        assert!(matches!(error, DataError::Empty { .. }));
        let error = parse_idx_images(&idx(IDX_U8, &[1, 0, 2], &[]), "flat").unwrap_err();
        assert!(matches!(error, DataError::InvalidShape { height: 0, .. }));
    }

    #[test]
    fn dataset_takes_class_count_from_max_label() {
        let images = idx(IDX_U8, &[2, 1, 1], &[0, 255]);
        let labels = idx(IDX_U8, &[2], &[3, 1]);
        let dataset = parse_idx_dataset(&images, "img", &labels, "lbl").unwrap();
        assert_eq!(dataset.num_classes, 4);
        assert_eq!(dataset.name, "img");
        assert_eq!(dataset.labels, vec![3, 1]);
    }

    #[test]
    fn dataset_rejects_count_mismatch() {
        let images = idx(IDX_U8, &[2, 1, 1], &[0, 255]);
        let labels = idx(IDX_U8, &[3], &[0, 1, 2]);
        let error = parse_idx_dataset(&images, "img", &labels, "lbl").unwrap_err();
        assert!(matches!(
            error,
            DataError::CountMismatch {
                images: 2,
                labels: 3,
                ..
            }
        ));
    }

    #[test]
    fn encode_round_trips_grey_and_colour() {
        for channels in [1, 3] {
            let images = (0..2 * 2 * channels).map(|k| k as f32 / 255.0).collect();
            let dataset = Dataset::from_parts("rt", images, vec![0, 1], 1, 2, channels, 2).unwrap();
            let encoded_images = encode_idx_images(&dataset);
            let encoded_labels = encode_idx_labels(&dataset).unwrap();
            let parsed = parse_idx_dataset(&encoded_images, "rt", &encoded_labels, "rt").unwrap();
            assert_eq!(parsed, dataset);
        }
    }

    #[test]
    fn quantize_clamps_and_rounds() {
        assert_eq!(quantize(-0.5), 0);
        assert_eq!(quantize(2.0), 255);
        assert_eq!(quantize(0.5), 128);
        assert_eq!(quantize(0.2), 51);
    }

    #[test]
    fn encode_rejects_label_above_255() {
        let dataset =
            Dataset::from_parts("wide", vec![0.0; 2], vec![1, 256], 1, 1, 1, 300).unwrap();
        let error = encode_idx_labels(&dataset).unwrap_err();
        assert!(matches!(
            error,
            DataError::LabelTooLarge {
                index: 1,
                label: 256,
                ..
            }
        ));
    }
}
