//! In-memory labelled image dataset.

use std::fmt;

use super::DataError;

/// Labelled images held in memory, NHWC, f32.
///
/// [`Dataset::from_parts`] and the file readers validate every field. The fields are public so
/// that callers can read them without copies, so code that changes them directly must keep the
/// invariants: `images.len() == labels.len() * image_len()`, every label below `num_classes`,
/// and every pixel finite.
#[derive(Clone, PartialEq)]
pub struct Dataset {
    /// Pixel values, NHWC (sample, row, column, channel). u8 IDX files give values in [0, 1],
    /// and f32 IDX files give the stored values.
    pub images: Vec<f32>,
    /// Class index of each sample, below `num_classes`.
    pub labels: Vec<u32>,
    /// Image height in pixels.
    pub height: usize,
    /// Image width in pixels.
    pub width: usize,
    /// Channels per pixel (1 for grey images).
    pub channels: usize,
    /// Number of classes, so labels run from 0 to `num_classes - 1`.
    pub num_classes: usize,
    /// File or source the samples came from, used in messages.
    pub name: String,
}

/// A dataset divided into a training part and a test part.
#[derive(Clone, Debug, PartialEq)]
pub struct DataSplit {
    /// Samples to train on (and to take a validation split from).
    pub train: Dataset,
    /// Samples held out for the final evaluation.
    pub test: Dataset,
}

impl Dataset {
    /// Builds a dataset after checking every value.
    ///
    /// `images` contains `labels.len()` images of `height x width x channels` values each, in NHWC
    /// order. Errors: a zero dimension, no samples, a partial or missing image, a label not
    /// below `num_classes`, or a NaN or infinite pixel.
    pub fn from_parts(
        name: impl Into<String>,
        images: Vec<f32>,
        labels: Vec<u32>,
        height: usize,
        width: usize,
        channels: usize,
        num_classes: usize,
    ) -> Result<Dataset, DataError> {
        let dataset = Dataset {
            images,
            labels,
            height,
            width,
            channels,
            num_classes,
            name: name.into(),
        };
        dataset.validate()?;
        Ok(dataset)
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Returns whether the dataset has no samples.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Number of values in one image (`height * width * channels`).
    pub fn image_len(&self) -> usize {
        self.height * self.width * self.channels
    }

    /// Returns the pixels of sample `index` in HWC order.
    ///
    /// Panics if `index >= self.len()`.
    pub fn image(&self, index: usize) -> &[f32] {
        let image_len = self.image_len();
        &self.images[index * image_len..(index + 1) * image_len]
    }

    /// Copies the samples at `indices`, in that order, into a new dataset with the same shape,
    /// class count and name. Indices may repeat.
    ///
    /// Panics if an index is not below `self.len()`.
    pub fn subset(&self, indices: &[usize]) -> Dataset {
        let mut images = Vec::with_capacity(indices.len() * self.image_len());
        let mut labels = Vec::with_capacity(indices.len());
        for &index in indices {
            images.extend_from_slice(self.image(index));
            labels.push(self.labels[index]);
        }
        Dataset {
            images,
            labels,
            height: self.height,
            width: self.width,
            channels: self.channels,
            num_classes: self.num_classes,
            name: self.name.clone(),
        }
    }

    /// Counts the samples of each class. The result has `num_classes` entries.
    ///
    /// Panics if a label is not below `num_classes`, which [`Dataset::from_parts`] rules out.
    pub fn class_counts(&self) -> Vec<usize> {
        let mut counts = vec![0; self.num_classes];
        for &label in &self.labels {
            counts[label as usize] += 1;
        }
        counts
    }

    /// Checks the invariants that [`Dataset::from_parts`] promises.
    pub(crate) fn validate(&self) -> Result<(), DataError> {
        self.validate_shape()?;
        if self.labels.is_empty() {
            return Err(DataError::Empty {
                name: self.name.clone(),
            });
        }
        self.validate_image_count()?;
        self.validate_labels()?;
        find_non_finite(&self.images, self.image_len(), &self.name)
    }

    fn validate_shape(&self) -> Result<(), DataError> {
        let size = self
            .height
            .checked_mul(self.width)
            .and_then(|area| area.checked_mul(self.channels));
        match size {
            Some(size) if size > 0 => Ok(()),
            _ => Err(DataError::InvalidShape {
                name: self.name.clone(),
                height: self.height,
                width: self.width,
                channels: self.channels,
            }),
        }
    }

    fn validate_image_count(&self) -> Result<(), DataError> {
        let image_len = self.image_len();
        let whole_images = self.images.len() / image_len;
        let remainder = self.images.len() % image_len;
        if remainder != 0 {
            return Err(DataError::ImageSize {
                name: self.name.clone(),
                index: whole_images,
                actual: remainder,
                expected: image_len,
                height: self.height,
                width: self.width,
                channels: self.channels,
            });
        }
        if whole_images != self.labels.len() {
            return Err(DataError::CountMismatch {
                images_name: self.name.clone(),
                images: whole_images,
                labels_name: self.name.clone(),
                labels: self.labels.len(),
            });
        }
        Ok(())
    }

    fn validate_labels(&self) -> Result<(), DataError> {
        let out_of_range = self
            .labels
            .iter()
            .position(|&label| label as usize >= self.num_classes);
        match out_of_range {
            None => Ok(()),
            Some(index) => Err(DataError::LabelOutOfRange {
                name: self.name.clone(),
                index,
                label: self.labels[index],
                num_classes: self.num_classes,
            }),
        }
    }
}

/// Returns [`DataError::NonFinitePixel`] for the first NaN or infinite value in `pixels`, which
/// contains images of `image_len` values each.
pub(crate) fn find_non_finite(
    pixels: &[f32],
    image_len: usize,
    name: &str,
) -> Result<(), DataError> {
    match pixels.iter().position(|value| !value.is_finite()) {
        None => Ok(()),
        Some(position) => Err(DataError::NonFinitePixel {
            name: name.to_string(),
            index: position / image_len,
            pixel: position % image_len,
            value: pixels[position],
        }),
    }
}

/// Prints the shape and counts, not the pixels, which can be tens of megabytes.
impl fmt::Debug for Dataset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dataset")
            .field("name", &self.name)
            .field("len", &self.len())
            .field("height", &self.height)
            .field("width", &self.width)
            .field("channels", &self.channels)
            .field("num_classes", &self.num_classes)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Three 2x2 grey samples with labels 0, 1, 1 and pixel values `sample / 10`.
    fn tiny() -> Dataset {
        let images = (0..3).flat_map(|s| [s as f32 / 10.0; 4]).collect();
        Dataset::from_parts("tiny", images, vec![0, 1, 1], 2, 2, 1, 2).unwrap()
    }

