// Direct 2-D convolution for layers with few taps (KH*KW*C_in), such as a first layer on grey or
// RGB images. There the implicit GEMM of conv2d.wgsl has a K of 9 to 27: every value of A is a
// per-lane gather used by few multiply-adds, and stores outweigh the arithmetic.
// Layouts: x [N, H, W, C_in], w [KH, KW, C_in, C_out] (HWIO), y and dy [N, OH, OW, C_out].
//
// A thread takes P consecutive output columns of one output row (n, oh), and CQ quads of output
// channels from quad block * CQ. Rust (src/ops/conv_direct.rs) writes the body for the
// layer's geometry with every tap, column and channel quad unrolled:
// - each input cell a thread needs is loaded once, at a constant offset from the row's corner,
//   and serves every tap that reads it;
// - w has a fixed length and is indexed by constants, so on SwiftShader each weight is one load
//   for all lanes rather than a gather.
//
// FORWARD      y[n, oh, ow, co] = act(bias[co] + sum_{kh, kw, ci} x[..] * w[kh, kw, ci, co])
//              bindings: 1 x, 2 w (vec4), 3 y (vec4), 4 bias (vec4)
//              grid x: ceil(N*OH * SEGMENTS * BLOCKS / 64); the last segment of a row starts at
//              OW - P, so it recomputes (and rewrites) some columns of the one before.
// FILTER_GRAD  dw_part[s, kh, kw, ci, co] = sum over the (row, segment) items i = s, s + SLICES,
//              ... of x[..] * dy[n, oh, ow, co]; reduce.wgsl sums the SLICES slices.
//              bindings: 1 x, 2 dy (vec4), 3 dw partials (vec4)
//              grid x: ceil(SLICES * BLOCKS / 64); columns past OW read dy as zero.
// INPUT_GRAD   dx[n, ih, iw, ci] = sum_{kh, kw, co} dy[n, oh, ow, co] * w[kh, kw, ci, co] with
//              oh = ih + pad_top - kh * dilation_h (stride 1 only; likewise ow). A thread takes a
//              strip of ROWS x P input cells with all C_in channels and loops over the dy rows
//              that reach it. Each dy value it loads serves every tap that reads it, and only
//              the input rows that the current dy row reaches hold accumulators.
//              bindings: 1 dy (vec4), 2 w (vec4), 3 dx
//              grid x: ceil(N * STRIPS * SEGMENTS / 64); the last strip and segment start at
//              H - ROWS and W - P.
// Thread index t: block = t % BLOCKS, then segment and row (FORWARD) or slice (FILTER_GRAD).

const IN_H: u32 = {{IN_H}}u;
const IN_W: u32 = {{IN_W}}u;
const IN_C: u32 = {{IN_C}}u;
const OUT_H: u32 = {{OUT_H}}u;
const OUT_W: u32 = {{OUT_W}}u;
const STRIDE_H: u32 = {{STRIDE_H}}u;
const STRIDE_W: u32 = {{STRIDE_W}}u;
const PAD_TOP: u32 = {{PAD_TOP}}u;
const PAD_LEFT: u32 = {{PAD_LEFT}}u;
// Output channels / 4, and the weights as vec4: KH * KW * C_in * C_out / 4.
const OUT_C4: u32 = {{OUT_C4}}u;
const W_LEN4: u32 = {{W_LEN4}}u;
// Output columns per thread, segments per output row, channel quads per thread and blocks of them.
const P: u32 = {{P}}u;
const SEGMENTS: u32 = {{SEGMENTS}}u;
const CQ: u32 = {{CQ}}u;
const BLOCKS: u32 = OUT_C4 / CQ;

// rows: N * OH (N for INPUT_GRAD). slices: FILTER_GRAD's slice count.
struct Params { rows: u32, slices: u32 }

@group(0) @binding(0) var<uniform> p: Params;

//#if READS_X
@group(0) @binding(1) var<storage, read> x: array<f32>;

// x[n, ih, iw, ci], zero outside the input (the padding).
fn x_at(n: u32, ih: i32, iw: i32, ci: u32) -> f32 {
    let inside = (ih >= 0) & (iw >= 0) & (u32(ih) < IN_H) & (u32(iw) < IN_W);
    let index = select(0u, ((n * IN_H + u32(ih)) * IN_W + u32(iw)) * IN_C + ci, inside);
    return select(0.0, x[index], inside);
}

