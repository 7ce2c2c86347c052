// Max and average pooling over x [N, H, W, C] into y [N, OH, OW, C], one thread per element.
// Window rows: oh * stride_h - pad_top + [0, pool_h); cells outside the input are skipped, so
// padding never wins a max and is not counted in a mean.
// MAX_FORWARD   y and argmax[N, OH, OW, C] (flat index into x of the first maximum in
//               row-major window order)              bindings: 1 x, 2 y, 3 argmax
// MAX_BACKWARD  dx[i] = sum of dy over windows whose argmax is i (a gather over the windows
//               that contain i, so overlapping windows need no atomics)
//                                                    bindings: 1 dy, 2 argmax, 3 dx
// MAX_FORWARD4, MAX_BACKWARD4   the same, four channels per thread as vec4 (channels a multiple
//               of 4): on SwiftShader a vec4 load costs about half as much as four f32 loads
// AVG_FORWARD   y = mean of the window's input cells bindings: 1 x, 2 y
// AVG_BACKWARD  dx[i] = sum over windows containing i of dy / cells(window)
//                                                    bindings: 1 dy, 2 dx
// Grid: 64-thread workgroups, linear index id.x + id.y * num_workgroups.x.

// The geometry is compiled in, so the index arithmetic divides by constants: a runtime divisor
// costs one scalar division per SIMD lane on adapters that run shaders on the CPU.
const IN_H: u32 = {{IN_H}}u;
const IN_W: u32 = {{IN_W}}u;
const CHANNELS: u32 = {{CHANNELS}}u;
const POOL_H: u32 = {{POOL_H}}u;
const POOL_W: u32 = {{POOL_W}}u;
const STRIDE_H: u32 = {{STRIDE_H}}u;
const STRIDE_W: u32 = {{STRIDE_W}}u;
const PAD_TOP: u32 = {{PAD_TOP}}u;
const PAD_LEFT: u32 = {{PAD_LEFT}}u;
const OUT_H: u32 = {{OUT_H}}u;
const OUT_W: u32 = {{OUT_W}}u;

// The batch, the one size that changes between dispatches of a layer.
struct Params { batch: u32, _pad0: u32, _pad1: u32, _pad2: u32 }

const WG: u32 = 64u;

@group(0) @binding(0) var<uniform> p: Params;

fn linear_index(wg: vec3<u32>, nwg: vec3<u32>, lid: u32) -> u32 {
    return (wg.x + wg.y * nwg.x) * WG + lid;
}

// An element of an NHWC tensor: image n, row, column and channel.
struct Cell { n: u32, row: u32, col: u32, ch: u32 }

// The cell of y (and dy) at flat index i.
fn out_cell(i: u32) -> Cell {
    let ch = i % CHANNELS;
    let col = (i / CHANNELS) % OUT_W;
    let row = (i / (CHANNELS * OUT_W)) % OUT_H;
    return Cell(i / (CHANNELS * OUT_W * OUT_H), row, col, ch);
}

// The cell of x (and dx) at flat index i.
fn in_cell(i: u32) -> Cell {
    let ch = i % CHANNELS;
    let col = (i / CHANNELS) % IN_W;
    let row = (i / (CHANNELS * IN_W)) % IN_H;
    return Cell(i / (CHANNELS * IN_W * IN_H), row, col, ch);
}

// First input row (inclusive, padded coordinates clamped to the input) of window oh, and its end.
fn window_rows(oh: u32) -> vec2<u32> {
    let start = i32(oh * STRIDE_H) - i32(PAD_TOP);
    let end = min(start + i32(POOL_H), i32(IN_H));
    return vec2<u32>(u32(max(start, 0)), u32(end));
}

fn window_cols(ow: u32) -> vec2<u32> {
    let start = i32(ow * STRIDE_W) - i32(PAD_LEFT);
    let end = min(start + i32(POOL_W), i32(IN_W));
    return vec2<u32>(u32(max(start, 0)), u32(end));
}

// Range [first, last] of output rows whose window contains input row ih (empty when first > last).
fn windows_over_row(ih: u32) -> vec2<i32> {
    let padded = i32(ih + PAD_TOP);
    let first = max((padded - i32(POOL_H) + i32(STRIDE_H)) / i32(STRIDE_H), 0);
    let last = min(padded / i32(STRIDE_H), i32(OUT_H) - 1);
    return vec2<i32>(first, last);
}

