//! Async readback: copy to a staging buffer, submit, and await `map_async` through the event loop.
//! Natively the device is polled to completion; on the web nothing blocks.

use super::{Binding, Gpu};
use crate::{Error, Result};

impl Gpu {
    /// Submits pending work and reads `binding` back as raw 32-bit words.
    pub async fn read_words<T: bytemuck::Pod>(&self, binding: &Binding) -> Result<Vec<T>> {
        self.recycle_if_idle();
        let staging = self.pool.acquire_staging(binding.size);
        self.commands.borrow_mut().push(super::Command::Copy {
            src: binding.buffer.buffer.clone(),
            src_offset: binding.offset,
            dst: staging.buffer.clone(),
            dst_offset: 0,
            size: binding.size,
        });
        self.submit();
        self.readback_count.set(self.readback_count.get() + 1);

        let (sender, receiver) = futures_channel::oneshot::channel();
        let slice = staging.buffer.slice(..binding.size);
        slice.map_async(wgpu::MapMode::Read, move |result| {
            let _ = sender.send(result);
        });
        #[cfg(not(target_arch = "wasm32"))]
        self.device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|e| Error::Gpu(format!("waiting for the GPU failed: {e}")))?;

        let mapped = receiver
            .await
            .map_err(|_| Error::Gpu("readback was cancelled (device lost?)".into()))?;
        mapped.map_err(|e| Error::Gpu(format!("mapping a readback buffer failed: {e}")))?;
        let data = {
            let view = slice
                .get_mapped_range()
                .map_err(|e| Error::Gpu(format!("reading a mapped buffer failed: {e}")))?;
            bytemuck::cast_slice::<u8, T>(&view).to_vec()
        };
        staging.buffer.unmap();
        Ok(data)
    }
}
