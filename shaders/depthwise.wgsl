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

struct Params {
    batch: u32, in_h: u32, in_w: u32, channels: u32,
    multiplier: u32, k_h: u32, k_w: u32, stride_h: u32,
    stride_w: u32, dilation_h: u32, dilation_w: u32, pad_top: u32,
    pad_left: u32, out_h: u32, out_w: u32, rows_per_chunk: u32,
}

const WG: u32 = 64u;

@group(0) @binding(0) var<uniform> p: Params;

fn linear_index(wg: vec3<u32>, nwg: vec3<u32>, lid: u32) -> u32 {
    return (wg.x + wg.y * nwg.x) * WG + lid;
}

fn out_channels() -> u32 {
    return p.channels * p.multiplier;
}

// Input row read by output row oh at kernel row kh, or -1 in the padding.
fn input_row(oh: u32, kh: u32) -> i32 {
    let ih = i32(oh * p.stride_h + kh * p.dilation_h) - i32(p.pad_top);
    return select(-1, ih, ih >= 0 && ih < i32(p.in_h));
}

fn input_col(ow: u32, kw: u32) -> i32 {
    let iw = i32(ow * p.stride_w + kw * p.dilation_w) - i32(p.pad_left);
    return select(-1, iw, iw >= 0 && iw < i32(p.in_w));
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
    return ((n * p.in_h + ih) * p.in_w + iw) * p.channels;
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
    let oc = out_channels();
    if (i >= p.batch * p.out_h * p.out_w * oc) {
        return;
    }
    let o = i % oc;
    let pixel = i / oc;
    let ow = pixel % p.out_w;
    let oh = (pixel / p.out_w) % p.out_h;
    let n = pixel / (p.out_w * p.out_h);
    let c = o / p.multiplier;
    var acc = bias[o];
    for (var kh = 0u; kh < p.k_h; kh++) {
        let ih = input_row(oh, kh);
        if (ih < 0) {
            continue;
        }
        for (var kw = 0u; kw < p.k_w; kw++) {
            let iw = input_col(ow, kw);
            if (iw < 0) {
                continue;
            }
            acc += x[input_offset(n, u32(ih), u32(iw)) + c] * w[(kh * p.k_w + kw) * oc + o];
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
    if (i >= p.batch * p.in_h * p.in_w * p.channels) {
        return;
    }
    let oc = out_channels();
    let c = i % p.channels;
    let pixel = i / p.channels;
    let iw = pixel % p.in_w;
    let ih = (pixel / p.in_w) % p.in_h;
    let n = pixel / (p.in_w * p.in_h);
    var acc = 0.0;
    for (var kh = 0u; kh < p.k_h; kh++) {
        let oh = output_coord(ih, p.pad_top, kh * p.dilation_h, p.stride_h, p.out_h);
        if (oh < 0) {
            continue;
        }
        for (var kw = 0u; kw < p.k_w; kw++) {
            let ow = output_coord(iw, p.pad_left, kw * p.dilation_w, p.stride_w, p.out_w);
            if (ow < 0) {
                continue;
            }
            let dy_base = ((n * p.out_h + u32(oh)) * p.out_w + u32(ow)) * oc;
            let w_base = (kh * p.k_w + kw) * oc;
            for (var m = 0u; m < p.multiplier; m++) {
                let o = c * p.multiplier + m;
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
    let oc = out_channels();
    let weights = p.k_h * p.k_w * oc;
    let j = wg.x * WG + lid;
    if (j >= weights) {
        return;
    }
    let o = j % oc;
    let tap = j / oc;
    let kw = tap % p.k_w;
    let kh = tap / p.k_w;
    let c = o / p.multiplier;
    let rows = p.batch * p.out_h * p.out_w;
    let first = wg.y * p.rows_per_chunk;
    let last = min(first + p.rows_per_chunk, rows);
    var acc = 0.0;
    for (var r = first; r < last; r++) {
        let ow = r % p.out_w;
        let oh = (r / p.out_w) % p.out_h;
        let n = r / (p.out_w * p.out_h);
        let ih = input_row(oh, kh);
        let iw = input_col(ow, kw);
        if (ih < 0 || iw < 0) {
            continue;
        }
        acc += x[input_offset(n, u32(ih), u32(iw)) + c] * dy[r * oc + o];
    }
    part[wg.y * weights + j] = acc;
}
//#endif
