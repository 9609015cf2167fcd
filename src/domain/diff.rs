//! The word-level difference between two texts, for the approval desk:
//! what an edit inserted and deleted since the approved version.
//!
//! Words are Unicode words (UAX #29 word boundaries, through `similar`'s
//! `unicode` feature): a Vietnamese word with its tone marks ("Cửa",
//! "Lò", "Nghệ") is one token, and so is each run of spaces and each
//! punctuation mark. Both texts are put in NFC first, so the same word
//! typed with combining marks (NFD, as some keyboards send it) is not a
//! change. Pure: text in, parts out.

use serde::Serialize;
use similar::{Algorithm, ChangeTag};
use unicode_normalization::UnicodeNormalization;

/// What happened to a run of words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum DiffOp {
    /// In both texts.
    Equal,
    /// Only in the new text.
    Insert,
    /// Only in the old text.
    Delete,
}

/// A run of words with one fate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct DiffPart {
    /// In both texts, or only in one.
    pub op: DiffOp,
    /// The words and the spaces between them, as written (NFC).
    pub text: String,
}

/// The word-level difference from `old` to `new`, as runs in reading order
/// (a replaced phrase is its deletion, then its insertion). Patience diff:
/// unique words anchor the alignment, which keeps a reworded sentence
/// readable; the spaces between words replaced one by one go with the
/// replacement, so "phường Thu Thuỷ" → "xã Nghi Hương" reads as one
/// phrase replaced, not three words.
pub fn words(old: &str, new: &str) -> Vec<DiffPart> {
    let old: String = old.nfc().collect();
    let new: String = new.nfc().collect();
    let raw = similar::utils::diff_unicode_words(Algorithm::Patience, &old, &new);
    let mut out: Vec<DiffPart> = Vec::new();
    let (mut del, mut ins) = (String::new(), String::new());
    let flush = |out: &mut Vec<DiffPart>, del: &mut String, ins: &mut String| {
        for (op, text) in [(DiffOp::Delete, del), (DiffOp::Insert, ins)] {
            if !text.is_empty() {
                push(out, op, text);
                text.clear();
            }
        }
    };
    for (i, (tag, text)) in raw.iter().enumerate() {
        match tag {
            ChangeTag::Delete => del.push_str(text),
            ChangeTag::Insert => ins.push_str(text),
            ChangeTag::Equal => {
                let between = !del.is_empty()
                    && !ins.is_empty()
                    && text.trim().is_empty()
                    && raw.get(i + 1).is_some_and(|(t, _)| *t != ChangeTag::Equal);
                if between {
                    del.push_str(text);
                    ins.push_str(text);
                } else {
                    flush(&mut out, &mut del, &mut ins);
                    push(&mut out, DiffOp::Equal, text);
                }
            }
        }
    }
    flush(&mut out, &mut del, &mut ins);
    out
}

/// Appends a run, joined to the last one when it has the same fate.
fn push(out: &mut Vec<DiffPart>, op: DiffOp, text: &str) {
    match out.last_mut() {
        Some(last) if last.op == op => last.text.push_str(text),
        _ => out.push(DiffPart {
            op,
            text: text.to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn show(parts: &[DiffPart]) -> String {
        parts
            .iter()
            .map(|p| match p.op {
                DiffOp::Equal => p.text.clone(),
                DiffOp::Insert => format!("[+{}]", p.text),
                DiffOp::Delete => format!("[-{}]", p.text),
            })
            .collect()
    }

    #[test]
    fn vietnamese_words_with_tone_marks_are_whole_tokens() {
        let d = words(
            "Họp dân tại nhà văn hoá Cửa Lò lúc 7 giờ.",
            "Họp dân tại nhà văn hoá Cửa Hội lúc 8 giờ sáng.",
        );
        assert_eq!(
            show(&d),
            "Họp dân tại nhà văn hoá Cửa [-Lò][+Hội] lúc [-7][+8] giờ[+ sáng]."
        );
        // A word differing only in its tone mark is a whole-word change,
        // never a change of one letter inside it.
        assert_eq!(show(&words("Hồ sơ", "Hộ sơ")), "[-Hồ][+Hộ] sơ");
        // A phrase replaced word by word reads as one replacement.
        assert_eq!(
            show(&words(
                "tại công an phường Thu Thuỷ, sáng thứ Bảy.",
                "tại công an xã Nghi Hương, sáng Chủ nhật."
            )),
            "tại công an [-phường Thu Thuỷ][+xã Nghi Hương], sáng [-thứ Bảy][+Chủ nhật]."
        );
    }

    #[test]
    fn the_same_word_in_nfd_and_nfc_is_no_change() {
        let nfd: String = "Nghệ An".nfd().collect();
        assert_ne!(nfd, "Nghệ An");
        assert_eq!(
            words(&nfd, "Nghệ An"),
            vec![DiffPart {
                op: DiffOp::Equal,
                text: "Nghệ An".into()
            }]
        );
    }

    #[test]
    fn parts_rebuild_both_texts() {
        let (old, new) = (
            "Tài khoản định danh mức 2",
            "Tài khoản định danh điện tử mức 2!",
        );
        let d = words(old, new);
        let side = |keep: DiffOp| -> String {
            d.iter()
                .filter(|p| p.op == DiffOp::Equal || p.op == keep)
                .map(|p| p.text.as_str())
                .collect()
        };
        assert_eq!(
            (side(DiffOp::Delete), side(DiffOp::Insert)),
            (old.to_string(), new.to_string())
        );
        assert!(words("", "").is_empty());
    }
}
