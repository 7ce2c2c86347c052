//! Buffer pool: storage buffers are reused by size once the tensors that held them are dropped, so
//! that after the first epoch a training run creates no buffer.

use crate::hash::FastMap;
use crate::json::to_json;
use std::cell::RefCell;
use std::rc::{Rc, Weak};
use std::sync::atomic::{AtomicU64, Ordering};

use wgpu::util::DeviceExt;

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// Sizes are rounded up to this many bytes, so near-equal requests share a free list.
const SIZE_GRANULE: u64 = 256;

/// Count and total size of the buffers a [`super::Gpu`] has created.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BufferStats {
    /// Buffers created.
    pub count: u64,
    /// Their total size in bytes.
    pub bytes: u64,
}

to_json!(BufferStats { count, bytes });

/// A GPU buffer with a process-unique id; pooled buffers return to their pool when dropped.
pub struct GpuBuffer {
    /// Unique id, the key of cached bind groups.
    pub id: u64,
    /// The wgpu buffer.
    pub buffer: wgpu::Buffer,
    /// Size in bytes.
    pub size: u64,
    /// Free-list key: the size, with the low bit set for staging buffers.
    pool_key: u64,
    pool: Weak<RefCell<PoolState>>,
}

impl Drop for GpuBuffer {
    fn drop(&mut self) {
        if let Some(pool) = self.pool.upgrade() {
            let entry = (self.id, self.buffer.clone());
            pool.borrow_mut().pending.push((self.pool_key, entry));
        }
    }
}

#[derive(Default)]
struct PoolState {
    free: FastMap<u64, Vec<(u64, wgpu::Buffer)>>,
    pending: Vec<(u64, (u64, wgpu::Buffer))>,
    stats: BufferStats,
}

/// Storage, uniform and staging buffers of one device.
pub(crate) struct BufferPool {
    device: wgpu::Device,
    state: Rc<RefCell<PoolState>>,
}

impl BufferPool {
    pub(crate) fn new(device: wgpu::Device) -> Self {
        Self {
            device,
            state: Rc::default(),
        }
    }

    /// Takes a free storage buffer of the rounded-up size, or creates one.
    pub(crate) fn acquire(&self, bytes: u64) -> Rc<GpuBuffer> {
        let size = bytes.max(4).next_multiple_of(SIZE_GRANULE);
        let reused = self
            .state
            .borrow_mut()
            .free
            .get_mut(&size)
            .and_then(Vec::pop);
        let (id, buffer) = reused.unwrap_or_else(|| {
            let usage = wgpu::BufferUsages::STORAGE
                | wgpu::BufferUsages::COPY_SRC
                | wgpu::BufferUsages::COPY_DST;
            (self.next_id(), self.create(size, usage))
        });
        Rc::new(GpuBuffer {
            id,
            buffer,
            size,
            pool_key: size,
            pool: Rc::downgrade(&self.state),
        })
    }

    /// Takes a free staging buffer that the CPU can map for reading.
    pub(crate) fn acquire_staging(&self, bytes: u64) -> Rc<GpuBuffer> {
        let size = bytes.next_multiple_of(SIZE_GRANULE);
        // Sizes are multiples of 256, so the low bit tags the staging free lists.
        let key = size | 1;
        let reused = self
            .state
            .borrow_mut()
            .free
            .get_mut(&key)
            .and_then(Vec::pop);
        let (id, buffer) = reused.unwrap_or_else(|| {
            let usage = wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST;
            (self.next_id(), self.create(size, usage))
        });
        Rc::new(GpuBuffer {
            id,
            buffer,
            size,
            pool_key: key,
            pool: Rc::downgrade(&self.state),
        })
    }

    /// Creates an immutable uniform buffer holding `bytes` (never returned to the pool).
    pub(crate) fn create_uniform(&self, bytes: &[u8]) -> Rc<GpuBuffer> {
        let buffer = self
            .device
            .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: None,
                contents: bytes,
                usage: wgpu::BufferUsages::UNIFORM,
            });
        self.count(bytes.len() as u64);
        Rc::new(GpuBuffer {
            id: self.next_id(),
            buffer,
            size: bytes.len() as u64,
            pool_key: 0,
            pool: Weak::new(),
        })
    }

    /// Makes the buffers dropped since the last submit available again. Called after a submit,
    /// so a buffer is never reused by commands recorded in the same command buffer.
    pub(crate) fn recycle(&self) {
        let mut state = self.state.borrow_mut();
        let pending = std::mem::take(&mut state.pending);
        for (size, entry) in pending {
            state.free.entry(size).or_default().push(entry);
        }
    }

    pub(crate) fn stats(&self) -> BufferStats {
        self.state.borrow().stats
    }

    fn create(&self, size: u64, usage: wgpu::BufferUsages) -> wgpu::Buffer {
        self.count(size);
        self.device.create_buffer(&wgpu::BufferDescriptor {
            label: None,
            size,
            usage,
            mapped_at_creation: false,
        })
    }

    fn count(&self, bytes: u64) {
        let mut state = self.state.borrow_mut();
        state.stats.count += 1;
        state.stats.bytes += bytes;
    }

    fn next_id(&self) -> u64 {
        NEXT_ID.fetch_add(1, Ordering::Relaxed)
    }
}
