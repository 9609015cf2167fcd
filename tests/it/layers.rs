//! The layering rules of ARCHITECTURE.md ("Invariants"), checked on the
//! source: the pure core reads no clock, disk, environment or network;
//! only `api/` names warp; only `mqtt/` names rumqttc/rumqttd; only
//! `store/` spells the data directory's file names.
//!
//! Test code is left out: files named `tests.rs` or under a `tests/`
//! directory, everything from a file's first `#[cfg(test)]` on, and the
//! load-test tool (`src/loadtest*`, part of the binary only), which plays
//! controllers and attackers with the crates' own clients.

use std::path::{Path, PathBuf};

/// Every `.rs` file under `dir`, recursively.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(rust_files(&p));
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
    out.sort();
    out
}

/// The crate's non-test code, file by file: (path relative to `src/`,
/// lines with their numbers, comments dropped).
fn code() -> Vec<(String, Vec<(usize, String)>)> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    rust_files(&src)
        .into_iter()
        .filter_map(|p| {
            let rel = p
                .strip_prefix(&src)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            if rel.ends_with("tests.rs") || rel.contains("/tests/") || rel.starts_with("loadtest") {
                return None;
            }
            let text = std::fs::read_to_string(&p).unwrap();
            let lines = text
                .lines()
                .enumerate()
                .take_while(|(_, l)| l.trim() != "#[cfg(test)]")
                .map(|(i, l)| (i + 1, l.split("//").next().unwrap_or_default().to_string()))
                .collect();
            Some((rel, lines))
        })
        .collect()
}

/// Lines containing any of `needles`, in the files whose path (relative
/// to `src/`) starts with one of `prefixes` (`inside` true) or with none
/// of them (`inside` false).
fn scan(prefixes: &[&str], inside: bool, needles: &[&str]) -> Vec<String> {
    code()
        .into_iter()
        .filter(|(rel, _)| prefixes.iter().any(|p| rel.starts_with(p)) == inside)
        .flat_map(|(rel, lines)| {
            lines
                .into_iter()
                .filter(|(_, l)| needles.iter().any(|n| l.contains(n)))
                .map(move |(n, l)| format!("src/{rel}:{n}: {}", l.trim()))
        })
        .collect()
}

/// Lines of files under `core` containing any of `needles`.
fn inside(core: &[&str], needles: &[&str]) -> Vec<String> {
    scan(core, true, needles)
}

/// Lines of files outside `allowed` containing any of `needles`.
fn offenders(allowed: &[&str], needles: &[&str]) -> Vec<String> {
    scan(allowed, false, needles)
}

/// The pure core: rules, frames, pixels, time windows, vendor codecs,
/// official warnings, brokers' configuration.
const CORE: &[&str] = &[
    "domain",
    "frame.rs",
    "codec/",
    "bundle.rs",
    "bundle/",
    "render/",
    "schedule/",
    "huidu/",
    "colorlight.rs",
    "cap/",
    "xml_text.rs",
    "alarms/core.rs",
    "alarms/config.rs",
    "alarms/text.rs",
    "broker_config.rs",
];

#[test]
fn the_core_reads_no_clock_disk_environment_or_network() {
    let found = inside(
        CORE,
        &[
            "std::fs",
            "File::",
            "Utc::now",
            "Local::now",
            "SystemTime",
            "Instant::now",
            "std::env",
            "env::var",
            // Parsing an address is pure; opening or resolving one is not.
            "TcpStream",
            "TcpListener",
            "UdpSocket",
            "ToSocketAddrs",
            "lookup_host",
            "reqwest",
            "pnet",
            "tokio::",
            "warp::",
            "rumqtt",
        ],
    );
    assert!(
        found.is_empty(),
        "the core reaches outside:\n{}",
        found.join("\n")
    );
}

#[test]
fn only_api_names_warp() {
    let found = offenders(&["api/"], &["warp::", "use warp"]);
    assert!(found.is_empty(), "warp outside api/:\n{}", found.join("\n"));
}

#[test]
fn only_mqtt_names_the_mqtt_crates() {
    let found = offenders(
        &["mqtt/"],
        &["rumqttc::", "rumqttd::", "use rumqttc", "use rumqttd"],
    );
    assert!(
        found.is_empty(),
        "rumqttc/rumqttd outside mqtt/:\n{}",
        found.join("\n")
    );
}

#[test]
fn only_store_spells_the_data_layout() {
    let found = offenders(
        &["store/"],
        &[
            "\"content/",
            "\"state/",
            "\"secrets/",
            "\"schedules/",
            "seq.json",
            "seq.log",
            "plays.redb",
            "tokens.json",
            "audit.jsonl",
        ],
    );
    assert!(
        found.is_empty(),
        "data layout outside store/:\n{}",
        found.join("\n")
    );
}

/// The checks above can fail: the same scans find what the edges do use.
#[test]
fn the_scans_see_what_the_edges_use() {
    assert!(!inside(&["api/"], &["warp::"]).is_empty());
    assert!(!inside(&["mqtt/"], &["rumqttc::"]).is_empty());
    assert!(!inside(&["store/"], &["\"state/"]).is_empty());
    assert!(!offenders(&[], &["Utc::now"]).is_empty());
}
