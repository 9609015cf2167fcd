//! The play report as an Excel workbook, laid out the way a Vietnamese
//! provincial office pastes it into its periodic report: the unit and the
//! national motto, a title, the period, a summary table per district and
//! campaign (plays, panels, hours on air) with district subtotals and a
//! grand total, notes on how the figures are counted; then a sheet with
//! every play. Vietnamese headers, dates dd/mm/yyyy as real Excel dates.
//!
//! Takes figures already summed and named (`reports.rs`); knows nothing of
//! the store or of HTTP.

use chrono::{Datelike, NaiveDateTime, Timelike};
use rust_xlsxwriter::{
    DocProperties, ExcelDateTime, Format, FormatAlign, FormatBorder, Workbook, Worksheet, XlsxError,
};

pub(super) const CONTENT_TYPE: &str =
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// Labels the workbook and the report handler share.
pub(super) const NO_DISTRICT: &str = "Không thuộc khu vực nào";
pub(super) const NO_CAMPAIGN: &str = "Không có lịch phát (màn hình trống)";
pub(super) const ALERT_PREFIX: &str = "Cảnh báo khẩn: ";
pub(super) const TOTAL: &str = "TỔNG CỘNG";

pub(super) const SUMMARY_SHEET: &str = "Tổng hợp";
pub(super) const DETAIL_SHEET: &str = "Chi tiết";
/// The headers of the summary table and of the detail sheet.
pub(super) const SUMMARY_HEADERS: [&str; 7] = [
    "STT",
    "Khu vực",
    "Lịch phát / cảnh báo",
    "Số bảng",
    "Lượt phát",
    "Thời lượng phát (giờ)",
    "Trong đó đã xác minh",
];
pub(super) const DETAIL_HEADERS: [&str; 10] = [
    "STT",
    "Thời điểm",
    "Bảng",
    "Mã bảng",
    "Khu vực",
    "Tin",
    "Lịch phát / cảnh báo",
    "Số khung",
    "Thời lượng (giây)",
    "Xác minh",
];
/// The detail sheet's "Xác minh" column: verified (yes) or not yet.
pub(super) const VERIFIED_YES: &str = "Có";
pub(super) const VERIFIED_NO: &str = "Chưa";

/// One row of figures.
#[derive(Debug, Clone)]
pub(super) struct Line {
    pub label: String,
    pub panels: usize,
    pub plays: u64,
    /// Of `plays`, those whose ack named the CRC of the frame sent.
    pub verified: u64,
    pub on_air_s: u64,
}

/// A district: its total, then one line per campaign.
pub(super) struct Section {
    pub total: Line,
    pub lines: Vec<Line>,
}

/// One play on the detail sheet, in local time.
pub(super) struct Play {
    pub at: NaiveDateTime,
    pub panel_name: String,
    pub panel: String,
    pub districts: String,
    pub message: String,
    pub campaign: String,
    pub seq: u32,
    pub on_air_s: u32,
    pub verified: bool,
}

pub(super) struct Book {
    /// The office the report is from ("UBND TỈNH …"); may be empty.
    pub unit: String,
    /// The period, local time, `to` exclusive.
    pub from: NaiveDateTime,
    pub to: NaiveDateTime,
    /// What the figures are limited to, as phrases ("khu vực Hải Châu").
    pub scope: Vec<String>,
    pub sections: Vec<Section>,
    pub total: Line,
    pub detail: Vec<Play>,
    /// Plays in the period (the detail sheet may list fewer).
    pub detail_total: usize,
    /// The period held more plays than one report reads.
    pub cut_short: bool,
    pub made_at: NaiveDateTime,
}

fn dmy(t: NaiveDateTime) -> String {
    t.format("%d/%m/%Y").to_string()
}

/// "Từ ngày 01/11/2026 đến ngày 30/11/2026", with the times when the
/// period does not run from midnight to midnight.
pub(super) fn period_text(from: NaiveDateTime, to: NaiveDateTime) -> String {
    let midnight = |t: NaiveDateTime| t.time() == chrono::NaiveTime::MIN;
    if midnight(from) && midnight(to) {
        let last = to - chrono::Duration::days(1);
        if last.date() == from.date() {
            return format!("Ngày {}", dmy(from));
        }
        return format!("Từ ngày {} đến ngày {}", dmy(from), dmy(last));
    }
    let hm = |t: NaiveDateTime| t.format("%H:%M ngày %d/%m/%Y").to_string();
    format!("Từ {} đến {}", hm(from), hm(to))
}

