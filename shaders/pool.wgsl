// Max and average pooling over x [N, H, W, C] into y [N, OH, OW, C], one thread per element.
// Window rows: oh * stride_h - pad_top + [0, pool_h); cells outside the input are skipped, so
// padding never wins a max and is not counted in a mean.
// MAX_FORWARD   y and argmax[N, OH, OW, C] (flat index into x of the first maximum in
//               row-major window order)              bindings: 1 x, 2 y, 3 argmax
// MAX_BACKWARD  dx[i] = sum of dy over windows whose argmax is i (a gather over the windows
//               that contain i, so overlapping windows need no atomics)
//                                                    bindings: 1 dy, 2 argmax, 3 dx
// AVG_FORWARD   y = mean of the window's input cells bindings: 1 x, 2 y
// AVG_BACKWARD  dx[i] = sum over windows containing i of dy / cells(window)
//                                                    bindings: 1 dy, 2 dx
// Grid: 64-thread workgroups, linear index id.x + id.y * num_workgroups.x.

struct Params {
    batch: u32, in_h: u32, in_w: u32, channels: u32,
    pool_h: u32, pool_w: u32, stride_h: u32, stride_w: u32,
    pad_top: u32, pad_left: u32, out_h: u32, out_w: u32,
}

const WG: u32 = 64u;

@group(0) @binding(0) var<uniform> p: Params;

fn linear_index(wg: vec3<u32>, nwg: vec3<u32>, lid: u32) -> u32 {
    return (wg.x + wg.y * nwg.x) * WG + lid;
}

// First input row (inclusive, padded coordinates clamped to the input) of window oh, and its end.
fn window_rows(oh: u32) -> vec2<u32> {
    let start = i32(oh * p.stride_h) - i32(p.pad_top);
    let end = min(start + i32(p.pool_h), i32(p.in_h));
    return vec2<u32>(u32(max(start, 0)), u32(end));
}

fn window_cols(ow: u32) -> vec2<u32> {
    let start = i32(ow * p.stride_w) - i32(p.pad_left);
    let end = min(start + i32(p.pool_w), i32(p.in_w));
    return vec2<u32>(u32(max(start, 0)), u32(end));
}

// Range [first, last] of output rows whose window contains input row ih (empty when first > last).
fn windows_over_row(ih: u32) -> vec2<i32> {
    let padded = i32(ih + p.pad_top);
    let first = max((padded - i32(p.pool_h) + i32(p.stride_h)) / i32(p.stride_h), 0);
    let last = min(padded / i32(p.stride_h), i32(p.out_h) - 1);
    return vec2<i32>(first, last);
}

fn windows_over_col(iw: u32) -> vec2<i32> {
    let padded = i32(iw + p.pad_left);
    let first = max((padded - i32(p.pool_w) + i32(p.stride_w)) / i32(p.stride_w), 0);
    let last = min(padded / i32(p.stride_w), i32(p.out_w) - 1);
    return vec2<i32>(first, last);
}

//#if MAX_FORWARD
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<storage, read_write> argmax: array<u32>;

@compute @workgroup_size(WG)
fn max_forward(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let i = linear_index(wg, nwg, lid);
    if (i >= p.batch * p.out_h * p.out_w * p.channels) {
        return;
    }
    let ch = i % p.channels;
    let ow = (i / p.channels) % p.out_w;
    let oh = (i / (p.channels * p.out_w)) % p.out_h;
    let n = i / (p.channels * p.out_w * p.out_h);
    let rows = window_rows(oh);
    let cols = window_cols(ow);
    // The lowest finite f32, as a hex literal: Chrome's WGSL compiler (Tint) rejects -3.4028235e38
    // because that decimal rounds to a value beyond the f32 range.
    var best = -0x1.fffffep+127f;
    var best_index = 0xffffffffu;
    for (var ih = rows.x; ih < rows.y; ih++) {
        for (var iw = cols.x; iw < cols.y; iw++) {
            let index = ((n * p.in_h + ih) * p.in_w + iw) * p.channels + ch;
            let value = x[index];
            if (best_index == 0xffffffffu || value > best) {
                best = value;
                best_index = index;
            }
        }
    }
    y[i] = best;
    argmax[i] = best_index;
}
//#endif

//#if MAX_BACKWARD
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> argmax: array<u32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;

@compute @workgroup_size(WG)
fn max_backward(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let i = linear_index(wg, nwg, lid);
    if (i >= p.batch * p.in_h * p.in_w * p.channels) {
        return;
    }
    let ch = i % p.channels;
    let iw = (i / p.channels) % p.in_w;
    let ih = (i / (p.channels * p.in_w)) % p.in_h;
    let n = i / (p.channels * p.in_w * p.in_h);
    let rows = windows_over_row(ih);
    let cols = windows_over_col(iw);
    var total = 0.0;
    for (var oh = rows.x; oh <= rows.y; oh++) {
        for (var ow = cols.x; ow <= cols.y; ow++) {
            let o = ((n * p.out_h + u32(oh)) * p.out_w + u32(ow)) * p.channels + ch;
            if (argmax[o] == i) {
                total += dy[o];
            }
        }
    }
    dx[i] = total;
}
//#endif

//#if AVG_FORWARD
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(WG)
fn avg_forward(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let i = linear_index(wg, nwg, lid);
    if (i >= p.batch * p.out_h * p.out_w * p.channels) {
        return;
    }
    let ch = i % p.channels;
    let ow = (i / p.channels) % p.out_w;
    let oh = (i / (p.channels * p.out_w)) % p.out_h;
    let n = i / (p.channels * p.out_w * p.out_h);
    let rows = window_rows(oh);
    let cols = window_cols(ow);
    var total = 0.0;
    for (var ih = rows.x; ih < rows.y; ih++) {
        for (var iw = cols.x; iw < cols.y; iw++) {
            total += x[((n * p.in_h + ih) * p.in_w + iw) * p.channels + ch];
        }
    }
    y[i] = total / f32((rows.y - rows.x) * (cols.y - cols.x));
}
//#endif

//#if AVG_BACKWARD
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read_write> dx: array<f32>;

@compute @workgroup_size(WG)
fn avg_backward(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let i = linear_index(wg, nwg, lid);
    if (i >= p.batch * p.in_h * p.in_w * p.channels) {
        return;
    }
    let ch = i % p.channels;
    let iw = (i / p.channels) % p.in_w;
    let ih = (i / (p.channels * p.in_w)) % p.in_h;
    let n = i / (p.channels * p.in_w * p.in_h);
    let rows = windows_over_row(ih);
    let cols = windows_over_col(iw);
    var total = 0.0;
    for (var oh = rows.x; oh <= rows.y; oh++) {
        let r = window_rows(u32(oh));
        for (var ow = cols.x; ow <= cols.y; ow++) {
            let q = window_cols(u32(ow));
            let cells = f32((r.y - r.x) * (q.y - q.x));
            total += dy[((n * p.out_h + u32(oh)) * p.out_w + u32(ow)) * p.channels + ch] / cells;
        }
    }
    dx[i] = total;
}
//#endif
