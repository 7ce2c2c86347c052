//! Direct convolution for layers with few taps (KH * KW * C_in), such as a first layer on grey or
//! RGB images. conv2d_direct.wgsl has the forward pass, the input gradient (stride 1) and the
//! filter gradient, and this file writes their unrolled bodies for each geometry. Other layers
//! use the implicit GEMM of conv.rs.

use crate::hash::FastMap;
use std::cell::RefCell;
use std::fmt::Write;
use std::rc::Rc;

use super::{conv, reduce, Activation, Conv2dGeometry};
use crate::gpu::{Gpu, Kernel};
use crate::tensor::Tensor;

/// Maximum taps of a layer that takes the direct kernels.
const MAX_TAPS: usize = 32;
/// Maximum multiply-adds (of vec4) in one unrolled body, because SwiftShader compiles larger
/// bodies slowly.
const MAX_BODY_FMAS: usize = 1024;
/// Maximum accumulators (vec4) per thread.
const MAX_ACCUMULATORS: usize = 104;
/// Maximum output columns per thread.
const MAX_COLUMNS: usize = 16;
/// Input rows per thread (a strip) of the input gradient, and its maximum accumulators (scalar).
const INPUT_GRAD_ROWS: usize = 14;
const INPUT_GRAD_ACCUMULATORS: usize = 56;
/// Threads per workgroup (must match conv2d_direct.wgsl).
const THREADS: usize = 64;
/// Thread count that fills the device, which the filter gradient's slice count aims at.
const TARGET_THREADS: usize = 256;

/// Uniform of conv2d_direct.wgsl (field order must match `Params` there).
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    rows: u32,
    slices: u32,
}

/// Work split of a direct kernel: P output columns and CQ channel quads per thread.
#[derive(Clone, Copy, Debug)]
struct Split {
    /// Output columns per thread.
    p: usize,
    /// Segments of P columns per output row.
    segments: usize,
    /// Output-channel quads per thread.
    cq: usize,
}

impl Split {
    /// Picks the widest split whose accumulators (`accumulators(p, cq)` of them) and unrolled
    /// body fit the limits above.
    fn new(g: &Conv2dGeometry, accumulators: impl Fn(usize, usize) -> usize) -> Split {
        let taps = g.k_h * g.k_w * g.in_c;
        let quads = g.out_c / 4;
        let cq = (1..=quads.min(8))
            .rev()
            .find(|&cq| quads.is_multiple_of(cq) && accumulators(1, cq) <= MAX_ACCUMULATORS)
            .unwrap_or(1);
        let fits = |p| accumulators(p, cq) <= MAX_ACCUMULATORS && p * cq * taps <= MAX_BODY_FMAS;
        Split::columns(g.out_w, cq, fits)
    }

    /// Cuts `width` columns into equal segments, the widest whose column count `fits`.
    fn columns(width: usize, cq: usize, fits: impl Fn(usize) -> bool) -> Split {
        let mut p = width.min(MAX_COLUMNS);
        while p > 1 && !fits(p) {
            p -= 1;
        }
        let segments = width.div_ceil(p);
        Split {
            p: width.div_ceil(segments),
            segments,
            cq,
        }
    }

    /// Blocks of CQ channel quads.
    fn blocks(&self, g: &Conv2dGeometry) -> usize {
        g.out_c / 4 / self.cq
    }
}

/// True when `g` takes the direct forward and filter-gradient kernels: few taps, output channels
/// in quads, and a grid that fits `gpu`.
pub(super) fn suits(gpu: &Gpu, g: &Conv2dGeometry) -> bool {
    let taps = g.k_h * g.k_w * g.in_c;
    if taps > MAX_TAPS || !g.out_c.is_multiple_of(4) {
        return false;
    }
    let split = forward_split(g);
    grid_fits(gpu, g.batch * g.out_h * split.segments * split.blocks(g))
}

