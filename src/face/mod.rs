//! The tiny face detector of face-api (`@vladmandic/face-api` 1.7.15, MIT), run on webcnn's own
//! kernels.
//!
//! face-api's `TinyFaceDetector` is a Tiny YOLOv2 with separable convolutions
//! (`src/tinyYolov2/TinyYolov2Base.ts`, `runMobilenet`, with `isFirstLayerConv2d` and filter
//! sizes 3, 16, 32, 64, 128, 256, 512). At its default input of 416x416 RGB:
//!
//! | face-api step | webcnn layers | output |
//! |---|---|---|
//! | `conv0`: 3x3 conv, 16 filters, "valid", bias, leaky ReLU | conv2d | 414x414x16 |
//! | max pool 2x2, stride 2, "same" | max_pool2d | 207x207x16 |
//! | `conv1`: pad 1, 3x3 depthwise (multiplier 1), 1x1 pointwise to 32, bias, leaky | depthwise_conv2d "same" (zero bias), conv2d 1x1 | 207x207x32 |
//! | max pool 2x2, stride 2, "same" | max_pool2d | 104x104x32 |
//! | `conv2` to 64, max pool | as conv1 | 52x52x64 |
//! | `conv3` to 128, max pool | as conv1 | 26x26x128 |
//! | `conv4` to 256, max pool | as conv1 | 13x13x256 |
//! | `conv5` to 512, max pool 2x2 stride 1 "same" | as conv1, max_pool2d | 13x13x512 |
//! | `conv8`: 1x1 conv to 25, bias, no activation | conv2d 1x1 | 13x13x25 |
//!
//! Leaky ReLU has slope 0.1 (face-api's `leaky` computes `relu(x - 0.1 x) + 0.1 x`). There is
//! no batch normalization: the shipped weights have it folded in already. The weights file
//! stores every tensor as uint8 with a per-tensor `min` and `scale` (`value = min + scale * q`).
//!
//! Input: face-api pads the image with black to a square at the bottom or right, resizes it to
//! the input size (here on the GPU, see [`frame_box`]), subtracts the mean RGB (117.001, 114.697, 97.404) from 0-255 pixel values and
//! divides by 255. The converted model takes RGB in [0, 1] instead: since `conv0` has "valid"
//! padding, the mean and the scale fold exactly into its weights and bias.
//!
//! Output: 13x13 cells (input size / 32) times 5 anchors times (tx, ty, tw, th, score). A box
//! has centre `((col + sigmoid(tx)) / 13, (row + sigmoid(ty)) / 13)`, width
//! `exp(tw) * anchor_w / 13` and height `exp(th) * anchor_h / 13`, in fractions of the square
//! input, and confidence `sigmoid(score)`. face-api keeps boxes above a score threshold (0.5 by
//! default) and runs non-max suppression at IoU 0.4 (see [`boxes`]).

pub mod boxes;
pub mod convert;

use boxes::Detection;

use crate::cpu::CpuModel;
use crate::layers::{Conv2dConfig, DepthwiseConv2dConfig, Initializer, LayerConfig, PoolConfig};
use crate::model::{Model, ModelConfig};
use crate::ops::crop::CropBox;
use crate::ops::{Activation, Padding};
use crate::tensor::Tensor;
use crate::{Error, Result};

/// Anchor sizes (width, height) in grid cells, from face-api's `tinyFaceDetector/const.ts`.
pub const ANCHORS: [(f32, f32); 5] = [
    (1.603231, 2.094468),
    (6.041143, 7.080126),
    (2.882459, 3.518061),
    (4.266906, 5.178857),
    (9.041765, 10.66308),
];

/// Mean RGB that face-api subtracts from 0-255 pixel values.
pub const MEAN_RGB: [f32; 3] = [117.001, 114.697, 97.404];

/// Slope of face-api's leaky ReLU (the f32 nearest 0.1).
pub const LEAKY_ALPHA: f32 = 0.1;

