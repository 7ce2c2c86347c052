//! GPU runtime: device with requested limits, buffer pool, pipeline cache, command recording and
//! async readback. Everything a training step records goes into one command buffer and one submit.

mod pipeline;
mod pool;
mod readback;

use crate::hash::FastMap;
use std::cell::{Cell, RefCell};
use std::rc::Rc;

use crate::{Error, Result};

pub use pipeline::Kernel;
pub use pool::{BufferStats, GpuBuffer};

/// Workgroup size of the elementwise kernels (must match `WG` in the WGSL files).
pub const ELEMENTWISE_WORKGROUP: u32 = 64;

/// Options for creating a [`Gpu`].
#[derive(Clone, Debug, Default)]
pub struct GpuOptions {
    /// Caps `maxStorageBufferBindingSize` below the adapter's value, in bytes (tests use this to
    /// force batch splitting). `None` uses the adapter's limit.
    pub max_storage_binding: Option<u64>,
}

/// One storage buffer binding: a buffer range.
#[derive(Clone)]
pub struct Binding {
    /// The buffer.
    pub buffer: Rc<GpuBuffer>,
    /// Offset in bytes (a multiple of the adapter's storage offset alignment).
    pub offset: u64,
    /// Size in bytes.
    pub size: u64,
}

enum Command {
    Dispatch {
        pipeline: Rc<wgpu::ComputePipeline>,
        bind_group: wgpu::BindGroup,
        groups: [u32; 3],
    },
    Copy {
        src: wgpu::Buffer,
        src_offset: u64,
        dst: wgpu::Buffer,
        dst_offset: u64,
        size: u64,
    },
}

type BindGroupKey = (usize, Vec<(u64, u64, u64)>);

/// A recorded dispatch kept for replay (see [`Gpu::start_capture`]).
#[derive(Clone)]
pub struct CapturedDispatch {
    /// Module, entry point and workgroup grid, e.g. `conv2d.main [11, 4, 1]`.
    pub label: String,
    pipeline: Rc<wgpu::ComputePipeline>,
    bind_group: wgpu::BindGroup,
    groups: [u32; 3],
}

/// The device, its queue and the caches that drive it.
pub struct Gpu {
    /// The wgpu device.
    pub device: wgpu::Device,
    /// The device's queue.
    pub queue: wgpu::Queue,
    /// Limits granted to the device (and the storage binding cap from [`GpuOptions`]).
    pub limits: wgpu::Limits,
    /// Adapter name, driver and backend.
    pub info: wgpu::AdapterInfo,
    pipelines: pipeline::PipelineCache,
    pool: pool::BufferPool,
    uniforms: RefCell<FastMap<Vec<u8>, Rc<GpuBuffer>>>,
    bind_groups: RefCell<FastMap<BindGroupKey, wgpu::BindGroup>>,
    commands: RefCell<Vec<Command>>,
    capture: RefCell<Option<Vec<CapturedDispatch>>>,
    dispatch_count: Cell<u64>,
    submit_count: Cell<u64>,
    readback_count: Cell<u64>,
}

impl Gpu {
    /// Opens the default high-performance adapter and creates a device with its full limits.
    pub async fn new(options: GpuOptions) -> Result<Gpu> {
        let instance = wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle());
        let adapter = instance
            .request_adapter(&wgpu::RequestAdapterOptions {
                power_preference: wgpu::PowerPreference::HighPerformance,
                ..Default::default()
            })
            .await
            .map_err(|e| {
                Error::Gpu(format!(
                    "no WebGPU/Vulkan/Metal/DX12 adapter found ({e}); install a GPU driver \
                     (on Linux without a GPU: apt-get install mesa-vulkan-drivers)"
                ))
            })?;
        let info = adapter.get_info();
        let adapter_limits = adapter.limits();
        let (device, queue) = adapter
            .request_device(&wgpu::DeviceDescriptor {
                label: Some("webcnn"),
                required_limits: adapter_limits.clone(),
                ..Default::default()
            })
            .await
            .map_err(|e| Error::Gpu(format!("device request on {} failed: {e}", info.name)))?;

