//! Bulk import of panels: a JSON array of panels (the shape of `POST
//! /api/v1/panels`) or a CSV file with a header row, created or replaced
//! all at once, or not at all.
//!
//! CSV columns (any order; the first five are required): `id`, `name`,
//! `width`, `height`, `format`, `groups` (separated by `;` or spaces),
//! `color` (`#rrggbb`), `day`, `night` (brightness 0–255, both or
//! neither), `day_starts`, `night_starts` (`HH:MM`). Row 1 is the first
//! panel (the line after the header; the first element of a JSON array).

#![warn(missing_docs)]

use std::collections::HashMap;

use serde::Serialize;
use serde_json::{json, Map, Value};

use super::{entry, pretty, FileOp, Store, StoreError};
use crate::domain::{Id, Panel};
use crate::i18n::{Lang, Reason, Text};

/// What the import body is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportFormat {
    /// A JSON array of panels, each in the shape of `POST /api/v1/panels`.
    Json,
    /// CSV with a header row naming the columns.
    Csv,
}

impl ImportFormat {
    /// From a file name's extension (`.json`, `.csv`).
    pub fn from_file_name(name: &str) -> Option<ImportFormat> {
        let lower = name.to_ascii_lowercase();
        if lower.ends_with(".json") {
            Some(ImportFormat::Json)
        } else if lower.ends_with(".csv") {
            Some(ImportFormat::Csv)
        } else {
            None
        }
    }
}

/// One row that cannot be imported, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowProblem {
    /// 1-based: the first panel of the file is row 1.
    pub row: usize,
    /// The row's id, when it has one.
    pub id: Option<String>,
    /// What is wrong with the row (rendered in the reader's language).
    pub message: Text,
}

impl RowProblem {
    /// The row and its problem, as one line in `lang`.
    pub fn render(&self, lang: Lang) -> String {
        Reason::ImportRow {
            row: self.row,
            id: self.id.clone(),
            why: Box::new(self.message.clone()),
        }
        .render(lang)
    }
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct ImportSummary {
    /// Panels that did not exist before.
    pub created: usize,
    /// Existing panels replaced by a changed row.
    pub updated: usize,
    /// Rows identical to the stored panel: nothing written for them.
    pub unchanged: usize,
}

/// Why an import did not happen; nothing was written.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The body as a whole cannot be read (not a JSON array, no CSV header…).
    #[error("{0}")]
    Unreadable(Text),
    /// Some rows are wrong; nothing was imported.
    #[error("{}", rows_text(.0, Lang::En))]
    Rows(Vec<RowProblem>),
    /// Writing the panels failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ImportError {
    /// What went wrong, in `lang` (the command line's language); a store
    /// failure reads as the store says it.
    pub fn render(&self, lang: Lang) -> String {
        match self {
            ImportError::Unreadable(t) => t.render(lang),
            ImportError::Rows(rows) => rows_text(rows, lang),
            ImportError::Store(e) => e.to_string(),
        }
    }
}

/// "N rows cannot be imported…", then one line per row.
fn rows_text(rows: &[RowProblem], lang: Lang) -> String {
    let mut out = Reason::ImportRows { n: rows.len() }.render(lang);
    for p in rows {
        out.push_str("\n  ");
        out.push_str(&p.render(lang));
    }
    out
}

const CSV_COLUMNS: &str =
    "id, name, width, height, format, groups, color, day, night, day_starts, night_starts";
const CSV_REQUIRED: [&str; 5] = ["id", "name", "width", "height", "format"];

