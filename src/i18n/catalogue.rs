//! The message catalogue: every reason the server gives, in Vietnamese and
//! English, side by side. One `match` per type, no wildcard arm, so a new
//! reason cannot compile without both sentences.

use super::{Lang, Text};

/// What kind of record an id names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Panel,
    Message,
    Campaign,
    Alert,
    Asset,
    Token,
    Group,
    Warning,
    Document,
    Account,
    Alarm,
    Record,
}

impl Kind {
    /// The kind the store names with `word`.
    pub fn from_word(word: &str) -> Kind {
        match word {
            "panel" => Kind::Panel,
            "message" => Kind::Message,
            "campaign" => Kind::Campaign,
            "alert" => Kind::Alert,
            "asset" => Kind::Asset,
            "token" => Kind::Token,
            "group" => Kind::Group,
            "warning" => Kind::Warning,
            "document" => Kind::Document,
            "account" => Kind::Account,
            "alarm" => Kind::Alarm,
            _ => Kind::Record,
        }
    }
    fn name(self, lang: Lang) -> &'static str {
        let (vi, en) = match self {
            Kind::Panel => ("bảng", "panel"),
            Kind::Message => ("tin", "message"),
            Kind::Campaign => ("lịch phát", "campaign"),
            Kind::Alert => ("cảnh báo", "alert"),
            Kind::Asset => ("hình ảnh", "image"),
            Kind::Token => ("mã truy cập", "token"),
            Kind::Group => ("địa bàn", "group"),
            Kind::Warning => ("bản tin cảnh báo CAP", "warning"),
            Kind::Document => ("tài liệu CAP", "document"),
            Kind::Account => ("tài khoản", "account"),
            Kind::Alarm => ("sự cố", "alarm"),
            Kind::Record => ("bản ghi", "record"),
        };
        pick(lang, vi, en)
    }
}

fn pick<T>(lang: Lang, vi: T, en: T) -> T {
    match lang {
        Lang::Vi => vi,
        Lang::En => en,
    }
}

/// A field of a cron expression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CronField {
    Minute,
    Hour,
    DayOfMonth,
    Month,
    DayOfWeek,
}

impl CronField {
    fn name(self, lang: Lang) -> &'static str {
        let (vi, en) = match self {
            CronField::Minute => ("phút", "minute"),
            CronField::Hour => ("giờ", "hour"),
            CronField::DayOfMonth => ("ngày trong tháng", "day-of-month"),
            CronField::Month => ("tháng", "month"),
            CronField::DayOfWeek => ("thứ trong tuần", "day-of-week"),
        };
        pick(lang, vi, en)
    }
}

/// Why a cron expression was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CronWhy {
    Reboot,
    UnknownShorthand(String),
    Empty,
    FieldCount(usize),
    OutOfRange {
        field: CronField,
        text: String,
        value: u32,
        lo: u32,
        hi: u32,
    },
    NotANumber {
        field: CronField,
        text: String,
        item: String,
    },
    BadStep {
        field: CronField,
        text: String,
        step: String,
    },
    Backwards {
        field: CronField,
        text: String,
        range: String,
    },
    /// The `cron` crate's own words about a 6/7-field expression.
    Library(String),
}

impl CronWhy {
    fn render(&self, lang: Lang) -> String {
        let l = lang;
        match self {
            CronWhy::Reboot => pick(
                l,
                "@reboot không có ý nghĩa với một lịch phát".into(),
                "@reboot has no meaning for a campaign".into(),
            ),
            CronWhy::UnknownShorthand(w) => pick(
                l,
                format!("@{w} không phải dạng viết tắt đã biết"),
                format!("@{w} is not a known shorthand"),
            ),
            CronWhy::Empty => pick(l, "biểu thức trống".into(), "it is empty".into()),
            CronWhy::FieldCount(n) => pick(
                l,
                format!("biểu thức có {n} trường"),
                format!("it has {n} fields"),
            ),
            CronWhy::OutOfRange {
                field,
                text,
                value,
                lo,
                hi,
            } => pick(
                l,
                format!(
                    "trường {} {text:?}: {value} nằm ngoài khoảng {lo}–{hi}",
                    field.name(l)
                ),
                format!(
                    "{} field {text:?}: {value} is out of range {lo}-{hi}",
                    field.name(l)
                ),
            ),
            CronWhy::NotANumber { field, text, item } => pick(
                l,
                format!(
                    "trường {} {text:?}: {item:?} không phải số hay tên",
                    field.name(l)
                ),
                format!(
                    "{} field {text:?}: {item:?} is not a number or name",
                    field.name(l)
                ),
            ),
            CronWhy::BadStep { field, text, step } => pick(
                l,
                format!(
                    "trường {} {text:?}: bước {step:?} phải từ 1 trở lên",
                    field.name(l)
                ),
                format!(
                    "{} field {text:?}: step {step:?} must be 1 or more",
                    field.name(l)
                ),
            ),
            CronWhy::Backwards { field, text, range } => pick(
                l,
                format!(
                    "trường {} {text:?}: khoảng {range:?} bị ngược (số đầu lớn hơn số cuối)",
                    field.name(l)
                ),
                format!(
                    "{} field {text:?}: range {range:?} runs backwards",
                    field.name(l)
                ),
            ),
            CronWhy::Library(detail) => pick(
                l,
                format!("không đọc được biểu thức ({detail})"),
                detail.clone(),
            ),
        }
    }
}

/// A number or a run of numbers in a cron description.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Run {
    One(u32),
    Range(u32, u32),
}

/// Seconds or minutes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CronUnit {
    Second,
    Minute,
}

/// One phrase of a cron description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CronPart {
    /// At these times of day ("07:00", "07:00:30").
    At(Vec<String>),
    AtMinute(u32),
    /// Every `step` units (1: every unit).
    Every(u32, CronUnit),
    AtUnit(CronUnit, Vec<Run>),
    EveryHours(u32),
    DuringHours(Vec<Run>),
    /// Days of the month.
    OnDays(Vec<Run>),
    /// Weekdays, 0 = Monday … 6 = Sunday.
    OnWeekdays(Vec<Run>),
    /// On these days of the month, or on these weekdays.
    DaysOrWeekdays(Vec<Run>, Vec<Run>),
    /// On these days of the month when they fall on these weekdays.
    DaysIfWeekdays(Vec<Run>, Vec<Run>),
    /// Months, 1 = January.
    InMonths(Vec<Run>),
    InYears(Vec<Run>),
}

/// What a cron expression means, in phrases, and its time zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CronText {
    pub parts: Vec<CronPart>,
}

const WEEKDAYS_VI: [&str; 7] = [
    "thứ Hai",
    "thứ Ba",
    "thứ Tư",
    "thứ Năm",
    "thứ Sáu",
    "thứ Bảy",
    "Chủ nhật",
];
const WEEKDAYS_EN: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];
const MONTHS_EN: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

fn join_and(items: &[String], lang: Lang) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} {} {last}", rest.join(", "), pick(lang, "và", "and")),
    }
}

fn runs(list: &[Run], lang: Lang, name: impl Fn(u32) -> String) -> String {
    let items: Vec<String> = list
        .iter()
        .map(|r| match r {
            Run::One(v) => name(*v),
            Run::Range(a, b) => format!("{} {} {}", name(*a), pick(lang, "đến", "to"), name(*b)),
        })
        .collect();
    join_and(&items, lang)
}

impl CronText {
    pub fn render(&self, lang: Lang) -> String {
        let l = lang;
        let num = |v: u32| v.to_string();
        let two = |v: u32| format!("{v:02}");
        let weekdays = |list: &[Run]| {
            runs(list, l, |i| {
                pick(l, WEEKDAYS_VI, WEEKDAYS_EN)[i as usize].to_string()
            })
        };
        let days = |list: &[Run]| {
            pick(
                l,
                format!("vào ngày {} hằng tháng", runs(list, l, num)),
                format!("on day {} of the month", runs(list, l, num)),
            )
        };
        let unit = |u: CronUnit| match u {
            CronUnit::Second => pick(l, "giây", "second"),
            CronUnit::Minute => pick(l, "phút", "minute"),
        };
        let parts: Vec<String> = self
            .parts
            .iter()
            .map(|p| match p {
                CronPart::At(times) => {
                    format!("{} {}", pick(l, "lúc", "at"), join_and(times, l))
                }
                CronPart::AtMinute(m) => pick(l, format!("vào phút {m}"), format!("at minute {m}")),
                CronPart::Every(1, u) => pick(
                    l,
                    format!("mỗi {}", unit(*u)),
                    format!("every {}", unit(*u)),
                ),
                CronPart::Every(step, u) => pick(
                    l,
                    format!("mỗi {step} {}", unit(*u)),
                    format!("every {step} {}s", unit(*u)),
                ),
                CronPart::AtUnit(u, list) => pick(
                    l,
                    format!("vào {} {}", unit(*u), runs(list, l, num)),
                    format!("at {} {}", unit(*u), runs(list, l, num)),
                ),
                CronPart::EveryHours(step) => {
                    pick(l, format!("mỗi {step} giờ"), format!("every {step} hours"))
                }
                CronPart::DuringHours(list) => pick(
                    l,
                    format!("trong giờ {}", runs(list, l, two)),
                    format!("during hour {}", runs(list, l, two)),
                ),
                CronPart::OnDays(list) => days(list),
                CronPart::OnWeekdays(list) => {
                    let vi = match list.as_slice() {
                        [Run::Range(..)] => "từ",
                        _ => "vào",
                    };
                    pick(
                        l,
                        format!("{vi} {}", weekdays(list)),
                        format!("on {}", weekdays(list)),
                    )
                }
                CronPart::DaysOrWeekdays(d, w) => pick(
                    l,
                    format!("{} hoặc vào {}", days(d), weekdays(w)),
                    format!("{} or on {}", days(d), weekdays(w)),
                ),
                CronPart::DaysIfWeekdays(d, w) => pick(
                    l,
                    format!("{} nếu ngày đó là {}", days(d), weekdays(w)),
                    format!("{} if it falls on {}", days(d), weekdays(w)),
                ),
                CronPart::InMonths(list) => pick(
                    l,
                    format!("trong {}", runs(list, l, |m| format!("tháng {m}"))),
                    format!(
                        "in {}",
                        runs(list, l, |m| MONTHS_EN[m as usize - 1].to_string())
                    ),
                ),
                CronPart::InYears(list) => pick(
                    l,
                    format!("trong năm {}", runs(list, l, num)),
                    format!("in {}", runs(list, l, num)),
                ),
            })
            .collect();
        parts.join(" ")
    }
}

