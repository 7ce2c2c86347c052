// 2-D convolution (cross-correlation) as implicit GEMM; the GEMM core is gemm.wgsl.
// Layouts: x [N, H, W, C_in], w [KH, KW, C_in, C_out] (HWIO), y and dy [N, OH, OW, C_out].
// Input row ih = oh * stride_h - pad_top + kh * dilation_h (likewise for columns); cells outside
// the input are zero.
//
// FORWARD      y[m, co] = act(bias[co] + sum_k x_col[m, k] * w[k, co])
//              M = N*OH*OW (m = (n, oh, ow)), N = C_out, K = KH*KW*C_in (k = (kh, kw, ci)).
// INPUT_GRAD   dx[m, ci] = sum_k dy_col[m, k] * w[kh, kw, ci, co]
//              M = N*H*W (m = (ih, iw, n)), N = C_in, K = KH*KW*C_out (k = (kh, kw, co)),
//              where dy_col[m, k] = dy[n, oh, ow, co] for the (oh, ow) that reaches (ih, iw)
//              through tap (kh, kw), or 0 when the stride skips it.
// FILTER_GRAD  dw_part[s, m, co] = sum_{k in slice s} x_col[k, m] * dy[k, co]
//              M = KH*KW*C_in, N = C_out, K = N*OH*OW, split into slices summed by reduce.wgsl.
//              With TAP_ROWS as written; with CHANNEL_ROWS as the transposed product, M = C_out
//              and N = KH*KW*C_in.
// Bindings: 0 params, 1 a (x or dy), 2 b (w or dy), 3 c (y, dx or dw partials), 4 bias (FORWARD).
// Each is array<vec4<f32>> where the GEMM core's A_VEC4, B_ROWS4, B_COLS4 or C_VEC4 access is on
// (A and B along k need C_in (FORWARD) or C_out (INPUT_GRAD) to be a multiple of 4, so that four
// consecutive k are four channels of one tap; B along n and C need N to be a multiple of 4).

// The layer's geometry is compiled in: constant divisors become multiplies and shifts, where a
// runtime divisor costs one scalar division per SIMD lane on adapters that run shaders on the CPU.
const IN_H: u32 = {{IN_H}}u;
const IN_W: u32 = {{IN_W}}u;
const IN_C: u32 = {{IN_C}}u;
const K_H: u32 = {{K_H}}u;
const K_W: u32 = {{K_W}}u;
const OUT_C: u32 = {{OUT_C}}u;
const OUT_H: u32 = {{OUT_H}}u;
const OUT_W: u32 = {{OUT_W}}u;
const STRIDE_H: u32 = {{STRIDE_H}}u;
const STRIDE_W: u32 = {{STRIDE_W}}u;
const DILATION_H: u32 = {{DILATION_H}}u;
const DILATION_W: u32 = {{DILATION_W}}u;
const PAD_TOP: u32 = {{PAD_TOP}}u;
const PAD_LEFT: u32 = {{PAD_LEFT}}u;

// The sizes that change with the batch.
struct Params { k_slice: u32, gemm_m: u32, gemm_n: u32, gemm_k: u32 }

@group(0) @binding(0) var<uniform> p: Params;
//#if A_SCALAR
@group(0) @binding(1) var<storage, read> a: array<f32>;
//#endif
//#if A_VEC4
@group(0) @binding(1) var<storage, read> a: array<vec4<f32>>;
//#endif
//#if B_SCALAR
@group(0) @binding(2) var<storage, read> b: array<f32>;
//#endif
//#if B_VEC4
@group(0) @binding(2) var<storage, read> b: array<vec4<f32>>;
//#endif
//#if C_SCALAR
@group(0) @binding(3) var<storage, read_write> c: array<f32>;
//#endif
//#if C_VEC4
@group(0) @binding(3) var<storage, read_write> c: array<vec4<f32>>;
//#endif

fn gemm_m() -> u32 { return p.gemm_m; }
fn gemm_n() -> u32 { return p.gemm_n; }
fn gemm_k() -> u32 { return p.gemm_k; }
fn k_slice() -> u32 { return p.k_slice; }

// Index of x[n, ih, iw, ci], or 0 outside the input; `row_base` is n * H. Written with select and
// non-short-circuit `&` rather than an early return: with the branch, SwiftShader took 17 to 25 s
// to compile a kernel that calls this 8 times, and 2 s without it.
struct Cell { index: u32, inside: bool }

fn x_cell(row_base: u32, ih: i32, iw: i32, ci: u32) -> Cell {
    let inside = (ih >= 0) & (iw >= 0) & (u32(ih) < IN_H) & (u32(iw) < IN_W);
    return Cell(select(0u, ((row_base + u32(ih)) * IN_W + u32(iw)) * IN_C + ci, inside), inside);
}

