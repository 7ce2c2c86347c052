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

// x[n, ih, iw, ci] with zero outside the input; ih and iw are given before removing the padding.
fn x_at(n: u32, ih_padded: u32, iw_padded: u32, ci: u32) -> f32 {
    if (ih_padded < p.pad_top || iw_padded < p.pad_left) {
        return 0.0;
    }
    let ih = ih_padded - p.pad_top;
    let iw = iw_padded - p.pad_left;
    if (ih >= p.in_h || iw >= p.in_w) {
        return 0.0;
    }
    return a[((n * p.in_h + ih) * p.in_w + iw) * p.in_c + ci];
}

//#if FORWARD
@group(0) @binding(4) var<storage, read> bias: array<f32>;

fn load_a(m: u32, k: u32) -> f32 {
    let ow = m % p.out_w;
    let oh = (m / p.out_w) % p.out_h;
    let n = m / (p.out_w * p.out_h);
    let ci = k % p.in_c;
    let kw = (k / p.in_c) % p.k_w;
    let kh = k / (p.in_c * p.k_w);
    return x_at(n, oh * p.stride_h + kh * p.dilation_h, ow * p.stride_w + kw * p.dilation_w, ci);
}

fn load_b(k: u32, n: u32) -> f32 {
    return b[k * p.out_c + n];
}

fn store_c(m: u32, n: u32, slice: u32, value: f32) {
    c[m * p.out_c + n] = activate(value + bias[n]);
}
//#endif

//#if INPUT_GRAD
fn load_a(m: u32, k: u32) -> f32 {
    let iw = m % p.in_w;
    let ih = (m / p.in_w) % p.in_h;
    let n = m / (p.in_w * p.in_h);
    let co = k % p.out_c;
    let kw = (k / p.out_c) % p.k_w;
    let kh = k / (p.out_c * p.k_w);
    // oh * stride_h = ih + pad_top - kh * dilation_h must be a non-negative multiple of stride.
    let row = i32(ih + p.pad_top) - i32(kh * p.dilation_h);
    let col = i32(iw + p.pad_left) - i32(kw * p.dilation_w);
    if (row < 0 || col < 0) {
        return 0.0;
    }
    let r = u32(row);
    let q = u32(col);
    if (r % p.stride_h != 0u || q % p.stride_w != 0u) {
        return 0.0;
    }
    let oh = r / p.stride_h;
    let ow = q / p.stride_w;
    if (oh >= p.out_h || ow >= p.out_w) {
        return 0.0;
    }
    return a[((n * p.out_h + oh) * p.out_w + ow) * p.out_c + co];
}

fn load_b(k: u32, n: u32) -> f32 {
    // k = (kh, kw, co), n = ci: w[kh, kw, ci, co].
    let co = k % p.out_c;
    let tap = k / p.out_c;
    return b[(tap * p.in_c + n) * p.out_c + co];
}

fn store_c(m: u32, n: u32, slice: u32, value: f32) {
    c[m * p.in_c + n] = value;
}
//#endif

//#if FILTER_GRAD
fn load_a(m: u32, k: u32) -> f32 {
    // m = (kh, kw, ci), k = (n, oh, ow).
    let ci = m % p.in_c;
    let kw = (m / p.in_c) % p.k_w;
    let kh = m / (p.in_c * p.k_w);
    let ow = k % p.out_w;
    let oh = (k / p.out_w) % p.out_h;
    let n = k / (p.out_w * p.out_h);
    return x_at(n, oh * p.stride_h + kh * p.dilation_h, ow * p.stride_w + kw * p.dilation_w, ci);
}

fn load_b(k: u32, n: u32) -> f32 {
    return b[k * p.out_c + n];
}

fn store_c(m: u32, n: u32, slice: u32, value: f32) {
    c[(slice * p.gemm_m + m) * p.gemm_n + n] = value;
}
//#endif
