//! Every sentence an alarm notice says, Vietnamese (the default) and
//! English side by side, in this one place.

use chrono::{DateTime, Utc};

use super::core::Kind;

pub(crate) use crate::i18n::Lang;

/// What a notice is about, with the names already looked up.
#[derive(Debug, Clone)]
pub(crate) struct About<'a> {
    pub panel: &'a str,
    pub panel_name: &'a str,
    pub kind: Kind,
    /// The outage began (local time, already formatted).
    pub since: &'a str,
    /// How long it has lasted, in minutes.
    pub minutes: i64,
}

fn kind_text(lang: Lang, kind: Kind) -> &'static str {
    match (lang, kind) {
        (Lang::Vi, Kind::Offline) => "mất kết nối",
        (Lang::Vi, Kind::Unconfirmed) => "không xác nhận khung hình",
        (Lang::En, Kind::Offline) => "offline",
        (Lang::En, Kind::Unconfirmed) => "not confirming its frames",
    }
}

/// Subject and body of an alarm.
pub(crate) fn raised(lang: Lang, a: &About) -> (String, String) {
    let k = kind_text(lang, a.kind);
    match lang {
        Lang::Vi => (
            format!("[bangtin] CẢNH BÁO: bảng {} {}", a.panel_name, k),
            format!(
                "Bảng {} ({}) {} từ {} (đã {} phút).\n\
                 Người dân có thể không thấy thông tin trên bảng này. \
                 Hãy kiểm tra nguồn điện và đường truyền 3G/4G tại bảng.\n\
                 Khi bảng hoạt động trở lại sẽ có thông báo khôi phục.\n",
                a.panel_name, a.panel, k, a.since, a.minutes
            ),
        ),
        Lang::En => (
            format!("[bangtin] ALARM: sign {} {}", a.panel_name, k),
            format!(
                "Sign {} ({}) has been {} since {} ({} minutes).\n\
                 Citizens may not see information on this sign. \
                 Check the power and the 3G/4G link at the sign.\n\
                 A recovery notice follows when it works again.\n",
                a.panel_name, a.panel, k, a.since, a.minutes
            ),
        ),
    }
}

/// Subject and body of a recovery notice.
pub(crate) fn recovered(lang: Lang, a: &About) -> (String, String) {
    let k = kind_text(lang, a.kind);
    match lang {
        Lang::Vi => (
            format!("[bangtin] Đã khôi phục: bảng {}", a.panel_name),
            format!(
                "Bảng {} ({}) đã hết {}: sự cố bắt đầu từ {}, kéo dài {} phút.\n",
                a.panel_name, a.panel, k, a.since, a.minutes
            ),
        ),
        Lang::En => (
            format!("[bangtin] Recovered: sign {}", a.panel_name),
            format!(
                "Sign {} ({}) is no longer {}: the incident began at {} and lasted {} minutes.\n",
                a.panel_name, a.panel, k, a.since, a.minutes
            ),
        ),
    }
}

/// One line of the digest.
pub(crate) fn digest_line(lang: Lang, a: &About, recovered: bool) -> String {
    let k = kind_text(lang, a.kind);
    match (lang, recovered) {
        (Lang::Vi, false) => format!("- {} ({}): {} từ {}", a.panel_name, a.panel, k, a.since),
        (Lang::Vi, true) => format!(
            "- {} ({}): {} từ {}, đã khôi phục sau {} phút",
            a.panel_name, a.panel, k, a.since, a.minutes
        ),
        (Lang::En, false) => format!("- {} ({}): {} since {}", a.panel_name, a.panel, k, a.since),
        (Lang::En, true) => format!(
            "- {} ({}): {} from {}, recovered after {} minutes",
            a.panel_name, a.panel, k, a.since, a.minutes
        ),
    }
}

/// Subject and opening of the daily digest.
pub(crate) fn digest(lang: Lang, count: usize, day: &str) -> (String, String) {
    match lang {
        Lang::Vi => (
            format!("[bangtin] Tổng hợp cảnh báo không khẩn ngày {day}"),
            format!("{count} sự cố không khẩn cấp từ bản tổng hợp trước:\n"),
        ),
        Lang::En => (
            format!("[bangtin] Digest of non-urgent alarms, {day}"),
            format!("{count} non-urgent incidents since the previous digest:\n"),
        ),
    }
}

/// A time as the notices show it: local, `HH:MM dd/mm/yyyy`.
pub(crate) fn local_time(at: DateTime<Utc>, tz: chrono_tz::Tz) -> String {
    at.with_timezone(&tz).format("%H:%M %d/%m/%Y").to_string()
}
