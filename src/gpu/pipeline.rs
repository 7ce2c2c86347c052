//! Pipeline cache. A kernel is a WGSL module, an entry point and the values of its defines; the
//! cache key contains all three, so every value that changes the generated shader gives its own
//! pipeline.
//!
//! Defines act on the WGSL text in two ways: `{{NAME}}` is replaced by the value, and the lines
//! between `//#if NAME` and `//#endif` are kept only when `NAME` is defined and non-zero. A
//! snippet replaces `{{NAME}}` with WGSL statements that Rust wrote for one geometry (unrolled
//! loops).

use crate::hash::FastMap;
use std::cell::RefCell;
use std::rc::Rc;

/// One compute kernel: module, entry point and source substitutions.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Kernel {
    /// Name of the WGSL module (see [`module_sources`]).
    pub module: &'static str,
    /// Entry point in that module.
    pub entry: &'static str,
    /// Values for the `{{NAME}}` placeholders of the module.
    pub defines: Vec<(&'static str, u32)>,
    /// WGSL text for the `{{NAME}}` placeholders that take statements.
    pub snippets: Vec<(&'static str, Rc<str>)>,
}

impl Kernel {
    /// A kernel without substitutions.
    pub fn new(module: &'static str, entry: &'static str) -> Self {
        Self {
            module,
            entry,
            defines: Vec::new(),
            snippets: Vec::new(),
        }
    }

    /// Adds a substitution for `{{name}}`.
    pub fn define(mut self, name: &'static str, value: u32) -> Self {
        self.defines.push((name, value));
        self
    }

    /// Adds WGSL statements for `{{name}}`.
    pub fn snippet(mut self, name: &'static str, code: Rc<str>) -> Self {
        self.snippets.push((name, code));
        self
    }
}

/// Includes `shaders/NAME` as build.rs writes it: without its `//` comments.
macro_rules! wgsl {
    ($name:literal) => {
        include_str!(concat!(env!("OUT_DIR"), "/", $name))
    };
}

/// The WGSL files that make up each module, concatenated in order.
fn module_sources(module: &str) -> &'static [&'static str] {
    const GEMM: &str = wgsl!("gemm.wgsl");
    const ACT: &str = wgsl!("act.wgsl");
    match module {
        "conv2d" => &[wgsl!("conv2d.wgsl"), ACT, GEMM],
        "conv2d_direct" => &[wgsl!("conv2d_direct.wgsl"), ACT],
        "matmul" => &[wgsl!("matmul.wgsl"), ACT, GEMM],
        "pool" => &[wgsl!("pool.wgsl")],
        "crop" => &[wgsl!("crop.wgsl")],
        "depthwise" => &[wgsl!("depthwise.wgsl")],
        "activation" => &[wgsl!("activation.wgsl"), ACT],
        "loss" => &[wgsl!("loss.wgsl")],
        "optim" => &[wgsl!("optim.wgsl")],
        "reduce" => &[wgsl!("reduce.wgsl")],
        "dropout" => &[wgsl!("dropout.wgsl")],
        "peak" => &[wgsl!("peak.wgsl")],
        "augment" => &[wgsl!("augment.wgsl")],
        _ => panic!("unknown WGSL module {module}"),
    }
}

/// Builds the WGSL source of `kernel`: conditional sections resolved, placeholders filled in.
pub(crate) fn kernel_source(kernel: &Kernel) -> String {
    let text = module_sources(kernel.module).concat();
    fill_placeholders(&select_sections(&text, &kernel.defines), kernel)
}

/// Replaces each `{{NAME}}` in `text` with the value of the define or the code of the snippet
/// named NAME, in one pass. Panics on a placeholder that `kernel` does not fill.
fn fill_placeholders(text: &str, kernel: &Kernel) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(mut start) = rest.as_bytes().windows(2).position(|pair| pair == b"{{") {
        // In `{{{NAME}}` the first brace is WGSL's.
        while rest.as_bytes().get(start + 2) == Some(&b'{') {
            start += 1;
        }
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after.find('}').unwrap_or(after.len());
        let name = &after[..end];
        if let Some((_, value)) = kernel.defines.iter().find(|(n, _)| *n == name) {
            out.push_str(&value.to_string());
        } else if let Some((_, code)) = kernel.snippets.iter().find(|(n, _)| *n == name) {
            // Snippets are inserted as they are, so they must hold no placeholders of their own.
            debug_assert!(!code.as_bytes().windows(2).any(|pair| pair == b"{{"));
            out.push_str(code);
        } else {
            panic!(
                "kernel {}::{} has an unfilled placeholder {{{{{name}}}}}",
                kernel.module, kernel.entry
            );
        }
        rest = after[end..]
            .strip_prefix("}}")
            .expect("a placeholder ends with }}");
    }
    out.push_str(rest);
    out
}