/// IoU above which face-api's non-max suppression drops the lower-scoring box.
pub const IOU_THRESHOLD: f32 = 0.4;

/// face-api's default input size, in pixels per side.
pub const DEFAULT_INPUT_SIZE: usize = 416;

/// face-api's default score threshold: boxes at or below it are dropped.
pub const DEFAULT_SCORE_THRESHOLD: f32 = 0.5;

/// Values per anchor in the output: tx, ty, tw, th, score.
pub const BOX_VALUES: usize = 5;

/// Output channels of the separable blocks `conv1` to `conv5`.
const BLOCK_FILTERS: [usize; 5] = [32, 64, 128, 256, 512];

/// Output channels of `conv0`.
const STEM_FILTERS: usize = 16;

/// Largest input size, in pixels per side. conv0's output for one image (size^2 x 16 values,
/// the detector's largest activation) must fit in 128 MiB, the storage-buffer binding size that
/// WebGPU guarantees, and batches cannot split a single image.
pub const MAX_INPUT_SIZE: usize = 1440;

/// Checks an input size the way face-api does: a multiple of 32, so that the five stride-2
/// poolings give a whole grid, and at most [`MAX_INPUT_SIZE`]. Returns the grid size (cells per
/// side).
pub fn grid_size(input_size: usize) -> Result<usize> {
    if input_size == 0 || !input_size.is_multiple_of(32) {
        return Err(Error::Config(format!(
            "face detector input size must be a positive multiple of 32 (face-api uses 416 by \
             default, 320 or 224 for speed), got {input_size}"
        )));
    }
    if input_size > MAX_INPUT_SIZE {
        return Err(Error::Config(format!(
            "face detector input size must be at most {MAX_INPUT_SIZE}, because one image's \
             first activation must fit in a 128 MiB GPU buffer; got {input_size}, so use 416 \
             (face-api's default) or less"
        )));
    }
    Ok(input_size / 32)
}

/// Builds the webcnn model config of the tiny face detector for `input_size`x`input_size` RGB input in
/// [0, 1]. Its output is the flattened `[grid, grid, 5 anchors, 5 values]` head.
pub fn detector_config(input_size: usize) -> Result<ModelConfig> {
    grid_size(input_size)?;
    let leaky = Activation::LeakyRelu { alpha: LEAKY_ALPHA };
    let mut layers = vec![conv(STEM_FILTERS, 3, leaky), pool(2)];
    for (block, &filters) in BLOCK_FILTERS.iter().enumerate() {
        layers.push(depthwise());
        layers.push(conv(filters, 1, leaky));
        let last = block + 1 == BLOCK_FILTERS.len();
        layers.push(pool(if last { 1 } else { 2 }));
    }
    layers.push(conv(ANCHORS.len() * BOX_VALUES, 1, Activation::Linear));
    // NOTE: a Model must end in one score per class, so the head is flattened and closed by a
    // linear activation layer; Model::classes() is then the number of raw head values.
    layers.push(LayerConfig::Flatten);
    layers.push(LayerConfig::Activation {
        activation: Activation::Linear,
    });
    Ok(ModelConfig {
        input_shape: [input_size, input_size, 3],
        layers,
    })
}

/// Rewrites a converted detector file (`bytes`, named `source` in errors) for another input
/// size. The weights do not depend on the input size, so only the config changes: a smaller
/// input runs faster and finds smaller faces less well.
pub fn resize_detector(bytes: &[u8], source: &str, input_size: usize) -> Result<Vec<u8>> {
    let (config, weights) = crate::io::decode(bytes, source)?;
    let is_detector = detector_config(config.input_shape[0]).is_ok_and(|c| c == config);
    if !is_detector {
        return Err(Error::ModelFile {
            path: source.to_string(),
            message: "the model is not the tiny face detector; convert it with \
                      `webcnn convert-face-detector`"
                .to_string(),
        });
    }
    crate::io::encode(&detector_config(input_size)?, &weights)
}

