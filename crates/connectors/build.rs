//! Embeds `shipped/` (the connectors shipped with the binary) as a list of
//! `(relative path, contents)` pairs, read by `osmosis_connectors::catalog`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::{env, fs};

fn collect(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("readable folder entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            collect(root, &path, out);
        } else if path.parent() != Some(root) {
            // Files directly in shipped/ (its README) are not connector files.
            out.push(path);
        }
    }
}

fn main() {
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let root = manifest.join("shipped");
    println!("cargo:rerun-if-changed=shipped");
    let mut files = Vec::new();
    collect(&root, &root, &mut files);
    let mut code = String::from("pub(crate) static FILES: &[(&str, &str)] = &[\n");
    for path in files {
        let relative = path
            .strip_prefix(&root)
            .expect("under shipped/")
            .to_string_lossy()
            .replace('\\', "/");
        // Through CARGO_MANIFEST_DIR, not this run's absolute path: a target dir
        // shared by checkouts elsewhere (a CI clone, a benchmark's export) may reuse
        // this output, and must then read its own checkout's files, not ours.
        let within = format!("/shipped/{relative}");
        writeln!(
            code,
            "    ({relative:?}, include_str!(concat!(env!(\"CARGO_MANIFEST_DIR\"), {within:?}))),"
        )
        .expect("write");
    }
    code.push_str("];\n");
    let out = PathBuf::from(env::var("OUT_DIR").expect("OUT_DIR")).join("shipped.rs");
    fs::write(out, code).expect("write shipped.rs");
}