/// Declares [`Reason`] and its sentences as one table: a row is a
/// variant (its fields named, with their types) and the expression that
/// gives its `(Vietnamese, English)` pair, with the fields and the
/// language (`$l`) in scope. A new reason is one row; the compiler keeps
/// the table whole.
macro_rules! reasons {
    ($l:ident; $(
        $(#[$meta:meta])*
        $variant:ident
        $( ( $($tname:ident : $tty:ty),+ $(,)? ) )?
        $( { $( $(#[$fmeta:meta])* $fname:ident : $fty:ty ),+ $(,)? } )?
        => $body:expr
    ),+ $(,)?) => {
        /// Every reason the server gives a person.
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub enum Reason {
            $(
                $(#[$meta])*
                $variant $( ( $($tty),+ ) )? $( { $( $(#[$fmeta])* $fname: $fty ),+ } )?,
            )+
        }

        impl Reason {
            /// The `(Vietnamese, English)` sentences, as the table says.
            #[allow(unused_variables)]
            fn sentences(&self, $l: Lang) -> (String, String) {
                match self {
                    $( Reason::$variant $( ( $($tname),+ ) )? $( { $($fname),+ } )? => $body, )+
                }
            }

            /// The variant's name, for the test that every reason is tried.
            #[cfg_attr(not(test), allow(dead_code))]
            fn variant_name(&self) -> &'static str {
                match self {
                    $( Reason::$variant { .. } => stringify!($variant), )+
                }
            }

            /// Every variant's name.
            #[cfg_attr(not(test), allow(dead_code))]
            const VARIANTS: &'static [&'static str] = &[$( stringify!($variant) ),+];
        }
    };
}

reasons! { l;
    // The edge: addresses, sign-in.
    NoRoute => (
        "Không có gì ở địa chỉ này: API nằm dưới /api/v1, bảng điều khiển ở /.".into(),
        "there is nothing at this address: the API lives under /api/v1, the dashboard at /".into(),
    ),
    MethodNotAllowed => (
        "Địa chỉ này không nhận phương thức đó.".into(),
        "this address does not accept that method".into(),
    ),
    Unhandled(d: String) => (
        format!("Không xử lý được yêu cầu ({d})."),
        format!("the request could not be handled: {d}"),
    ),
    TooManyFailures => (
        "Có quá nhiều yêu cầu với mã truy cập sai từ địa chỉ này: hãy chờ một phút rồi dùng mã đúng.".into(),
        "too many requests with a wrong token from this address: wait a minute, then use a valid token".into(),
    ),
    NoToken => (
        "Hãy đăng nhập bằng tên và mật khẩu (POST /api/v1/session), hoặc gửi mã truy cập trong tiêu đề Authorization: Bearer MÃ.".into(),
        "send your token in the header Authorization: Bearer TOKEN, or sign in with POST /api/v1/session".into(),
    ),
    UnknownToken => (
        "Mã truy cập này không tồn tại hoặc đã bị thu hồi: hãy xin quản trị viên một mã hợp lệ.".into(),
        "this token is unknown or was revoked: ask an administrator for a valid one".into(),
    ),
    // Storage.
    NotFound {
        kind: Kind,
        id: String,
    } => (
        format!("Không có {} nào mang mã \u{201c}{id}\u{201d}: có thể nó đã bị xoá; hãy tải lại danh sách.", kind.name(Lang::Vi)),
        format!("no {} with id {id:?} exists", kind.name(Lang::En)),
    ),
    Internal => (
        "Máy chủ gặp lỗi khi xử lý và đã ghi lại lỗi. Hãy thử lại; nếu vẫn lỗi, báo cho quản trị viên.".into(),
        "the request failed on the server; the error is logged. Try again, and tell the administrator if it persists.".into(),
    ),
    DiskFull => (
        "Ổ đĩa của máy chủ đã đầy nên chưa lưu được gì. Hãy nhờ quản trị viên giải phóng dung lượng rồi thử lại.".into(),
        "The server's disk is full, so nothing was saved. Ask the administrator to free space, then try again.".into(),
    ),
    ReadOnly => (
        "Máy chủ hiện không ghi được thư mục dữ liệu nên chưa lưu được gì. Hãy nhờ quản trị viên kiểm tra ổ đĩa rồi thử lại.".into(),
        "The server cannot write its data directory right now, so nothing was saved. Ask the administrator to check the disk, then try again.".into(),
    ),
    // Workflow.
    FourEyes {
        by: String,
    } => (
        format!("Nguyên tắc bốn mắt: \u{201c}{by}\u{201d} là người sửa tin này lần cuối, nên một người khác phải duyệt."),
        format!("four-eyes rule: {by:?} last edited this message, so someone else must approve it"),
    ),
    StaleVersion {
        read: u64,
        current: u64,
    } => (
        format!("Tin đã thay đổi từ lúc bạn đọc: bạn đã xem phiên bản {read}, nay là phiên bản {current}. Hãy đọc lại và duyệt nội dung hiện tại."),
        format!("this message changed since you read it: you reviewed version {read} and it is now version {current}; read it again and approve what it says now"),
    ),
    MessageInUse {
        id: String,
        campaigns: Vec<String>,
    } => (
        format!("Tin {id} đang được dùng trong {} lịch phát: {}. Hãy bỏ tin khỏi các lịch phát đó trước khi xoá.", campaigns.len(), quoted(campaigns)),
        format!("message {id} is used by {} campaign(s): {}; remove it from them first", campaigns.len(), quoted(campaigns)),
    ),
    ImageInUse {
        messages: Vec<String>,
    } => (
        format!("Hình ảnh này đang được dùng trong {} tin: {}. Hãy bỏ hình khỏi các tin đó trước.", messages.len(), quoted(messages)),
        format!("this image is used by {} message(s): {}; take it out of them first", messages.len(), quoted(messages)),
    ),
    // Values.
    InvalidId {
        shown: String,
    } => (
        format!("\u{201c}{shown}\u{201d} không phải mã hợp lệ: dùng 1 đến 64 ký tự gồm chữ thường a–z không dấu, chữ số và dấu '-', bắt đầu bằng chữ hoặc số."),
        format!("{shown:?} is not a valid id: use 1 to 64 lowercase letters a-z, digits and '-', starting with a letter or digit"),
    ),
    InvalidGroup {
        shown: String,
    } => (
        format!("Mã địa bàn \u{201c}{shown}\u{201d} không hợp lệ: dùng chữ thường không dấu, chữ số và dấu '-', ví dụ \u{201c}tp-vinh\u{201d}; tên có dấu đặt ở tên hiển thị."),
        format!("group {shown:?} is not valid: use lowercase letters, digits and '-', e.g. \"tp-vinh\"; put the name with diacritics in its display name"),
    ),
    InvalidTokenName {
        shown: String,
    } => (
        format!("Tên mã truy cập \u{201c}{shown}\u{201d} không hợp lệ: dùng 1 đến 64 ký tự gồm chữ thường không dấu, chữ số và dấu '-', ví dụ \u{201c}lan-bien-tap\u{201d}."),
        format!("token name {shown:?} is not valid: use 1 to 64 lowercase letters, digits and '-', e.g. \"lan-editor\""),
    ),
    NoRoles => (
        "Chưa chọn vai trò: hãy chọn ít nhất một trong biên tập, duyệt, lập lịch, vận hành, quản trị.".into(),
        "roles is empty: give at least one of editor, approver, scheduler, operator, admin".into(),
    ),
    UnknownRole {
        shown: String,
    } => (
        format!("Không có vai trò \u{201c}{shown}\u{201d}: dùng editor, approver, scheduler, operator, admin hoặc feed."),
        format!("unknown role {shown:?}: use editor, approver, scheduler, operator, admin or feed"),
    ),
    UnknownPixelFormat {
        shown: String,
    } => (
        format!("Không có định dạng điểm ảnh \u{201c}{shown}\u{201d}: dùng mono1, rgb565, rgb888 hoặc png."),
        format!("unknown pixel format {shown:?}: use mono1, rgb565, rgb888 or png"),
    ),
    NotAColour {
        shown: String,
    } => (
        format!("\u{201c}{shown}\u{201d} không phải mã màu: viết dạng #rrggbb, ví dụ #ff2000."),
        format!("{shown:?} is not a colour: write it as #rrggbb, e.g. #ff2000"),
    ),
    PanelSide {
        side: &'static str,
        value: u16,
        lo: u16,
        hi: u16,
    } => (
        format!("{} bảng {value} nằm ngoài khoảng cho phép: dùng từ {lo} đến {hi} điểm ảnh.", if *side == "width" { "Chiều rộng" } else { "Chiều cao" }),
        format!("panel {side} {value} is out of range: use {lo} to {hi} pixels"),
    ),
    NotATime {
        which: String,
        shown: String,
    } => (
        format!("Giờ {} \u{201c}{shown}\u{201d} không phải thời điểm: viết dạng HH:MM, ví dụ 06:00.", if which == "day_starts" { "bắt đầu ban ngày" } else { "bắt đầu ban đêm" }),
        format!("brightness {which} {shown:?} is not a time: write HH:MM, e.g. 06:00"),
    ),
    NotOnEarth {
        lat: String,
        lon: String,
    } => (
        format!("Vị trí {lat},{lon} không nằm trên Trái Đất: vĩ độ từ -90 đến 90 và kinh độ từ -180 đến 180, ví dụ {{\"lat\": 18.67, \"lon\": 105.69}}."),
        format!("location {lat},{lon} is not on Earth: lat is -90 to 90 and lon -180 to 180 degrees, e.g. {{\"lat\": 18.67, \"lon\": 105.69}}"),
    ),
    InvalidUnit {
        shown: String,
    } => (
        format!("\u{201c}{shown}\u{201d} không phải mã đơn vị hành chính: dùng các chữ số của mã chính thức, ví dụ \"40\", \"412\" hoặc \"16681\"."),
        format!("unit {shown:?} is not an administrative unit code: use the official code's digits, e.g. \"40\", \"412\" or \"16681\""),
    ),
    PanelName => (
        "Tên bảng phải có từ 1 đến 200 ký tự.".into(),
        "panel name must be 1 to 200 characters".into(),
    ),
    SameBrightnessTimes {
        at: String,
    } => (
        format!("Giờ bắt đầu ban ngày và ban đêm đều là {at}: bảng sẽ không bao giờ đổi độ sáng; hãy cho hai giờ khác nhau, ví dụ 06:00 và 18:00."),
        format!("brightness day_starts and night_starts are both {at}: the panel would never switch; give two different times, e.g. 06:00 and 18:00"),
    ),
    TooManyUnits => (
        "Một bảng thuộc tối đa 16 đơn vị hành chính.".into(),
        "a panel stands in at most 16 units".into(),
    ),
    MessageTitle => (
        "Tiêu đề tin phải có từ 1 đến 200 ký tự.".into(),
        "message title must be 1 to 200 characters".into(),
    ),
    MessageEmpty => (
        "Tin cần có nội dung chữ, hình ảnh, hoặc cả hai: hãy nhập nội dung hoặc chọn hình.".into(),
        "a message needs text, an image, or both: give \"text\" or \"image\" (an asset id)".into(),
    ),
    MessageTooLong {
        max: usize,
    } => (
        format!("Nội dung tin dài quá {max} ký tự: hãy tách thành nhiều tin."),
        format!("message text is longer than {max} characters: split it into several messages"),
    ),
    ValidityWindow => (
        "Thời hạn hiệu lực không hợp lệ: \u{201c}hiệu lực từ\u{201d} phải trước \u{201c}hiệu lực đến\u{201d}.".into(),
        "the validity window is empty: valid_from must be before valid_until".into(),
    ),
    RejectComment {
        max: usize,
    } => (
        format!("Khi trả lại tin, hãy ghi lý do (từ 1 đến {max} ký tự) để người viết biết cần sửa gì."),
        format!("a rejection needs a comment of 1 to {max} characters telling the author what to change"),
    ),
    NotWaitingForApproval {
        id: String,
    } => (
        format!("Tin \u{201c}{id}\u{201d} đã được duyệt, không còn chờ duyệt: chỉ trả lại được tin đang chờ duyệt; hãy sửa tin nếu cần gỡ nội dung."),
        format!("message {id:?} is approved, not waiting for approval: only a message waiting for approval can be rejected; edit it to take it back"),
    ),
    InvalidAssetId {
        shown: String,
    } => (
        format!("\u{201c}{shown}\u{201d} không phải mã hình ảnh: mã hình là 64 ký tự hex do POST /api/v1/assets trả về; hãy chọn lại hình trong thư viện."),
        format!("{shown:?} is not an asset id: asset ids are the 64 hex characters returned by POST /api/v1/assets"),
    ),
    ImageName {
        max: usize,
    } => (
        format!("Tên hình ảnh phải có từ 1 đến {max} ký tự."),
        format!("an image name must be 1 to {max} characters"),
    ),
    ImageNameControl => (
        "Tên hình ảnh không được chứa ký tự điều khiển (xuống dòng, tab).".into(),
        "an image name cannot hold control characters (line breaks, tabs)".into(),
    ),
    InvalidTarget {
        shown: String,
    } => (
        format!("Nơi phát \u{201c}{shown}\u{201d} không hợp lệ: dùng mã bảng, \"group:MÃ-ĐỊA-BÀN\" hoặc \"all\"."),
        format!("target {shown:?} is not valid: use a panel id, \"group:NAME\" or \"all\""),
    ),
    NoTargets => (
        "Chưa chọn nơi phát: hãy chọn ít nhất một bảng, một địa bàn hoặc tất cả.".into(),
        "targets is empty: name at least one panel id, \"group:NAME\" or \"all\"".into(),
    ),
    TooManyTargets {
        n: usize,
        max: usize,
    } => (
        format!("{n} nơi phát là quá {max}: hãy chọn theo địa bàn (hoặc tất cả) thay vì từng bảng."),
        format!("{n} targets are more than {max}: name panels by \"group:NAME\" (or \"all\") instead of one by one"),
    ),
    TargetTwice {
        target: String,
    } => (
        format!("Nơi phát \u{201c}{target}\u{201d} bị chọn hai lần: mỗi bảng hay địa bàn chỉ chọn một lần."),
        format!("target {target:?} is listed twice: name each panel or group once"),
    ),
    UnknownTarget {
        target: String,
    } => (
        format!("Nơi phát \u{201c}{target}\u{201d} không ứng với bảng nào: hãy kiểm tra mã bảng hoặc địa bàn (danh sách ở trang Bảng)."),
        format!("target {target:?} matches no panel: check the panel id or group name (GET /api/v1/panels lists them)"),
    ),
    UnknownImage {
        id: String,
    } => (
        format!("Hình \u{201c}{id}\u{201d} chưa được tải lên: hãy tải hình lên thư viện trước."),
        format!("image {id:?} is not an uploaded asset: upload it with POST /api/v1/assets first"),
    ),
    UnknownCampaignMessage {
        id: String,
    } => (
        format!("Lịch phát có tin \u{201c}{id}\u{201d} nhưng tin này không tồn tại: hãy tạo tin trước hoặc bỏ nó khỏi danh sách."),
        format!("campaign lists message {id:?}, which does not exist: create it first or remove it from the list"),
    ),
    AlertText {
        max: usize,
    } => (
        format!("Nội dung cảnh báo phải có từ 1 đến {max} ký tự."),
        format!("alert text must be 1 to {max} characters"),
    ),
    AlertDuration {
        max: u32,
    } => (
        format!("Thời lượng cảnh báo phải từ 1 đến {max} giây (ba ngày); muốn kéo dài, hãy gửi cảnh báo mới."),
        format!("duration_s must be 1 to {max} seconds (three days); send a new alert to extend"),
    ),
    InvalidCron {
        shown: String,
        why: CronWhy,
    } => (
        format!(
            "Lịch lặp \u{201c}{shown}\u{201d} không hợp lệ: {}. Các dạng được nhận: 5 trường \u{201c}phút giờ ngày tháng thứ\u{201d} như crontab, ví dụ \u{201c}0 7 * * 1-5\u{201d} (thứ viết 0–7 hoặc sun–sat, 0 và 7 là Chủ nhật); 6 hoặc 7 trường với giây đứng đầu và năm tuỳ chọn, ví dụ \u{201c}0 0 7 * * Mon-Fri\u{201d} (ở dạng này 1 = Chủ nhật … 7 = thứ Bảy, nên dùng tên); hoặc @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly.",
            why.render(Lang::Vi)
        ),
        format!(
            "cron {shown:?} is not valid: {}; accepted forms: 5 fields \"minute hour day-of-month month day-of-week\" as in crontab, e.g. \"0 7 * * 1-5\" (weekdays 0-7 or sun-sat, 0 and 7 = Sunday); 6 or 7 fields with seconds first and an optional year, e.g. \"0 0 7 * * Mon-Fri\" (there numeric weekdays are 1 = Sunday … 7 = Saturday, so prefer names); or @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly",
            why.render(Lang::En)
        ),
    ),
    UnknownTimeZone {
        shown: String,
    } => (
        format!("Không có múi giờ \u{201c}{shown}\u{201d}: dùng tên IANA như \u{201c}Asia/Ho_Chi_Minh\u{201d}."),
        format!("unknown time zone {shown:?}: use an IANA name such as \"Asia/Ho_Chi_Minh\" or \"Europe/Berlin\""),
    ),
    CronNeverFires {
        shown: String,
        first: i32,
        last: i32,
    } => (
        format!("Lịch lặp \u{201c}{shown}\u{201d} không bao giờ chạy: không có thời điểm nào từ năm {first} đến {last} khớp mọi trường (hãy đối chiếu ngày với tháng, và năm)."),
        format!("this cron never fires: no time from {first} to {last} matches all the fields of {shown:?} (check the day of the month against the month, and the year)"),
    ),
    // Previews.
    TooLongToPreview => (
        "Nội dung quá dài để xem trước: hãy rút gọn hoặc tách thành nhiều tin.".into(),
        "the text is too long to preview: shorten it or split it into several messages".into(),
    ),
    BadDwell => (
        "Thời gian hiển thị (dwell) phải là số giây nguyên từ 1 trở lên.".into(),
        "dwell must be a whole number of seconds from 1".into(),
    ),
    ReadingTooFast {
        page: usize,
        words: usize,
        need: u32,
        dwell: u32,
    } => (
        format!("Trang {page} có {words} chữ, cần khoảng {need} giây để đọc, nhưng mỗi trang chỉ hiện {dwell} giây: người qua đường sẽ không đọc kịp. Hãy rút gọn nội dung, hoặc tách thành nhiều tin ngắn hơn."),
        format!("On page {page}: it has {words} words, which take about {need} s to read, but each page shows for only {dwell} s: passers-by will not finish it. Shorten the text, or split it into several shorter messages."),
    ),
    NoApiRoute {
        path: String,
    } => (
        format!("Không có địa chỉ API /api/v1/{path}: xem /api/v1/openapi.json."),
        format!("there is no API address /api/v1/{path}: see /api/v1/openapi.json"),
    ),
    MethodNotAccepted {
        method: String,
    } => (
        format!("Địa chỉ này không nhận {method}: xem /api/v1/openapi.json để biết phương thức của từng địa chỉ."),
        format!("{method} is not accepted here: see /api/v1/openapi.json for the methods of each address"),
    ),
    NeedsRole {
        role: &'static str,
        who: String,
        held: String,
    } => (
        format!("Việc này cần vai trò {role}, nhưng \u{201c}{who}\u{201d} chỉ có {held}: hãy đề nghị quản trị viên cấp quyền."),
        format!("this needs the {role} role, and {who:?} has only {held}: ask an administrator"),
    ),
    BodyTooLarge {
        kib: usize,
    } => (
        format!("Dữ liệu gửi lên lớn hơn {kib} KiB: hãy gửi ít hơn."),
        format!("the request body is larger than {kib} KiB: send less"),
    ),
    BodyTooSlow {
        after_s: u64,
        kib_per_s: u64,
    } => (
        format!("Dữ liệu đến quá chậm (sau {after_s} giây, dưới {kib_per_s} KiB mỗi giây): hãy kiểm tra kết nối rồi gửi lại."),
        format!("the request body arrived too slowly (after {after_s} s, less than {kib_per_s} KiB a second): check the connection and send it again"),
    ),
    BodyUnreadable {
        detail: String,
    } => (
        format!("Không đọc được dữ liệu gửi lên ({detail}): hãy gửi lại."),
        format!("the request body could not be read: {detail}"),
    ),
    NotJson {
        got: String,
    } => (
        format!("Hãy gửi JSON với tiêu đề Content-Type: application/json (đã nhận {got})."),
        format!("send JSON with the header Content-Type: application/json (got {got})"),
    ),
    BadJson {
        syntax: bool,
        detail: String,
    } => match (syntax, detail) {
        (true, detail) => (
            format!("Dữ liệu gửi lên không phải JSON hợp lệ ({detail})."),
            format!("the request body is not valid JSON: {detail}"),
        ),
        (false, detail) => (
            format!("Dữ liệu gửi lên có trường sai hoặc thiếu ({detail})."),
            format!("the request body has a wrong or missing field: {detail}"),
        ),
    },
    CampaignName => (
        "Hãy đặt tên lịch phát (1 đến 200 ký tự), ví dụ \u{201c}Đề án 06 – tháng 12\u{201d}.".into(),
        "campaign name must be 1 to 200 characters".into(),
    ),
    PlaylistLength {
        max: usize,
        n: usize,
    } => (
        format!("Một lịch phát có từ 1 đến {max} tin; lịch này có {n}."),
        format!("a campaign plays 1 to {max} messages; this one lists {n}"),
    ),
    DwellRange {
        dwell: u32,
        message: String,
        max: u32,
    } => (
        format!("Thời gian hiển thị {dwell} giây của tin {message} nằm ngoài khoảng cho phép: dùng từ 1 đến {max} giây."),
        format!("dwell_s {dwell} for message {message} is out of range: use 1 to {max} seconds"),
    ),
    DateRange {
        end: bool,
        date: String,
        first: i32,
        last: i32,
    } => (
        format!("Ngày {} {date} nằm ngoài khoảng cho phép: ngày của lịch phát từ {first}-01-01 đến {last}-12-31.", if *end { "kết thúc" } else { "bắt đầu" }),
        format!("{} {date} is out of range: campaign dates run from {first}-01-01 to {last}-12-31", if *end { "end" } else { "start" }),
    ),
    StartAfterEnd {
        start: String,
        end: String,
    } => (
        format!("Ngày bắt đầu {start} sau ngày kết thúc {end}: hai ngày đều được tính, nên lịch phát một ngày có ngày bắt đầu bằng ngày kết thúc."),
        format!("start {start} is after end {end}: the dates are inclusive, so a one-day campaign has start = end"),
    ),
    DurationRange {
        duration: u32,
        max: u32,
    } => (
        format!("Thời lượng {duration} giây nằm ngoài khoảng cho phép: dùng từ 1 đến {max} giây (31 ngày)."),
        format!("duration_s {duration} is out of range: use 1 to {max} seconds (31 days)"),
    ),
    CronNeedsDuration => (
        "Lịch phát có lịch lặp cần thời lượng: số giây phát sau mỗi lần lặp (1 đến 2678400).".into(),
        "a campaign with a cron needs duration_s: how many seconds it stays on after each firing (1 to 2678400)".into(),
    ),
    DurationNeedsCron => (
        "Thời lượng chỉ dùng cùng lịch lặp: hãy thêm lịch lặp, hoặc bỏ thời lượng để phát cả ngày từ ngày bắt đầu đến ngày kết thúc.".into(),
        "duration_s only applies with a cron: add a cron, or remove duration_s to run all day from start to end".into(),
    ),
    CampaignNoTargets => (
        "Lịch phát cần ít nhất một nơi phát: một bảng, một địa bàn hoặc tất cả.".into(),
        "a campaign needs at least one target: a panel id, \"group:NAME\" or \"all\"".into(),
    ),
    UnknownStatusFilter {
        shown: String,
    } => (
        format!("Không có trạng thái \u{201c}{shown}\u{201d}: dùng draft (bản nháp) hoặc approved (đã duyệt)."),
        format!("status={shown:?} is not known: use draft or approved"),
    ),
    BadIfMatch {
        shown: String,
    } => (
        format!("If-Match \u{201c}{shown}\u{201d} không phải ETag của tin này: gửi nguyên tiêu đề ETag của GET /api/v1/messages/MÃ, ví dụ \"3\"."),
        format!("If-Match {shown:?} is not an ETag of this message: send the ETag header of GET /api/v1/messages/ID as it came, e.g. \"3\""),
    ),
    TwoVersions {
        header: u64,
        body: u64,
    } => (
        format!("If-Match ghi phiên bản {header} còn nội dung gửi ghi phiên bản {body}: chỉ gửi một trong hai."),
        format!("If-Match names version {header} and the body version {body}: send one of them"),
    ),
    PreviewTarget => (
        "Hãy chọn bảng (panel=MÃ), hoặc cho chiều rộng, chiều cao và định dạng của bảng chưa có.".into(),
        "give panel=ID, or width, height and format for a panel that does not exist yet".into(),
    ),
    WholePixels {
        what: String,
    } => (
        format!("{what} phải là số điểm ảnh nguyên."),
        format!("{what} must be a whole number of pixels"),
    ),
    BadPage => (
        "Số trang phải là số nguyên từ 1 trở lên.".into(),
        "page must be a whole number from 1".into(),
    ),
    NoSuchPage {
        page: usize,
        pages: usize,
    } => (
        format!("Không có trang {page}: trên bảng này tin có {pages} trang."),
        format!("page {page} does not exist: this message has {pages} page(s) on this panel"),
    ),
    PreviewTooBig {
        mib: u64,
        pages: usize,
        width: u16,
        height: u16,
        room: u64,
    } => (
        format!("Bản xem trước này cần khoảng {mib} MiB bộ nhớ ({pages} trang {width}×{height}), quá mức máy chủ dành cho hình ảnh và xem trước ({room} MiB): hãy rút gọn nội dung hoặc xem trước trên bảng nhỏ hơn."),
        format!("this preview takes about {mib} MiB of memory ({pages} pages of {width}×{height}), more than this server allows for images and previews ({room} MiB, half of --memory-budget): shorten the text or preview it on a smaller panel"),
    ),
    ImageTooBig {
        mib: u64,
        room: u64,
    } => (
        format!("Giải mã hình này cần khoảng {mib} MiB bộ nhớ, quá mức máy chủ dành cho hình ảnh ({room} MiB): hãy thu nhỏ hình hoặc lưu với 8 bit mỗi kênh màu rồi tải lên lại."),
        format!("decoding this image takes about {mib} MiB of memory, more than this server allows for images ({room} MiB, half of --memory-budget): scale it down or save it with 8 bits per channel, then upload it again"),
    ),
    IdMismatch {
        body: String,
        path: String,
    } => (
        format!("Mã trong nội dung (\u{201c}{body}\u{201d}) khác mã trong địa chỉ (\u{201c}{path}\u{201d}): không đổi được mã bảng; hãy tạo bảng mới."),
        format!("the body's id {body:?} differs from the address's {path:?}: a panel's id cannot change; create a new panel instead"),
    ),
    NotJsonOrCsv {
        got: String,
    } => (
        format!("Hãy gửi mảng JSON (Content-Type: application/json) hoặc tệp CSV (Content-Type: text/csv); đã nhận {got}."),
        format!("send a JSON array with Content-Type: application/json, or a CSV file with Content-Type: text/csv (got {got})"),
    ),
    NotATimestamp {
        key: String,
        shown: String,
    } => (
        format!("{key}=\u{201c}{shown}\u{201d} không phải thời điểm RFC 3339: viết ví dụ 2026-11-27T07:00:00+07:00 (mã hoá dấu + thành %2B)."),
        format!("{key}={shown:?} is not an RFC 3339 time: write e.g. 2026-11-27T07:00:00+07:00 (URL-encode the + as %2B)"),
    ),
    BadSpan => (
        "Thời điểm đầu phải trước thời điểm cuối, cách nhau tối đa 31 ngày.".into(),
        "give from < to, at most 31 days apart".into(),
    ),
    /// A calendar asked for a span that is empty or too long.
    CalendarSpan {
        max_days: i64,
    } => (
        format!("Lịch cần from trước to, cách nhau tối đa {max_days} ngày: hãy xem từng tháng hoặc từng tuần."),
        format!("the calendar needs from before to, at most {max_days} days apart: look at one month or one week at a time"),
    ),
    /// A calendar span with more occurrences than one answer carries.
    CalendarTooMany {
        max: usize,
    } => (
        format!("Khoảng thời gian này có hơn {max} lượt chạy: hãy xem một khoảng ngắn hơn hoặc chọn một nhóm (group=)."),
        format!("this span has more than {max} occurrences: look at a shorter span or one group (group=)"),
    ),
    UnknownGrouping {
        shown: String,
    } => (
        format!("Không có cách gộp \u{201c}{shown}\u{201d}: dùng group=campaign hoặc bỏ đi."),
        format!("group={shown:?} is not known: use group=campaign or leave it out"),
    ),
    NoFrameYet {
        panel: String,
    } => (
        format!("Bảng \u{201c}{panel}\u{201d} chưa được gửi hình nào."),
        format!("panel {panel:?} has not been sent a frame yet"),
    ),
    /// A new account's user name is a token's name already.
    AccountNameIsAToken {
        name: String,
    } => (
        format!("Đã có mã truy cập tên \u{201c}{name}\u{201d}: hãy đặt tên đăng nhập khác để nhật ký thao tác phân biệt được hai bên."),
        format!("a token is named {name:?}: give the person another user name, so the audit trail tells them apart"),
    ),
    /// A new account's user name is taken.
    AccountExists {
        name: String,
    } => (
        format!("Đã có tài khoản tên \u{201c}{name}\u{201d}: hãy chọn tên đăng nhập khác."),
        format!("an account named {name:?} exists: choose another user name"),
    ),
    /// A snapshot asked of a panel a vendor card drives.
    SnapshotNotMqtt => (
        "Bảng này nối qua thẻ điều khiển của hãng khác (không qua MQTT): chưa xem được ảnh thực tế từ bảng.".into(),
        "This panel is driven by a vendor card, not over MQTT: it cannot send a snapshot.".into(),
    ),
    /// No snapshot has come from the panel yet.
    NoSnapshotYet => (
        "Bảng chưa gửi ảnh thực tế nào: bấm \"Xem thực tế\" rồi chờ vài giây (bảng phải đang trực tuyến).".into(),
        "The panel has sent no snapshot yet: ask for one and wait a few seconds (the panel must be online).".into(),
    ),
    /// `closed=` of the alarm list is not 0–2000.
    BadClosedCount => (
        "Số sự cố đã kết thúc (closed) phải là số nguyên từ 0 đến 2000.".into(),
        "closed must be a whole number from 0 to 2000".into(),
    ),
    /// An alarm id that is not a whole number.
    BadAlarmId => (
        "Mã sự cố là một số nguyên, như danh sách sự cố (GET /alarms) ghi.".into(),
        "an alarm's id is a whole number, as GET /alarms lists it".into(),
    ),
    NotAnImageType {
        got: String,
    } => (
        format!("Hình phải gửi với Content-Type image/png, image/jpeg, image/gif hoặc image/webp (đã nhận {got}): hãy chọn tệp PNG, JPEG, GIF hoặc WebP."),
        format!("images must be sent with Content-Type image/png, image/jpeg, image/gif or image/webp (got {got})"),
    ),
    /// Bytes that are none of the image formats we take.
    NotAnImageFile => (
        "Tệp này không phải hình PNG, JPEG, GIF hay WebP: hãy tải lên một trong các dạng đó.".into(),
        "the file is not a PNG, JPEG, GIF or WebP image: upload one of those".into(),
    ),
    /// An image format we recognise but do not take (`format`: "TIFF").
    ImageFormatRefused {
        format: String,
    } => (
        format!("Không nhận hình {format}: hãy tải lên PNG, JPEG, GIF hoặc WebP."),
        format!("{format} images are not accepted: upload PNG, JPEG, GIF or WebP"),
    ),
    /// Over the largest side an upload may have, px.
    ImageTooManyPixels {
        max: u32,
    } => (
        format!("Hình quá lớn: chỉ nhận tối đa {max}×{max} điểm ảnh; hãy thu nhỏ rồi tải lên lại."),
        format!("the image is too large: at most {max}×{max} pixels are accepted; scale it down and upload it again"),
    ),
    /// The decoder lacks a feature the image uses (`detail`: the decoder's words).
    ImageFeature {
        detail: String,
    } => (
        format!("Hình dùng một tính năng không giải mã được ({detail}): hãy lưu lại thành PNG hoặc JPEG thông thường."),
        format!("this image uses a feature that cannot be decoded ({detail}): save it again as a plain PNG or JPEG"),
    ),
    /// The bytes do not decode (`detail`: the decoder's words).
    ImageDamaged {
        detail: String,
    } => (
        format!("Không giải mã được hình ({detail}): tệp có thể bị cắt cụt hoặc hỏng; hãy xuất lại rồi tải lên."),
        format!("the image could not be decoded ({detail}): the file may be truncated or damaged; export it again"),
    ),
    /// The image decodes to no pixels.
    ImageEmpty => (
        "Hình không có điểm ảnh nào: hãy chọn một hình khác.".into(),
        "the image has no pixels: choose another image".into(),
    ),
    /// A PNG palette that is not whole RGB triples.
    ImagePaletteTorn => (
        "Bảng màu (PLTE) của tệp PNG không gồm trọn các bộ ba màu: tệp bị hỏng; hãy xuất lại rồi tải lên.".into(),
        "the PNG's palette (PLTE) is not whole colour triples: the file is damaged; export it again".into(),
    ),
    BadLimit => (
        "Giới hạn phải là số nguyên từ 1 đến 100000.".into(),
        "limit must be a whole number from 1 to 100000".into(),
    ),
    NotCap {
        got: String,
    } => (
        format!("Hãy gửi tài liệu CAP với Content-Type: application/cap+xml (không phải {got})."),
        format!("send a CAP document with Content-Type: application/cap+xml (not {got})"),
    ),
    Busy => (
        "Máy chủ đang dùng hết bộ nhớ dành cho hình ảnh và xem trước cho các yêu cầu khác nên chưa làm yêu cầu này. Hãy thử lại sau vài giây.".into(),
        "The server is using all the memory it may spend on images and previews for other requests right now, so this one was not started. Try again in a few seconds.".into(),
    ),
    IdTaken {
        kind: Kind,
        id: String,
    } => (
        format!("Đã có {} mang mã \u{201c}{id}\u{201d}: hãy chọn mã khác.", kind.name(Lang::Vi)),
        format!("a {} with id {id:?} already exists: choose another id", kind.name(Lang::En)),
    ),
    BrokenFile {
        file: String,
        problem: Text,
    } => (
        format!("Tệp {file} đã bị sửa tay và không dùng được ({}); máy chủ không ghi đè để không mất phần đã sửa: hãy sửa hoặc xoá tệp rồi thử lại.", problem.render(Lang::Vi).trim_end_matches('.')),
        format!("{file} was edited by hand and cannot be used ({}); it is not overwritten, so the edit is not lost: fix the file or delete it, then try again", problem.render(Lang::En)),
    ),
    NoFreeId => (
        "Không tìm được mã trống cho tiêu đề này: hãy thử lại, hoặc đổi tiêu đề một chút.".into(),
        "no free id could be found for this title: try again, or change the title a little".into(),
    ),
    /// Another server on the same PostgreSQL store changed the data first.
    ChangedElsewhere => (
        "Một máy chủ khác vừa thay đổi dữ liệu này: hãy tải lại và thử lại.".into(),
        "another server changed this data a moment ago: reload and try again".into(),
    ),
    /// The link to the database was lost while it committed a change, and
    /// whether the change went through could not be learnt.
    SaveOutcomeUnknown => (
        "Mất kết nối với cơ sở dữ liệu đúng lúc lưu nên chưa biết thay đổi đã được lưu hay chưa: hãy tải lại trang, xem thay đổi đã có chưa rồi hãy làm lại.".into(),
        "The connection to the database was lost while saving, so it is not known whether the change was saved: reload the page and check whether it is there before making it again.".into(),
    ),
    /// A text holds the character U+0000, which the store does not keep.
    NulCharacter => (
        "Nội dung có ký tự rỗng (U+0000), ký tự này không lưu được: hãy xoá nó rồi gửi lại.".into(),
        "the text contains the NUL character (U+0000), which cannot be stored: remove it and send again".into(),
    ),
    /// `--store` is not a PostgreSQL URL.
    BadStoreUrl => (
        "--store phải là địa chỉ PostgreSQL, ví dụ postgres://bangtin@db.local/bangtin; bỏ trống để dùng các tệp trong --data.".into(),
        "--store must be a PostgreSQL URL, e.g. postgres://bangtin@db.local/bangtin; leave it out to keep the files under --data".into(),
    ),
    /// `store migrate` into a database that holds a store already.
    StoreNotEmpty => (
        "Cơ sở dữ liệu này đã có dữ liệu: hãy chuyển vào một cơ sở dữ liệu trống.".into(),
        "this database holds a store already: migrate into an empty database".into(),
    ),
    /// `store migrate` out into a directory that has files.
    ExportNotEmpty {
        dir: String,
    } => (
        format!("Thư mục {dir} đã có tệp: hãy xuất ra một thư mục trống."),
        format!("{dir} has files already: export into an empty directory"),
    ),
    NoFreeAlertId => (
        "Không tìm được mã trống cho cảnh báo: hãy gửi lại.".into(),
        "no free alert id: send the alert again".into(),
    ),
    FileIdMismatch {
        file: String,
        inner: String,
    } => (
        format!("Tệp tên \u{201c}{file}\u{201d} nhưng trường \"id\" là \u{201c}{inner}\u{201d}: hãy để hai giá trị giống nhau."),
        format!("the file is named {file:?} but its \"id\" is {inner:?}: make them the same"),
    ),
    TokenNameTaken {
        name: String,
    } => (
        format!("Đã có mã truy cập tên \u{201c}{name}\u{201d}: hãy thu hồi mã đó trước hoặc chọn tên khác."),
        format!("a token named {name:?} exists: revoke it first or choose another name"),
    ),
    AdminNameReserved => (
        "Tên \u{201c}admin\u{201d} đã dành cho BANGTIN_ADMIN_TOKEN: hãy chọn tên khác.".into(),
        "the name \"admin\" is taken by BANGTIN_ADMIN_TOKEN: choose another name".into(),
    ),
    NotSigning => (
        "Máy chủ này không ký các khung hình.".into(),
        "this server does not sign its frames".into(),
    ),
    NoBrokerCredentials => (
        "Máy chủ này không giữ mật khẩu MQTT cho bộ điều khiển (dùng broker ngoài).".into(),
        "this server keeps no broker credentials".into(),
    ),
    Hd2020Width {
        width: u16,
    } => (
        format!("Thẻ HD2020 cần chiều rộng bảng là bội số của 8, không phải {width}: đặt đúng chiều rộng của biển (ví dụ 64, 128, 192)."),
        format!("an HD2020 card needs a panel width that is a multiple of 8, not {width}: set the width to the sign's (e.g. 64, 128, 192)"),
    ),
    Hd2020Mono {
        format: &'static str,
    } => (
        format!("Thẻ HD2020 chỉ bật hoặc tắt từng điểm LED: đặt định dạng bảng là mono1, không phải {format}."),
        format!("an HD2020 card lights each LED on or off: give the panel the format mono1, not {format}"),
    ),
    BadDeviceId {
        shown: String,
        max: usize,
    } => (
        format!("Mã thiết bị \u{201c}{shown}\u{201d} không hợp lệ: hãy chép Device ID của thẻ từ HDPlayer (chữ, số, '-', '_' hoặc '.', tối đa {max} ký tự), ví dụ C16-19-A0001."),
        format!("device id {shown:?} is not valid: copy the card's Device ID from HDPlayer (letters, digits, '-', '_' or '.', at most {max}), e.g. C16-19-A0001"),
    ),
    // Groups.
    GroupName {
        max: usize,
    } => (
        format!("Tên hiển thị của địa bàn phải có từ 1 đến {max} ký tự, ví dụ \u{201c}Thành phố Vinh\u{201d}."),
        format!("a group's display name must be 1 to {max} characters, e.g. \"Thành phố Vinh\""),
    ),
    GroupExists {
        id: String,
    } => (
        format!("Địa bàn \u{201c}{id}\u{201d} đã có: hãy đổi tên địa bàn đó thay vì tạo mới."),
        format!("group {id:?} exists already: rename it instead of creating it"),
    ),
    // Server settings and addresses.
    NotAnAddress {
        flag: String,
        shown: String,
    } => (
        format!("{flag} \u{201c}{shown}\u{201d} không phải địa chỉ: hãy viết IP:CỔNG, ví dụ 127.0.0.1:8080."),
        format!("{flag} {shown:?} is not an address: write IP:PORT, e.g. 127.0.0.1:8080"),
    ),
    BadTopicRoot {
        shown: String,
    } => (
        format!("Gốc chủ đề \u{201c}{shown}\u{201d} không dùng được: hãy dùng một hay nhiều cấp không rỗng ngăn bằng '/', không có '+' hay '#', ví dụ \u{201c}bangtin\u{201d}."),
        format!("topic root {shown:?} is not usable: use one or more non-empty levels separated by '/', without '+' or '#', e.g. \"bangtin\""),
    ),
    BadMqttUrl {
        shown: String,
        why: AddressWhy,
    } => (
        format!("Địa chỉ MQTT \u{201c}{shown}\u{201d} không dùng được: {}; hãy viết mqtt://[người-dùng[:mật-khẩu]@]máy[:cổng] hoặc mqtts://…", why.render(Lang::Vi)),
        format!("MQTT URL {shown:?} is not usable: {}; write it as mqtt://[user[:password]@]host[:port] or mqtts://…", why.render(Lang::En)),
    ),
    BadHostPort {
        shown: String,
        why: AddressWhy,
        default_port: Option<u16>,
    } => {
        let (ex_vi, ex_en) = match default_port {
            Some(p) => (
                format!("192.168.1.50:{p} hoặc 192.168.1.50 (cổng {p})"),
                format!("192.168.1.50:{p} or 192.168.1.50 (port {p})"),
            ),
            None => ("192.168.1.50:5005".to_string(), "192.168.1.50:5005".to_string()),
        };
        (
            format!("Địa chỉ \u{201c}{shown}\u{201d} không dùng được: {}; hãy viết máy:cổng, ví dụ {ex_vi}.", why.render(Lang::Vi)),
            format!("address {shown:?} is not usable: {}; write host:port, e.g. {ex_en}", why.render(Lang::En)),
        )
    },
    AdminTokenShort {
        env: String,
    } => (
        format!("{env} ngắn hơn 8 ký tự: hãy chọn một mã bí mật dài hơn."),
        format!("{env} is shorter than 8 characters: choose a longer secret"),
    ),
    MemoryBudget {
        shown: String,
        min_mib: u64,
    } => (
        format!("--memory-budget \u{201c}{shown}\u{201d} không phải dung lượng từ {min_mib} MiB trở lên: hãy viết ví dụ 512M hoặc 1G."),
        format!("--memory-budget {shown:?} is not a size of at least {min_mib} MiB: write e.g. 512M or 1G"),
    ),
    MaxConnections => (
        "--max-connections và --max-connections-per-ip phải từ 1 trở lên.".into(),
        "--max-connections and --max-connections-per-ip must be at least 1".into(),
    ),
    HeaderTimeout => (
        "--header-timeout-s phải từ 1 đến 3600 giây.".into(),
        "--header-timeout-s must be 1 to 3600 seconds".into(),
    ),
    ServerUserPanel {
        user: String,
    } => (
        format!("Bảng tên \u{201c}{user}\u{201d} không thể có thông tin đăng nhập bộ điều khiển: tên người dùng đó là của máy chủ; hãy đổi tên bảng."),
        format!("a panel named {user:?} cannot have a controller credential: that user name is the server principal's; rename the panel"),
    ),
    UnknownOutput {
        shown: String,
    } => (
        format!("--output \u{201c}{shown}\u{201d} không được hỗ trợ: dùng terminal, png:THƯ-MỤC hoặc colorlight:GIAO-DIỆN (cổng mạng nối với card, ví dụ colorlight:eth1)."),
        format!("--output {shown:?} is not known: use terminal, png:DIR or colorlight:IFACE (the network interface cabled to the card, e.g. colorlight:eth1)"),
    ),
    // CAP settings.
    CapFeedTwice {
        name: String,
    } => (
        format!("Có hai nguồn tin cùng tên \u{201c}{name}\u{201d}: hãy đặt cho mỗi nguồn một tên riêng."),
        format!("two feeds are named {name:?}: give each its own name"),
    ),
    CapFeedUrl {
        feed: String,
        url: String,
    } => (
        format!("Nguồn tin \u{201c}{feed}\u{201d}: địa chỉ \u{201c}{url}\u{201d} phải bắt đầu bằng http:// hoặc https://."),
        format!("feed {feed:?}: url {url:?} must start with http:// or https://"),
    ),
    CapFeedInterval {
        feed: String,
        min: u32,
    } => (
        format!("Nguồn tin \u{201c}{feed}\u{201d}: interval_s phải từ {min} trở lên."),
        format!("feed {feed:?}: interval_s must be at least {min}"),
    ),
    UnknownRuleSet {
        name: String,
        /// The feed that names it; `None` for documents posted to the API.
        feed: Option<String>,
    } => match feed {
        Some(feed) => (
            format!("Nguồn tin \u{201c}{feed}\u{201d} dùng bộ quy tắc \u{201c}{name}\u{201d} chưa được định nghĩa trong \u{201c}rule_sets\u{201d}."),
            format!("feed {feed:?}: rule set {name:?} is not defined in \"rule_sets\""),
        ),
        None => (
            format!("post: bộ quy tắc \u{201c}{name}\u{201d} chưa được định nghĩa trong \u{201c}rule_sets\u{201d}."),
            format!("post: rule set {name:?} is not defined in \"rule_sets\""),
        ),
    },
    CapTemplateNoEvents {
        n: usize,
    } => (
        format!("Mẫu câu {n}: hãy ghi ít nhất một sự kiện trong \u{201c}events\u{201d}."),
        format!("template {n}: name at least one event in \"events\""),
    ),
    CapTemplateUnclosed {
        n: usize,
        event: String,
    } => (
        format!("Mẫu câu {n} ({event}): có dấu '{{' không được đóng bằng '}}'."),
        format!("template {n} ({event}): a '{{' is not closed by '}}'"),
    ),
    CapTemplatePlaceholder {
        n: usize,
        event: String,
        name: String,
        known: String,
    } => (
        format!("Mẫu câu {n} ({event}): không có chỗ điền {{{name}}}; hãy dùng {known}."),
        format!("template {n} ({event}): unknown placeholder {{{name}}}: use {known}"),
    ),
    CapTemplateAfter {
        n: usize,
        event: String,
        max: u32,
    } => (
        format!("Mẫu câu {n} ({event}): \u{201c}after\u{201d} cần after_s, từ 1 đến {max} giây."),
        format!("template {n} ({event}): \"after\" needs after_s, 1 to {max} seconds"),
    ),
    CapRiskLevel {
        severity: String,
        level: u8,
    } => (
        format!("risk_levels: {severity} → {level}: cấp độ rủi ro chỉ từ 1 đến 5."),
        format!("risk_levels: {severity} → {level}: risk levels are 1 to 5"),
    ),
    CapDefaultDuration {
        max: u32,
    } => (
        format!("default_duration_s phải từ 1 đến {max}."),
        format!("default_duration_s must be 1 to {max}"),
    ),
    CapSender => (
        "publish.sender phải là một từ, không có dấu cách hay dấu phẩy, ví dụ bangtin@stttt.nghean.gov.vn.".into(),
        "publish.sender must be one word without spaces or commas, e.g. bangtin@stttt.nghean.gov.vn".into(),
    ),
    CapMapTiles => (
        "map_tiles phải là địa chỉ http(s) hoặc /đường-dẫn có đủ {z}, {x} và {y}.".into(),
        "map_tiles must be an http(s) or /path URL with {z}, {x} and {y}".into(),
    ),
    KeyExists {
        path: String,
    } => (
        format!("{path} đã có: hãy chuyển nó đi chỗ khác trước, để không mất khóa nào."),
        format!("{path} exists: move it away first, so no key is lost"),
    ),
    // Alarm settings.
    AlarmSeconds {
        field: String,
        max: u64,
        value: u64,
    } => (
        format!("{field} phải từ 1 đến {max} giây, không phải {value}."),
        format!("{field} must be between 1 and {max} seconds, not {value}"),
    ),
    AlarmWebhookUrl {
        shown: String,
    } => (
        format!("webhook.url phải bắt đầu bằng http:// hoặc https://, không phải \u{201c}{shown}\u{201d}."),
        format!("webhook.url must start with http:// or https://, not {shown:?}"),
    ),
    AlarmEmailHost => (
        "email.host để trống: hãy ghi tên máy chủ SMTP.".into(),
        "email.host is empty: name the SMTP server".into(),
    ),
    AlarmEmailTo => (
        "email.to để trống: hãy ghi ít nhất một người nhận.".into(),
        "email.to is empty: name at least one recipient".into(),
    ),
    NotAnEmail {
        shown: String,
    } => (
        format!("\u{201c}{shown}\u{201d} không phải địa chỉ thư điện tử."),
        format!("{shown:?} is not an e-mail address"),
    ),
    LocalTime {
        field: String,
        shown: String,
    } => (
        format!("{field} phải là giờ địa phương dạng GG:PP, không phải \u{201c}{shown}\u{201d}."),
        format!("{field} must be a local time HH:MM, not {shown:?}"),
    ),
    // Broker configuration (`bangtin broker-config`).
    BrokerConfigValue {
        field: String,
        shown: String,
    } => (
        format!("Giá trị {field} \u{201c}{shown}\u{201d} không dùng được trong cấu hình Mosquitto: hãy ghi liền, không có khoảng trắng hay xuống dòng, ví dụ \u{201c}10.0.0.1\u{201d}."),
        format!("{field} {shown:?} cannot go into a Mosquitto configuration: write it without spaces or line breaks, e.g. \"10.0.0.1\""),
    ),
    ReservedUserPanel {
        user: String,
    } => (
        format!("Bảng tên \u{201c}{user}\u{201d} trùng tên người dùng dành cho máy chủ bangtin hoặc công cụ vận hành trên máy chủ MQTT tỉnh: hãy đổi tên bảng."),
        format!("a panel named {user:?} would share the broker user reserved for bangtin's servers or the operators' tools: rename the panel"),
    ),
    BrokerServers {
        given: u32,
    } => (
        format!("Số máy chủ bangtin (servers) là {given}: hãy ghi từ 1 đến {}, ví dụ 2 cho hai máy chủ dùng chung một kho PostgreSQL.", crate::broker_config::MAX_SERVERS),
        format!("servers is {given}: give 1 to {} bangtin servers, e.g. 2 for two servers sharing one PostgreSQL store", crate::broker_config::MAX_SERVERS),
    ),
    DistrictTwice {
        group: String,
    } => (
        format!("Địa bàn \u{201c}{group}\u{201d} có hai máy chủ MQTT cấp huyện trong tệp tỉnh: mỗi địa bàn chỉ một, hãy xoá mục thừa."),
        format!("district {group:?} is listed twice in the province file: give each district one broker and remove the other entry"),
    ),
    PanelInTwoDistricts {
        panel: String,
        first: String,
        second: String,
    } => (
        format!("Bảng \u{201c}{panel}\u{201d} thuộc cả hai địa bàn \u{201c}{first}\u{201d} và \u{201c}{second}\u{201d}, mỗi địa bàn có máy chủ MQTT riêng: hãy bỏ bảng khỏi một trong hai địa bàn."),
        format!("panel {panel:?} is in two districts' groups, {first:?} and {second:?}, each with a broker of its own: take it out of one of them"),
    ),
    /// A new password under the shortest allowed.
    PasswordShort {
        min: usize,
    } => (
        format!("Mật khẩu quá ngắn: cần ít nhất {min} ký tự."),
        format!("The password is too short: use at least {min} characters."),
    ),
    PasswordLong {
        max: usize,
    } => (
        format!("Mật khẩu quá dài: tối đa {max} ký tự."),
        format!("The password is too long: use at most {max} characters."),
    ),
    PasswordIsUsername => (
        "Mật khẩu không được trùng tên đăng nhập: hãy chọn mật khẩu khác.".into(),
        "The password must not be the user name: choose another.".into(),
    ),
    WrongCredentials => (
        "Tên đăng nhập hoặc mật khẩu không đúng.".into(),
        "The user name or password is wrong.".into(),
    ),
    /// Wrong passwords: the next try must wait.
    PasswordWait {
        seconds: i64,
    } => (
        format!("Đã nhập sai nhiều lần: hãy đợi {seconds} giây rồi thử lại."),
        format!("Too many wrong passwords: wait {seconds} seconds, then try again."),
    ),
    AccountLocked {
        minutes: i64,
    } => (
        format!("Tài khoản tạm khoá từ địa chỉ này vì nhập sai quá nhiều lần: thử lại sau {minutes} phút hoặc nhờ quản trị viên đặt lại mật khẩu."),
        format!("This account is locked from this address after too many wrong passwords: try again in {minutes} minutes, or ask an administrator to reset the password."),
    ),
    SessionEnded => (
        "Phiên đăng nhập đã hết hạn hoặc đã đăng xuất: hãy đăng nhập lại.".into(),
        "Your session expired or was signed out: sign in again.".into(),
    ),
    SessionIdle => (
        "Phiên đăng nhập đã kết thúc vì lâu không thao tác: hãy đăng nhập lại.".into(),
        "Your session ended after a while without activity: sign in again.".into(),
    ),
    CsrfMissing => (
        "Thiếu hoặc sai mã chống giả mạo (X-CSRF-Token): hãy tải lại trang rồi thử lại.".into(),
        "The anti-forgery token (X-CSRF-Token) is missing or wrong: reload the page and try again.".into(),
    ),
    MustChangePassword => (
        "Hãy đổi mật khẩu do quản trị viên đặt trước khi làm việc khác (PUT /api/v1/session/password).".into(),
        "Change the password your administrator set before doing anything else (PUT /api/v1/session/password).".into(),
    ),
    CurrentPasswordWrong => (
        "Mật khẩu hiện tại không đúng.".into(),
        "The current password is wrong.".into(),
    ),
    NotASession => (
        "Yêu cầu này dùng mã truy cập, không phải phiên đăng nhập: muốn thôi dùng mã thì nhờ quản trị viên thu hồi.".into(),
        "This request used a token, not a signed-in session: to stop a token, ask an administrator to revoke it.".into(),
    ),
    TokenExpired {
        at: chrono::DateTime<chrono::Utc>,
    } => (
        format!("Mã truy cập này đã hết hạn lúc {} (UTC): nhờ quản trị viên cấp mã mới.", at.format("%Y-%m-%d %H:%M")),
        format!("This token expired at {} UTC: ask an administrator for a new one.", at.format("%Y-%m-%d %H:%M")),
    ),
    UsernameInvalid {
        given: String,
    } => (
        format!("Tên đăng nhập {given:?} không hợp lệ: dùng 1–64 chữ thường không dấu, số và '-', ví dụ \"lan-haichau\"."),
        format!("The user name {given:?} is not valid: use 1 to 64 lowercase letters without marks, digits and '-', e.g. \"lan-haichau\"."),
    ),
    DisplayNameInvalid => (
        "Hãy nhập họ tên (1–100 ký tự), ví dụ \"Nguyễn Thị Lan\".".into(),
        "Give the person's name (1 to 100 characters), e.g. \"Nguyễn Thị Lan\".".into(),
    ),
    ScopeEmpty => (
        "Phạm vi rỗng: bỏ trường scope để cấp toàn tỉnh, hoặc liệt kê ít nhất một nhóm.".into(),
        "The scope is empty: leave scope out for the whole province, or list at least one group.".into(),
    ),
    ExpiryPast => (
        "Thời hạn đã qua: chọn một thời điểm trong tương lai.".into(),
        "The expiry is in the past: choose a time in the future.".into(),
    ),
    OutsideScope {
        target: String,
        scope: String,
    } => (
        format!("Đích {target:?} nằm ngoài phạm vi của bạn ({scope}): chỉ chọn nhóm và bảng trong phạm vi đó."),
        format!("The target {target:?} is outside your scope ({scope}): choose only groups and panels inside it."),
    ),
    ApprovalOutsideScope {
        scope: String,
    } => (
        format!("Tin này sẽ chạy ngoài phạm vi của bạn ({scope}), hoặc chưa có chiến dịch nào đặt nó vào phạm vi đó: người duyệt cấp tỉnh mới duyệt được."),
        format!("This message runs outside your scope ({scope}), or no campaign places it there yet: a province-wide approver must approve it."),
    ),
    /// A warning reaches `panel` outside the operator's scope (`None`:
    /// no panel inside it).
    WarningOutsideScope {
        panel: Option<String>,
        scope: String,
    } => match (panel, scope) {
        (Some(panel), scope) => (
            format!("Cảnh báo này đến cả bảng {panel:?}, nằm ngoài phạm vi của bạn ({scope}): chỉ người trực cấp tỉnh mới triển khai hoặc bỏ qua được."),
            format!("This warning reaches the panel {panel:?}, outside your scope ({scope}): only a province-wide operator can deploy or dismiss it."),
        ),
        (None, scope) => (
            format!("Cảnh báo này không đến bảng nào trong phạm vi của bạn ({scope}): chỉ người trực cấp tỉnh mới triển khai hoặc bỏ qua được."),
            format!("This warning reaches no panel inside your scope ({scope}): only a province-wide operator can deploy or dismiss it."),
        ),
    },
    /// An account or token given the admin role with a scope: admins are
    /// province-wide.
    AdminScoped => (
        "Vai trò admin luôn có hiệu lực trên toàn tỉnh: bỏ phạm vi (scope), hoặc bỏ vai trò admin và giữ phạm vi.".into(),
        "The admin role always holds for the whole province: leave out the scope, or leave out the admin role and keep the scope.".into(),
    ),
    /// A stored admin with a scope (made before scopes were refused on
    /// admins): its admin role is not honoured.
    AdminScopeIgnored {
        who: String,
    } => (
        format!("Vai trò admin của {who:?} không có hiệu lực vì nó bị giới hạn trong một phạm vi: một quản trị viên cấp tỉnh cần bỏ phạm vi hoặc bỏ vai trò admin."),
        format!("The admin role of {who:?} does not hold because it is limited to a scope: a province-wide administrator must remove the scope or the admin role."),
    ),
    /// A message whose author is outside the caller's scope (or
    /// province-wide): read-only to district staff.
    MessageOutsideScope {
        author: String,
        scope: String,
    } => (
        format!("Tin này do {author:?} soạn, thuộc phạm vi khác hoặc toàn tỉnh: cán bộ của phạm vi {scope} chỉ xem được, không sửa, xoá, duyệt hay từ chối."),
        format!("This message was written by {author:?}, for another area or the whole province: staff of {scope} may read it but not change, delete, approve or reject it."),
    ),
    /// A campaign that would run `message`, approved by a district's
    /// `approver`, at `target` outside that district.
    ApprovalCoversLess {
        message: String,
        approver: String,
        scope: String,
        target: String,
    } => (
        format!("Tin {message:?} được {approver:?} duyệt cho phạm vi {scope}; đích {target:?} nằm ngoài phạm vi đó: cần người duyệt cấp tỉnh (hoặc của nơi đó) duyệt tin trước khi chạy ở đây."),
        format!("The message {message:?} was approved by {approver:?} for {scope} only; the target {target:?} is outside it: a province-wide approver (or one of that area) must approve the message before it runs there."),
    ),
    /// A report without its period.
    ReportNeedPeriod => (
        "Hãy cho khoảng thời gian bằng from= và to=: ngày (2026-11-27) hoặc thời điểm RFC 3339 (2026-11-27T07:00:00+07:00, dấu + viết là %2B).".into(),
        "give the period as from= and to=: RFC 3339 instants (2026-11-27T07:00:00+07:00, the + URL-encoded as %2B) or dates (2026-11-27)".into(),
    ),
    ReportToBeforeFrom => (
        "Ngày kết thúc (to) trước ngày bắt đầu (from): hãy cho thời điểm sớm hơn vào from.".into(),
        "to is before from: give the earlier instant as from".into(),
    ),
    ReportBadBound {
        key: String,
        value: String,
    } => (
        format!("{key}=\u{201c}{value}\u{201d} không phải ngày hay thời điểm RFC 3339: viết ví dụ 2026-11-27 hoặc 2026-11-27T07:00:00+07:00 (dấu + viết là %2B)."),
        format!("{key}={value:?} is neither an RFC 3339 instant nor a date: write e.g. 2026-11-27T07:00:00+07:00 (URL-encode the + as %2B) or 2026-11-27"),
    ),
    ReportBadBy {
        value: String,
    } => (
        format!("by=\u{201c}{value}\u{201d} không dùng được: dùng group (theo khu vực) hoặc campaign (theo lịch phát)."),
        format!("by={value:?} is not known: use group or campaign"),
    ),
    ReportBadPoints => (
        "points phải là số nguyên từ 2 đến 2000.".into(),
        "points must be a whole number from 2 to 2000".into(),
    ),
    /// Why the rules decided what they did about a CAP document.
    CapNote(n: CapNote) => n.render_both(),
    /// Only a held warning can be deployed or dismissed (`state`: its
    /// state's name, `held`, `deployed`, …).
    CapNotHeld {
        state: String,
    } => (
        format!("Cảnh báo này {}, không còn chờ: chỉ cảnh báo đang chờ mới triển khai hoặc bỏ qua được.", cap_state_vi(state)),
        format!("this warning is {state}, not held: only a held warning can be deployed or dismissed"),
    ),
    CapLapsed => (
        "Cảnh báo này đã hết hạn: không triển khai được nữa.".into(),
        "this warning has expired: it can no longer be deployed".into(),
    ),
    CapNoText => (
        "Cảnh báo này chưa có nội dung tiếng Việt: hãy viết nội dung hiển thị (\"text\") hoặc thêm mẫu câu cho loại sự kiện này trong cap.json.".into(),
        "this warning has no Vietnamese text: write the text to show (\"text\") or add a template for its event in cap.json".into(),
    ),
    CapNothingToDeploy => (
        "Không có bảng nào trong vùng của cảnh báo này nên không có gì để triển khai.".into(),
        "no panel stands in this warning's area, so there is nothing to deploy".into(),
    ),
    /// A CAP document over the size limit.
    CapTooLarge {
        kib: usize,
    } => (
        format!("Bản tin lớn hơn {kib} KiB: một cảnh báo CAP chỉ vài KiB."),
        format!("the document is larger than {kib} KiB: a CAP warning is a few KiB"),
    ),
    /// Not well-formed XML (`detail`: the parser's words).
    CapNotXml {
        detail: String,
    } => (
        format!("Bản tin không phải XML hợp lệ ({detail})."),
        format!("the document is not well-formed XML: {detail}"),
    ),
    CapDtd => (
        "Bản tin khai báo DTD (<!DOCTYPE>): bản tin CAP không có DTD, và DTD có thể mang thực thể nguy hiểm nên bị từ chối.".into(),
        "the document declares a DTD (<!DOCTYPE>): CAP documents have none, and DTDs carry entity expansion and external entities, so it is refused".into(),
    ),
    CapEntity {
        name: String,
    } => (
        format!("Bản tin dùng thực thể &{name}; mà CAP không định nghĩa: chỉ nhận &amp; &lt; &gt; &apos; &quot; và mã ký tự."),
        format!("the document uses the entity &{name}; which CAP does not define: only &amp; &lt; &gt; &apos; &quot; and character references are accepted"),
    ),
    /// Not a CAP document (`detail`: what it is instead).
    CapNotCap {
        detail: String,
    } => (
        format!("{detail}: hãy gửi bản tin CAP 1.2 (<alert xmlns=\"urn:oasis:names:tc:emergency:cap:1.2\">)."),
        format!("{detail}: send a CAP 1.2 document (<alert xmlns=\"urn:oasis:names:tc:emergency:cap:1.2\">)"),
    ),
    CapNamespace {
        ns: String,
    } => (
        format!("Không gian tên \u{201c}{ns}\u{201d} của phần tử gốc không phải CAP: dùng urn:oasis:names:tc:emergency:cap:1.2 (cũng đọc được 1.1 và 1.0)."),
        format!("the root element's namespace {ns:?} is not CAP: use urn:oasis:names:tc:emergency:cap:1.2 (1.1 and 1.0 are also read)"),
    ),
    /// Not valid CAP (`detail`: the reader's words).
    CapInvalid {
        detail: String,
    } => (
        format!("Bản tin không đúng chuẩn CAP ({detail})."),
        format!("the document is not valid CAP: {detail}"),
    ),
    CapDate {
        field: String,
        value: String,
    } => (
        format!("Ngày {field} {value} nằm ngoài khoảng cho phép: ngày phải trong các năm 2000–2100."),
        format!("the {field} date {value} is out of range: dates must fall in 2000–2100"),
    ),
    CapSenderRefused {
        sender: String,
    } => (
        format!("Nơi gửi \u{201c}{sender}\u{201d} không có trong danh sách được phép của nguồn này: thêm vào \"senders\" trong cap.json nếu cần nhận."),
        format!("sender {sender:?} is not on this source's allowlist: add it to \"senders\" in cap.json if it should be accepted"),
    ),
    /// A CAP feed's URL does not parse.
    FeedBadUrl {
        detail: String,
    } => (
        format!("Địa chỉ nguồn cảnh báo không hợp lệ ({detail}): sửa url trong cap.json."),
        format!("the url is not valid: {detail}"),
    ),
    /// A CAP feed (or one of its entries, `url`) did not answer.
    FeedNoAnswer {
        url: Option<String>,
        detail: String,
    } => match (url, detail) {
        (None, detail) => (
            format!("Nguồn cảnh báo không trả lời ({detail}); máy chủ sẽ thử lại."),
            format!("the source did not answer: {detail}"),
        ),
        (Some(url), detail) => (
            format!("{url}: không trả lời ({detail}); máy chủ sẽ thử lại."),
            format!("{url}: {detail}"),
        ),
    },
    /// A CAP feed (or one of its entries, `url`) answered an HTTP error.
    FeedStatus {
        url: Option<String>,
        status: String,
    } => match (url, status) {
        (None, status) => (
            format!("Nguồn cảnh báo trả lời {status}; máy chủ sẽ thử lại."),
            format!("the source answered {status}"),
        ),
        (Some(url), status) => (
            format!("{url}: nguồn cảnh báo trả lời {status}; máy chủ sẽ thử lại."),
            format!("{url}: the source answered {status}"),
        ),
    },
    FeedEntryLink {
        link: String,
        detail: String,
    } => (
        format!("Liên kết \u{201c}{link}\u{201d} trong danh mục không hợp lệ ({detail})."),
        format!("the entry link {link:?} is not valid: {detail}"),
    ),
    FeedTooBig {
        kib: usize,
    } => (
        format!("Nguồn cảnh báo gửi quá {kib} KiB nên không được đọc."),
        format!("the source sent more than {kib} KiB"),
    ),
    FeedReadFailed {
        detail: String,
    } => (
        format!("Đọc câu trả lời của nguồn cảnh báo không thành ({detail})."),
        format!("reading the answer failed: {detail}"),
    ),
    FeedNotStored {
        detail: String,
    } => (
        format!("Không lưu được bản tin cảnh báo ({detail}): báo cho quản trị viên."),
        format!("the document could not be stored: {detail}"),
    ),
    ImportNotJsonArray {
        line: usize,
        column: usize,
        detail: String,
    } => (
        format!("Nội dung không phải một mảng JSON các bảng (dòng {line}, cột {column}: {detail})."),
        format!("the body is not a JSON array of panels (line {line}, column {column}: {detail})"),
    ),
    CsvHeaderUnreadable {
        detail: String,
    } => (
        format!("Không đọc được dòng tiêu đề của tệp CSV ({detail})."),
        format!("the CSV header cannot be read: {detail}"),
    ),
    CsvUnknownColumn {
        shown: String,
        columns: String,
    } => (
        format!("Tệp CSV có cột \u{201c}{shown}\u{201d} không dùng được: các cột là {columns}."),
        format!("the CSV column {shown:?} is not known: the columns are {columns}"),
    ),
    CsvMissingColumn {
        missing: String,
        required: String,
    } => (
        format!("Dòng tiêu đề CSV thiếu cột \u{201c}{missing}\u{201d}: bắt buộc phải có {required}."),
        format!("the CSV header lacks the column {missing:?}: {required} are required"),
    ),
    CsvLineUnreadable {
        detail: String,
    } => (
        format!("Không đọc được dòng CSV này ({detail})."),
        format!("this CSV line cannot be read: {detail}"),
    ),
    CsvNotANumber {
        column: String,
        max: u64,
        cell: String,
    } => (
        format!("Cột {column} phải là số nguyên từ 0 đến {max}, không phải \u{201c}{cell}\u{201d}."),
        format!("{column} must be a whole number from 0 to {max}, not {cell:?}"),
    ),
    /// A row that does not read as a panel (`detail`: the JSON reader's words).
    RowNotAPanel {
        detail: String,
    } => (
        format!("Dòng này không đọc được thành một bảng ({detail})."),
        format!("this row is not a panel: {detail}"),
    ),
    RowIdTwice {
        id: String,
        earlier: usize,
    } => (
        format!("Mã {id} đã có ở dòng {earlier}: mỗi bảng chỉ ghi một lần."),
        format!("the id {id} is also on row {earlier}: give each panel once"),
    ),
    /// Some rows of an import are wrong, so nothing was imported.
    ImportRows {
        n: usize,
    } => (
        format!("{n} dòng không nhập được nên chưa nhập bảng nào: hãy sửa các dòng đó (xem rows) rồi gửi lại tệp."),
        format!("{n} row(s) cannot be imported, so nothing was imported: fix them (see rows) and send the file again"),
    ),
    /// One row of an import and what is wrong with it (the command line's line).
    ImportRow {
        row: usize,
        id: Option<String>,
        why: Box<Text>,
    } => {
        let at = |word: &str| match id {
            Some(id) => format!("{word} {row} ({id})"),
            None => format!("{word} {row}"),
        };
        (
            format!("{}: {}", at("Dòng"), why.render(Lang::Vi)),
            format!("{}: {}", at("row"), why.render(Lang::En)),
        )
    },
    /// A data file that cannot be read (`detail`: the system's words).
    FileUnreadable {
        detail: String,
    } => (
        format!("Không đọc được tệp ({detail})."),
        format!("cannot read: {detail}"),
    ),
    /// A data file whose JSON does not parse, and where.
    FileJson {
        line: usize,
        column: usize,
        detail: String,
    } => (
        format!("Dòng {line}, cột {column}: tệp JSON có lỗi ({detail})."),
        format!("line {line}, column {column}: {detail}"),
    ),
    FileNameNotId {
        name: String,
    } => (
        format!("Tên tệp \u{201c}{name}\u{201d} không phải mã hợp lệ: dùng chữ thường không dấu, chữ số và dấu '-'."),
        format!("the file name {name:?} is not a valid id: use lowercase letters, digits and '-'"),
    ),
    ImageFileMissing {
        file: String,
    } => (
        format!("Thiếu tệp hình ảnh {file}."),
        format!("the image file {file} is missing"),
    ),
    AssetIdMismatch => (
        "Tên tệp không khớp với mã hình ảnh ghi bên trong.".into(),
        "the file name does not match the asset id inside".into(),
    ),
    NotASigningKey {
        detail: String,
    } => (
        format!("Đây không phải khoá riêng Ed25519 dạng PKCS#8 PEM ({detail})."),
        format!("not an Ed25519 private key in PKCS#8 PEM: {detail}"),
    ),
    /// A vendor card's address that does not read (`why`: the check's reason).
    LinkAddress {
        why: Box<Text>,
    } => (
        format!("Địa chỉ của thẻ điều khiển không dùng được: {}", why.render(Lang::Vi)),
        format!("the card's address is not usable: {}", why.render(Lang::En)),
    ),
    LinkCannotConnect {
        addr: String,
        detail: String,
    } => (
        format!("Không kết nối được tới {addr} ({detail}): kiểm tra thẻ đã bật, địa chỉ và cổng đúng."),
        format!("cannot connect to {addr}: {detail}"),
    ),
    LinkNoAnswer {
        addr: String,
        within: String,
    } => (
        format!("{addr} không trả lời trong {within}: thẻ có bật không, cổng của nó có thông tới máy chủ không?"),
        format!("no answer from {addr} within {within} (is the card on, and is its port reachable?)"),
    ),
    LinkWriteFailed {
        detail: String,
    } => (
        format!("Gửi dữ liệu tới thẻ không thành ({detail})."),
        format!("writing to the card failed: {detail}"),
    ),
    /// The card stopped taking data (`bytes` not written, when known).
    LinkStalledWrite {
        bytes: Option<usize>,
        within: String,
    } => match (bytes, within) {
        (Some(b), within) => (
            format!("Thẻ ngừng nhận dữ liệu: {b} byte chưa gửi được trong {within}."),
            format!("the card stopped taking data: {b} bytes not written within {within}"),
        ),
        (None, within) => (
            format!("Thẻ không nhận dữ liệu trong {within}."),
            format!("the card took no data for {within}"),
        ),
    },
    /// The card closed the connection (`left`: bytes of an unfinished packet).
    LinkClosedByCard {
        left: usize,
    } => match left {
        0 => (
            "Thẻ đã đóng kết nối.".into(),
            "the card closed the connection".into(),
        ),
        left => (
            format!("Thẻ đã đóng kết nối (còn {left} byte của một gói chưa nhận xong)."),
            format!("the card closed the connection ({left} bytes of an unfinished packet were left)"),
        ),
    },
    LinkReadFailed {
        detail: String,
    } => (
        format!("Đọc dữ liệu từ thẻ không thành ({detail})."),
        format!("reading from the card failed: {detail}"),
    ),
    /// The card said nothing for `within` while bangtin waited (`left`:
    /// bytes of an unfinished packet; `waiting`: what for, when known).
    LinkSilent {
        within: String,
        waiting: Option<String>,
        left: usize,
    } => {
        let rest_vi = if *left > 0 { format!(" (còn {left} byte của một gói chưa nhận xong)") } else { String::new() };
        let rest_en = if *left > 0 { format!(" ({left} bytes of an unfinished packet were left)") } else { String::new() };
        (
            format!("Thẻ im lặng {within} trong khi máy chủ chờ trả lời{}{rest_vi}.", waiting.as_ref().map(|w| format!(" ({w})")).unwrap_or_default()),
            format!("the card went silent for {within} while bangtin waited for {}{rest_en}", waiting.as_deref().unwrap_or("its answer")),
        )
    },
    LinkHandshake {
        why: Box<Text>,
    } => (
        format!("Bắt tay với thẻ không thành: {}", why.render(Lang::Vi)),
        format!("handshake failed: {}", why.render(Lang::En)),
    ),
    /// The frame cannot be made into what the card takes.
    FrameNotForCard {
        detail: String,
    } => (
        format!("Không chuyển được khung hình sang dạng thẻ này nhận ({detail})."),
        format!("the frame cannot be sent to this card: {detail}"),
    ),
    /// A card's status code (`name`: the vendor's name for it).
    CardStatus {
        code: u16,
        name: String,
    } => (
        format!("Thẻ báo lỗi {code} ({name})."),
        format!("the card answered with error {code} ({name})"),
    ),
    CardRefused {
        method: String,
        result: String,
    } => (
        format!("Thẻ từ chối lệnh {method}: {result}."),
        format!("the card refused {method}: {result}"),
    ),
    CardFileRefused {
        file: String,
        status: u16,
        name: String,
    } => (
        format!("Thẻ từ chối tệp {file}: mã {status} ({name})."),
        format!("the card refused the file {file}: status {status} ({name})"),
    ),
    CardSize {
        width: u32,
        height: u32,
        card_width: u32,
        card_height: u32,
    } => (
        format!("Thẻ báo màn hình {card_width}×{card_height} nhưng khung hình là {width}×{height}: hãy đặt kích thước bảng bằng kích thước màn hình của thẻ trong HDPlayer."),
        format!("the card reports {card_width}x{card_height} but the frame is {width}x{height}; set the panel's size to the card's screen size in HDPlayer"),
    ),
    CardTimeout {
        waiting: String,
        secs: u64,
    } => (
        format!("Thẻ không trả lời trong {secs} giây (đang chờ: {waiting})."),
        format!("the card did not answer {waiting} within {secs} s"),
    ),
    CardClosed => (
        "Kết nối tới thẻ đã đóng.".into(),
        "the connection to the card is closed".into(),
    ),
    /// The card broke the protocol (`detail`: the decoder's words).
    CardProtocol {
        detail: String,
    } => (
        format!("Thẻ trả lời sai giao thức ({detail}); kết nối được mở lại."),
        format!("the card broke the protocol: {detail}"),
    ),
}

/// Why the CAP rules decided what they did about a document, kept with
/// the warning (typed, so that the inbox reads it in its own language).
#[derive(
    Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(tag = "note", rename_all = "snake_case")]
pub enum CapNote {
    /// A reference to another sender's warning, ignored.
    ForeignReference { identifier: String, sender: String },
    /// A reference to a warning never received.
    UnknownReference { identifier: String },
    /// A status other than `Actual`: kept for the record only.
    NotActual { status: String },
    /// A scope other than `Public`: not for the signs.
    NotPublic { scope: String },
    /// It had expired when it arrived.
    Expired,
    /// No panel stands in its area.
    NoPanel,
    /// No Vietnamese text could be made: held for an operator.
    NoText,
    /// A note recorded as a sentence, before notes were typed.
    Recorded { text: String },
}

impl CapNote {
    /// The note in `lang`.
    pub(crate) fn render(&self, lang: Lang) -> String {
        let (vi, en) = self.render_both();
        pick(lang, vi, en)
    }

    /// Notes stored as sentences (older warning files) read as `Recorded`.
    pub(crate) fn read_list<'de, D: serde::Deserializer<'de>>(
        d: D,
    ) -> Result<Vec<CapNote>, D::Error> {
        #[derive(serde::Deserialize)]
        #[serde(untagged)]
        enum Wire {
            Typed(CapNote),
            Sentence(String),
        }
        let list: Vec<Wire> = serde::Deserialize::deserialize(d)?;
        Ok(list
            .into_iter()
            .map(|w| match w {
                Wire::Typed(n) => n,
                Wire::Sentence(text) => CapNote::Recorded { text },
            })
            .collect())
    }

    fn render_both(&self) -> (String, String) {
        match self {
            CapNote::ForeignReference { identifier, sender } => (
                format!("Đã bỏ qua tham chiếu tới {identifier} của {sender}: mỗi nơi gửi chỉ được thay đổi cảnh báo của chính mình."),
                format!("the reference to {identifier} from {sender} was ignored: a sender may only change its own warnings"),
            ),
            CapNote::UnknownReference { identifier } => (
                format!("Chưa từng nhận cảnh báo được tham chiếu {identifier}."),
                format!("the referenced warning {identifier} was never received"),
            ),
            CapNote::NotActual { status } => (
                format!("Trạng thái {status}: chỉ lưu để đối chiếu, không đưa lên bảng."),
                format!("status {status}: kept for the record only"),
            ),
            CapNote::NotPublic { scope } => (
                format!("Phạm vi {scope}: không dành cho công chúng nên không đưa lên bảng."),
                format!("scope {scope}: not meant for the public, so not for the signs"),
            ),
            CapNote::Expired => (
                "Cảnh báo đã hết hạn khi đến nơi.".into(),
                "it had expired when it arrived".into(),
            ),
            CapNote::NoPanel => (
                "Không có bảng nào trong vùng cảnh báo.".into(),
                "no panel stands in its area".into(),
            ),
            CapNote::NoText => (
                "Chưa có nội dung tiếng Việt (không có <info> tiếng Việt, không có mẫu câu cho loại sự kiện): chờ người trực viết nội dung.".into(),
                "no Vietnamese text (no Vietnamese <info>, no template for the event): held for an operator to write it".into(),
            ),
            CapNote::Recorded { text } => (format!("Ghi chú: {text}"), text.clone()),
        }
    }
}

/// A CAP warning's state (`held`, `deployed`, …) in Vietnamese.
fn cap_state_vi(state: &str) -> &str {
    match state {
        "held" => "đang chờ duyệt",
        "deployed" => "đã triển khai",
        "dismissed" => "đã bỏ qua",
        "logged" => "chỉ được ghi lại",
        "cancelled" => "đã bị huỷ",
        "replaced" => "đã được thay thế",
        "expired" => "đã hết hạn",
        other => other,
    }
}

/// What is wrong with an address or a broker URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressWhy {
    NoScheme,
    NotMqttScheme,
    PathNotAllowed,
    BadUserEscape,
    EmptyUser,
    BadPasswordEscape,
    Ipv6Unclosed,
    AfterIpv6,
    NotIpv6,
    HostMissing,
    HostBadChars,
    NotAHost,
    BadPort,
    PortMissing,
}

impl AddressWhy {
    fn render(self, l: Lang) -> &'static str {
        let (vi, en) = match self {
            AddressWhy::NoScheme => ("thiếu phần mqtt:// ở đầu", "it has no scheme"),
            AddressWhy::NotMqttScheme => (
                "phải bắt đầu bằng mqtt:// hoặc mqtts://",
                "the scheme must be mqtt or mqtts",
            ),
            AddressWhy::PathNotAllowed => (
                "không được có đường dẫn, ? hay #",
                "a path, query or fragment is not allowed",
            ),
            AddressWhy::BadUserEscape => (
                "tên người dùng có mã %-escape sai",
                "the user name has a bad %-escape",
            ),
            AddressWhy::EmptyUser => ("tên người dùng để trống", "the user name is empty"),
            AddressWhy::BadPasswordEscape => (
                "mật khẩu có mã %-escape sai",
                "the password has a bad %-escape",
            ),
            AddressWhy::Ipv6Unclosed => (
                "địa chỉ IPv6 thiếu dấu ] đóng",
                "the IPv6 address has no closing ]",
            ),
            AddressWhy::AfterIpv6 => ("sau dấu ] chỉ được có :cổng", "only :port may follow the ]"),
            AddressWhy::NotIpv6 => (
                "phần trong [ ] không phải địa chỉ IPv6",
                "the part in [ ] is not an IPv6 address",
            ),
            AddressWhy::HostMissing => ("thiếu tên máy", "the host is missing"),
            AddressWhy::HostBadChars => (
                "tên máy có dấu cách hoặc %",
                "the host contains spaces or '%'",
            ),
            AddressWhy::NotAHost => (
                "tên máy không phải địa chỉ IP cũng không phải tên miền",
                "the host is neither an IP address nor a DNS name",
            ),
            AddressWhy::BadPort => (
                "cổng phải là số từ 1 đến 65535",
                "the port must be a number from 1 to 65535",
            ),
            AddressWhy::PortMissing => ("thiếu số cổng", "the port is missing"),
        };
        pick(l, vi, en)
    }
}

fn quoted(list: &[String]) -> String {
    list.iter()
        .map(|s| format!("\u{201c}{s}\u{201d}"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Reason {
    /// The sentence in `lang`.
    pub fn render(&self, lang: Lang) -> String {
        let (vi, en) = self.sentences(lang);
        pick(lang, vi, en)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One value of every reason, from the lists below. A variant of the
    /// table left out of them fails here, by name ([`Reason::VARIANTS`]),
    /// and once listed the tests check its two sentences.
    fn every_reason() -> Vec<Reason> {
        let all = [
            reasons_1(),
            reasons_2(),
            reasons_3(),
            reasons_4(),
            reasons_5(),
            reasons_6(),
        ]
        .concat();
        let tried: std::collections::HashSet<&str> = all.iter().map(Reason::variant_name).collect();
        let untried: Vec<&str> = Reason::VARIANTS
            .iter()
            .copied()
            .filter(|v| !tried.contains(v))
            .collect();
        assert!(
            untried.is_empty(),
            "add these reasons to a list below: {untried:?}"
        );
        all
    }

    /// Reasons to try, part 1 of [`every_reason`].
    fn reasons_1() -> Vec<Reason> {
        let s = || "x".to_string();
        vec![
            Reason::NoRoute,
            Reason::MethodNotAllowed,
            Reason::Unhandled(s()),
            Reason::TooManyFailures,
            Reason::NoToken,
            Reason::UnknownToken,
            Reason::NotFound {
                kind: Kind::Panel,
                id: s(),
            },
            Reason::Internal,
            Reason::DiskFull,
            Reason::ReadOnly,
            Reason::FourEyes { by: s() },
            Reason::StaleVersion {
                read: 1,
                current: 2,
            },
            Reason::MessageInUse {
                id: s(),
                campaigns: vec![s()],
            },
            Reason::ImageInUse {
                messages: vec![s()],
            },
            Reason::InvalidId { shown: s() },
            Reason::InvalidGroup { shown: s() },
            Reason::InvalidTokenName { shown: s() },
            Reason::NoRoles,
            Reason::UnknownRole { shown: s() },
            Reason::UnknownPixelFormat { shown: s() },
            Reason::NotAColour { shown: s() },
            Reason::PanelSide {
                side: "width",
                value: 1,
                lo: 8,
                hi: 1024,
            },
            Reason::NotATime {
                which: "day_starts".into(),
                shown: s(),
            },
            Reason::NotOnEarth {
                lat: "99".into(),
                lon: "0".into(),
            },
            Reason::InvalidUnit { shown: s() },
            Reason::PanelName,
            Reason::SameBrightnessTimes { at: s() },
            Reason::TooManyUnits,
            Reason::MessageTitle,
            Reason::MessageEmpty,
            Reason::MessageTooLong { max: 4000 },
            Reason::ValidityWindow,
            Reason::RejectComment { max: 1000 },
            Reason::NotWaitingForApproval { id: s() },
            Reason::InvalidAssetId { shown: s() },
            Reason::ImageName { max: 200 },
            Reason::ImageNameControl,
            Reason::InvalidTarget { shown: s() },
            Reason::NoTargets,
            Reason::TooManyTargets { n: 2, max: 1 },
            Reason::TargetTwice { target: s() },
            Reason::UnknownTarget { target: s() },
            Reason::UnknownImage { id: s() },
            Reason::UnknownCampaignMessage { id: s() },
            Reason::AlertText { max: 500 },
            Reason::AlertDuration { max: 1 },
            Reason::InvalidCron {
                shown: s(),
                why: CronWhy::Empty,
            },
            Reason::UnknownTimeZone { shown: s() },
            Reason::CronNeverFires {
                shown: s(),
                first: 2000,
                last: 2100,
            },
            Reason::TooLongToPreview,
            Reason::BadDwell,
        ]
    }

    /// Reasons to try, part 2 of [`every_reason`].
    fn reasons_2() -> Vec<Reason> {
        let s = || "x".to_string();
        vec![
            Reason::ReadingTooFast {
                page: 1,
                words: 9,
                need: 4,
                dwell: 2,
            },
            Reason::NoApiRoute { path: s() },
            Reason::MethodNotAccepted { method: s() },
            Reason::NeedsRole {
                role: "admin",
                who: s(),
                held: s(),
            },
            Reason::BodyTooLarge { kib: 1 },
            Reason::BodyTooSlow {
                after_s: 1,
                kib_per_s: 1,
            },
            Reason::BodyUnreadable { detail: s() },
            Reason::NotJson { got: s() },
            Reason::BadJson {
                syntax: true,
                detail: s(),
            },
            Reason::CampaignName,
            Reason::PlaylistLength { max: 1, n: 2 },
            Reason::DwellRange {
                dwell: 0,
                message: s(),
                max: 1,
            },
            Reason::DateRange {
                end: true,
                date: s(),
                first: 2000,
                last: 2100,
            },
            Reason::StartAfterEnd {
                start: s(),
                end: s(),
            },
            Reason::DurationRange {
                duration: 0,
                max: 1,
            },
            Reason::CronNeedsDuration,
            Reason::DurationNeedsCron,
            Reason::UnknownStatusFilter { shown: s() },
            Reason::BadIfMatch { shown: s() },
            Reason::TwoVersions { header: 1, body: 2 },
            Reason::PreviewTarget,
            Reason::WholePixels { what: s() },
            Reason::BadPage,
            Reason::NoSuchPage { page: 2, pages: 1 },
            Reason::PreviewTooBig {
                mib: 1,
                pages: 1,
                width: 1,
                height: 1,
                room: 1,
            },
            Reason::ImageTooBig { mib: 1, room: 1 },
            Reason::IdMismatch {
                body: s(),
                path: s(),
            },
            Reason::NotJsonOrCsv { got: s() },
            Reason::NotATimestamp {
                key: s(),
                shown: s(),
            },
            Reason::BadSpan,
            Reason::CalendarSpan { max_days: 62 },
            Reason::CalendarTooMany { max: 2000 },
            Reason::UnknownGrouping { shown: s() },
            Reason::NoFrameYet { panel: s() },
            Reason::BadClosedCount,
            Reason::BadAlarmId,
            Reason::SnapshotNotMqtt,
            Reason::NoSnapshotYet,
        ]
    }

    /// Reasons to try, part 3 of [`every_reason`].
    fn reasons_3() -> Vec<Reason> {
        let s = || "x".to_string();
        vec![
            Reason::AccountNameIsAToken { name: s() },
            Reason::AccountExists { name: s() },
            Reason::NotAnImageType { got: s() },
            Reason::NotAnImageFile,
            Reason::ImageFormatRefused { format: s() },
            Reason::ImageTooManyPixels { max: 1 },
            Reason::ImageFeature { detail: s() },
            Reason::ImageDamaged { detail: s() },
            Reason::ImageEmpty,
            Reason::ImagePaletteTorn,
            Reason::BadLimit,
            Reason::NotCap { got: s() },
            Reason::Busy,
            Reason::IdTaken {
                kind: Kind::Message,
                id: s(),
            },
            Reason::BrokenFile {
                file: s(),
                problem: Reason::AssetIdMismatch.into(),
            },
            Reason::NoFreeId,
            Reason::ChangedElsewhere,
            Reason::BadStoreUrl,
            Reason::StoreNotEmpty,
            Reason::ExportNotEmpty { dir: s() },
            Reason::NoFreeAlertId,
            Reason::FileIdMismatch {
                file: s(),
                inner: s(),
            },
            Reason::TokenNameTaken { name: s() },
            Reason::AdminNameReserved,
            Reason::NotSigning,
            Reason::NoBrokerCredentials,
            Reason::Hd2020Width { width: 1 },
            Reason::Hd2020Mono { format: "rgb888" },
            Reason::BadDeviceId { shown: s(), max: 1 },
            Reason::CampaignNoTargets,
            Reason::GroupName { max: 100 },
            Reason::GroupExists { id: s() },
            Reason::NotAnAddress {
                flag: s(),
                shown: s(),
            },
            Reason::BadTopicRoot { shown: s() },
            Reason::BadMqttUrl {
                shown: s(),
                why: AddressWhy::NoScheme,
            },
            Reason::BadHostPort {
                shown: s(),
                why: AddressWhy::BadPort,
                default_port: Some(5200),
            },
            Reason::AdminTokenShort { env: s() },
            Reason::MemoryBudget {
                shown: s(),
                min_mib: 64,
            },
            Reason::MaxConnections,
            Reason::HeaderTimeout,
            Reason::ServerUserPanel { user: s() },
            Reason::UnknownOutput { shown: s() },
            Reason::CapFeedTwice { name: s() },
            Reason::CapFeedUrl {
                feed: s(),
                url: s(),
            },
            Reason::CapFeedInterval { feed: s(), min: 1 },
            Reason::UnknownRuleSet {
                name: s(),
                feed: Some(s()),
            },
            Reason::CapTemplateNoEvents { n: 1 },
            Reason::CapTemplateUnclosed { n: 1, event: s() },
        ]
    }

    /// Reasons to try, part 4 of [`every_reason`].
    fn reasons_4() -> Vec<Reason> {
        let s = || "x".to_string();
        vec![
            Reason::CapTemplatePlaceholder {
                n: 1,
                event: s(),
                name: s(),
                known: s(),
            },
            Reason::CapTemplateAfter {
                n: 1,
                event: s(),
                max: 1,
            },
            Reason::CapRiskLevel {
                severity: s(),
                level: 6,
            },
            Reason::CapDefaultDuration { max: 1 },
            Reason::CapSender,
            Reason::CapMapTiles,
            Reason::KeyExists { path: s() },
            Reason::AlarmSeconds {
                field: s(),
                max: 1,
                value: 0,
            },
            Reason::AlarmWebhookUrl { shown: s() },
            Reason::AlarmEmailHost,
            Reason::AlarmEmailTo,
            Reason::NotAnEmail { shown: s() },
            Reason::LocalTime {
                field: s(),
                shown: s(),
            },
            Reason::BrokerConfigValue {
                field: s(),
                shown: s(),
            },
            Reason::DistrictTwice { group: s() },
            Reason::BrokerServers { given: 0 },
            Reason::ReservedUserPanel { user: s() },
            Reason::PanelInTwoDistricts {
                panel: s(),
                first: s(),
                second: s(),
            },
            Reason::PasswordShort { min: 10 },
            Reason::PasswordLong { max: 10 },
            Reason::PasswordIsUsername,
            Reason::WrongCredentials,
            Reason::PasswordWait { seconds: 5 },
            Reason::AccountLocked { minutes: 15 },
            Reason::SessionEnded,
            Reason::SessionIdle,
            Reason::CsrfMissing,
            Reason::MustChangePassword,
            Reason::CurrentPasswordWrong,
            Reason::NotASession,
            Reason::TokenExpired {
                at: chrono::DateTime::UNIX_EPOCH,
            },
            Reason::UsernameInvalid { given: s() },
            Reason::DisplayNameInvalid,
            Reason::ScopeEmpty,
            Reason::ExpiryPast,
            Reason::OutsideScope {
                target: s(),
                scope: s(),
            },
            Reason::ApprovalOutsideScope { scope: s() },
            Reason::WarningOutsideScope {
                panel: Some(s()),
                scope: s(),
            },
            Reason::AdminScoped,
            Reason::AdminScopeIgnored { who: s() },
            Reason::MessageOutsideScope {
                author: s(),
                scope: s(),
            },
        ]
    }

    /// Reasons to try, part 5 of [`every_reason`].
    fn reasons_5() -> Vec<Reason> {
        let s = || "x".to_string();
        vec![
            Reason::ApprovalCoversLess {
                message: s(),
                approver: s(),
                scope: s(),
                target: s(),
            },
            Reason::ReportNeedPeriod,
            Reason::ReportToBeforeFrom,
            Reason::ReportBadBound {
                key: s(),
                value: s(),
            },
            Reason::ReportBadBy { value: s() },
            Reason::ReportBadPoints,
            Reason::CapNote(CapNote::ForeignReference {
                identifier: s(),
                sender: s(),
            }),
            Reason::CapNote(CapNote::UnknownReference { identifier: s() }),
            Reason::CapNote(CapNote::NotActual { status: s() }),
            Reason::CapNote(CapNote::NotPublic { scope: s() }),
            Reason::CapNote(CapNote::Expired),
            Reason::CapNote(CapNote::NoPanel),
            Reason::CapNote(CapNote::NoText),
            Reason::CapNote(CapNote::Recorded {
                text: "the old words".into(),
            }),
            Reason::CapNotHeld {
                state: "deployed".into(),
            },
            Reason::CapLapsed,
            Reason::CapNoText,
            Reason::CapNothingToDeploy,
            Reason::CapTooLarge { kib: 2048 },
            Reason::CapNotXml { detail: s() },
            Reason::CapDtd,
            Reason::CapEntity { name: s() },
            Reason::CapNotCap { detail: s() },
            Reason::CapNamespace { ns: s() },
            Reason::CapInvalid { detail: s() },
            Reason::CapDate {
                field: s(),
                value: s(),
            },
            Reason::CapSenderRefused { sender: s() },
            Reason::FeedBadUrl { detail: s() },
            Reason::FeedNoAnswer {
                url: Some(s()),
                detail: s(),
            },
            Reason::FeedStatus {
                url: None,
                status: s(),
            },
            Reason::FeedEntryLink {
                link: s(),
                detail: s(),
            },
            Reason::FeedTooBig { kib: 4 },
            Reason::FeedReadFailed { detail: s() },
            Reason::FeedNotStored { detail: s() },
            Reason::ImportNotJsonArray {
                line: 1,
                column: 2,
                detail: s(),
            },
            Reason::CsvHeaderUnreadable { detail: s() },
            Reason::CsvUnknownColumn {
                shown: s(),
                columns: s(),
            },
            Reason::CsvMissingColumn {
                missing: s(),
                required: s(),
            },
            Reason::CsvLineUnreadable { detail: s() },
        ]
    }

    /// Reasons to try, part 6 of [`every_reason`].
    fn reasons_6() -> Vec<Reason> {
        let s = || "x".to_string();
        vec![
            Reason::CsvNotANumber {
                column: s(),
                max: 255,
                cell: s(),
            },
            Reason::RowNotAPanel { detail: s() },
            Reason::RowIdTwice {
                id: s(),
                earlier: 1,
            },
            Reason::ImportRows { n: 2 },
            Reason::NulCharacter,
            Reason::SaveOutcomeUnknown,
            Reason::ImportRow {
                row: 1,
                id: Some(s()),
                why: Box::new(Reason::ScopeEmpty.into()),
            },
            Reason::FileUnreadable { detail: s() },
            Reason::FileJson {
                line: 3,
                column: 4,
                detail: s(),
            },
            Reason::FileNameNotId { name: s() },
            Reason::ImageFileMissing { file: s() },
            Reason::AssetIdMismatch,
            Reason::NotASigningKey { detail: s() },
            Reason::LinkAddress {
                why: Box::new(Reason::ScopeEmpty.into()),
            },
            Reason::LinkCannotConnect {
                addr: s(),
                detail: s(),
            },
            Reason::LinkNoAnswer {
                addr: s(),
                within: s(),
            },
            Reason::LinkWriteFailed { detail: s() },
            Reason::LinkStalledWrite {
                bytes: Some(3),
                within: s(),
            },
            Reason::LinkClosedByCard { left: 4 },
            Reason::LinkReadFailed { detail: s() },
            Reason::LinkSilent {
                within: s(),
                waiting: Some(s()),
                left: 0,
            },
            Reason::LinkHandshake {
                why: Box::new(Reason::CardClosed.into()),
            },
            Reason::FrameNotForCard { detail: s() },
            Reason::CardStatus { code: 3, name: s() },
            Reason::CardRefused {
                method: s(),
                result: s(),
            },
            Reason::CardFileRefused {
                file: s(),
                status: 3,
                name: s(),
            },
            Reason::CardSize {
                width: 1,
                height: 2,
                card_width: 3,
                card_height: 4,
            },
            Reason::CardTimeout {
                waiting: s(),
                secs: 30,
            },
            Reason::CardClosed,
            Reason::CardProtocol { detail: s() },
        ]
    }

    /// Letters only Vietnamese writes (marks and đ): a sentence with none
    /// of them was not translated.
    fn looks_vietnamese(s: &str) -> bool {
        s.chars().any(|c| {
            "ạảãàáâậầấẩẫăắằặẳẵđêềếệểễôồốộổỗơờớợởỡưừứựửữìíịỉĩòóọỏõùúụủũỳýỵỷỹèéẹẻẽ"
                .contains(c.to_lowercase().next().unwrap_or(c))
        })
    }

    #[test]
    fn every_reason_has_a_vietnamese_and_an_english_sentence() {
        let reasons = every_reason();
        let mut seen = std::collections::HashSet::new();
        for r in &reasons {
            let (vi, en) = (r.render(Lang::Vi), r.render(Lang::En));
            assert!(looks_vietnamese(&vi), "{r:?} in Vietnamese: {vi}");
            assert!(
                !looks_vietnamese(
                    &en.replace("Thành phố Vinh", "")
                        .replace("Nguyễn Thị Lan", "")
                ),
                "{r:?} in English: {en}"
            );
            assert_ne!(vi, en, "{r:?}");
            assert!(!vi.contains("dwell time") && !vi.contains("raise"), "{vi}");
            // Every note is listed under the one `CapNote` reason.
            let once = matches!(r, Reason::CapNote(_)) || seen.insert(std::mem::discriminant(r));
            assert!(once, "{r:?} listed twice");
        }
    }

    #[test]
    fn the_reading_warning_says_what_an_editor_can_do() {
        let r = Reason::ReadingTooFast {
            page: 3,
            words: 12,
            need: 6,
            dwell: 4,
        };
        for lang in [Lang::Vi, Lang::En] {
            let s = r.render(lang);
            assert!(!s.to_lowercase().contains("dwell"), "{s}");
            assert!(
                s.contains("12") && s.contains('6') && s.contains('4'),
                "{s}"
            );
        }
        assert!(r.render(Lang::Vi).contains("rút gọn"));
        assert!(r.render(Lang::En).contains("Shorten"));
    }

    #[test]
    fn every_cron_phrase_and_refusal_reads_in_both_languages() {
        use CronPart::*;
        let r = |a, b| Run::Range(a, b);
        let text = CronText {
            parts: vec![
                At(vec!["07:00".into(), "19:00".into()]),
                AtMinute(0),
                Every(1, CronUnit::Minute),
                Every(15, CronUnit::Second),
                AtUnit(CronUnit::Minute, vec![Run::One(5)]),
                EveryHours(2),
                DuringHours(vec![r(8, 17)]),
                OnDays(vec![Run::One(1), Run::One(15)]),
                OnWeekdays(vec![r(0, 4)]),
                DaysOrWeekdays(vec![Run::One(1)], vec![Run::One(0)]),
                DaysIfWeekdays(vec![Run::One(13)], vec![Run::One(4)]),
                InMonths(vec![r(6, 8)]),
                InYears(vec![Run::One(2028)]),
            ],
        };
        let vi = text.render(Lang::Vi);
        assert!(
            vi.contains("từ thứ Hai đến thứ Sáu") || vi.contains("thứ Hai đến thứ Sáu"),
            "{vi}"
        );
        assert!(vi.contains("lúc 07:00 và 19:00"), "{vi}");
        assert!(vi.contains("tháng 6 đến tháng 8"), "{vi}");
        let en = text.render(Lang::En);
        assert!(
            en.contains("Monday to Friday") && en.contains("June to August"),
            "{en}"
        );
        let field = CronField::Minute;
        for why in [
            CronWhy::Reboot,
            CronWhy::UnknownShorthand("x".into()),
            CronWhy::Empty,
            CronWhy::FieldCount(3),
            CronWhy::OutOfRange {
                field,
                text: "x".into(),
                value: 1,
                lo: 0,
                hi: 0,
            },
            CronWhy::NotANumber {
                field,
                text: "x".into(),
                item: "y".into(),
            },
            CronWhy::BadStep {
                field,
                text: "x".into(),
                step: "0".into(),
            },
            CronWhy::Backwards {
                field,
                text: "x".into(),
                range: "5-1".into(),
            },
            CronWhy::Library("x".into()),
        ] {
            assert_ne!(why.render(Lang::Vi), why.render(Lang::En));
        }
    }
}

/// Where sentences outside the catalogue are still made: a scan of `src/`
/// for an error built from a string literal or `format!`. The numbers
/// only go down: a new sentence belongs in [`Reason`].
#[cfg(test)]
mod scan {
    use std::collections::BTreeMap;
    use std::path::Path;

    /// Calls that turn their argument into a sentence a person reads, and
    /// how many arguments come before the sentence.
    const MAKERS: &[(&str, usize)] = &[
        ("Invalid::new(", 0),
        ("ApiError::bad_request(", 0),
        ("ApiError::unprocessable(", 0),
        ("ApiError::not_found(", 0),
        ("ApiError::forbidden(", 0),
        ("ApiError::conflict(", 0),
        ("ApiError::new(", 2),
        ("StoreError::conflict(", 0),
        ("StoreError::Conflict(", 0),
        ("Refusal::UnknownRef(", 0),
    ];

    /// Shapes that make a sentence without a maker: notes and problems
    /// pushed onto a list, a `String` field or an `Err` built from an
    /// English literal (a link's `why`, a row's `message`, a file's
    /// problem). Counted only when the literal reads as English, so a
    /// path, a key or a number formatted the same way is left alone.
    const SHAPES: &[(&str, usize)] = &[
        ("notes.push(", 0),
        ("problems.push(", 0),
        (".push(", 0),
        ("refuse(", 0),
        ("problem(", 0),
        ("FileProblem::new(", 1),
        ("Unreadable(", 0),
        ("Lost(", 0),
        ("why: ", 0),
        ("message: ", 0),
        ("last_error: ", 0),
        ("Err(", 0),
    ];

    /// English words no Vietnamese sentence uses: two of them make a
    /// literal an English sentence.
    const ENGLISH: &[&str] = &[
        "the", "is", "are", "was", "be", "not", "no", "of", "a", "an", "to", "from", "with",
        "cannot", "must", "it", "its", "this", "for", "has", "have", "only", "and", "or", "by",
        "on", "at",
    ];

    fn english(literal: &str) -> bool {
        literal
            .split(|c: char| !c.is_ascii_alphabetic())
            .filter(|w| ENGLISH.contains(&w.to_ascii_lowercase().as_str()))
            .count()
            >= 2
    }

    /// After `skip` top-level commas of `rest`, the start of the argument.
    fn after_args(rest: &str, skip: usize) -> &str {
        if skip == 0 {
            return rest;
        }
        let mut commas = 0;
        for (j, c) in rest.char_indices() {
            if c == ',' {
                commas += 1;
                if commas == skip {
                    return rest[j + 1..].trim_start();
                }
            }
        }
        ""
    }

    /// The string literal an argument starts with (`"…"`, `format!("…"`,
    /// `Some(format!("…"`), if any.
    fn literal(arg: &str) -> Option<&str> {
        let mut a = arg;
        for prefix in ["Some(", "format!(", "String::from(", "Text::from("] {
            a = a.strip_prefix(prefix).map_or(a, str::trim_start);
        }
        let body = a.strip_prefix('"')?;
        let mut escaped = false;
        for (i, c) in body.char_indices() {
            match c {
                '\\' if !escaped => escaped = true,
                '"' if !escaped => return Some(&body[..i]),
                _ => escaped = false,
            }
        }
        None
    }

    fn plain_sentences(code: &str) -> usize {
        let mut n = 0;
        for (maker, skip) in MAKERS {
            for (at, _) in code.match_indices(maker) {
                let rest = after_args(code[at + maker.len()..].trim_start(), *skip);
                if rest.starts_with('"') || rest.starts_with("format!(") {
                    n += 1;
                }
            }
        }
        for (shape, skip) in SHAPES {
            for (at, _) in code.match_indices(shape) {
                // `.push(` also matches inside `notes.push(`: counted once.
                if *shape == ".push("
                    && (code[..at].ends_with("notes") || code[..at].ends_with("problems"))
                {
                    continue;
                }
                let rest = after_args(code[at + shape.len()..].trim_start(), *skip);
                if literal(rest).is_some_and(english) {
                    n += 1;
                }
            }
        }
        n
    }

    /// Files and how many plain sentences they still make. Lower a number
    /// when you move sentences into the catalogue; never raise one.
    const LEFT: &[(&str, usize)] = &[
        // The load test's own console report, for developers.
        ("src/loadtest.rs", 5),
        // The edge agent's raw-Ethernet output: its log, not the wall.
        ("src/transport/colorlight.rs", 3),
    ];

    fn walk(dir: &Path, out: &mut BTreeMap<String, usize>) {
        for e in std::fs::read_dir(dir).expect("src/ is readable") {
            let p = e.expect("entry").path();
            if p.is_dir() {
                if !p.ends_with("i18n") && !p.ends_with("tests") {
                    walk(&p, out);
                }
            } else if p.extension().is_some_and(|x| x == "rs") && !p.ends_with("tests.rs") {
                let code = std::fs::read_to_string(&p).expect("a source file");
                // Unit tests build errors of their own.
                let code = code.split("#[cfg(test)]\nmod ").next().unwrap_or("");
                let n = plain_sentences(code);
                if n > 0 {
                    let name = p.strip_prefix(env!("CARGO_MANIFEST_DIR")).unwrap_or(&p);
                    out.insert(name.display().to_string(), n);
                }
            }
        }
    }

    #[test]
    fn the_scanner_sees_a_plain_sentence() {
        assert_eq!(plain_sentences(r#"ApiError::bad_request("no")"#), 1);
        assert_eq!(plain_sentences(r#"Invalid::new(format!("{x} no"))"#), 1);
        assert_eq!(
            plain_sentences(r#"ApiError::new(StatusCode::GONE, "gone", "it went")"#),
            1
        );
        assert_eq!(
            plain_sentences(r#"ApiError::new(StatusCode::GONE, "gone", Reason::NoRoute)"#),
            0
        );
        assert_eq!(plain_sentences("Invalid::new(Reason::PanelName)"), 0);
        // The shapes that slipped past the makers.
        assert_eq!(
            plain_sentences(r#"notes.push(format!("status {}: kept for the record only", s));"#),
            1
        );
        assert_eq!(
            plain_sentences(r#"notes.push("no panel stands in its area".into());"#),
            1
        );
        assert_eq!(
            plain_sentences(
                r#"problems.push(FileProblem::new(path, format!("the image file {} is missing", f)));"#
            ),
            1
        );
        assert_eq!(
            plain_sentences(r#"Err(e) => return Err(format!("writing to the card failed: {e}")),"#),
            1
        );
        assert_eq!(
            plain_sentences(
                r#"ImportError::Unreadable(format!("the CSV header cannot be read: {e}"))"#
            ),
            1
        );
        assert_eq!(
            plain_sentences(
                r#"self.report(LinkEvent::Offline { why: format!("no answer from {a} within {t}") });"#
            ),
            1
        );
        assert_eq!(
            plain_sentences(
                r#"RowProblem { row, id, message: format!("the id {} is also on row {n}", id) }"#
            ),
            1
        );
        // Keys, paths and Vietnamese are not English sentences.
        assert_eq!(plain_sentences(r#"out.push(format!("{a}:{b}"));"#), 0);
        assert_eq!(
            plain_sentences(r#"scope.push(format!("khu vực {}", name));"#),
            0
        );
        assert_eq!(plain_sentences(r#"Err(format!("{}.json", id))"#), 0);
    }

    #[test]
    fn plain_sentences_do_not_grow() {
        let mut found = BTreeMap::new();
        walk(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
            &mut found,
        );
        let left: BTreeMap<String, usize> = LEFT.iter().map(|(f, n)| (f.to_string(), *n)).collect();
        let mut wrong = Vec::new();
        for (file, n) in &found {
            let allowed = left.get(file).copied().unwrap_or(0);
            if *n > allowed {
                wrong.push(format!(
                    "{file}: {n} sentences outside the catalogue (allowed {allowed}): put new ones in i18n::Reason"
                ));
            } else if *n < allowed {
                wrong.push(format!("{file}: now {n}, lower LEFT from {allowed}"));
            }
        }
        for (file, n) in &left {
            if !found.contains_key(file) {
                wrong.push(format!("{file}: now 0, remove it from LEFT (was {n})"));
            }
        }
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    }
}