/// Builds a "valid" conv2d with a square kernel.
fn conv(filters: usize, kernel: usize, activation: Activation) -> LayerConfig {
    LayerConfig::Conv2d(Conv2dConfig {
        filters,
        kernel_size: [kernel, kernel],
        strides: [1, 1],
        padding: Padding::Valid,
        dilation: [1, 1],
        activation,
        kernel_initializer: Initializer::GlorotUniform,
        trainable: true,
    })
}

/// Builds the 3x3 "same" depthwise half of a separable block.
fn depthwise() -> LayerConfig {
    LayerConfig::DepthwiseConv2d(DepthwiseConv2dConfig {
        kernel_size: [3, 3],
        depth_multiplier: 1,
        strides: [1, 1],
        padding: Padding::Same,
        dilation: [1, 1],
        activation: Activation::Linear,
        depthwise_initializer: Initializer::GlorotUniform,
        trainable: true,
    })
}

/// Builds a 2x2 "same" max pooling with `stride`.
fn pool(stride: usize) -> LayerConfig {
    LayerConfig::MaxPool2d(PoolConfig {
        pool_size: [2, 2],
        strides: Some([stride, stride]),
        padding: Padding::Same,
    })
}

/// Returns the detector's input region of a frame: the square of the frame's larger side from
/// its top-left corner. The frame is thus padded with black at the bottom or right, as face-api
/// pads it.
pub fn frame_box(width: usize, height: usize) -> CropBox {
    CropBox {
        left: 0.0,
        top: 0.0,
        side: width.max(height) as f32,
    }
}

/// Returns the square crop centred on a detected face: the box's larger side grown by `margin`
/// (0.2 adds 10 % on each side).
pub fn face_crop(face: &Detection, margin: f32) -> CropBox {
    let side = face.width().max(face.height()) * (1.0 + margin);
    let centre_x = (face.left + face.right) / 2.0;
    let centre_y = (face.top + face.bottom) / 2.0;
    CropBox {
        left: centre_x - side / 2.0,
        top: centre_y - side / 2.0,
        side,
    }
}

/// Checks that `frame` has `width * height` pixels.
fn check_frame(frame: &[u32], width: usize, height: usize) -> Result<()> {
    if width == 0 || height == 0 || frame.len() != width * height {
        return Err(Error::Config(format!(
            "a {width}x{height} frame needs {} RGBA pixels, got {}; pass the frame's pixels \
             row by row, one u32 each",
            width * height,
            frame.len()
        )));
    }
    Ok(())
}

/// Detects faces in a frame (`[height, width]` RGBA8 pixels as u32, red in the lowest byte)
/// with the converted detector `model`: the frame is padded and resized on the GPU, the model
/// runs there, and only the head is read back. Returns the boxes that score above
/// `score_threshold` after non-max suppression, best first, in pixels of the frame.
pub async fn detect(
    model: &Model,
    frame: &[u32],
    width: usize,
    height: usize,
    score_threshold: f32,
) -> Result<Vec<Detection>> {
    let size = detector_input_size(model.input_shape(), model.classes())?;
    check_frame(frame, width, height)?;
    let gpu = model.gpu();
    let pixels = Tensor::from_slice(gpu, frame, &[height * width]);
    let boxes = [frame_box(width, height)];
    let input = crate::ops::crop::crop_resize(gpu, &pixels, width, height, &boxes, size);
    let step = Tensor::from_slice(gpu, &[0.0f32; 4], &[4]);
    let (head, _) = model.forward(&input, &step, false, false);
    gpu.submit();
    let head = head.to_vec(gpu).await?;
    Ok(faces(&head, size, width.max(height), score_threshold))
}