/// True when `g` also takes the direct input-gradient kernel: stride 1, and an unrolled body
/// for one input column within [`MAX_BODY_FMAS`] (it grows with the output channels).
pub(super) fn suits_input_grad(gpu: &Gpu, g: &Conv2dGeometry) -> bool {
    if !suits(gpu, g) || g.stride_h != 1 || g.stride_w != 1 {
        return false;
    }
    if g.k_h * g.k_w * g.in_c * g.out_c / 4 > MAX_BODY_FMAS {
        return false;
    }
    let (rows, split) = input_split(g);
    grid_fits(gpu, g.batch * g.in_h.div_ceil(rows) * split.segments)
}

fn grid_fits(gpu: &Gpu, threads: usize) -> bool {
    threads.div_ceil(THREADS) <= gpu.limits.max_compute_workgroups_per_dimension as usize
}

fn forward_split(g: &Conv2dGeometry) -> Split {
    Split::new(g, |p, cq| p * cq)
}

fn filter_split(g: &Conv2dGeometry) -> Split {
    let taps = g.k_h * g.k_w * g.in_c;
    Split::new(g, move |_, cq| taps * cq)
}

/// Input rows per thread and the cut of input columns for the input gradient. A thread keeps
/// (KH - 1) * dilation_h + 1 rows of accumulators, and its unrolled loop body has taps * P *
/// C_out / 4 vec4 multiply-adds.
fn input_split(g: &Conv2dGeometry) -> (usize, Split) {
    let taps = g.k_h * g.k_w * g.in_c;
    let span = (g.k_h - 1) * g.dilation_h + 1;
    let rows = g.in_h.min(INPUT_GRAD_ROWS);
    let fits =
        |p| span * p * g.in_c <= INPUT_GRAD_ACCUMULATORS && taps * p * g.out_c / 4 <= MAX_BODY_FMAS;
    (rows, Split::columns(g.in_w, 1, fits))
}

thread_local! {
    /// Unrolled bodies, keyed by kernel because its defines determine the body. Writing a body
    /// (about 1,000 lines for conv1) takes more CPU time than the rest of a dispatch.
    static BODIES: RefCell<FastMap<Kernel, Rc<str>>> = RefCell::default();
}