/// Reads a whole import body; every row's problem is reported at once.
pub fn parse_panels(bytes: &[u8], format: ImportFormat) -> Result<Vec<Panel>, ImportError> {
    let rows = match format {
        ImportFormat::Json => json_rows(bytes)?,
        ImportFormat::Csv => csv_rows(bytes)?,
    };
    let mut panels = Vec::with_capacity(rows.len());
    let mut problems = Vec::new();
    for (i, (id, row)) in rows.into_iter().enumerate() {
        let row_no = i + 1;
        let panel = row.and_then(|v| {
            serde_json::from_value::<Panel>(v).map_err(|e| {
                Text::from(Reason::RowNotAPanel {
                    detail: e.to_string(),
                })
            })
        });
        match panel {
            Ok(p) => panels.push((row_no, p)),
            Err(message) => problems.push(RowProblem {
                row: row_no,
                id,
                message,
            }),
        }
    }
    problems.extend(check_rows(&panels));
    problems.sort_by_key(|p| p.row);
    if problems.is_empty() {
        Ok(panels.into_iter().map(|(_, p)| p).collect())
    } else {
        Err(ImportError::Rows(problems))
    }
}

/// Each row's id (when it has one) and its JSON, or why it has none.
type Rows = Vec<(Option<String>, Result<Value, Text>)>;

fn json_rows(bytes: &[u8]) -> Result<Rows, ImportError> {
    let values: Vec<Value> = serde_json::from_slice(bytes).map_err(|e| {
        ImportError::Unreadable(
            Reason::ImportNotJsonArray {
                line: e.line(),
                column: e.column(),
                detail: e.to_string(),
            }
            .into(),
        )
    })?;
    Ok(values
        .into_iter()
        .map(|v| {
            let id = v.get("id").and_then(|id| id.as_str()).map(str::to_string);
            (id, Ok(v))
        })
        .collect())
}

fn csv_rows(bytes: &[u8]) -> Result<Rows, ImportError> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(bytes);
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| {
            ImportError::Unreadable(
                Reason::CsvHeaderUnreadable {
                    detail: e.to_string(),
                }
                .into(),
            )
        })?
        .iter()
        .map(|h| h.to_ascii_lowercase())
        .collect();
    if let Some(unknown) = header
        .iter()
        .find(|h| !CSV_COLUMNS.split(", ").any(|c| c == *h))
    {
        return Err(ImportError::Unreadable(
            Reason::CsvUnknownColumn {
                shown: unknown.clone(),
                columns: CSV_COLUMNS.into(),
            }
            .into(),
        ));
    }
    if let Some(missing) = CSV_REQUIRED
        .iter()
        .find(|c| !header.iter().any(|h| h == *c))
    {
        return Err(ImportError::Unreadable(
            Reason::CsvMissingColumn {
                missing: missing.to_string(),
                required: CSV_REQUIRED.join(", "),
            }
            .into(),
        ));
    }
    let id_column = header.iter().position(|h| h == "id");
    Ok(reader
        .records()
        .map(|r| match r {
            Ok(record) => {
                let id = id_column.and_then(|i| record.get(i)).map(str::to_string);
                (id, csv_panel(&header, &record))
            }
            Err(e) => (
                None,
                Err(Reason::CsvLineUnreadable {
                    detail: e.to_string(),
                }
                .into()),
            ),
        })
        .collect())
}

/// One CSV record as the JSON a panel is read from.
fn csv_panel(header: &[String], record: &csv::StringRecord) -> Result<Value, Text> {
    let mut panel = Map::new();
    let mut brightness = Map::new();
    for (column, cell) in header.iter().zip(record.iter()) {
        if cell.is_empty() {
            continue;
        }
        let number = |max: u64| {
            cell.parse::<u64>()
                .ok()
                .filter(|n| *n <= max)
                .ok_or_else(|| {
                    Text::from(Reason::CsvNotANumber {
                        column: column.clone(),
                        max,
                        cell: cell.to_string(),
                    })
                })
        };
        match column.as_str() {
            "width" | "height" => {
                panel.insert(column.clone(), json!(number(u64::from(u16::MAX))?));
            }
            "groups" => {
                let groups: Vec<&str> = cell.split([';', ' ']).filter(|g| !g.is_empty()).collect();
                panel.insert(column.clone(), json!(groups));
            }
            "day" | "night" => {
                brightness.insert(column.clone(), json!(number(255)?));
            }
            "day_starts" | "night_starts" => {
                brightness.insert(column.clone(), json!(cell));
            }
            _ => {
                panel.insert(column.clone(), json!(cell));
            }
        }
    }
    if !brightness.is_empty() {
        panel.insert("brightness".into(), Value::Object(brightness));
    }
    Ok(Value::Object(panel))
}

