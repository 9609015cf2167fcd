//! The layering rules of ARCHITECTURE.md ("Invariants"), checked on the
//! source: the pure core reads no clock, disk, environment or network;
//! only `api/` names warp; only `mqtt/` names rumqttc/rumqttd; only
//! `store/` spells the data directory's file names.
//! No function in `src/` runs to 100 lines.
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

/// No function in `src/` (tests included) runs to 100 lines, from its
/// `fn` to its closing brace: a longer one is split into named steps.
#[test]
fn no_function_in_src_runs_to_100_lines() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut long = Vec::new();
    for p in rust_files(&src) {
        let rel = p
            .strip_prefix(&src)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        let text = std::fs::read_to_string(&p).unwrap();
        for (name, line, lines) in function_lengths(&text) {
            if lines >= 100 {
                long.push(format!("src/{rel}:{line}: fn {name}: {lines} lines"));
            }
        }
    }
    assert!(
        long.is_empty(),
        "split these into named steps:\n{}",
        long.join("\n")
    );
}

/// The measure can fail: braces in strings, characters, raw strings and
/// comments are not counted, lifetimes are not characters, and a
/// declaration without a body is no function.
#[test]
fn function_lengths_count_only_code_braces() {
    let text = "trait T {\n    fn declared(&self) -> [u8; 4];\n}\n\
        fn outer<'a>(s: &'a str) -> usize {\n\
        \x20   let open = '{'; let close = '}'; let q = '\\''; let b = b'{';\n\
        \x20   let f = format!(\"{{}} {}\", s); // }\n\
        \x20   /* } */ let r = r#\"}\"#;\n\
        \x20   fn inner() {}\n\
        \x20   s.len()\n\
        }\n\
        fn after() {\n}\n";
    assert_eq!(
        function_lengths(text),
        vec![
            ("inner".to_string(), 8, 1),
            ("outer".to_string(), 4, 7),
            ("after".to_string(), 11, 2),
        ]
    );
    let long = format!("fn f() -> [u8; 1] {{\n{}}}\n", "    x();\n".repeat(98));
    assert_eq!(function_lengths(&long), vec![("f".to_string(), 1, 100)]);
}

/// Each function with a body: its name, the line of its `fn` (1-based)
/// and its length in lines, in the order the bodies close.
fn function_lengths(text: &str) -> Vec<(String, usize, usize)> {
    let code: Vec<char> = code_only(text).chars().collect();
    let mut out = Vec::new();
    let mut open: Vec<(String, usize, usize)> = Vec::new();
    // `nest`: open parentheses and brackets, so the `;` of `[u8; 4]` in
    // a signature does not end it.
    let (mut line, mut depth, mut nest) = (1, 0, 0);
    let mut pending: Option<(String, usize)> = None;
    let ident = |c: char| c.is_alphanumeric() || c == '_';
    let mut i = 0;
    while i < code.len() {
        let c = code[i];
        if c == 'f'
            && code.get(i + 1) == Some(&'n')
            && code.get(i + 2) == Some(&' ')
            && (i == 0 || !ident(code[i - 1]))
        {
            let name: String = code[i + 3..].iter().take_while(|c| ident(**c)).collect();
            pending = Some((name, line));
        }
        match c {
            '\n' => line += 1,
            '(' | '[' => nest += 1,
            ')' | ']' => nest -= 1,
            ';' if nest == 0 => pending = None,
            '{' => {
                depth += 1;
                if let Some((name, at)) = pending.take() {
                    open.push((name, at, depth));
                }
            }
            '}' => {
                if open.last().is_some_and(|o| o.2 == depth) {
                    let (name, at, _) = open.pop().unwrap();
                    out.push((name, at, line - at + 1));
                }
                depth -= 1;
            }
            _ => {}
        }
        i += 1;
    }
    out
}

/// `text` with the insides of comments, strings and character literals
/// blanked (line breaks kept), so only the code's own braces remain.
fn code_only(text: &str) -> String {
    let s: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let blank = |out: &mut String, c: char| out.push(if c == '\n' { '\n' } else { ' ' });
    let ident = |c: char| c.is_alphanumeric() || c == '_';
    let mut i = 0;
    while i < s.len() {
        let c = s[i];
        let next = s.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < s.len() && s[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut nest = 0;
            loop {
                if s[i] == '/' && s.get(i + 1) == Some(&'*') {
                    nest += 1;
                    i += 2;
                } else if s[i] == '*' && s.get(i + 1) == Some(&'/') {
                    nest -= 1;
                    i += 2;
                    if nest == 0 {
                        break;
                    }
                } else {
                    blank(&mut out, s[i]);
                    i += 1;
                }
            }
        } else if c == 'r'
            && matches!(next, Some('"' | '#'))
            && (i == 0 || !ident(s[i - 1]) || (s[i - 1] == 'b' && (i < 2 || !ident(s[i - 2]))))
        {
            let hashes = s[i + 1..].iter().take_while(|c| **c == '#').count();
            if s.get(i + 1 + hashes) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            i += 2 + hashes;
            let close: String = std::iter::once('"')
                .chain("#".repeat(hashes).chars())
                .collect();
            while i < s.len() && !s[i..].starts_with(&close.chars().collect::<Vec<_>>()) {
                blank(&mut out, s[i]);
                i += 1;
            }
            i += close.chars().count();
        } else if c == '"' {
            i += 1;
            while i < s.len() && s[i] != '"' {
                if s[i] == '\\' {
                    blank(&mut out, s[i]);
                    i += 1;
                }
                blank(&mut out, s[i]);
                i += 1;
            }
            i += 1;
        } else if c == '\'' && next == Some('\\') {
            i += 3;
            while i < s.len() && s[i] != '\'' {
                i += 1;
            }
            i += 1;
        } else if c == '\'' && s.get(i + 2) == Some(&'\'') {
            i += 3;
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}
