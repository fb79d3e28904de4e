//! Embeds the web UI's built bundle (`web/dist`, committed) into the binary, so `tributary serve`
//! shows the UI on a machine without Node. Writes `$OUT_DIR/web_assets.rs`: a sorted table of
//! `(path, bytes)`; an empty table when the bundle is missing (the server then says how to build it).

use std::fs;
use std::path::{Path, PathBuf};

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            walk(&path, out);
        } else {
            out.push(path);
        }
    }
}

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let dist = manifest.join("../web/dist");
    println!("cargo:rerun-if-changed={}", dist.display());
    // `sqlx::migrate!` embeds the migrations: a new or changed one must rebuild the crate.
    println!(
        "cargo:rerun-if-changed={}",
        manifest.join("../migrations").display()
    );
    let mut files = Vec::new();
    walk(&dist, &mut files);
    files.sort();
    let mut table = String::from("pub static ASSETS: &[(&str, &[u8])] = &[\n");
    for file in files {
        let rel = file
            .strip_prefix(&dist)
            .expect("walked under dist")
            .to_string_lossy()
            .replace('\\', "/");
        let abs = fs::canonicalize(&file).expect("file exists");
        table.push_str(&format!("    ({rel:?}, include_bytes!({abs:?})),\n"));
    }
    table.push_str("];\n");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("set by cargo")).join("web_assets.rs");
    fs::write(out, table).expect("OUT_DIR is writable");
}