        let mut limits = adapter_limits;
        if let Some(cap) = options.max_storage_binding {
            limits.max_storage_buffer_binding_size =
                limits.max_storage_buffer_binding_size.min(cap);
        }
        log::info!(
            "GPU adapter: {} ({:?}, {})",
            info.name,
            info.backend,
            info.driver
        );
        Ok(Gpu {
            pool: pool::BufferPool::new(device.clone()),
            pipelines: pipeline::PipelineCache::new(device.clone()),
            device,
            queue,
            limits,
            info,
            uniforms: RefCell::default(),
            bind_groups: RefCell::default(),
            commands: RefCell::default(),
            capture: RefCell::default(),
            dispatch_count: Cell::new(0),
            submit_count: Cell::new(0),
            readback_count: Cell::new(0),
        })
    }

    /// Takes a storage buffer of at least `bytes` from the pool (created on first use of a size).
    pub fn storage(&self, bytes: u64) -> Rc<GpuBuffer> {
        self.recycle_if_idle();
        self.pool.acquire(bytes)
    }

    /// Buffers dropped while commands were being recorded may still be read by those commands,
    /// so they wait for the submit. With nothing recorded they can be reused at once.
    pub(crate) fn recycle_if_idle(&self) {
        if self.commands.borrow().is_empty() {
            self.pool.recycle();
        }
    }

    /// Writes `data` at byte `offset` of `buffer`. The write happens before the next submit's
    /// commands, so call it only before recording the commands that read the buffer.
    pub fn write<T: bytemuck::Pod>(&self, buffer: &GpuBuffer, offset: u64, data: &[T]) {
        self.queue
            .write_buffer(&buffer.buffer, offset, bytemuck::cast_slice(data));
    }

    /// Records a kernel dispatch. `params` is bound as the uniform at binding 0 and `storage` at
    /// bindings 1, 2, ... in order; `groups` is the workgroup grid.
    pub fn dispatch<P: bytemuck::Pod>(
        &self,
        kernel: &Kernel,
        params: &P,
        storage: &[Binding],
        groups: [u32; 3],
    ) {
        let max = self.limits.max_compute_workgroups_per_dimension;
        assert!(
            groups.iter().all(|&g| g <= max),
            "grid {groups:?} of {} exceeds {max} workgroups per dimension",
            kernel.entry
        );
        if groups.contains(&0) {
            return;
        }
        let (pipeline_id, pipeline) = self.pipelines.get(kernel);
        let uniform = self.uniform(bytemuck::bytes_of(params));
        let bind_group = self.bind_group(pipeline_id, &pipeline, &uniform, storage);
        if let Some(captured) = self.capture.borrow_mut().as_mut() {
            captured.push(CapturedDispatch {
                label: format!("{}.{} {groups:?}", kernel.module, kernel.entry),
                pipeline: pipeline.clone(),
                bind_group: bind_group.clone(),
                groups,
            });
        }
        self.commands.borrow_mut().push(Command::Dispatch {
            pipeline,
            bind_group,
            groups,
        });
        self.dispatch_count.set(self.dispatch_count.get() + 1);
    }

    /// Starts keeping a copy of every dispatch recorded from now on, for profiling.
    pub fn start_capture(&self) {
        *self.capture.borrow_mut() = Some(Vec::new());
    }

    /// Stops capturing and returns the dispatches recorded since [`Gpu::start_capture`].
    pub fn finish_capture(&self) -> Vec<CapturedDispatch> {
        self.capture.borrow_mut().take().unwrap_or_default()
    }

    /// Records `dispatch` again, with the same pipeline, bindings and grid.
    pub fn replay(&self, dispatch: &CapturedDispatch) {
        self.commands.borrow_mut().push(Command::Dispatch {
            pipeline: dispatch.pipeline.clone(),
            bind_group: dispatch.bind_group.clone(),
            groups: dispatch.groups,
        });
        self.dispatch_count.set(self.dispatch_count.get() + 1);
    }

    /// Splits a 1-D count of `workgroups` into a grid whose dimensions respect the adapter limit.
    /// Kernels recover the linear index as `id.x + id.y * num_workgroups.x`.
    pub fn grid_1d(&self, workgroups: u32) -> [u32; 3] {
        let max = self.limits.max_compute_workgroups_per_dimension;
        if workgroups <= max {
            [workgroups, 1, 1]
        } else {
            [max, workgroups.div_ceil(max), 1]
        }
    }

    /// Grid for an elementwise kernel over `len` elements.
    pub fn grid_elements(&self, len: usize) -> [u32; 3] {
        self.grid_1d((len as u32).div_ceil(ELEMENTWISE_WORKGROUP))
    }

    /// Records a buffer-to-buffer copy.
    pub fn copy(&self, src: &Binding, dst: &Binding) {
        assert_eq!(src.size, dst.size, "copy between ranges of different sizes");
        self.commands.borrow_mut().push(Command::Copy {
            src: src.buffer.buffer.clone(),
            src_offset: src.offset,
            dst: dst.buffer.buffer.clone(),
            dst_offset: dst.offset,
            size: src.size,
        });
    }

    /// Submits everything recorded so far as one command buffer, then releases to the pool the
    /// buffers dropped while recording.
    pub fn submit(&self) {
        let commands = std::mem::take(&mut *self.commands.borrow_mut());
        if !commands.is_empty() {
            let mut encoder = self
                .device
                .create_command_encoder(&wgpu::CommandEncoderDescriptor { label: None });
            record(&mut encoder, commands);
            self.queue.submit([encoder.finish()]);
            self.submit_count.set(self.submit_count.get() + 1);
        }
        self.pool.recycle();
    }

    /// Buffers created so far (pool, uniforms, staging) and their total size.
    pub fn buffer_stats(&self) -> BufferStats {
        self.pool.stats()
    }

    /// Dispatches and submits recorded since the device was created.
    pub fn counters(&self) -> (u64, u64) {
        (self.dispatch_count.get(), self.submit_count.get())
    }

    /// Buffers read back (with [`Gpu::read_words`]) since the device was created.
    pub fn readbacks(&self) -> u64 {
        self.readback_count.get()
    }

    /// Largest storage binding in bytes.
    pub fn max_binding(&self) -> u64 {
        self.limits.max_storage_buffer_binding_size
    }

    fn uniform(&self, bytes: &[u8]) -> Rc<GpuBuffer> {
        let mut uniforms = self.uniforms.borrow_mut();
        if let Some(buffer) = uniforms.get(bytes) {
            return buffer.clone();
        }
        let buffer = self.pool.create_uniform(bytes);
        uniforms.insert(bytes.to_vec(), buffer.clone());
        buffer
    }

    fn bind_group(
        &self,
        pipeline_id: usize,
        pipeline: &wgpu::ComputePipeline,
        uniform: &GpuBuffer,
        storage: &[Binding],
    ) -> wgpu::BindGroup {
        let mut ids = vec![(uniform.id, 0, uniform.size)];
        ids.extend(storage.iter().map(|b| (b.buffer.id, b.offset, b.size)));
        let key = (pipeline_id, ids);
        if let Some(group) = self.bind_groups.borrow().get(&key) {
            return group.clone();
        }

        let mut entries = vec![wgpu::BindGroupEntry {
            binding: 0,
            resource: uniform.buffer.as_entire_binding(),
        }];
        for (i, b) in storage.iter().enumerate() {
            entries.push(wgpu::BindGroupEntry {
                binding: i as u32 + 1,
                resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                    buffer: &b.buffer.buffer,
                    offset: b.offset,
                    size: wgpu::BufferSize::new(b.size),
                }),
            });
        }
        let group = self.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: None,
            layout: &pipeline.get_bind_group_layout(0),
            entries: &entries,
        });
        self.bind_groups.borrow_mut().insert(key, group.clone());
        group
    }
}

/// Records `commands` in order, grouping consecutive dispatches into one compute pass.
fn record(encoder: &mut wgpu::CommandEncoder, commands: Vec<Command>) {
    let mut pass: Option<wgpu::ComputePass<'static>> = None;
    for command in commands {
        match command {
            Command::Dispatch {
                pipeline,
                bind_group,
                groups,
            } => {
                let pass = pass.get_or_insert_with(|| {
                    encoder
                        .begin_compute_pass(&wgpu::ComputePassDescriptor::default())
                        .forget_lifetime()
                });
                pass.set_pipeline(&pipeline);
                pass.set_bind_group(0, &bind_group, &[]);
                pass.dispatch_workgroups(groups[0], groups[1], groups[2]);
            }
            Command::Copy {
                src,
                src_offset,
                dst,
                dst_offset,
                size,
            } => {
                pass = None;
                encoder.copy_buffer_to_buffer(&src, src_offset, &dst, dst_offset, size);
            }
        }
    }
}