fn excel_time(t: NaiveDateTime) -> Result<ExcelDateTime, XlsxError> {
    ExcelDateTime::from_ymd(t.year() as u16, t.month() as u8, t.day() as u8)?.and_hms(
        t.hour() as u16,
        t.minute() as u8,
        t.second(),
    )
}

fn hours(secs: u64) -> f64 {
    secs as f64 / 3600.0
}

/// A number with a thousands separator (as the viewer's Excel shows it).
const COUNT: &str = "#,##0";
const HOURS: &str = "#,##0.00";

struct Formats {
    unit: Format,
    motto: Format,
    motto_sub: Format,
    title: Format,
    period: Format,
    header: Format,
    cell: Format,
    center: Format,
    count: Format,
    hours: Format,
    bold: Format,
    bold_center: Format,
    bold_count: Format,
    bold_hours: Format,
    note: Format,
    time: Format,
}

impl Formats {
    fn new() -> Formats {
        let font = |f: Format| f.set_font_name("Times New Roman").set_font_size(12);
        let boxed = |f: Format| font(f).set_border(FormatBorder::Thin).set_text_wrap();
        Formats {
            unit: font(Format::new().set_bold().set_align(FormatAlign::Center)),
            motto: font(Format::new().set_bold().set_align(FormatAlign::Center)),
            motto_sub: font(
                Format::new()
                    .set_bold()
                    .set_underline(rust_xlsxwriter::FormatUnderline::Single)
                    .set_align(FormatAlign::Center),
            ),
            title: font(Format::new().set_bold().set_align(FormatAlign::Center)).set_font_size(14),
            period: font(Format::new().set_italic().set_align(FormatAlign::Center)),
            header: boxed(
                Format::new()
                    .set_bold()
                    .set_align(FormatAlign::Center)
                    .set_align(FormatAlign::VerticalCenter)
                    .set_background_color("#D9E1F2"),
            ),
            cell: boxed(Format::new().set_align(FormatAlign::VerticalCenter)),
            center: boxed(
                Format::new()
                    .set_align(FormatAlign::Center)
                    .set_align(FormatAlign::VerticalCenter),
            ),
            count: boxed(Format::new().set_num_format(COUNT)),
            hours: boxed(Format::new().set_num_format(HOURS)),
            bold: boxed(Format::new().set_bold()),
            bold_center: boxed(Format::new().set_bold().set_align(FormatAlign::Center)),
            bold_count: boxed(Format::new().set_bold().set_num_format(COUNT)),
            bold_hours: boxed(Format::new().set_bold().set_num_format(HOURS)),
            note: font(Format::new().set_italic().set_text_wrap()),
            time: boxed(
                Format::new()
                    .set_num_format("dd/mm/yyyy hh:mm:ss")
                    .set_align(FormatAlign::Center),
            ),
        }
    }
}

/// Roman numerals for the districts (I, II, …), as Vietnamese reports number sections.
fn roman(mut n: usize) -> String {
    const R: [(usize, &str); 13] = [
        (1000, "M"),
        (900, "CM"),
        (500, "D"),
        (400, "CD"),
        (100, "C"),
        (90, "XC"),
        (50, "L"),
        (40, "XL"),
        (10, "X"),
        (9, "IX"),
        (5, "V"),
        (4, "IV"),
        (1, "I"),
    ];
    let mut s = String::new();
    for (v, r) in R {
        while n >= v {
            s.push_str(r);
            n -= v;
        }
    }
    s
}

fn figures(
    ws: &mut Worksheet,
    row: u32,
    l: &Line,
    (count_fmt, hours_fmt): (&Format, &Format),
) -> Result<(), XlsxError> {
    ws.write_number_with_format(row, 3, l.panels as f64, count_fmt)?;
    ws.write_number_with_format(row, 4, l.plays as f64, count_fmt)?;
    ws.write_number_with_format(row, 5, hours(l.on_air_s), hours_fmt)?;
    ws.write_number_with_format(row, 6, l.verified as f64, count_fmt)?;
    Ok(())
}