/// Builds the conv2d_direct.wgsl kernel `entry` for `g` and `split`, with the body that `write`
/// returns in place, `act` applied on store (FORWARD) and the entry's own `defines`.
fn kernel(
    g: &Conv2dGeometry,
    split: &Split,
    entry: &'static str,
    act: Activation,
    defines: &[(&'static str, u32)],
    write: impl FnOnce() -> String,
) -> Kernel {
    let u = |v: usize| v as u32;
    let variant = match entry {
        "forward" => "FORWARD",
        "input_grad" => "INPUT_GRAD",
        _ => "FILTER_GRAD",
    };
    let kernel = act
        .define(Kernel::new("conv2d_direct", entry))
        .define(variant, 1)
        .define("READS_X", (entry != "input_grad") as u32);
    let mut kernel = conv::define_geometry(kernel, g)
        .define("OUT_C4", u(g.out_c / 4))
        .define("W_LEN4", u(g.weight_len() / 4))
        .define("P", u(split.p))
        .define("SEGMENTS", u(split.segments))
        .define("CQ", u(split.cq));
    for &(name, value) in defines {
        kernel = kernel.define(name, value);
    }
    let body = BODIES.with(|bodies| {
        let mut bodies = bodies.borrow_mut();
        let body = bodies
            .entry(kernel.clone())
            .or_insert_with(|| write().into());
        body.clone()
    });
    kernel.snippet("BODY", body)
}

/// Computes y = act(conv(x, w) + bias), as conv::conv2d_forward.
pub(super) fn forward(
    gpu: &Gpu,
    g: &Conv2dGeometry,
    x: &Tensor,
    w: &Tensor,
    bias: &Tensor,
    act: Activation,
) -> Tensor {
    let split = forward_split(g);
    let y = Tensor::empty(gpu, &[g.batch, g.out_h, g.out_w, g.out_c]);
    let chains = forward_chains_suit(gpu, g, &split);
    let body = || forward_body(g, &split, chains);
    let kernel = kernel(
        g,
        &split,
        "forward",
        act,
        &[("CHAINS", chains as u32)],
        body,
    );
    let rows = g.batch * g.out_h;
    let params = Params {
        rows: rows as u32,
        slices: 0,
    };
    let threads = rows * split.segments * split.blocks(g);
    let storage = [x.binding(), w.binding(), y.binding(), bias.binding()];
    gpu.dispatch(
        &kernel,
        &params,
        &storage,
        [threads.div_ceil(THREADS) as u32, 1, 1],
    );
    y
}

/// Computes dx from dy and w, as conv::conv2d_backward_input.
pub(super) fn backward_input(gpu: &Gpu, g: &Conv2dGeometry, dy: &Tensor, w: &Tensor) -> Tensor {
    let (rows, split) = input_split(g);
    let dx = Tensor::empty(gpu, &[g.batch, g.in_h, g.in_w, g.in_c]);
    let body = || input_body(g, &split);
    let defines = [("ROWS", rows as u32)];
    let kernel = kernel(g, &split, "input_grad", Activation::Linear, &defines, body);
    let params = Params {
        rows: g.batch as u32,
        slices: 0,
    };
    let threads = g.batch * g.in_h.div_ceil(rows) * split.segments;
    let storage = [dy.binding(), w.binding(), dx.binding()];
    gpu.dispatch(
        &kernel,
        &params,
        &storage,
        [threads.div_ceil(THREADS) as u32, 1, 1],
    );
    dx
}

/// Computes dw from x and dy into `dw`, or adds it, as conv::conv2d_backward_filter.
pub(super) fn backward_filter(
    gpu: &Gpu,
    g: &Conv2dGeometry,
    x: &Tensor,
    dy: &Tensor,
    dw: &Tensor,
    accumulate: bool,
) {
    let split = filter_split(g);
    let blocks = split.blocks(g);
    let rows = g.batch * g.out_h;
    let slices = (rows * split.segments).min((TARGET_THREADS / blocks).max(1));
    let partials = Tensor::empty(gpu, &[slices, dw.len()]);
    let body = || filter_body(g, &split);
    let kernel = kernel(g, &split, "filter_grad", Activation::Linear, &[], body);
    let params = Params {
        rows: rows as u32,
        slices: slices as u32,
    };
    let groups = (slices * blocks).div_ceil(THREADS) as u32;
    let storage = [x.binding(), dy.binding(), partials.binding()];
    gpu.dispatch(&kernel, &params, &storage, [groups, 1, 1]);
    reduce::sum_slices(gpu, &partials, slices, dw, accumulate);
}

/// Returns the index of quad `offset` of the thread's block. It is a constant when there is one
/// block, so that weight loads keep constant offsets.
fn quad(split: &Split, g: &Conv2dGeometry, offset: usize) -> String {
    if split.blocks(g) == 1 {
        format!("{offset}u")
    } else {
        format!("{offset}u + block * CQ")
    }
}

/// Writes the loads of every input cell that the thread's taps read. `x{kh}_{ci}_{d}` is x at row
/// ih0 + kh * dilation and column iw0 + d, channel ci.
fn load_inputs(out: &mut String, g: &Conv2dGeometry, split: &Split, indent: &str) {
    let load = if windows_inside(g) { "x_in" } else { "x_at" };
    for kh in 0..g.k_h {
        for ci in 0..g.in_c {
            for d in input_columns(g, split) {
                let dh = kh * g.dilation_h;
                writeln!(
                    out,
                    "{indent}let x{kh}_{ci}_{d} = {load}(n, ih0 + {dh}, iw0 + {d}, {ci}u);"
                )
                .unwrap();
            }
        }
    }
}

/// True when no window reaches past the input: no padding on any side.
fn windows_inside(g: &Conv2dGeometry) -> bool {
    let last_row = (g.out_h - 1) * g.stride_h + (g.k_h - 1) * g.dilation_h;
    let last_col = (g.out_w - 1) * g.stride_w + (g.k_w - 1) * g.dilation_w;
    g.pad_top == 0 && g.pad_left == 0 && last_row < g.in_h && last_col < g.in_w
}

/// Lists, in increasing order, the column offsets from iw0 that output columns 0..P read
/// through taps 0..KW. A scan of the offsets in place of a sort keeps sorting code out of the
/// wasm module, and P and KW are small.
fn input_columns(g: &Conv2dGeometry, split: &Split) -> Vec<usize> {
    let read = |column: usize| {
        (0..split.p).any(|j| (0..g.k_w).any(|kw| j * g.stride_w + kw * g.dilation_w == column))
    };
    let last = (split.p - 1) * g.stride_w + (g.k_w - 1) * g.dilation_w;
    (0..=last).filter(|&column| read(column)).collect()
}

/// Lists every tap as (index in w's tap order, kh, kw, ci).
fn taps(g: &Conv2dGeometry) -> impl Iterator<Item = (usize, usize, usize, usize)> + '_ {
    (0..g.k_h).flat_map(move |kh| {
        (0..g.k_w).flat_map(move |kw| {
            (0..g.in_c).map(move |ci| (((kh * g.k_w) + kw) * g.in_c + ci, kh, kw, ci))
        })
    })
}

/// Writes `acc += x * operand` for tap (kh, kw, ci), every column j and every quad q: x is the
/// input value that column j reads through the tap, `acc(j, q)` and `operand(j, q)` name vec4s.
fn tap_fmas(
    out: &mut String,
    g: &Conv2dGeometry,
    split: &Split,
    [kh, kw, ci]: [usize; 3],
    acc: impl Fn(usize, usize) -> String,
    operand: impl Fn(usize, usize) -> String,
) {
    for j in 0..split.p {
        let input = format!("x{kh}_{ci}_{}", j * g.stride_w + kw * g.dilation_w);
        for q in 0..split.cq {
            let (acc, operand) = (acc(j, q), operand(j, q));
            writeln!(
                out,
                "        {acc} = fma(vec4<f32>({input}), {operand}, {acc});"
            )
            .unwrap();
        }
    }
}

/// True when the forward kernel sums each output in one chain of multiply-adds (see
/// [`forward_body`]): in the browser's WebGPU, with one block of channel quads so that every
/// weight index is a constant. Chromium's SwiftShader ran conv1 about 25 % faster so, because
/// each accumulator stays in a register. Natively lavapipe ran it 3x slower than with shared
/// weights, and WebGPU does not tell SwiftShader from other CPU adapters.
fn forward_chains_suit(gpu: &Gpu, g: &Conv2dGeometry, split: &Split) -> bool {
    split.blocks(g) == 1 && gpu.info.backend == wgpu::Backend::BrowserWebGpu
}

/// Writes FORWARD's body, which applies the activation on store: with `chains`, one chain of
/// multiply-adds per output vec4, else accumulators y{j}_{q} for all columns that share each
/// tap's weights.
fn forward_body(g: &Conv2dGeometry, split: &Split, chains: bool) -> String {
    let mut out = String::new();
    load_inputs(&mut out, g, split, "    ");
    if chains {
        forward_chains(&mut out, g, split);
    } else {
        forward_taps(&mut out, g, split);
    }
    out
}

/// Writes one chain of fused multiply-adds per output vec4, over every tap, then its store.
fn forward_chains(out: &mut String, g: &Conv2dGeometry, split: &Split) {
    let quads = g.out_c / 4;
    for j in 0..split.p {
        for q in 0..split.cq {
            writeln!(out, "    {{\n        var acc = bias[{q}u];").unwrap();
            for (tap, kh, kw, ci) in taps(g) {
                let input = format!("x{kh}_{ci}_{}", j * g.stride_w + kw * g.dilation_w);
                let index = tap * quads + q;
                writeln!(
                    out,
                    "        acc = fma(vec4<f32>({input}), w[{index}u], acc);"
                )
                .unwrap();
            }
            let index = j * quads + q;
            writeln!(out, "        y[out + {index}u] = act4(acc);\n    }}").unwrap();
        }
    }
}

/// Writes accumulators y{j}_{q} that start at the bias, adds each tap's x * w to all of them, and
/// stores them.
fn forward_taps(out: &mut String, g: &Conv2dGeometry, split: &Split) {
    let quads = g.out_c / 4;
    for j in 0..split.p {
        for q in 0..split.cq {
            let index = quad(split, g, q);
            writeln!(out, "    var y{j}_{q} = bias[{index}];").unwrap();
        }
    }
    for (tap, kh, kw, ci) in taps(g) {
        out.push_str("    {\n");
        for q in 0..split.cq {
            let index = quad(split, g, tap * quads + q);
            writeln!(out, "        let w{q} = w[{index}];").unwrap();
        }
        let acc = |j, q| format!("y{j}_{q}");
        tap_fmas(out, g, split, [kh, kw, ci], acc, |_, q| format!("w{q}"));
        out.push_str("    }\n");
    }
    for j in 0..split.p {
        for q in 0..split.cq {
            let index = quad(split, g, j * quads + q);
            writeln!(out, "    y[out + {index}] = act4(y{j}_{q});").unwrap();
        }
    }
}

/// Writes FILTER_GRAD's body. Accumulators a{tap}_{q} sum x * dy over the slice's items.
fn filter_body(g: &Conv2dGeometry, split: &Split) -> String {
    let quads = g.out_c / 4;
    let tap_count = g.k_h * g.k_w * g.in_c;
    let mut out = String::new();
    for tap in 0..tap_count {
        for q in 0..split.cq {
            writeln!(out, "    var a{tap}_{q} = vec4<f32>(0.0);").unwrap();
        }
    }
    out.push_str(
        "    for (var item = slice; item < p.rows * SEGMENTS; item += p.slices) {
        let row = item / SEGMENTS;
        let n = row / OUT_H;
        let ow0 = (item % SEGMENTS) * P;
        let ih0 = i32((row % OUT_H) * STRIDE_H) - i32(PAD_TOP);
        let iw0 = i32(ow0 * STRIDE_W) - i32(PAD_LEFT);
",
    );
    load_inputs(&mut out, g, split, "        ");
    for j in 0..split.p {
        for q in 0..split.cq {
            writeln!(
                out,
                "        let d{j}_{q} = dy_at(row, ow0 + {j}u, {q}u + block * CQ);"
            )
            .unwrap();
        }
    }
    for (tap, kh, kw, ci) in taps(g) {
        let acc = |_, q| format!("a{tap}_{q}");
        tap_fmas(&mut out, g, split, [kh, kw, ci], acc, |j, q| {
            format!("d{j}_{q}")
        });
    }
    out.push_str("    }\n");
    let slice_len = tap_count * quads;
    for tap in 0..tap_count {
        for q in 0..split.cq {
            let index = tap * quads + q;
            writeln!(
                out,
                "    partials[slice * {slice_len}u + {index}u + block * CQ] = a{tap}_{q};"
            )
            .unwrap();
        }
    }
    out
}

/// Writes INPUT_GRAD's body. The thread walks the dy rows that reach its strip of input rows,
/// one at a time. dy row oh reaches input rows oh - pad_top + kh * dilation_h, so accumulator
/// s{slot}_{j}_{ci} sums input row oh - pad_top + slot, column iw0 + j, channel ci. Slot 0 is
/// complete once its dy row is done: it is stored, and the slots move up by one.
///
/// Only (KH - 1) * dilation_h + 1 rows of accumulators are live, so a strip can be tall, and
/// each dy value loaded serves every tap that reads it. On SwiftShader every per-lane load is a
/// gather, so this reuse sets the speed. The loop over output-channel quads is unrolled so that
/// each weight index is a constant, which SwiftShader loads once for all lanes.
fn input_body(g: &Conv2dGeometry, split: &Split) -> String {
    let span = (g.k_h - 1) * g.dilation_h + 1;
    // Each input row is stored as its last dy row passes, so every row must have one. Valid and
    // same padding at stride 1 ensure it.
    debug_assert!(
        g.in_h + g.pad_top < g.out_h + span,
        "an input row that no dy row reaches"
    );
    let accumulators = |slot: usize| {
        (0..split.p).flat_map(move |j| (0..g.in_c).map(move |ci| format!("s{slot}_{j}_{ci}")))
    };
    let mut out = String::new();
    for acc in (0..span).flat_map(accumulators) {
        writeln!(out, "    var {acc} = 0.0;").unwrap();
    }

    // dy column ow0 + f reaches input column iw0 + j through tap kw when
    // f = j + (KW - 1 - kw) * dilation_w.
    let col0 = g.pad_left as i64 - ((g.k_w - 1) * g.dilation_w) as i64;
    let reach = |j: usize, kw: usize| j + (g.k_w - 1 - kw) * g.dilation_w;
    let columns = split.p + (g.k_w - 1) * g.dilation_w;
    writeln!(out, "    let ow0 = i32(iw0) + ({col0});").unwrap();
    for f in 0..columns {
        writeln!(out, "    let c{f} = dy_column(ow0 + {f});").unwrap();
    }

    let top = g.pad_top as i64 - ((g.k_h - 1) * g.dilation_h) as i64;
    writeln!(out, "    let first = max(i32(ih0) + ({top}), 0);").unwrap();
    let pad = g.pad_top;
    writeln!(
        out,
        "    let last = min(i32(ih0 + ROWS) + {pad}, i32(OUT_H));"
    )
    .unwrap();
    out.push_str("    var oh = first;\n    for (; oh < last; oh++) {\n");
    out.push_str("        let row = (n * OUT_H + u32(oh)) * OUT_W;\n");
    for q in 0..g.out_c / 4 {
        input_quad_fmas(&mut out, g, split, q, columns, reach);
    }
    store_slot(&mut out, g, split, 0, "        ");
    for slot in 0..span {
        let next: Vec<String> = if slot + 1 < span {
            accumulators(slot + 1).collect()
        } else {
            vec!["0.0".to_string(); split.p * g.in_c]
        };
        for (acc, next) in accumulators(slot).zip(next) {
            writeln!(out, "        {acc} = {next};").unwrap();
        }
    }
    out.push_str("    }\n");

    // The rows left in the slots are complete too: each dy row past `last` is past dy's end or
    // reaches only rows below the strip.
    for slot in 0..span - 1 {
        store_slot(&mut out, g, split, slot, "    ");
    }
    out
}

/// Writes the loads of quad q of the dy row's `columns` cells, then every multiply-add that uses
/// them: each adds the quad's four products to one accumulator in one chain.
fn input_quad_fmas(
    out: &mut String,
    g: &Conv2dGeometry,
    split: &Split,
    q: usize,
    columns: usize,
    reach: impl Fn(usize, usize) -> usize,
) {
    let quads = g.out_c / 4;
    for f in 0..columns {
        writeln!(out, "        let d{q}_{f} = dy_at(row, c{f}, {q}u);").unwrap();
    }
    for (tap, kh, kw, ci) in taps(g) {
        writeln!(out, "        let w{q}_{tap} = w[{}u];", tap * quads + q).unwrap();
        let slot = kh * g.dilation_h;
        for j in 0..split.p {
            let acc = format!("s{slot}_{j}_{ci}");
            let d = format!("d{q}_{}", reach(j, kw));
            let products = ["x", "y", "z", "w"].iter().fold(acc.clone(), |sum, c| {
                format!("fma({d}.{c}, w{q}_{tap}.{c}, {sum})")
            });
            writeln!(out, "        {acc} = {products};").unwrap();
        }
    }
}

/// Writes the stores of slot `slot`, input row oh - pad_top + slot, when the row is in the strip.
fn store_slot(out: &mut String, g: &Conv2dGeometry, split: &Split, slot: usize, indent: &str) {
    let pad = g.pad_top;
    writeln!(out, "{indent}if (in_strip(ih0, oh - {pad} + {slot})) {{").unwrap();
    writeln!(
        out,
        "{indent}    let out = dx_row(n, oh - {pad} + {slot}, iw0);"
    )
    .unwrap();
    for j in 0..split.p {
        for ci in 0..g.in_c {
            let offset = j * g.in_c + ci;
            writeln!(out, "{indent}    dx[out + {offset}u] = s{slot}_{j}_{ci};").unwrap();
        }
    }
    writeln!(out, "{indent}}}").unwrap();
}
