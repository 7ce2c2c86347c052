//! Square crops of an RGBA frame, resized on the GPU (crop.wgsl): the face detector's input
//! (the whole frame padded to a square) and the face crops that follow detection.

use crate::gpu::{Gpu, Kernel};
use crate::tensor::Tensor;

/// A square region of a frame in pixels; it may extend past the frame, where it reads black.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CropBox {
    /// Left edge.
    pub left: f32,
    /// Top edge.
    pub top: f32,
    /// Width and height.
    pub side: f32,
}

/// Uniform of crop.wgsl.
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct CropParams {
    len: u32,
    height: u32,
    width: u32,
    size: u32,
}

/// Cuts `boxes` out of `frame` (`[height, width]` RGBA8 pixels as u32, red in the lowest byte)
/// and resizes each bilinearly to `size`x`size`. Returns `[boxes, size, size, 3]` RGB in [0, 1].
pub fn crop_resize(
    gpu: &Gpu,
    frame: &Tensor,
    width: usize,
    height: usize,
    boxes: &[CropBox],
    size: usize,
) -> Tensor {
    assert_eq!(frame.len(), width * height, "crop frame shape");
    assert!(!boxes.is_empty(), "crop needs at least one box");
    assert!(size > 0, "crop size must be at least 1");
    let flat: Vec<f32> = boxes.iter().flat_map(|b| [b.left, b.top, b.side]).collect();
    let boxes_tensor = Tensor::from_slice(gpu, &flat, &[boxes.len(), 3]);
    let y = Tensor::empty(gpu, &[boxes.len(), size, size, 3]);
    let params = CropParams {
        len: y.len() as u32,
        height: height as u32,
        width: width as u32,
        size: size as u32,
    };
    let storage = [frame.binding(), boxes_tensor.binding(), y.binding()];
    let kernel = Kernel::new("crop", "crop");
    gpu.dispatch(&kernel, &params, &storage, gpu.grid_elements(y.len()));
    y
}