    #[test]
    fn accessors_report_shape() {
        let dataset = tiny();
        assert_eq!(dataset.len(), 3);
        assert!(!dataset.is_empty());
        assert_eq!(dataset.image_len(), 4);
        assert_eq!(dataset.image(2), &[0.2; 4]);
        assert_eq!(dataset.class_counts(), vec![1, 2]);
    }

    #[test]
    fn subset_copies_in_order() {
        let dataset = tiny();
        let subset = dataset.subset(&[2, 0, 2]);
        assert_eq!(subset.labels, vec![1, 0, 1]);
        assert_eq!(subset.image(0), dataset.image(2));
        assert_eq!(subset.image(1), dataset.image(0));
        assert_eq!(subset.name, "tiny");
        assert_eq!(subset.num_classes, 2);
        assert_eq!((subset.height, subset.width, subset.channels), (2, 2, 1));
    }

    #[test]
    fn subset_of_nothing_is_empty() {
        assert!(tiny().subset(&[]).is_empty());
    }

    #[test]
    fn from_parts_rejects_empty() {
        let error = Dataset::from_parts("none", vec![], vec![], 2, 2, 1, 2).unwrap_err();
        assert!(matches!(error, DataError::Empty { ref name } if name == "none"));
    }

    #[test]
    fn from_parts_rejects_zero_dimension() {
        let error = Dataset::from_parts("flat", vec![0.0], vec![0], 1, 0, 1, 1).unwrap_err();
        assert!(matches!(error, DataError::InvalidShape { width: 0, .. }));
    }

    #[test]
    fn from_parts_rejects_partial_image() {
        let error = Dataset::from_parts("part", vec![0.0; 6], vec![0, 0], 2, 2, 1, 1).unwrap_err();
        assert!(matches!(
            error,
            DataError::ImageSize {
                index: 1,
                actual: 2,
                expected: 4,
                ..
            }
        ));
    }

    #[test]
    fn from_parts_rejects_count_mismatch() {
        let error = Dataset::from_parts("few", vec![0.0; 8], vec![0], 2, 2, 1, 1).unwrap_err();
        assert!(matches!(
            error,
            DataError::CountMismatch {
                images: 2,
                labels: 1,
                ..
            }
        ));
    }

    #[test]
    fn from_parts_rejects_label_out_of_range() {
        let error = Dataset::from_parts("big", vec![0.0; 8], vec![0, 5], 2, 2, 1, 5).unwrap_err();
        assert!(matches!(
            error,
            DataError::LabelOutOfRange {
                index: 1,
                label: 5,
                num_classes: 5,
                ..
            }
        ));
    }

    #[test]
    fn from_parts_rejects_infinite_pixel() {
        let mut images = vec![0.5; 8];
        images[6] = f32::NEG_INFINITY;
        let error = Dataset::from_parts("inf", images, vec![0, 0], 2, 2, 1, 1).unwrap_err();
        assert!(matches!(
            error,
            DataError::NonFinitePixel {
                index: 1,
                pixel: 2,
                ..
            }
        ));
    }

    #[test]
    fn debug_omits_pixels() {
        let text = format!("{:?}", tiny());
        assert!(text.contains("len: 3"), "{text}");
        assert!(!text.contains("0.2"), "{text}");
    }
}
