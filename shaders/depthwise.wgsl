// Depthwise 2-D convolution (cross-correlation), as Keras's and tfjs's DepthwiseConv2D.
// x [N, H, W, C] NHWC, w [KH, KW, C, M] (M = depth multiplier), bias [C * M],
// y [N, OH, OW, C * M]. Output channel o = c * M + m reads only input channel c = o / M, so the
// weights of tap (kh, kw) are the contiguous row w[(kh * KW + kw) * OC + o], OC = C * M.
// Output cell (oh, ow) at tap (kh, kw) reads input cell
// (oh * stride_h - pad_top + kh * dilation_h, ow * stride_w - pad_left + kw * dilation_w);
// cells outside the input read as zero.
// FORWARD      y = conv(x, w) + bias, one thread per output element
//                                           bindings: 1 x, 2 w, 3 bias, 4 y
// INPUT_GRAD   dx[n, ih, iw, c] = sum over m and the taps that read (ih, iw) of
//              dy[n, oh, ow, c * M + m] * w[kh, kw, c, m], one thread per input element
//                                           bindings: 1 dy, 2 w, 3 dx
// FILTER_GRAD  part[chunk, j] = sum over the rows r = (n, oh, ow) of the chunk of
//              x[n, ih, iw, c] * dy[r, o], one thread per weight element j and chunk of
//              rows_per_chunk rows; grid x = ceil(KH * KW * OC / 64), y = chunks. The caller
//              sums the chunks with reduce.wgsl.
//                                           bindings: 1 x, 2 dy, 3 part
// Elementwise grid: 64-thread workgroups, linear index id.x + id.y * num_workgroups.x.

// The geometry is compiled in (divisions by constants are cheap); the uniform has what changes
// with the batch.
struct Params {
    batch: u32, rows_per_chunk: u32, _pad0: u32, _pad1: u32,
}

const IN_H: u32 = {{IN_H}}u;
const IN_W: u32 = {{IN_W}}u;
const CHANNELS: u32 = {{CHANNELS}}u;
const MULTIPLIER: u32 = {{MULTIPLIER}}u;
const K_H: u32 = {{K_H}}u;
const K_W: u32 = {{K_W}}u;
const STRIDE_H: u32 = {{STRIDE_H}}u;
const STRIDE_W: u32 = {{STRIDE_W}}u;
const DILATION_H: u32 = {{DILATION_H}}u;
const DILATION_W: u32 = {{DILATION_W}}u;
const PAD_TOP: u32 = {{PAD_TOP}}u;
const PAD_LEFT: u32 = {{PAD_LEFT}}u;
const OUT_H: u32 = {{OUT_H}}u;
const OUT_W: u32 = {{OUT_W}}u;
const OC: u32 = CHANNELS * MULTIPLIER;

const WG: u32 = 64u;

@group(0) @binding(0) var<uniform> p: Params;

fn linear_index(wg: vec3<u32>, nwg: vec3<u32>, lid: u32) -> u32 {
    return (wg.x + wg.y * nwg.x) * WG + lid;
}

// Input row read by output row oh at kernel row kh, or -1 in the padding.
fn input_row(oh: u32, kh: u32) -> i32 {
    let ih = i32(oh * STRIDE_H + kh * DILATION_H) - i32(PAD_TOP);
    return select(-1, ih, ih >= 0 && ih < i32(IN_H));
}

fn input_col(ow: u32, kw: u32) -> i32 {
    let iw = i32(ow * STRIDE_W + kw * DILATION_W) - i32(PAD_LEFT);
    return select(-1, iw, iw >= 0 && iw < i32(IN_W));
}

// Output index read back from input coordinate i (padded start = i + pad - tap * dilation), or
// -1 when no output window puts the tap on i.
fn output_coord(i: u32, pad: u32, tap_offset: u32, stride: u32, size: u32) -> i32 {
    let start = i32(i + pad) - i32(tap_offset);
    if (start < 0 || u32(start) % stride != 0u) {
        return -1;
    }
    let o = u32(start) / stride;
    return select(-1, i32(o), o < size);
}

fn input_offset(n: u32, ih: u32, iw: u32) -> u32 {
    return ((n * IN_H + ih) * IN_W + iw) * CHANNELS;
}

//#if FORWARD
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(WG)
fn forward(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let i = linear_index(wg, nwg, lid);
    if (i >= p.batch * OUT_H * OUT_W * OC) {
        return;
    }
    let o = i % OC;
    let pixel = i / OC;
    let ow = pixel % OUT_W;
    let oh = (pixel / OUT_W) % OUT_H;
    let n = pixel / (OUT_W * OUT_H);
    let c = o / MULTIPLIER;
    var acc = bias[o];
    for (var kh = 0u; kh < K_H; kh++) {
        let ih = input_row(oh, kh);
        if (ih < 0) {
            continue;
        }
        for (var kw = 0u; kw < K_W; kw++) {
            let iw = input_col(ow, kw);
            if (iw < 0) {
                continue;
            }
            acc += x[input_offset(n, u32(ih), u32(iw)) + c] * w[(kh * K_W + kw) * OC + o];
        }
    }
    y[i] = acc;
}
//#endif

//#if INPUT_GRAD
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;

@compute @workgroup_size(WG)
fn input_grad(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let i = linear_index(wg, nwg, lid);
    if (i >= p.batch * IN_H * IN_W * CHANNELS) {
        return;
    }
    let c = i % CHANNELS;
    let pixel = i / CHANNELS;
    let iw = pixel % IN_W;
    let ih = (pixel / IN_W) % IN_H;
    let n = pixel / (IN_W * IN_H);
    var acc = 0.0;
    for (var kh = 0u; kh < K_H; kh++) {
        let oh = output_coord(ih, PAD_TOP, kh * DILATION_H, STRIDE_H, OUT_H);
        if (oh < 0) {
            continue;
        }
        for (var kw = 0u; kw < K_W; kw++) {
            let ow = output_coord(iw, PAD_LEFT, kw * DILATION_W, STRIDE_W, OUT_W);
            if (ow < 0) {
                continue;
            }
            let dy_base = ((n * OUT_H + u32(oh)) * OUT_W + u32(ow)) * OC;
            let w_base = (kh * K_W + kw) * OC;
            for (var m = 0u; m < MULTIPLIER; m++) {
                let o = c * MULTIPLIER + m;
                acc += dy[dy_base + o] * w[w_base + o];
            }
        }
    }
    dx[i] = acc;
}
//#endif

//#if FILTER_GRAD
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read_write> part: array<f32>;

@compute @workgroup_size(WG)
fn filter_grad(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let weights = K_H * K_W * OC;
    let j = wg.x * WG + lid;
    if (j >= weights) {
        return;
    }
    let o = j % OC;
    let tap = j / OC;
    let kw = tap % K_W;
    let kh = tap / K_W;
    let c = o / MULTIPLIER;
    let rows = p.batch * OUT_H * OUT_W;
    let first = wg.y * p.rows_per_chunk;
    let last = min(first + p.rows_per_chunk, rows);
    var acc = 0.0;
    for (var r = first; r < last; r++) {
        let ow = r % OUT_W;
        let oh = (r / OUT_W) % OUT_H;
        let n = r / (OUT_W * OUT_H);
        let ih = input_row(oh, kh);
        let iw = input_col(ow, kw);
        if (ih < 0 || iw < 0) {
            continue;
        }
        acc += x[input_offset(n, u32(ih), u32(iw)) + c] * dy[r * OC + o];
    }
    part[wg.y * weights + j] = acc;
}
//#endif
