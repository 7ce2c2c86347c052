// 2-D convolution (cross-correlation) as implicit GEMM; the tiled core is gemm.wgsl.
// Layouts: x [N, H, W, C_in], w [KH, KW, C_in, C_out] (HWIO), y and dy [N, OH, OW, C_out].
// Input row ih = oh * stride_h - pad_top + kh * dilation_h (likewise for columns); cells outside
// the input are zero.
//
// FORWARD      y[m, co] = act(bias[co] + sum_k x_col[m, k] * w[k, co])
//              M = N*OH*OW (m = (n, oh, ow)), N = C_out, K = KH*KW*C_in (k = (kh, kw, ci)).
// INPUT_GRAD   dx[m, ci] = sum_k dy_col[m, k] * w[kh, kw, ci, co]
//              M = N*H*W (m = (n, ih, iw)), N = C_in, K = KH*KW*C_out (k = (kh, kw, co)),
//              where dy_col[m, k] = dy[n, oh, ow, co] for the (oh, ow) that reaches (ih, iw)
//              through tap (kh, kw), or 0 when the stride skips it.
// FILTER_GRAD  dw_part[s, m, co] = sum_{k in slice s} x_col[k, m] * dy[k, co]
//              M = KH*KW*C_in, N = C_out, K = N*OH*OW, split into slices summed by reduce.wgsl.
// Bindings: 0 params, 1 a (x or dy), 2 b (w or dy), 3 c (y, dx or dw partials), 4 bias (FORWARD).

