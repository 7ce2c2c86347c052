// Affine warp of a batch of images (data augmentation), one thread per output element.
// x, y: [N, H, W, C] NHWC f32. transforms: [N, 7] f32, per image (a, b, tx, c, d, ty, gain)
// (ops::augment::Transform), mapping an output pixel to the input position it samples, both
// relative to the image centre (cx, cy) = ((W - 1) / 2, (H - 1) / 2):
//   sx = a * (ox - cx) + b * (oy - cy) + cx + tx
//   sy = c * (ox - cx) + d * (oy - cy) + cy + ty
// y is gain times the bilinear interpolation of the four input pixels around (sx, sy); pixels
// outside the image count as 0 (zero fill). A flip is a negated first row (a, b, tx).
// bindings: 1 x, 2 y, 3 transforms
// Grid: 64-thread workgroups, linear index id.x + id.y * num_workgroups.x.

struct Params {
    len: u32, height: u32, width: u32, channels: u32,
}

const WG: u32 = 64u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<storage, read> transforms: array<f32>;

// Input value at integer position (row, col) of image n, channel ch; 0 outside the image.
fn pixel(n: u32, row: i32, col: i32, ch: u32) -> f32 {
    if (row < 0 || col < 0 || row >= i32(p.height) || col >= i32(p.width)) {
        return 0.0;
    }
    return x[((n * p.height + u32(row)) * p.width + u32(col)) * p.channels + ch];
}

@compute @workgroup_size(WG)
fn warp(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let i = (wg.x + wg.y * nwg.x) * WG + lid;
    if (i >= p.len) {
        return;
    }
    let ch = i % p.channels;
    let ox = (i / p.channels) % p.width;
    let oy = (i / (p.channels * p.width)) % p.height;
    let n = i / (p.channels * p.width * p.height);

    let t = n * 7u;
    let cx = (f32(p.width) - 1.0) * 0.5;
    let cy = (f32(p.height) - 1.0) * 0.5;
    let dx = f32(ox) - cx;
    let dy = f32(oy) - cy;
    let sx = transforms[t] * dx + transforms[t + 1u] * dy + cx + transforms[t + 2u];
    let sy = transforms[t + 3u] * dx + transforms[t + 4u] * dy + cy + transforms[t + 5u];

    let x0 = floor(sx);
    let y0 = floor(sy);
    let fx = sx - x0;
    let fy = sy - y0;
    let col = i32(x0);
    let row = i32(y0);
    let top = pixel(n, row, col, ch) * (1.0 - fx) + pixel(n, row, col + 1, ch) * fx;
    let bottom = pixel(n, row + 1, col, ch) * (1.0 - fx) + pixel(n, row + 1, col + 1, ch) * fx;
    y[i] = transforms[t + 6u] * (top * (1.0 - fy) + bottom * fy);
}