//#if FORWARD
@group(0) @binding(4) var<storage, read> bias: array<f32>;

// Output position m = (n, oh, ow): the input corner of its window.
struct ARow { row_base: u32, ih: i32, iw: i32 }
// Filter tap k = (kh, kw, ci); w_base = k * C_out.
struct KPos { kh: u32, kw: u32, ci: u32, w_base: u32 }
alias BCol = u32;

fn a_row(m: u32) -> ARow {
    let ow = m % OUT_W;
    let oh = (m / OUT_W) % OUT_H;
    let n = m / (OUT_W * OUT_H);
    let ih = i32(oh * STRIDE_H) - i32(PAD_TOP);
    let iw = i32(ow * STRIDE_W) - i32(PAD_LEFT);
    return ARow(n * IN_H, ih, iw);
}

fn k_pos(k: u32) -> KPos {
    let ci = k % IN_C;
    let kw = (k / IN_C) % K_W;
    let kh = k / (IN_C * K_W);
    return KPos(kh, kw, ci, k * OUT_C);
}

fn a_cell(r: ARow, q: KPos) -> Cell {
    return x_cell(r.row_base, r.ih + i32(q.kh * DILATION_H), r.iw + i32(q.kw * DILATION_W), q.ci);
}

fn b_col(n: u32) -> BCol { return n; }

//#if B_SCALAR
fn b_value(q: KPos, n: BCol) -> f32 { return b[q.w_base + n]; }
//#endif

//#if B_ROWS4
fn b_row_offset(q: KPos) -> u32 { return q.w_base; }
//#endif

//#if C_SCALAR
fn store_c(m: u32, n: u32, slice: u32, value: f32) {
    c[m * OUT_C + n] = activate(value + bias[n]);
}
//#endif

//#if C_VEC4
fn store_c4(m: u32, n: u32, slice: u32, v: vec4<f32>) {
    c[(m * OUT_C + n) / 4u] = vec4<f32>(activate(v.x), activate(v.y), activate(v.z), activate(v.w));
}
//#endif
//#endif

//#if INPUT_GRAD
// Input position m = (ih, iw, n) with n fastest, in padded coordinates: with a batch of 16 or
// more, a thread's 16 rows are one input cell of 16 images, which the same taps reach.
struct ARow { row_base: u32, ph: i32, pw: i32 }
// Tap and output channel k = (kh, kw, co); w_base = (kh * KW + kw) * C_in * C_out + co.
struct KPos { kh: u32, kw: u32, co: u32, w_base: u32 }
// Input channel n = ci: its offset ci * C_out in w.
alias BCol = u32;

fn a_row(m: u32) -> ARow {
    let batch = p.gemm_m / (IN_H * IN_W);
    let n = m % batch;
    let cell = m / batch;
    return ARow(n * OUT_H, i32(cell / IN_W + PAD_TOP), i32(cell % IN_W + PAD_LEFT));
}

// Index of dx[n, ih, iw, 0] for row m.
fn dx_index(m: u32) -> u32 {
    let batch = p.gemm_m / (IN_H * IN_W);
    return ((m % batch) * IN_H * IN_W + m / batch) * IN_C;
}

fn k_pos(k: u32) -> KPos {
    let co = k % OUT_C;
    let tap = k / OUT_C;
    return KPos(tap / K_W, tap % K_W, co, tap * IN_C * OUT_C + co);
}

// Index of dy[n, oh, ow, co] for oh * stride_h = ph - kh * dilation_h (likewise for columns),
// with `inside` false when no output position reaches this input cell through this tap. A
// negative row or column wraps to a u32 far above OUT_H (also after the division by the stride),
// so the bounds tests reject it. Outside, the index is arbitrary: the caller's load stays in
// the buffer (WebGPU and wgpu bound every access) and is replaced by zero, 3 to 8 % faster
// on conv2 in SwiftShader than selecting index 0.
fn a_cell(r: ARow, q: KPos) -> Cell {
    var oh = u32(r.ph - i32(q.kh * DILATION_H));
    var ow = u32(r.pw - i32(q.kw * DILATION_W));
    var inside = true;
    if (STRIDE_H != 1u || STRIDE_W != 1u) {
        inside = (oh % STRIDE_H == 0u) & (ow % STRIDE_W == 0u);
        oh = oh / STRIDE_H;
        ow = ow / STRIDE_W;
    }
    inside = inside & (oh < OUT_H) & (ow < OUT_W);
    return Cell(((r.row_base + oh) * OUT_W + ow) * OUT_C + q.co, inside);
}

//#if K_RUNS
// Each tap is a run of C_out values of k; bit kh * KW + kw is set when the tap reaches an output
// position from input cell r. Near the border a cell misses some taps (on the seed CNN's second
// layer, 28 % of all k), and the GEMM core skips those the thread's rows all miss.
const K_RUN: u32 = OUT_C;