fn windows_over_col(iw: u32) -> vec2<i32> {
    let padded = i32(iw + PAD_LEFT);
    let first = max((padded - i32(POOL_W) + i32(STRIDE_W)) / i32(STRIDE_W), 0);
    let last = min(padded / i32(STRIDE_W), i32(OUT_W) - 1);
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
    if (i >= p.batch * OUT_H * OUT_W * CHANNELS) {
        return;
    }
    let c = out_cell(i);
    let n = c.n;
    let ch = c.ch;
    let rows = window_rows(c.row);
    let cols = window_cols(c.col);
    // The lowest finite f32, as a hex literal: Chrome's WGSL compiler (Tint) rejects -3.4028235e38
    // because that decimal rounds to a value beyond the f32 range.
    var best = -0x1.fffffep+127f;
    var best_index = 0xffffffffu;
    for (var ih = rows.x; ih < rows.y; ih++) {
        for (var iw = cols.x; iw < cols.y; iw++) {
            let index = ((n * IN_H + ih) * IN_W + iw) * CHANNELS + ch;
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
    if (i >= p.batch * IN_H * IN_W * CHANNELS) {
        return;
    }
    let c = in_cell(i);
    let n = c.n;
    let ch = c.ch;
    let rows = windows_over_row(c.row);
    let cols = windows_over_col(c.col);
    var total = 0.0;
    for (var oh = rows.x; oh <= rows.y; oh++) {
        for (var ow = cols.x; ow <= cols.y; ow++) {
            let o = ((n * OUT_H + u32(oh)) * OUT_W + u32(ow)) * CHANNELS + ch;
            if (argmax[o] == i) {
                total += dy[o];
            }
        }
    }
    dx[i] = total;
}
//#endif

//#if MAX_FORWARD4
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> y: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> argmax: array<vec4<u32>>;

@compute @workgroup_size(WG)
fn max_forward4(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let i = linear_index(wg, nwg, lid) * 4u;
    if (i >= p.batch * OUT_H * OUT_W * CHANNELS) {
        return;
    }
    let c = out_cell(i);
    let n = c.n;
    let ch = c.ch;
    let rows = window_rows(c.row);
    let cols = window_cols(c.col);
    var best = vec4<f32>(-0x1.fffffep+127f);
    var best_index = vec4<u32>(0xffffffffu);
    for (var ih = rows.x; ih < rows.y; ih++) {
        for (var iw = cols.x; iw < cols.y; iw++) {
            let index = ((n * IN_H + ih) * IN_W + iw) * CHANNELS + ch;
            let value = x[index / 4u];
            let better = (best_index == vec4<u32>(0xffffffffu)) | (value > best);
            best = select(best, value, better);
            best_index = select(best_index, vec4<u32>(index) + vec4<u32>(0u, 1u, 2u, 3u), better);
        }
    }
    y[i / 4u] = best;
    argmax[i / 4u] = best_index;
}
//#endif

//#if MAX_BACKWARD4
@group(0) @binding(1) var<storage, read> dy: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> argmax: array<vec4<u32>>;
@group(0) @binding(3) var<storage, read_write> dx: array<vec4<f32>>;

@compute @workgroup_size(WG)
fn max_backward4(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let i = linear_index(wg, nwg, lid) * 4u;
    if (i >= p.batch * IN_H * IN_W * CHANNELS) {
        return;
    }
    let c = in_cell(i);
    let n = c.n;
    let ch = c.ch;
    let rows = windows_over_row(c.row);
    let cols = windows_over_col(c.col);
    let own = vec4<u32>(i) + vec4<u32>(0u, 1u, 2u, 3u);
    var total = vec4<f32>(0.0);
    for (var oh = rows.x; oh <= rows.y; oh++) {
        for (var ow = cols.x; ow <= cols.y; ow++) {
            let o = (((n * OUT_H + u32(oh)) * OUT_W + u32(ow)) * CHANNELS + ch) / 4u;
            total += select(vec4<f32>(0.0), dy[o], argmax[o] == own);
        }
    }
    dx[i / 4u] = total;
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
    if (i >= p.batch * OUT_H * OUT_W * CHANNELS) {
        return;
    }
    let c = out_cell(i);
    let n = c.n;
    let ch = c.ch;
    let rows = window_rows(c.row);
    let cols = window_cols(c.col);
    var total = 0.0;
    for (var ih = rows.x; ih < rows.y; ih++) {
        for (var iw = cols.x; iw < cols.y; iw++) {
            total += x[((n * IN_H + ih) * IN_W + iw) * CHANNELS + ch];
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
    if (i >= p.batch * IN_H * IN_W * CHANNELS) {
        return;
    }
    let c = in_cell(i);
    let n = c.n;
    let ch = c.ch;
    let rows = windows_over_row(c.row);
    let cols = windows_over_col(c.col);
    var total = 0.0;
    for (var oh = rows.x; oh <= rows.y; oh++) {
        let r = window_rows(u32(oh));
        for (var ow = cols.x; ow <= cols.y; ow++) {
            let q = window_cols(u32(ow));
            let cells = f32((r.y - r.x) * (q.y - q.x));
            total += dy[((n * OUT_H + u32(oh)) * OUT_W + u32(ow)) * CHANNELS + ch] / cells;
        }
    }
    dx[i] = total;
}
//#endif