struct Params {
    batch: u32, in_h: u32, in_w: u32, in_c: u32,
    k_h: u32, k_w: u32, out_c: u32, out_h: u32,
    out_w: u32, stride_h: u32, stride_w: u32, dilation_h: u32,
    dilation_w: u32, pad_top: u32, pad_left: u32, k_slice: u32,
    gemm_m: u32, gemm_n: u32, gemm_k: u32, _pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;

fn gemm_m() -> u32 { return p.gemm_m; }
fn gemm_n() -> u32 { return p.gemm_n; }
fn gemm_k() -> u32 { return p.gemm_k; }
fn k_slice() -> u32 { return p.k_slice; }

// x[n, ih, iw, ci] with zero outside the input; `row_base` is n * H.
fn x_at(row_base: u32, ih: i32, iw: i32, ci: u32) -> f32 {
    if (ih < 0 || iw < 0 || u32(ih) >= p.in_h || u32(iw) >= p.in_w) {
        return 0.0;
    }
    return a[((row_base + u32(ih)) * p.in_w + u32(iw)) * p.in_c + ci];
}

//#if FORWARD
@group(0) @binding(4) var<storage, read> bias: array<f32>;

// Output position m = (n, oh, ow): the input corner of its window.
struct ARow { row_base: u32, ih: i32, iw: i32 }
// Filter tap k = (kh, kw, ci); w_base = k * C_out.
struct KPos { kh: u32, kw: u32, ci: u32, w_base: u32 }
alias BCol = u32;

fn a_row(m: u32) -> ARow {
    let ow = m % p.out_w;
    let oh = (m / p.out_w) % p.out_h;
    let n = m / (p.out_w * p.out_h);
    let ih = i32(oh * p.stride_h) - i32(p.pad_top);
    let iw = i32(ow * p.stride_w) - i32(p.pad_left);
    return ARow(n * p.in_h, ih, iw);
}

fn k_pos(k: u32) -> KPos {
    let ci = k % p.in_c;
    let kw = (k / p.in_c) % p.k_w;
    let kh = k / (p.in_c * p.k_w);
    return KPos(kh, kw, ci, k * p.out_c);
}

fn a_value(r: ARow, q: KPos) -> f32 {
    let ih = r.ih + i32(q.kh * p.dilation_h);
    let iw = r.iw + i32(q.kw * p.dilation_w);
    return x_at(r.row_base, ih, iw, q.ci);
}

fn b_col(n: u32) -> BCol { return n; }
fn b_value(q: KPos, n: BCol) -> f32 { return b[q.w_base + n]; }

fn store_c(m: u32, n: u32, slice: u32, value: f32) {
    c[m * p.out_c + n] = activate(value + bias[n]);
}
//#endif

//#if INPUT_GRAD
// Input position m = (n, ih, iw), in padded coordinates.
struct ARow { row_base: u32, ph: i32, pw: i32 }
// Tap and output channel k = (kh, kw, co); w_base = (kh * KW + kw) * C_in * C_out + co.
struct KPos { kh: u32, kw: u32, co: u32, w_base: u32 }
// Input channel n = ci: its offset ci * C_out in w.
alias BCol = u32;

fn a_row(m: u32) -> ARow {
    let iw = m % p.in_w;
    let ih = (m / p.in_w) % p.in_h;
    let n = m / (p.in_w * p.in_h);
    return ARow(n * p.out_h, i32(ih + p.pad_top), i32(iw + p.pad_left));
}

fn k_pos(k: u32) -> KPos {
    let co = k % p.out_c;
    let tap = k / p.out_c;
    return KPos(tap / p.k_w, tap % p.k_w, co, tap * p.in_c * p.out_c + co);
}

// dy[n, oh, ow, co] for oh * stride_h = ph - kh * dilation_h (likewise for columns), or 0 when
// no output position reaches this input cell through this tap.
fn a_value(r: ARow, q: KPos) -> f32 {
    let row = r.ph - i32(q.kh * p.dilation_h);
    let col = r.pw - i32(q.kw * p.dilation_w);
    if (row < 0 || col < 0) {
        return 0.0;
    }
    var oh = u32(row);
    var ow = u32(col);
    if (p.stride_h != 1u || p.stride_w != 1u) {
        if (oh % p.stride_h != 0u || ow % p.stride_w != 0u) {
            return 0.0;
        }
        oh = oh / p.stride_h;
        ow = ow / p.stride_w;
    }
    if (oh >= p.out_h || ow >= p.out_w) {
        return 0.0;
    }
    return a[((r.row_base + oh) * p.out_w + ow) * p.out_c + q.co];
}

fn b_col(n: u32) -> BCol { return n * p.out_c; }
fn b_value(q: KPos, c: BCol) -> f32 { return b[q.w_base + c]; }

fn store_c(m: u32, n: u32, slice: u32, value: f32) {
    c[m * p.in_c + n] = value;
}
//#endif

//#if FILTER_GRAD
// Filter tap m = (kh, kw, ci): its offset from a window's corner.
struct ARow { dh: i32, dw: i32, ci: u32 }
// Output position k = (n, oh, ow): its window's corner (row_base = n * H), dy_base = k * C_out.
struct KPos { row_base: u32, ih: i32, iw: i32, dy_base: u32 }
alias BCol = u32;

fn a_row(m: u32) -> ARow {
    let ci = m % p.in_c;
    let kw = (m / p.in_c) % p.k_w;
    let kh = m / (p.in_c * p.k_w);
    return ARow(i32(kh * p.dilation_h), i32(kw * p.dilation_w), ci);
}

fn k_pos(k: u32) -> KPos {
    let ow = k % p.out_w;
    let oh = (k / p.out_w) % p.out_h;
    let n = k / (p.out_w * p.out_h);
    let ih = i32(oh * p.stride_h) - i32(p.pad_top);
    let iw = i32(ow * p.stride_w) - i32(p.pad_left);
    return KPos(n * p.in_h, ih, iw, k * p.out_c);
}

fn a_value(r: ARow, q: KPos) -> f32 {
    return x_at(q.row_base, q.ih + r.dh, q.iw + r.dw, r.ci);
}

fn b_col(n: u32) -> BCol { return n; }
fn b_value(q: KPos, n: BCol) -> f32 { return b[q.dy_base + n]; }

fn store_c(m: u32, n: u32, slice: u32, value: f32) {
    c[(slice * p.gemm_m + m) * p.gemm_n + n] = value;
}
//#endif