/// [`detect`] on the CPU path, for browsers without WebGPU and as a reference for the GPU.
pub fn detect_cpu(
    model: &CpuModel,
    frame: &[u32],
    width: usize,
    height: usize,
    score_threshold: f32,
) -> Result<Vec<Detection>> {
    let size = detector_input_size(model.input_shape(), model.classes())?;
    check_frame(frame, width, height)?;
    let boxes = [frame_box(width, height)];
    let input = crate::reference::crop::crop_resize(frame, width, height, &boxes, size);
    let head = crate::cpu::predict(model, &input, 1)?;
    Ok(faces(&head, size, width.max(height), score_threshold))
}

/// Checks that a model has the detector's input and head; returns the input size.
fn detector_input_size(input_shape: [usize; 3], outputs: usize) -> Result<usize> {
    let [h, w, c] = input_shape;
    let grid = h / 32;
    let expected = grid * grid * ANCHORS.len() * BOX_VALUES;
    if h != w || c != 3 || grid_size(h).is_err() || outputs != expected {
        return Err(Error::Config(format!(
            "the model takes {h}x{w}x{c} input and gives {outputs} outputs, but the face \
             detector takes square RGB input of a multiple of 32 pixels and gives {} values per \
             grid cell; convert it with `webcnn convert-face-detector`",
            ANCHORS.len() * BOX_VALUES
        )));
    }
    Ok(h)
}

/// Decodes the head, suppresses overlaps and scales the boxes to the padded square of `side`
/// pixels, whose top-left part is the image.
fn faces(head: &[f32], size: usize, side: usize, score_threshold: f32) -> Vec<Detection> {
    let found = boxes::decode(head, size / 32, score_threshold);
    boxes::non_max_suppression(found, IOU_THRESHOLD)
        .iter()
        .map(|d| d.scaled(side as f32))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detector_shapes_follow_face_api() {
        let config = detector_config(416).expect("416 is a multiple of 32");
        let (layers, _) = crate::model::build_layers(&config, 1).expect("a valid config");
        let shapes: Vec<Vec<usize>> = layers.iter().map(|l| l.output_shape().to_vec()).collect();
        let mut want = vec![vec![414, 414, 16], vec![207, 207, 16]];
        for (filters, pooled) in [(32, 104), (64, 52), (128, 26), (256, 13), (512, 13)] {
            let side = want.last().unwrap()[0];
            let channels = want.last().unwrap()[2];
            want.push(vec![side, side, channels]);
            want.push(vec![side, side, filters]);
            want.push(vec![pooled, pooled, filters]);
        }
        want.push(vec![13, 13, 25]);
        want.push(vec![13 * 13 * 25]);
        want.push(vec![13 * 13 * 25]);
        assert_eq!(shapes, want);
    }

    #[test]
    fn input_size_must_divide_by_32() {
        assert_eq!(grid_size(224).unwrap(), 7);
        assert_eq!(grid_size(MAX_INPUT_SIZE).unwrap(), 45);
        let message = detector_config(300).unwrap_err().to_string();
        assert!(message.contains("got 300"), "{message}");
    }

    #[test]
    fn oversized_input_is_rejected() {
        // 100,000 pixels per side once wrote a model whose first activation fits no buffer.
        let message = detector_config(100_000).unwrap_err().to_string();
        assert!(message.contains("at most 1440"), "{message}");
        assert!(message.contains("got 100000"), "{message}");
    }

    #[test]
    fn face_crop_is_centred_square() {
        let face = Detection {
            left: 10.0,
            top: 20.0,
            right: 30.0,
            bottom: 60.0,
            score: 0.9,
        };
        // Larger side 40, grown by 20 % to 48, centred on (20, 40).
        let crop = face_crop(&face, 0.2);
        assert_eq!(
            crop,
            CropBox {
                left: -4.0,
                top: 16.0,
                side: 48.0
            }
        );
        assert_eq!(frame_box(640, 480).side, 640.0);
    }
}