fn summary_sheet(ws: &mut Worksheet, b: &Book, f: &Formats) -> Result<(), XlsxError> {
    ws.set_name(SUMMARY_SHEET)?;
    ws.set_landscape();
    ws.set_paper_size(9); // A4
    ws.set_print_fit_to_pages(1, 0);
    for (col, width) in [
        (0, 7.0),
        (1, 24.0),
        (2, 48.0),
        (3, 10.0),
        (4, 13.0),
        (5, 14.0),
        (6, 14.0),
    ] {
        ws.set_column_width(col, width)?;
    }
    let unit = if b.unit.is_empty() {
        "ĐƠN VỊ: ………………".to_string()
    } else {
        b.unit.to_uppercase()
    };
    ws.merge_range(0, 0, 0, 2, &unit, &f.unit)?;
    ws.merge_range(0, 3, 0, 6, "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", &f.motto)?;
    ws.merge_range(1, 3, 1, 6, "Độc lập - Tự do - Hạnh phúc", &f.motto_sub)?;
    ws.merge_range(
        3,
        0,
        3,
        6,
        "BÁO CÁO KẾT QUẢ PHÁT THÔNG TIN TRÊN BẢNG ĐIỆN TỬ",
        &f.title,
    )?;
    ws.merge_range(4, 0, 4, 6, &period_text(b.from, b.to), &f.period)?;
    let scope = if b.scope.is_empty() {
        "Phạm vi: tất cả các bảng".to_string()
    } else {
        format!("Phạm vi: {}", b.scope.join("; "))
    };
    ws.merge_range(5, 0, 5, 6, &scope, &f.period)?;

    let head = 7;
    for (col, h) in SUMMARY_HEADERS.iter().enumerate() {
        ws.write_string_with_format(head, col as u16, *h, &f.header)?;
    }
    ws.set_repeat_rows(head, head)?;
    let mut row = head + 1;
    for (i, s) in b.sections.iter().enumerate() {
        ws.write_string_with_format(row, 0, roman(i + 1), &f.bold_center)?;
        ws.write_string_with_format(row, 1, &s.total.label, &f.bold)?;
        ws.write_string_with_format(row, 2, "Cộng khu vực", &f.bold)?;
        figures(ws, row, &s.total, (&f.bold_count, &f.bold_hours))?;
        row += 1;
        for (j, l) in s.lines.iter().enumerate() {
            ws.write_number_with_format(row, 0, (j + 1) as f64, &f.center)?;
            ws.write_string_with_format(row, 1, "", &f.cell)?;
            ws.write_string_with_format(row, 2, &l.label, &f.cell)?;
            figures(ws, row, l, (&f.count, &f.hours))?;
            row += 1;
        }
    }
    ws.write_string_with_format(row, 0, "", &f.bold)?;
    ws.merge_range(row, 1, row, 2, &b.total.label, &f.bold_center)?;
    figures(ws, row, &b.total, (&f.bold_count, &f.bold_hours))?;
    row += 2;

    let mut notes = vec![
        "Ghi chú: Lượt phát là số lần bảng điện tử xác nhận đã hiển thị một trang tin (bằng chứng phát). \
         Thời lượng phát tính từ lúc bảng xác nhận đến khi bảng hiển thị trang kế tiếp, tối đa 35 phút. \
         Một bảng thuộc nhiều khu vực được tính ở mỗi khu vực; dòng tổng cộng tính mỗi lượt một lần."
            .to_string(),
        "Lượt đã xác minh: bảng xác nhận đúng số khung và mã kiểm tra (CRC) của trang tin mà hệ thống đã gửi cho chính bảng đó. \
         Các lượt còn lại (bộ điều khiển đời cũ chỉ báo số khung, thẻ điều khiển của hãng khác) được tính nhưng chưa xác minh."
            .to_string(),
        format!(
            "Số liệu trích xuất lúc {} từ hệ thống bảng tin điện tử (giờ Việt Nam).",
            b.made_at.format("%H:%M ngày %d/%m/%Y")
        ),
    ];
    if b.cut_short {
        notes.push(
            "Khoảng thời gian có quá nhiều lượt phát: báo cáo chỉ tính 1.000.000 lượt đầu; hãy chia nhỏ khoảng thời gian."
                .into(),
        );
    }
    for n in notes {
        ws.merge_range(row, 0, row, 6, &n, &f.note)?;
        ws.set_row_height(row, 48)?;
        row += 1;
    }
    Ok(())
}

