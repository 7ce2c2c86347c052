//! GPU tensor: a shape over a range of a pooled storage buffer. Elements are 32-bit (f32, or u32
//! for labels and argmax indices); activations are NHWC, conv weights HWIO.

use std::rc::Rc;

use crate::gpu::{Binding, Gpu, GpuBuffer};
use crate::Result;

/// A shaped range of 32-bit elements in a GPU buffer. Cloning shares the storage.
#[derive(Clone)]
pub struct Tensor {
    shape: Vec<usize>,
    buffer: Rc<GpuBuffer>,
    /// Offset of the first element, in bytes.
    offset: u64,
}

impl Tensor {
    /// Allocates an uninitialised tensor from the pool.
    pub fn empty(gpu: &Gpu, shape: &[usize]) -> Tensor {
        let len: usize = shape.iter().product();
        Tensor {
            shape: shape.to_vec(),
            buffer: gpu.storage(len as u64 * 4),
            offset: 0,
        }
    }

    /// Uploads `data` (f32 or u32) into a new tensor of `shape`.
    pub fn from_slice<T: bytemuck::Pod>(gpu: &Gpu, data: &[T], shape: &[usize]) -> Tensor {
        assert_eq!(std::mem::size_of::<T>(), 4, "tensor elements are 32-bit");
        let tensor = Tensor::empty(gpu, shape);
        assert_eq!(
            tensor.len(),
            data.len(),
            "data length does not match shape {shape:?}"
        );
        gpu.write(&tensor.buffer, 0, data);
        tensor
    }

    /// A view of `shape` starting `start` elements into this tensor. `start * 4` must be a
    /// multiple of the adapter's storage offset alignment.
    pub fn view(&self, start: usize, shape: &[usize]) -> Tensor {
        let len: usize = shape.iter().product();
        assert!(start + len <= self.len(), "view out of range");
        Tensor {
            shape: shape.to_vec(),
            buffer: self.buffer.clone(),
            offset: self.offset + start as u64 * 4,
        }
    }

    /// The same storage with another shape of equal element count.
    pub fn reshape(&self, shape: &[usize]) -> Tensor {
        assert_eq!(
            shape.iter().product::<usize>(),
            self.len(),
            "reshape changes element count"
        );
        Tensor {
            shape: shape.to_vec(),
            ..self.clone()
        }
    }

    /// Dimensions.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    /// True when the tensor has no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The buffer range, for binding to a kernel.
    pub fn binding(&self) -> Binding {
        Binding {
            buffer: self.buffer.clone(),
            offset: self.offset,
            size: (self.len() as u64 * 4).max(4),
        }
    }

    /// The underlying buffer.
    pub fn buffer(&self) -> &GpuBuffer {
        &self.buffer
    }

    /// Byte offset of the first element in the buffer.
    pub fn byte_offset(&self) -> u64 {
        self.offset
    }

    /// Reads the tensor back as f32 (submits pending work first).
    pub async fn to_vec(&self, gpu: &Gpu) -> Result<Vec<f32>> {
        gpu.read_words(&self.binding()).await
    }

    /// Reads the tensor back as u32.
    pub async fn to_vec_u32(&self, gpu: &Gpu) -> Result<Vec<u32>> {
        gpu.read_words(&self.binding()).await
    }
}
