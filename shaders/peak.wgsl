// FMA throughput probe for benchmarks: each thread runs ITERATIONS rounds of 8 vec4 FMAs on 4
// independent chains, so one dispatch of G workgroups does G * 64 * ITERATIONS * 8 * 4 * 2 FLOPs
// (ITERATIONS a multiple of 4). The loop body holds 4 rounds because SwiftShader pays a fixed cost
// per loop iteration, and 4 chains rather than 8 because 8 vec4 chains spill registers there: this
// form measured 10.3 GFLOP/s on SwiftShader where 8 chains and 1 round per iteration measured 5.0.
// The sum is stored so the compiler cannot drop the work.   bindings: 1 out [threads]

struct Params {
    iterations: u32, _pad0: u32, _pad1: u32, _pad2: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(64)
fn peak(@builtin(global_invocation_id) gid: vec3<u32>) {
    let seed = f32(gid.x) * 1e-7;
    let mul = vec4<f32>(0.9999, 0.9998, 0.9997, 0.9996);
    let add = vec4<f32>(1e-7);
    var c0 = vec4<f32>(seed);
    var c1 = c0 + 1.0;
    var c2 = c0 + 2.0;
    var c3 = c0 + 3.0;
    for (var i = 0u; i < p.iterations; i += 4u) {
        c0 = fma(c0, mul, add);
        c1 = fma(c1, mul, add);
        c2 = fma(c2, mul, add);
        c3 = fma(c3, mul, add);
        c0 = fma(c0, mul, add);
        c1 = fma(c1, mul, add);
        c2 = fma(c2, mul, add);
        c3 = fma(c3, mul, add);
        c0 = fma(c0, mul, add);
        c1 = fma(c1, mul, add);
        c2 = fma(c2, mul, add);
        c3 = fma(c3, mul, add);
        c0 = fma(c0, mul, add);
        c1 = fma(c1, mul, add);
        c2 = fma(c2, mul, add);
        c3 = fma(c3, mul, add);
        c0 = fma(c0, mul, add);
        c1 = fma(c1, mul, add);
        c2 = fma(c2, mul, add);
        c3 = fma(c3, mul, add);
        c0 = fma(c0, mul, add);
        c1 = fma(c1, mul, add);
        c2 = fma(c2, mul, add);
        c3 = fma(c3, mul, add);
        c0 = fma(c0, mul, add);
        c1 = fma(c1, mul, add);
        c2 = fma(c2, mul, add);
        c3 = fma(c3, mul, add);
        c0 = fma(c0, mul, add);
        c1 = fma(c1, mul, add);
        c2 = fma(c2, mul, add);
        c3 = fma(c3, mul, add);
    }
    let total = (c0 + c1) + (c2 + c3);
    out[gid.x] = total.x + total.y + total.z + total.w;
}