fn detail_sheet(ws: &mut Worksheet, b: &Book, f: &Formats) -> Result<(), XlsxError> {
    ws.set_name(DETAIL_SHEET)?;
    ws.set_landscape();
    ws.set_paper_size(9);
    for (col, width) in [
        (0, 8.0),
        (1, 20.0),
        (2, 26.0),
        (3, 18.0),
        (4, 18.0),
        (5, 36.0),
        (6, 32.0),
        (7, 10.0),
        (8, 12.0),
        (9, 10.0),
    ] {
        ws.set_column_width(col, width)?;
    }
    ws.merge_range(0, 0, 0, 9, "CHI TIẾT CÁC LƯỢT PHÁT", &f.title)?;
    let mut sub = period_text(b.from, b.to);
    if b.detail.len() < b.detail_total {
        sub.push_str(&format!(
            " — liệt kê {} trong {} lượt; tải tệp CSV để có đủ",
            b.detail.len(),
            b.detail_total
        ));
    }
    ws.merge_range(1, 0, 1, 9, &sub, &f.period)?;
    let head = 3;
    for (col, h) in DETAIL_HEADERS.iter().enumerate() {
        ws.write_string_with_format(head, col as u16, *h, &f.header)?;
    }
    for (i, p) in b.detail.iter().enumerate() {
        let row = head + 1 + i as u32;
        ws.write_number_with_format(row, 0, (i + 1) as f64, &f.center)?;
        ws.write_datetime_with_format(row, 1, excel_time(p.at)?, &f.time)?;
        ws.write_string_with_format(row, 2, &p.panel_name, &f.cell)?;
        ws.write_string_with_format(row, 3, &p.panel, &f.cell)?;
        ws.write_string_with_format(row, 4, &p.districts, &f.cell)?;
        ws.write_string_with_format(row, 5, &p.message, &f.cell)?;
        ws.write_string_with_format(row, 6, &p.campaign, &f.cell)?;
        ws.write_number_with_format(row, 7, p.seq, &f.center)?;
        ws.write_number_with_format(row, 8, p.on_air_s, &f.count)?;
        let verified = if p.verified {
            VERIFIED_YES
        } else {
            VERIFIED_NO
        };
        ws.write_string_with_format(row, 9, verified, &f.center)?;
    }
    let last = head + b.detail.len() as u32;
    ws.autofilter(head, 0, last.max(head), 9)?;
    ws.set_freeze_panes(head + 1, 0)?;
    ws.set_repeat_rows(head, head)?;
    Ok(())
}

/// The workbook's bytes.
pub(super) fn write(b: &Book) -> Result<Vec<u8>, XlsxError> {
    let f = Formats::new();
    let mut wb = Workbook::new();
    wb.set_properties(
        &DocProperties::new()
            .set_title("Báo cáo kết quả phát thông tin trên bảng điện tử")
            .set_company(&b.unit),
    );
    summary_sheet(wb.add_worksheet(), b, &f)?;
    detail_sheet(wb.add_worksheet(), b, &f)?;
    wb.save_to_buffer()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap()
    }

    #[test]
    fn periods_read_as_a_vietnamese_report_writes_them() {
        assert_eq!(
            period_text(at("2026-11-01 00:00"), at("2026-12-01 00:00")),
            "Từ ngày 01/11/2026 đến ngày 30/11/2026"
        );
        assert_eq!(
            period_text(at("2026-11-27 00:00"), at("2026-11-28 00:00")),
            "Ngày 27/11/2026"
        );
        assert_eq!(
            period_text(at("2026-11-27 07:30"), at("2026-11-27 17:00")),
            "Từ 07:30 ngày 27/11/2026 đến 17:00 ngày 27/11/2026"
        );
    }

    #[test]
    fn roman_numerals() {
        assert_eq!(
            [1, 4, 9, 14, 40].map(roman),
            ["I", "IV", "IX", "XIV", "XL"].map(String::from)
        );
    }
}
