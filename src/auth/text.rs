//! Every sentence a person reads from the accounts and sessions code, in
//! Vietnamese (the default) and English, in one place.

use chrono::{DateTime, Utc};

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Text {
    PasswordShort,
    PasswordLong,
    PasswordIsUsername,
    WrongCredentials,
    Wait {
        seconds: i64,
    },
    Locked {
        minutes: i64,
    },
    SessionEnded,
    CsrfMissing,
    MustChangePassword,
    CurrentPasswordWrong,
    NotASession,
    TokenExpired {
        at: DateTime<Utc>,
    },
    UsernameInvalid {
        given: String,
    },
    DisplayNameInvalid,
    RolesEmpty,
    ScopeEmpty,
    ExpiryPast,
    OutsideScope {
        target: String,
        scope: String,
    },
    ApprovalOutsideScope {
        scope: String,
    },
    WarningOutsideScope {
        panel: Option<String>,
        scope: String,
    },
}

impl Text {
    /// The sentence, in English when `en`, else in Vietnamese.
    pub(crate) fn say(&self, en: bool) -> String {
        use Text::*;
        let (vi, english) = match self {
            PasswordShort => (
                format!("Mật khẩu quá ngắn: cần ít nhất {} ký tự.", super::password::MIN_LEN),
                format!("The password is too short: use at least {} characters.", super::password::MIN_LEN),
            ),
            PasswordLong => (
                format!("Mật khẩu quá dài: tối đa {} ký tự.", super::password::MAX_LEN),
                format!("The password is too long: use at most {} characters.", super::password::MAX_LEN),
            ),
            PasswordIsUsername => (
                "Mật khẩu không được trùng tên đăng nhập: hãy chọn mật khẩu khác.".into(),
                "The password must not be the user name: choose another.".into(),
            ),
            WrongCredentials => (
                "Tên đăng nhập hoặc mật khẩu không đúng.".into(),
                "The user name or password is wrong.".into(),
            ),
            Wait { seconds } => (
                format!("Đã nhập sai nhiều lần: hãy đợi {seconds} giây rồi thử lại."),
                format!("Too many wrong passwords: wait {seconds} seconds, then try again."),
            ),
            Locked { minutes } => (
                format!("Tài khoản tạm khoá từ địa chỉ này vì nhập sai quá nhiều lần: thử lại sau {minutes} phút hoặc nhờ quản trị viên đặt lại mật khẩu."),
                format!("This account is locked from this address after too many wrong passwords: try again in {minutes} minutes, or ask an administrator to reset the password."),
            ),
            SessionEnded => (
                "Phiên đăng nhập đã hết hạn hoặc đã đăng xuất: hãy đăng nhập lại.".into(),
                "Your session expired or was signed out: sign in again.".into(),
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
            TokenExpired { at } => (
                format!("Mã truy cập này đã hết hạn lúc {} (UTC): nhờ quản trị viên cấp mã mới.", at.format("%Y-%m-%d %H:%M")),
                format!("This token expired at {} UTC: ask an administrator for a new one.", at.format("%Y-%m-%d %H:%M")),
            ),
            UsernameInvalid { given } => (
                format!("Tên đăng nhập {given:?} không hợp lệ: dùng 1–64 chữ thường không dấu, số và '-', ví dụ \"lan-haichau\"."),
                format!("The user name {given:?} is not valid: use 1 to 64 lowercase letters without marks, digits and '-', e.g. \"lan-haichau\"."),
            ),
            DisplayNameInvalid => (
                "Hãy nhập họ tên (1–100 ký tự), ví dụ \"Nguyễn Thị Lan\".".into(),
                "Give the person's name (1 to 100 characters), e.g. \"Nguyễn Thị Lan\".".into(),
            ),
            RolesEmpty => (
                "Hãy chọn ít nhất một vai trò: editor, approver, scheduler, operator, admin.".into(),
                "Give at least one role: editor, approver, scheduler, operator, admin.".into(),
            ),
            ScopeEmpty => (
                "Phạm vi rỗng: bỏ trường scope để cấp toàn tỉnh, hoặc liệt kê ít nhất một nhóm.".into(),
                "The scope is empty: leave scope out for the whole province, or list at least one group.".into(),
            ),
            ExpiryPast => (
                "Thời hạn đã qua: chọn một thời điểm trong tương lai.".into(),
                "The expiry is in the past: choose a time in the future.".into(),
            ),
            OutsideScope { target, scope } => (
                format!("Đích {target:?} nằm ngoài phạm vi của bạn ({scope}): chỉ chọn nhóm và bảng trong phạm vi đó."),
                format!("The target {target:?} is outside your scope ({scope}): choose only groups and panels inside it."),
            ),
            ApprovalOutsideScope { scope } => (
                format!("Tin này sẽ chạy ngoài phạm vi của bạn ({scope}), hoặc chưa có chiến dịch nào đặt nó vào phạm vi đó: người duyệt cấp tỉnh mới duyệt được."),
                format!("This message runs outside your scope ({scope}), or no campaign places it there yet: a province-wide approver must approve it."),
            ),
            WarningOutsideScope { panel: Some(panel), scope } => (
                format!("Cảnh báo này đến cả bảng {panel:?}, nằm ngoài phạm vi của bạn ({scope}): chỉ người trực cấp tỉnh mới triển khai hoặc bỏ qua được."),
                format!("This warning reaches the panel {panel:?}, outside your scope ({scope}): only a province-wide operator can deploy or dismiss it."),
            ),
            WarningOutsideScope { panel: None, scope } => (
                format!("Cảnh báo này không đến bảng nào trong phạm vi của bạn ({scope}): chỉ người trực cấp tỉnh mới triển khai hoặc bỏ qua được."),
                format!("This warning reaches no panel inside your scope ({scope}): only a province-wide operator can deploy or dismiss it."),
            ),
        };
        if en {
            english
        } else {
            vi
        }
    }
}