// x[n, ih, iw, ci] without the bounds test, for layers whose windows never leave the input. The
// filter gradient's columns past OW may read the next row here, times a zero dy.
fn x_in(n: u32, ih: i32, iw: i32, ci: u32) -> f32 {
    return x[((n * IN_H + u32(ih)) * IN_W + u32(iw)) * IN_C + ci];
}
//#endif

//#if FORWARD
@group(0) @binding(2) var<storage, read> w: array<vec4<f32>, W_LEN4>;
@group(0) @binding(3) var<storage, read_write> y: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read> bias: array<vec4<f32>, OUT_C4>;

fn act4(v: vec4<f32>) -> vec4<f32> {
    return vec4<f32>(activate(v.x), activate(v.y), activate(v.z), activate(v.w));
}

@compute @workgroup_size(64)
fn forward(@builtin(global_invocation_id) gid: vec3<u32>) {
    let t = gid.x;
    if (t >= p.rows * SEGMENTS * BLOCKS) {
        return;
    }
    let block = t % BLOCKS;
    let segment = (t / BLOCKS) % SEGMENTS;
    let row = t / (BLOCKS * SEGMENTS);
    let n = row / OUT_H;
    let ow0 = min(segment * P, OUT_W - P);
    let ih0 = i32((row % OUT_H) * STRIDE_H) - i32(PAD_TOP);
    let iw0 = i32(ow0 * STRIDE_W) - i32(PAD_LEFT);
    // y[row, ow0 + j, quad] is y[out + j * OUT_C4 + quad].
    let out = (row * OUT_W + ow0) * OUT_C4;
{{BODY}}
}
//#endif

//#if FILTER_GRAD
@group(0) @binding(2) var<storage, read> dy: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> partials: array<vec4<f32>>;

// dy[row, ow, quad], zero past the row's last column.
fn dy_at(row: u32, ow: u32, quad: u32) -> vec4<f32> {
    let inside = ow < OUT_W;
    let index = select(0u, (row * OUT_W + ow) * OUT_C4 + quad, inside);
    return select(vec4<f32>(0.0), dy[index], inside);
}

@compute @workgroup_size(64)
fn filter_grad(@builtin(global_invocation_id) gid: vec3<u32>) {
    let t = gid.x;
    if (t >= p.slices * BLOCKS) {
        return;
    }
    let block = t % BLOCKS;
    let slice = t / BLOCKS;
{{BODY}}
}
//#endif

//#if INPUT_GRAD
@group(0) @binding(1) var<storage, read> dy: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> w: array<vec4<f32>, W_LEN4>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;

// Input rows per thread (a strip), and strips per image.
const ROWS: u32 = {{ROWS}}u;
const STRIPS: u32 = (IN_H + ROWS - 1u) / ROWS;

// Column ow of dy: its offset ow * C_out / 4 in a row of vec4 (0 outside dy), and whether it is
// inside.
struct Column { offset: u32, inside: bool }

fn dy_column(ow: i32) -> Column {
    let inside = (ow >= 0) & (ow < i32(OUT_W));
    return Column(select(0u, u32(ow) * OUT_C4, inside), inside);
}

// dy at column `c` of the row that starts at cell `row`, channel quad `quad`; zero outside dy.
fn dy_at(row: u32, c: Column, quad: u32) -> vec4<f32> {
    return select(vec4<f32>(0.0), dy[row * OUT_C4 + c.offset + quad], c.inside);
}

// True when input row ih is one of the rows of the strip that starts at ih0.
fn in_strip(ih0: u32, ih: i32) -> bool {
    return (ih >= i32(ih0)) & (ih < i32(ih0 + ROWS));
}

// Index of dx[n, ih, iw0, 0].
fn dx_row(n: u32, ih: i32, iw0: u32) -> u32 {
    return ((n * IN_H + u32(ih)) * IN_W + iw0) * IN_C;
}

@compute @workgroup_size(64)
fn input_grad(@builtin(global_invocation_id) gid: vec3<u32>) {
    let t = gid.x;
    if (t >= p.rows * STRIPS * SEGMENTS) {
        return;
    }
    let segment = t % SEGMENTS;
    let n = t / (SEGMENTS * STRIPS);
    let ih0 = min(((t / SEGMENTS) % STRIPS) * ROWS, IN_H - ROWS);
    let iw0 = min(segment * P, IN_W - P);
{{BODY}}
}
//#endif