/// Keeps the lines of each `//#if NAME` ... `//#endif` section only when `NAME` is non-zero.
/// Sections nest: a line stays only when every section around it is kept.
fn select_sections(text: &str, defines: &[(&'static str, u32)]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut open: Vec<bool> = Vec::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if let Some(name) = trimmed.strip_prefix("//#if ") {
            open.push(defines.iter().any(|(n, v)| *n == name.trim() && *v != 0));
        } else if trimmed == "//#endif" {
            open.pop().expect("every //#endif closes an //#if");
        } else if open.iter().all(|&keep| keep) {
            out.push_str(line);
            out.push('\n');
        }
    }
    assert!(open.is_empty(), "an //#if section has no //#endif");
    out
}

pub(crate) struct PipelineCache {
    device: wgpu::Device,
    pipelines: RefCell<FastMap<Kernel, (usize, Rc<wgpu::ComputePipeline>)>>,
}

impl PipelineCache {
    pub(crate) fn new(device: wgpu::Device) -> Self {
        Self {
            device,
            pipelines: RefCell::default(),
        }
    }

    /// Returns the pipeline of `kernel` and its cache index, compiling it on first use.
    pub(crate) fn get(&self, kernel: &Kernel) -> (usize, Rc<wgpu::ComputePipeline>) {
        if let Some(found) = self.pipelines.borrow().get(kernel) {
            return found.clone();
        }
        let source = kernel_source(kernel);
        let label = format!("{}::{}", kernel.module, kernel.entry);
        let module = self
            .device
            .create_shader_module(wgpu::ShaderModuleDescriptor {
                label: Some(&label),
                source: wgpu::ShaderSource::Wgsl(source.into()),
            });
        let pipeline = self
            .device
            .create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                label: Some(&label),
                layout: None,
                module: &module,
                entry_point: Some(kernel.entry),
                compilation_options: Default::default(),
                cache: None,
            });
        let mut pipelines = self.pipelines.borrow_mut();
        let entry = (pipelines.len(), Rc::new(pipeline));
        pipelines.insert(kernel.clone(), entry.clone());
        entry
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_follow_defines() {
        let text = "a\n//#if X\nb\n//#endif\n//#if Y\nc\n//#endif\nd\n";
        assert_eq!(select_sections(text, &[("X", 1), ("Y", 0)]), "a\nb\nd\n");
        assert_eq!(select_sections(text, &[]), "a\nd\n");
    }

    #[test]
    fn nested_sections_need_every_define() {
        let text = "//#if X\na\n//#if Y\nb\n//#endif\nc\n//#endif\nd\n";
        assert_eq!(select_sections(text, &[("X", 1), ("Y", 1)]), "a\nb\nc\nd\n");
        assert_eq!(select_sections(text, &[("X", 1)]), "a\nc\nd\n");
        assert_eq!(select_sections(text, &[("Y", 1)]), "d\n");
    }

    #[test]
    fn placeholders_are_filled_in_one_pass() {
        let kernel = Kernel::new("pool", "main")
            .define("N", 7)
            .snippet("BODY", "x = n;".into());
        let text = "fn f() { if (a) {{{BODY}} }}\nlet n = {{N}}u; {{N}}";
        let expected = "fn f() { if (a) {x = n; }}\nlet n = 7u; 7";
        assert_eq!(fill_placeholders(text, &kernel), expected);
    }

    #[test]
    #[should_panic(expected = "kernel pool::main has an unfilled placeholder {{M}}")]
    fn unknown_placeholder_panics() {
        fill_placeholders(
            "let m = {{M}};",
            &Kernel::new("pool", "main").define("N", 7),
        );
    }
}
