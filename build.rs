//! Lists the dashboard's files for `src/api/web.rs` to embed: every file
//! under `web/` except the README's screenshots, each as an
//! `include_bytes!`, so the binary carries the whole dashboard and needs no
//! files beside it. No crate: a short walk does it, and naming the folder
//! to cargo (below) makes added and removed files rebuild too, which an
//! `include_dir!`-style macro does not notice.

use std::path::Path;

/// Folders under `web/` that are not part of the dashboard.
const NOT_SERVED: &[&str] = &["screenshots"];

fn main() {
    let manifest = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let root = Path::new(&manifest).join("web");
    // For a folder, cargo reruns this script when anything below it changes.
    println!("cargo:rerun-if-changed=web");
    let mut files = Vec::new();
    walk(&root, "", &mut files);
    files.sort();
    let mut table = String::from("&[\n");
    for (name, path) in &files {
        table += &format!("    ({name:?}, include_bytes!({path:?})),\n");
    }
    table += "]\n";
    let out = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    std::fs::write(Path::new(&out).join("web_files.rs"), table).expect("write web_files.rs");
}

/// Collects `(path under web/ with '/' separators, absolute path)`.
fn walk(dir: &Path, prefix: &str, files: &mut Vec<(String, String)>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries {
        let entry = entry.expect("read web/");
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || (prefix.is_empty() && NOT_SERVED.contains(&name.as_str())) {
            continue;
        }
        let path = entry.path();
        let rel = format!("{prefix}{name}");
        if path.is_dir() {
            walk(&path, &format!("{rel}/"), files);
        } else {
            files.push((rel, path.to_string_lossy().into_owned()));
        }
    }
}
