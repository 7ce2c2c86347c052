//! Copies the WGSL shaders into `OUT_DIR` without their `//` comments, which are about half of
//! the gzipped shader text that the wasm module carries. Lines whose text starts with `//#`
//! (the `//#if NAME` and `//#endif` section markers of `src/gpu/pipeline.rs`) stay as they are.

use std::fs;
use std::path::Path;

fn main() {
    let out_dir = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR for build scripts");
    println!("cargo:rerun-if-changed=shaders");
    for entry in fs::read_dir("shaders").expect("the shaders folder is readable") {
        let path = entry.expect("the shaders folder lists its files").path();
        if path.extension().is_none_or(|extension| extension != "wgsl") {
            continue;
        }
        let text = fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        let name = path.file_name().expect("a listed file has a name");
        let target = Path::new(&out_dir).join(name);
        fs::write(&target, strip_comments(&text))
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", target.display()));
    }
}

/// Removes every `//` comment, and the lines that become blank, except the `//#` markers.
fn strip_comments(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        let code = if line.trim_start().starts_with("//#") {
            line
        } else {
            line.split_once("//")
                .map_or(line, |(code, _)| code)
                .trim_end()
        };
        if !code.trim().is_empty() {
            out.push_str(code);
            out.push('\n');
        }
    }
    out
}
