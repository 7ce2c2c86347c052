// Activation layers over flat tensors, and row-wise softmax.
// FORWARD   y[i] = activate(x[i])                bindings: 1 x, 2 y
// BACKWARD  dx[i] = dy[i] * activate'(y[i])       bindings: 1 y, 2 dy, 3 dx
// BACKWARD4 the same, four elements per thread as vec4 (len a multiple of 4): on SwiftShader a
//           vec4 load costs about half as much as four f32 loads, and the whole pass ran 2x
//           faster on 1.4M elements
// SOFTMAX   y[r, j] = exp(x[r, j] - max_r) / sum  bindings: 1 x [rows, cols], 2 y (one row/thread)
// Elementwise grid: 64-thread workgroups, linear index id.x + id.y * num_workgroups.x.

struct Params {
    len: u32, cols: u32, _pad0: u32, _pad1: u32,
}

const WG: u32 = 64u;

@group(0) @binding(0) var<uniform> p: Params;

fn linear_index(wg: vec3<u32>, nwg: vec3<u32>, lid: u32) -> u32 {
    return (wg.x + wg.y * nwg.x) * WG + lid;
}

//#if FORWARD
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(WG)
fn forward(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let i = linear_index(wg, nwg, lid);
    if (i < p.len) {
        y[i] = activate(x[i]);
    }
}
//#endif

//#if BACKWARD
@group(0) @binding(1) var<storage, read> y: array<f32>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;

@compute @workgroup_size(WG)
fn backward(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let i = linear_index(wg, nwg, lid);
    if (i < p.len) {
        dx[i] = dy[i] * activate_grad(y[i]);
    }
}
//#endif

//#if BACKWARD4
@group(0) @binding(1) var<storage, read> y: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> dy: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> dx: array<vec4<f32>>;

@compute @workgroup_size(WG)
fn backward4(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let i = linear_index(wg, nwg, lid);
    if (i < p.len / 4u) {
        let v = y[i];
        let grad = vec4<f32>(activate_grad(v.x), activate_grad(v.y), activate_grad(v.z), activate_grad(v.w));
        dx[i] = dy[i] * grad;
    }
}
//#endif

//#if SOFTMAX
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(WG)
fn softmax(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let row = linear_index(wg, nwg, lid);
    if (row * p.cols >= p.len) {
        return;
    }
    let base = row * p.cols;
    var top = x[base];
    for (var j = 1u; j < p.cols; j++) {
        top = max(top, x[base + j]);
    }
    var total = 0.0;
    for (var j = 0u; j < p.cols; j++) {
        total += exp(x[base + j] - top);
    }
    for (var j = 0u; j < p.cols; j++) {
        y[base + j] = exp(x[base + j] - top) / total;
    }
}
//#endif
