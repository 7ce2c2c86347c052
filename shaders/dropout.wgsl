// Inverted dropout with a seeded, stateless mask, one thread per element.
// The mask of element i is 1 / (1 - rate) when u >= rate and 0 otherwise, where
//   u = (pcg_hash(i ^ pcg_hash(seed)) >> 8) / 2^24,  seed = step_seed + salt,
// step_seed = seed_word[0] is written by the host each step and salt tells layers apart.
// FORWARD   mask[i] as above, y = x * mask      bindings: 1 x, 2 y, 3 mask, 4 seed_word
// BACKWARD  dx = dy * mask                       bindings: 1 dy, 2 dx, 3 mask
// Grid: 64-thread workgroups, linear index id.x + id.y * num_workgroups.x.

struct Params {
    len: u32, rate: f32, salt: u32, _pad: u32,
}

const WG: u32 = 64u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> input: array<f32>;
@group(0) @binding(2) var<storage, read_write> output: array<f32>;

fn linear_index(wg: vec3<u32>, nwg: vec3<u32>, lid: u32) -> u32 {
    return (wg.x + wg.y * nwg.x) * WG + lid;
}

fn pcg_hash(x: u32) -> u32 {
    let state = x * 747796405u + 2891336453u;
    let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
    return (word >> 22u) ^ word;
}

//#if FORWARD
@group(0) @binding(3) var<storage, read_write> mask: array<f32>;
@group(0) @binding(4) var<storage, read> step: array<u32>;

@compute @workgroup_size(WG)
fn forward(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let i = linear_index(wg, nwg, lid);
    if (i >= p.len) {
        return;
    }
    let seed = step[3] + p.salt;
    let u = f32(pcg_hash(i ^ pcg_hash(seed)) >> 8u) / 16777216.0;
    let keep = select(0.0, 1.0 / (1.0 - p.rate), u >= p.rate);
    mask[i] = keep;
    output[i] = input[i] * keep;
}
//#endif

//#if BACKWARD
@group(0) @binding(3) var<storage, read> mask: array<f32>;

@compute @workgroup_size(WG)
fn backward(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let i = linear_index(wg, nwg, lid);
    if (i < p.len) {
        output[i] = input[i] * mask[i];
    }
}
//#endif