/// Values each panel must have, and ids given once only; `panels` are
/// (row, panel).
fn check_rows(panels: &[(usize, Panel)]) -> Vec<RowProblem> {
    let mut first: HashMap<&Id, usize> = HashMap::with_capacity(panels.len());
    let mut problems = Vec::new();
    for (row, p) in panels {
        let row = *row;
        let problem = match (p.validate(), first.get(&p.id)) {
            (Err(e), _) => Some(e.0),
            (Ok(()), Some(earlier)) => Some(Text::from(Reason::RowIdTwice {
                id: p.id.to_string(),
                earlier: *earlier,
            })),
            (Ok(()), None) => None,
        };
        first.entry(&p.id).or_insert(row);
        if let Some(message) = problem {
            problems.push(RowProblem {
                row,
                id: Some(p.id.to_string()),
                message,
            });
        }
    }
    problems
}

impl Store {
    /// Creates the panels that do not exist and replaces those that do, all
    /// or nothing: every file is durable before this returns Ok; on any
    /// error nothing changes, on disk or in memory. One audit entry.
    pub fn import_panels(
        &self,
        panels: Vec<Panel>,
        who: &str,
    ) -> Result<ImportSummary, ImportError> {
        let rows: Vec<(usize, Panel)> = panels
            .into_iter()
            .enumerate()
            .map(|(i, p)| (i + 1, p))
            .collect();
        let problems = check_rows(&rows);
        if !problems.is_empty() {
            return Err(ImportError::Rows(problems));
        }
        let journal = self.import_journal();
        self.change_audited(|s| {
            let mut summary = ImportSummary::default();
            let mut files = Vec::new();
            for (_, p) in rows {
                match s.panels.get(&p.id) {
                    Some(old) if *old == p => {
                        summary.unchanged += 1;
                        continue;
                    }
                    Some(_) => summary.updated += 1,
                    None => summary.created += 1,
                }
                files.push((self.panel_path(&p.id), pretty(&p)));
                s.panels.insert(p.id.clone(), p);
            }
            // The line names what the import did, and is durable before
            // the files are.
            let mut audit = entry(who, "import", "panel", "(bulk)");
            audit.detail = json!(summary);
            Ok((summary, vec![FileOp::Batch { journal, files }], vec![audit]))
        })
        .map_err(ImportError::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open() -> (tempfile::TempDir, Store) {
        let d = tempfile::tempdir().unwrap();
        let s = Store::open(d.path()).unwrap();
        (d, s)
    }

    const GOOD: &str = "id,name,width,height,format,groups,day,night\n\
                        p1,Cổng UBND,128,32,mono1,xa-1;tinh,200,40\n\
                        p2,Chợ,192,96,rgb565,tinh,,\n";

    #[test]
    fn csv_and_json_import_all_at_once_with_one_audit_entry() {
        let (d, s) = open();
        let panels = parse_panels(GOOD.as_bytes(), ImportFormat::Csv).unwrap();
        assert_eq!(panels[0].groups, vec!["xa-1", "tinh"]);
        assert_eq!(
            panels[0].brightness.as_ref().map(|b| (b.day, b.night)),
            Some((200, 40))
        );
        assert_eq!(panels[1].brightness, None);
        let sum = s.import_panels(panels, "admin").unwrap();
        assert_eq!((sum.created, sum.updated, sum.unchanged), (2, 0, 0));
        // Again, with p2 renamed, as JSON: one update, one unchanged.
        let json = r#"[{"id":"p1","name":"Cổng UBND","width":128,"height":32,"format":"mono1","groups":["xa-1","tinh"],"brightness":{"day":200,"night":40}},
                        {"id":"p2","name":"Chợ mới","width":192,"height":96,"format":"rgb565","groups":["tinh"]}]"#;
        let sum = s
            .import_panels(
                parse_panels(json.as_bytes(), ImportFormat::Json).unwrap(),
                "admin",
            )
            .unwrap();
        assert_eq!((sum.created, sum.updated, sum.unchanged), (0, 1, 1));
        let audit = s.audit_tail(10).unwrap();
        assert_eq!(audit.len(), 2, "one entry per import");
        assert_eq!(audit[0].detail["updated"], 1);
        let again = Store::open(d.path()).unwrap();
        assert_eq!(
            again.snapshot().panels[&Id::parse("p2").unwrap()].name,
            "Chợ mới"
        );
    }

    #[test]
    fn a_bad_row_imports_nothing_and_every_bad_row_is_named() {
        let (d, s) = open();
        let csv = "id,name,width,height,format\n\
                   p1,Một,128,32,mono1\n\
                   p2,Hai,wide,32,mono1\n\
                   p3,Ba,128,32,mono1\n\
                   p1,Bốn,128,32,mono1\n\
                   p5,,128,32,mono1\n";
        let err = parse_panels(csv.as_bytes(), ImportFormat::Csv).unwrap_err();
        let ImportError::Rows(rows) = err else {
            panic!("{err}")
        };
        let named: Vec<_> = rows
            .iter()
            .map(|r| (r.row, r.id.clone().unwrap()))
            .collect();
        let want = [(2, "p2"), (4, "p1"), (5, "p5")].map(|(r, id)| (r, id.to_string()));
        assert_eq!(named, want, "{rows:?}");
        assert!(
            rows[0]
                .message
                .render(Lang::En)
                .contains("width must be a whole number"),
            "{}",
            rows[0].message.render(Lang::En)
        );
        assert!(
            rows[1].message.render(Lang::En).contains("also on row 1"),
            "{}",
            rows[1].message.render(Lang::En)
        );
        assert!(
            rows[2].message.render(Lang::En).contains("name"),
            "{}",
            rows[2].message.render(Lang::En)
        );
        // The store checks too: a duplicate and an empty name.
        let mut panels = parse_panels(GOOD.as_bytes(), ImportFormat::Csv).unwrap();
        let mut dup = panels[0].clone();
        dup.name = "Bốn".into();
        let mut nameless = panels[1].clone();
        nameless.id = Id::parse("p5").unwrap();
        nameless.name = " ".into();
        panels.extend([dup, nameless]);
        let Err(ImportError::Rows(rows)) = s.import_panels(panels, "admin") else {
            panic!("refused")
        };
        let named: Vec<_> = rows
            .iter()
            .map(|r| (r.row, r.id.clone().unwrap()))
            .collect();
        assert_eq!(named, vec![(3, "p1".to_string()), (4, "p5".to_string())]);
        assert!(
            rows[0].message.render(Lang::En).contains("also on row 1"),
            "{}",
            rows[0].message.render(Lang::En)
        );
        assert!(s.snapshot().panels.is_empty(), "nothing in memory");
        assert!(s.audit_tail(10).unwrap().is_empty(), "nothing audited");
        let files = std::fs::read_dir(d.path().join("content/panels"))
            .unwrap()
            .count();
        assert_eq!(files, 0, "nothing on disk");
    }

    #[test]
    fn unreadable_bodies_say_why() {
        for (body, format, want) in [
            ("{\"id\":1}", ImportFormat::Json, "not a JSON array"),
            ("id,name,size\n", ImportFormat::Csv, "\"size\" is not known"),
            (
                "id,name,width,height\n",
                ImportFormat::Csv,
                "lacks the column \"format\"",
            ),
        ] {
            let e = parse_panels(body.as_bytes(), format)
                .unwrap_err()
                .to_string();
            assert!(e.contains(want), "{body}: {e}");
        }
    }
}
