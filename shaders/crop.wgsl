// Square crops of one RGBA frame, resized bilinearly, one thread per output element.
// frame: [H, W] u32, one RGBA8 pixel each with red in the lowest byte (the layout of a
// canvas ImageData viewed as u32 on little-endian machines).
// boxes: [N, 3] f32, per crop (left, top, side) in frame pixels; the crop may extend past the
// frame, where it reads black.
// y: [N, S, S, 3] f32 RGB in [0, 1]. Output pixel (ox, oy) of crop n samples the frame at
//   sx = left + (ox + 0.5) * side / S - 0.5,   sy = top + (oy + 0.5) * side / S - 0.5
// (pixel centres map to pixel centres) as the bilinear interpolation of the four pixels around
// (sx, sy), each 0 outside the frame.
// bindings: 1 frame, 2 boxes, 3 y
// Grid: 64-thread workgroups, linear index id.x + id.y * num_workgroups.x.

struct Params {
    len: u32, height: u32, width: u32, size: u32,
}

const WG: u32 = 64u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> frame: array<u32>;
@group(0) @binding(2) var<storage, read> boxes: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

// RGB of the frame pixel at (row, col) in [0, 1]; black outside the frame.
fn pixel(row: i32, col: i32) -> vec3<f32> {
    if (row < 0 || col < 0 || row >= i32(p.height) || col >= i32(p.width)) {
        return vec3<f32>(0.0);
    }
    return unpack4x8unorm(frame[u32(row) * p.width + u32(col)]).xyz;
}

@compute @workgroup_size(WG)
fn crop(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let i = (wg.x + wg.y * nwg.x) * WG + lid;
    if (i >= p.len) {
        return;
    }
    let channel = i % 3u;
    let pixel_index = i / 3u;
    let ox = pixel_index % p.size;
    let oy = (pixel_index / p.size) % p.size;
    let n = pixel_index / (p.size * p.size);
    let left = boxes[n * 3u];
    let top = boxes[n * 3u + 1u];
    let step = boxes[n * 3u + 2u] / f32(p.size);
    let sx = left + (f32(ox) + 0.5) * step - 0.5;
    let sy = top + (f32(oy) + 0.5) * step - 0.5;
    let x0 = floor(sx);
    let y0 = floor(sy);
    let fx = sx - x0;
    let fy = sy - y0;
    let c0 = i32(x0);
    let r0 = i32(y0);
    let upper = mix(pixel(r0, c0), pixel(r0, c0 + 1), fx);
    let lower = mix(pixel(r0 + 1, c0), pixel(r0 + 1, c0 + 1), fx);
    y[i] = mix(upper, lower, fy)[channel];
}