fn a_runs(r: ARow) -> u32 {
    var runs = 0u;
    for (var tap = 0u; tap < K_H * K_W; tap++) {
        let cell = a_cell(r, KPos(tap / K_W, tap % K_W, 0u, 0u));
        runs |= select(0u, 1u << tap, cell.inside);
    }
    return runs;
}
//#endif

fn b_col(n: u32) -> BCol { return n * OUT_C; }

//#if B_SCALAR
fn b_value(q: KPos, c: BCol) -> f32 { return b[q.w_base + c]; }
//#endif

//#if B_COLS4
// w[kh, kw, ci, co .. co + 3]: four consecutive k of column ci.
fn b_col_offset(q: KPos, c: BCol) -> u32 { return q.w_base + c; }
//#endif

//#if C_SCALAR
fn store_c(m: u32, n: u32, slice: u32, value: f32) {
    c[dx_index(m) + n] = value;
}
//#endif

//#if C_VEC4
fn store_c4(m: u32, n: u32, slice: u32, value: vec4<f32>) {
    c[(dx_index(m) + n) / 4u] = value;
}
//#endif
//#endif

//#if A_CELL
// A of FORWARD and INPUT_GRAD: the value at the cell that the variant's a_cell finds.
//#if A_SCALAR
fn a_value(r: ARow, q: KPos) -> f32 {
    let cell = a_cell(r, q);
    return select(0.0, a[cell.index], cell.inside);
}
//#endif

//#if A_VEC4
// k .. k + 3 are four channels of one tap: of x (FORWARD) or of dy (INPUT_GRAD).
fn a_quad(r: ARow, q: KQuad) -> vec4<f32> {
    let cell = a_cell(r, q.q0);
    return select(vec4<f32>(0.0), a[cell.index / 4u], cell.inside);
}
//#endif
//#endif

//#if FILTER_GRAD
// Filter tap (kh, kw, ci): its offset from a window's corner.
struct Tap { dh: i32, dw: i32, ci: u32 }
// Output position k = (n, oh, ow): its window's corner (row_base = n * H), dy_base = k * C_out.
struct KPos { row_base: u32, ih: i32, iw: i32, dy_base: u32 }

fn tap(t: u32) -> Tap {
    let ci = t % IN_C;
    let kw = (t / IN_C) % K_W;
    let kh = t / (IN_C * K_W);
    return Tap(i32(kh * DILATION_H), i32(kw * DILATION_W), ci);
}

fn k_pos(k: u32) -> KPos {
    let ow = k % OUT_W;
    let oh = (k / OUT_W) % OUT_H;
    let n = k / (OUT_W * OUT_H);
    let ih = i32(oh * STRIDE_H) - i32(PAD_TOP);
    let iw = i32(ow * STRIDE_W) - i32(PAD_LEFT);
    return KPos(n * IN_H, ih, iw, k * OUT_C);
}

fn x_col(q: KPos, t: Tap) -> f32 {
    let cell = x_cell(q.row_base, q.ih + t.dh, q.iw + t.dw, t.ci);
    return select(0.0, a[cell.index], cell.inside);
}
//#endif

//#if TAP_ROWS
// Rows m are taps, columns n output channels.
alias ARow = Tap;
alias BCol = u32;

fn a_row(m: u32) -> ARow { return tap(m); }
fn a_value(t: ARow, q: KPos) -> f32 { return x_col(q, t); }
fn b_col(n: u32) -> BCol { return n; }

//#if B_SCALAR
fn b_value(q: KPos, n: BCol) -> f32 { return b[q.dy_base + n]; }
//#endif

//#if B_ROWS4
fn b_row_offset(q: KPos) -> u32 { return q.dy_base; }
//#endif

//#if C_SCALAR
fn store_c(m: u32, n: u32, slice: u32, value: f32) {
    c[(slice * p.gemm_m + m) * p.gemm_n + n] = value;
}
//#endif

//#if C_VEC4
fn store_c4(m: u32, n: u32, slice: u32, value: vec4<f32>) {
    c[((slice * p.gemm_m + m) * p.gemm_n + n) / 4u] = value;
}
//#endif
//#endif

//#if CHANNEL_ROWS
// The transposed product, for layers with fewer taps than a 64-row tile (a first layer with one
// input channel has 9): rows m are output channels, columns n taps.
alias ARow = u32;
alias BCol = Tap;

fn a_row(m: u32) -> ARow { return m; }
fn a_value(co: ARow, q: KPos) -> f32 { return b[q.dy_base + co]; }
fn b_col(n: u32) -> BCol { return tap(n); }
fn b_value(q: KPos, t: BCol) -> f32 { return x_col(q, t); }

fn store_c(m: u32, n: u32, slice: u32, value: f32) {
    c[(slice * p.gemm_n + n) * p.gemm_m + m] = value;
}
//#endif
