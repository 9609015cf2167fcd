// bangtin dashboard: one ES module, no framework, no build step.
//
// Layout of this file, top to bottom:
//   1. DICT: every user-visible string, Vietnamese first, English second.
//   2. Small helpers: DOM building, dates, debounce, toasts, dialogs.
//   3. The API client (bearer token, JSON errors, 401 → sign-in).
//   4. Live events: a hand-read server-sent-event stream with back-off.
//   5. The shell (header, navigation) and a hash router.
//   6. One function per view: sign-in, panel wall, messages, composer,
//      campaigns, alerts, reports, admin.
//
// The server embeds this file; it talks only to /api/v1 on the same origin.

'use strict';

// ---------------------------------------------------------------------------
// 1. Strings
// ---------------------------------------------------------------------------

const DICT = {
  vi: {
    'app.title': 'Bảng tin điện tử',
    'app.subtitle': 'Thông tin công cộng trên bảng LED',
    'lang.switch': 'English',
    'lang.switchLabel': 'Switch to English',
    'loading': 'Đang tải…',
    'retry': 'Thử lại',
    'none': '—',
    'skip': 'Bỏ qua, tới nội dung chính',

    'signin.title': 'Đăng nhập',
    'signin.lead': 'Dán mã truy cập do quản trị viên cấp cho bạn.',
    'signin.token': 'Mã truy cập',
    'signin.submit': 'Đăng nhập',
    'signin.checking': 'Đang kiểm tra…',
    'signin.bad': 'Mã truy cập không đúng hoặc đã bị thu hồi.',
    'signin.empty': 'Hãy dán mã truy cập.',
    'signin.note': 'Mã chỉ được giữ trong thẻ trình duyệt này và tự xoá khi đóng thẻ.',
    'signout': 'Đăng xuất',
    'signedOut': 'Bạn đã đăng xuất.',

    'nav.wall': 'Giám sát bảng',
    'nav.messages': 'Tin bài',
    'nav.campaigns': 'Lịch phát',
    'nav.alerts': 'Cảnh báo khẩn',
    'nav.reports': 'Báo cáo',
    'nav.admin': 'Quản trị',
    'nav.label': 'Điều hướng chính',

    'role.editor': 'Biên tập',
    'role.approver': 'Duyệt tin',
    'role.scheduler': 'Lập lịch',
    'role.operator': 'Vận hành',
    'role.admin': 'Quản trị',

    'live.on': 'Trực tiếp',
    'live.connecting': 'Đang kết nối…',
    'live.retry': 'Mất kết nối, đang thử lại…',

    'wall.title': 'Giám sát bảng',
    'wall.lead': 'Hình ảnh đúng như người đi đường đang thấy, cập nhật trực tiếp.',
    'wall.search': 'Tìm bảng',
    'wall.searchPh': 'Tên hoặc mã bảng',
    'wall.district': 'Khu vực',
    'wall.allDistricts': 'Tất cả khu vực',
    'wall.ungrouped': 'Chưa phân khu vực',
    'wall.online': 'Trực tuyến',
    'wall.offline': 'Mất kết nối',
    'wall.lastSeen': 'Liên lạc {when}',
    'wall.never': 'Chưa từng liên lạc',
    'wall.noFrame': 'Chưa phát nội dung nào',
    'wall.showing': 'Đang phát',
    'wall.blank': 'Không có lịch, màn hình tắt',
    'wall.alert': 'CẢNH BÁO KHẨN',
    'wall.campaign': 'Lịch',
    'wall.since': 'từ {t}',
    'wall.until': 'đến {t}',
    'wall.count': '{online}/{total} bảng trực tuyến',
    'wall.empty': 'Không có bảng nào khớp bộ lọc.',
    'wall.noPanels': 'Chưa có bảng nào. Quản trị viên thêm bảng ở mục Quản trị.',
    'wall.frameAlt': 'Hình đang hiển thị trên bảng {name}',
    'wall.panels': '{n} bảng',

    'status.draft': 'Bản nháp',
    'status.approved': 'Đã duyệt',

    'msg.title': 'Tin bài',
    'msg.lead': 'Biên tập viên soạn tin, người khác duyệt. Chỉ tin đã duyệt mới lên bảng.',
    'msg.new': 'Soạn tin mới',
    'msg.all': 'Tất cả',
    'msg.search': 'Tìm theo tiêu đề',
    'msg.col.title': 'Tiêu đề',
    'msg.col.status': 'Trạng thái',
    'msg.col.editor': 'Người sửa cuối',
    'msg.col.approver': 'Người duyệt',
    'msg.col.updated': 'Cập nhật',
    'msg.col.actions': 'Thao tác',
    'msg.empty': 'Chưa có tin nào.',
    'msg.noMatch': 'Không có tin nào khớp.',
    'msg.image': 'có ảnh',

    'compose.new': 'Soạn tin mới',
    'compose.edit': 'Sửa tin',
    'compose.view': 'Chi tiết tin',
    'f.title': 'Tiêu đề',
    'f.titleHint': 'Ngắn gọn, để đồng nghiệp dễ tìm lại tin.',
    'f.text': 'Nội dung tiếng Việt',
    'f.textHint': 'Câu ngắn, rõ ràng: người đi đường chỉ đọc được vài giây. Xuống dòng để ngắt ý.',
    'f.chars': '{n}/{max} ký tự',
    'f.image': 'Hình ảnh (không bắt buộc)',
    'f.drop': 'Kéo thả ảnh vào đây hoặc',
    'f.pick': 'chọn tệp',
    'f.imageTypes': 'PNG, JPEG, GIF hoặc WebP',
    'f.uploading': 'Đang tải ảnh lên…',
    'f.uploaded': 'Đã tải ảnh lên.',
    'f.removeImage': 'Bỏ ảnh',
    'f.imageInfo': '{w}×{h} điểm ảnh · {size}',
    'f.badType': 'Chỉ nhận ảnh PNG, JPEG, GIF hoặc WebP.',
    'f.style': 'Cách hiển thị',
    'f.color': 'Màu chữ',
    'f.background': 'Màu nền',
    'f.default': 'Mặc định',
    'f.defaultColor': 'mặc định theo bảng',
    'f.setColor': 'Chọn màu',
    'f.align': 'Căn lề',
    'align.left': 'Trái',
    'align.center': 'Giữa',
    'align.right': 'Phải',
    'f.fit': 'Ảnh trong khung',
    'fit.contain': 'Vừa khung, giữ toàn ảnh',
    'fit.cover': 'Phủ kín, cắt mép',
    'fit.stretch': 'Kéo giãn',
    'f.caption': 'Vị trí chữ khi có ảnh',
    'caption.below': 'Dưới ảnh',
    'caption.above': 'Trên ảnh',
    'caption.over': 'Đè lên ảnh',
    'btn.save': 'Lưu bản nháp',
    'btn.saveChanges': 'Lưu thay đổi',
    'btn.saving': 'Đang lưu…',
    'btn.approve': 'Duyệt tin',
    'btn.delete': 'Xoá',
    'btn.cancel': 'Huỷ',
    'btn.back': 'Quay lại',
    'btn.close': 'Đóng',
    'btn.confirm': 'Đồng ý',
    'btn.edit': 'Sửa',
    'btn.open': 'Mở',
    'btn.add': 'Thêm',
    'btn.create': 'Tạo',
    'btn.continue': 'Tiếp tục',
    'fourEyes': 'Cần người khác duyệt (nguyên tắc bốn mắt)',
    'compose.approvedWarnTitle': 'Sửa tin đã duyệt?',
    'compose.approvedWarn': 'Tin này đã được duyệt. Lưu thay đổi sẽ đưa tin về bản nháp và tin ngừng phát cho đến khi có người duyệt lại.',
    'compose.approvedBanner': 'Tin đã duyệt: nếu lưu thay đổi, tin trở về bản nháp và cần duyệt lại.',
    'compose.saved': 'Đã lưu bản nháp.',
    'compose.approved': 'Đã duyệt tin. Tin có thể được đưa vào lịch phát.',
    'compose.deleted': 'Đã xoá tin.',
    'compose.deleteTitle': 'Xoá tin?',
    'compose.deleteConfirm': 'Xoá tin “{title}”? Thao tác này không hoàn tác được.',
    'compose.saveFirst': 'Lưu thay đổi trước khi duyệt.',
    'compose.needContent': 'Tin cần có nội dung chữ hoặc hình ảnh.',
    'compose.needTitle': 'Hãy nhập tiêu đề.',
    'compose.notFound': 'Không tìm thấy tin này. Có thể tin đã bị xoá.',
    'meta.status': 'Trạng thái',
    'meta.editedBy': 'Sửa lần cuối bởi {who}, {when}',
    'meta.createdBy': 'Tạo bởi {who}, {when}',
    'meta.approvedBy': 'Duyệt bởi {who}, {when}',
    'meta.notApproved': 'Chưa được duyệt. Tin nháp không bao giờ lên bảng.',
    'preview.live': 'Xem trước trên bảng',
    'preview.hint': 'Cập nhật khi bạn gõ; mỗi loại bảng đang dùng một hình.',
    'preview.panels': '{n} bảng',
    'preview.page': 'Trang {n}/{total}',
    'preview.prev': 'Trang trước',
    'preview.next': 'Trang sau',
    'preview.none': 'Nhập nội dung hoặc chọn ảnh để xem trước.',
    'preview.tooLong': 'Người đi đường có thể không đọc kịp.',
    'preview.saved': 'Bản đã lưu trên từng bảng',
    'preview.panel': 'Bảng',
    'preview.loading': 'Đang dựng hình…',
    'preview.noProfiles': 'Chưa có bảng nào để xem trước.',
    'preview.alt': 'Xem trước trên bảng {size}, trang {n}',
    'leave.confirm': 'Có thay đổi chưa lưu. Rời trang này?',

    'camp.title': 'Lịch phát',
    'camp.lead': 'Chọn tin, nơi phát và thời gian. Lịch có mức ưu tiên cao hơn thắng khi trùng giờ.',
    'camp.new': 'Tạo lịch phát',
    'camp.edit': 'Sửa lịch phát',
    'camp.view': 'Chi tiết lịch phát',
    'camp.col.name': 'Tên',
    'camp.col.messages': 'Tin',
    'camp.col.targets': 'Nơi phát',
    'camp.col.timing': 'Thời gian',
    'camp.col.priority': 'Ưu tiên',
    'camp.empty': 'Chưa có lịch phát nào.',
    'camp.saved': 'Đã lưu lịch phát.',
    'camp.deleted': 'Đã xoá lịch phát.',
    'camp.deleteTitle': 'Xoá lịch phát?',
    'camp.deleteConfirm': 'Xoá lịch phát “{name}”? Các bảng sẽ ngừng phát các tin của lịch này.',
    'camp.days': 'Cả ngày {start} → {end}',
    'camp.cronFor': '{cron}, mỗi lần {dur}',
    'camp.notFound': 'Không tìm thấy lịch phát này.',
    'cf.name': 'Tên lịch phát',
    'cf.messages': 'Danh sách tin (phát lần lượt)',
    'cf.addMessage': 'Thêm tin',
    'cf.message': 'Tin',
    'cf.chooseMessage': 'Chọn tin…',
    'cf.dwell': 'Giây mỗi trang',
    'cf.up': 'Chuyển lên',
    'cf.down': 'Chuyển xuống',
    'cf.remove': 'Bỏ khỏi danh sách',
    'cf.noMessages': 'Chưa có tin nào trong lịch. Thêm ít nhất một tin.',
    'cf.draftNote': 'Tin nháp chưa được phát cho đến khi được duyệt.',
    'cf.targets': 'Phát ở đâu',
    'cf.all': 'Tất cả các bảng',
    'cf.groups': 'Theo khu vực',
    'cf.panels': 'Từng bảng',
    'cf.timing': 'Phát khi nào',
    'cf.mode.days': 'Cả ngày, theo khoảng ngày',
    'cf.mode.cron': 'Lặp lại theo giờ (cron)',
    'cf.cron': 'Biểu thức cron',
    'cf.cronHint': 'phút giờ ngày tháng thứ. Ví dụ “0 7 * * 1-5” là 7 giờ sáng từ thứ Hai đến thứ Sáu.',
    'cf.duration': 'Mỗi lần phát kéo dài',
    'unit.min': 'phút',
    'unit.hour': 'giờ',
    'cf.start': 'Từ ngày',
    'cf.end': 'Đến hết ngày',
    'cf.priority': 'Mức ưu tiên',
    'cf.priorityHint': 'Số lớn hơn thắng khi nhiều lịch trùng giờ trên cùng một bảng.',
    'cf.tz': 'Múi giờ',
    'cf.next': 'Các lần phát tới',
    'cf.explaining': 'Đang đọc biểu thức…',
    'cf.presets': 'Mẫu nhanh',
    'preset.weekday7': '7:00 ngày làm việc',
    'preset.daily6': '6:00 hằng ngày',
    'preset.hourly': 'Đầu mỗi giờ',
    'preset.weekend': '8:00 cuối tuần',
    'cf.needTargets': 'Chọn ít nhất một nơi phát.',
    'cf.needMessages': 'Thêm ít nhất một tin.',
    'cf.needDates': 'Chọn ngày bắt đầu và kết thúc.',
    'cf.badDates': 'Ngày kết thúc phải sau hoặc trùng ngày bắt đầu.',
    'cf.needCron': 'Nhập biểu thức cron và thời lượng.',
    'tl.title': 'Dòng thời gian',
    'tl.today': 'Hôm nay',
    'tl.week': 'Tuần này',
    'tl.empty': 'Không có gì được lên lịch trong khoảng này.',
    'tl.noPanels': 'Chưa chọn bảng nào.',
    'tl.alert': 'Cảnh báo khẩn',
    'tl.now': 'Bây giờ',
    'tl.legend': 'Chú giải',
    'tl.rowLabel': 'Bảng',
    'tl.page': 'trang {n}',
    'tl.notLoaded': 'Chưa tải phần này',
    'tl.truncated': 'Phần gạch chéo chưa được tải (lịch quá dày); chi tiết có đến {when}.',

    'al.title': 'Cảnh báo khẩn cấp',
    'al.lead': 'Cảnh báo lên ngay trên các bảng được chọn, đè lên mọi lịch phát. Chỉ dùng khi có thiên tai, sự cố hoặc tình huống khẩn cấp.',
    'al.formTitle': 'Phát cảnh báo mới',
    'al.text': 'Nội dung cảnh báo',
    'al.textPh': 'Ví dụ: Bão số 5 đổ bộ. Người dân không ra đường từ 18 giờ.',
    'al.targets': 'Khu vực nhận cảnh báo',
    'al.all': 'Toàn tỉnh (tất cả các bảng)',
    'al.duration': 'Thời lượng (phút)',
    'al.arm': 'Tôi xác nhận đây là tình huống khẩn cấp',
    'al.send': 'Phát cảnh báo',
    'al.confirmTitle': 'Phát cảnh báo khẩn cấp?',
    'al.confirmBody': 'Gửi đến {n} bảng ở {where} trong {min} phút?',
    'al.everywhere': 'toàn tỉnh',
    'al.sent': 'Đã phát cảnh báo.',
    'al.delivery': '{acked} / {targets} bảng đang hiển thị',
    'al.deliveryTitle': 'Xác nhận hiển thị',
    'al.firstAck': 'Bảng đầu tiên: {ms} ms',
    'al.lastAck': 'Bảng gần nhất: {ms} ms',
    'al.waiting': 'Đang chờ các bảng xác nhận…',
    'al.allAcked': 'Tất cả các bảng đã hiển thị cảnh báo.',
    'al.active': 'Cảnh báo đang hiệu lực',
    'al.none': 'Không có cảnh báo nào đang hiệu lực.',
    'al.cancel': 'Dừng cảnh báo',
    'al.cancelTitle': 'Dừng cảnh báo?',
    'al.cancelConfirm': 'Dừng cảnh báo “{text}”? Các bảng trở lại lịch phát thường trong vòng một giây.',
    'al.cancelled': 'Đã dừng cảnh báo.',
    'al.ends': 'hết hạn {when}',
    'al.createdAt': 'phát lúc {when}',
    'al.noTargets': 'Chọn ít nhất một khu vực.',
    'al.noText': 'Nhập nội dung cảnh báo.',
    'al.badDuration': 'Thời lượng từ 1 đến 4320 phút (3 ngày).',
    'al.recent': 'Đã kết thúc gần đây',
    'al.ended': 'đã kết thúc {when}',
    'al.cancelledAt': 'đã dừng {when}',

    'rep.title': 'Báo cáo phát',
    'rep.lead': 'Số lượt phát do chính các bảng xác nhận (bằng chứng phát).',
    'rep.from': 'Từ ngày',
    'rep.to': 'Đến hết ngày',
    'rep.show': 'Xem báo cáo',
    'rep.summary': 'Tổng hợp theo lịch phát và khu vực',
    'rep.plays': 'Nhật ký phát',
    'rep.csv': 'Tải CSV',
    'rep.col.campaign': 'Lịch phát',
    'rep.col.group': 'Khu vực',
    'rep.col.plays': 'Lượt phát',
    'rep.col.time': 'Thời điểm',
    'rep.col.panel': 'Bảng',
    'rep.col.message': 'Tin',
    'rep.col.seq': 'Số khung',
    'rep.total': 'Tổng cộng',
    'rep.empty': 'Không có lượt phát nào trong khoảng này.',
    'rep.more': 'Đang hiện {n} dòng đầu trong {total}. Tải CSV để có đủ.',
    'rep.badRange': 'Ngày kết thúc phải sau hoặc trùng ngày bắt đầu.',
    'rep.downloaded': 'Đã tải tệp {file}.',

    'adm.title': 'Quản trị',
    'adm.panels': 'Bảng LED',
    'adm.tokens': 'Người dùng và mã truy cập',
    'adm.audit': 'Nhật ký thao tác',
    'p.id': 'Mã bảng',
    'p.idHint': 'Chữ thường, số và dấu gạch ngang. Không đổi được sau khi tạo.',
    'p.name': 'Tên bảng',
    'p.size': 'Kích thước',
    'p.width': 'Rộng (điểm ảnh)',
    'p.height': 'Cao (điểm ảnh)',
    'p.format': 'Định dạng điểm ảnh',
    'fmt.mono1': 'mono1 · đơn sắc',
    'fmt.rgb565': 'rgb565 · màu 16 bit',
    'fmt.rgb888': 'rgb888 · màu 24 bit',
    'fmt.png': 'png · ảnh nén',
    'p.groups': 'Khu vực',
    'p.groupsHint': 'Cách nhau bằng dấu phẩy, ví dụ: hai-chau, son-tra',
    'p.color': 'Màu LED (bảng đơn sắc)',
    'p.status': 'Tình trạng',
    'p.add': 'Thêm bảng',
    'p.edit': 'Sửa bảng {id}',
    'p.new': 'Thêm bảng mới',
    'p.deleteTitle': 'Xoá bảng?',
    'p.deleteConfirm': 'Xoá bảng “{name}” ({id})? Bảng sẽ không nhận nội dung nữa.',
    'p.saved': 'Đã lưu bảng.',
    'p.deleted': 'Đã xoá bảng.',
    'tok.name': 'Tên người dùng',
    'tok.nameHint': 'Chữ thường, số và dấu gạch ngang, ví dụ: nguyen-van-a',
    'tok.roles': 'Vai trò',
    'tok.create': 'Cấp mã truy cập',
    'tok.newTitle': 'Mã truy cập của {name}',
    'tok.once': 'Mã này chỉ hiện một lần. Hãy sao chép và trao tận tay người dùng; hệ thống chỉ lưu bản băm, không xem lại được.',
    'tok.copy': 'Sao chép',
    'tok.copied': 'Đã sao chép vào bộ nhớ tạm.',
    'tok.revoke': 'Thu hồi',
    'tok.revokeTitle': 'Thu hồi mã truy cập?',
    'tok.revokeConfirm': 'Thu hồi mã của “{name}”? Người này mất quyền truy cập ngay lập tức.',
    'tok.revoked': 'Đã thu hồi mã của {name}.',
    'tok.needRole': 'Chọn ít nhất một vai trò.',
    'tok.empty': 'Chưa có người dùng nào.',
    'tok.you': 'bạn',
    'aud.at': 'Thời điểm',
    'aud.who': 'Người thực hiện',
    'aud.action': 'Thao tác',
    'aud.kind': 'Đối tượng',
    'aud.id': 'Mã',
    'aud.detail': 'Chi tiết',
    'aud.filter': 'Lọc nhật ký',
    'aud.empty': 'Nhật ký trống.',

    'err.network': 'Không kết nối được máy chủ. Kiểm tra mạng rồi thử lại.',
    'err.session': 'Phiên làm việc đã hết hoặc mã đã bị thu hồi. Vui lòng đăng nhập lại.',
    'err.http': 'Máy chủ trả lỗi {status}.',
    'err.load': 'Không tải được dữ liệu.',
  },

  en: {
    'app.title': 'Public Information Signs',
    'app.subtitle': 'Public information on LED billboards',
    'lang.switch': 'Tiếng Việt',
    'lang.switchLabel': 'Chuyển sang tiếng Việt',
    'loading': 'Loading…',
    'retry': 'Retry',
    'none': '—',
    'skip': 'Skip to main content',

    'signin.title': 'Sign in',
    'signin.lead': 'Paste the access token your administrator gave you.',
    'signin.token': 'Access token',
    'signin.submit': 'Sign in',
    'signin.checking': 'Checking…',
    'signin.bad': 'This token is wrong or has been revoked.',
    'signin.empty': 'Paste your access token.',
    'signin.note': 'The token is kept in this browser tab only and is forgotten when the tab closes.',
    'signout': 'Sign out',
    'signedOut': 'You are signed out.',

    'nav.wall': 'Panel wall',
    'nav.messages': 'Messages',
    'nav.campaigns': 'Campaigns',
    'nav.alerts': 'Emergency alerts',
    'nav.reports': 'Reports',
    'nav.admin': 'Administration',
    'nav.label': 'Main navigation',

    'role.editor': 'Editor',
    'role.approver': 'Approver',
    'role.scheduler': 'Scheduler',
    'role.operator': 'Operator',
    'role.admin': 'Admin',

    'live.on': 'Live',
    'live.connecting': 'Connecting…',
    'live.retry': 'Connection lost, retrying…',

    'wall.title': 'Panel wall',
    'wall.lead': 'What passers-by see right now, updated live.',
    'wall.search': 'Find a panel',
    'wall.searchPh': 'Name or panel id',
    'wall.district': 'District',
    'wall.allDistricts': 'All districts',
    'wall.ungrouped': 'No district',
    'wall.online': 'Online',
    'wall.offline': 'Offline',
    'wall.lastSeen': 'Seen {when}',
    'wall.never': 'Never connected',
    'wall.noFrame': 'Nothing published yet',
    'wall.showing': 'Showing',
    'wall.blank': 'Nothing scheduled, screen blank',
    'wall.alert': 'EMERGENCY ALERT',
    'wall.campaign': 'Campaign',
    'wall.since': 'since {t}',
    'wall.until': 'until {t}',
    'wall.count': '{online}/{total} panels online',
    'wall.empty': 'No panel matches the filter.',
    'wall.noPanels': 'No panels yet. An administrator adds them under Administration.',
    'wall.frameAlt': 'What panel {name} shows now',
    'wall.panels': '{n} panels',
    'wall.panels.one': '{n} panel',

    'status.draft': 'Draft',
    'status.approved': 'Approved',

    'msg.title': 'Messages',
    'msg.lead': 'Editors write, someone else approves. Only approved messages reach a panel.',
    'msg.new': 'New message',
    'msg.all': 'All',
    'msg.search': 'Search titles',
    'msg.col.title': 'Title',
    'msg.col.status': 'Status',
    'msg.col.editor': 'Last edited by',
    'msg.col.approver': 'Approved by',
    'msg.col.updated': 'Updated',
    'msg.col.actions': 'Actions',
    'msg.empty': 'No messages yet.',
    'msg.noMatch': 'No message matches.',
    'msg.image': 'image',

    'compose.new': 'New message',
    'compose.edit': 'Edit message',
    'compose.view': 'Message',
    'f.title': 'Title',
    'f.titleHint': 'Short, so colleagues can find it again.',
    'f.text': 'Vietnamese text',
    'f.textHint': 'Short, plain sentences: passers-by read for a few seconds. Use new lines to separate ideas.',
    'f.chars': '{n}/{max} characters',
    'f.image': 'Image (optional)',
    'f.drop': 'Drop an image here or',
    'f.pick': 'choose a file',
    'f.imageTypes': 'PNG, JPEG, GIF or WebP',
    'f.uploading': 'Uploading image…',
    'f.uploaded': 'Image uploaded.',
    'f.removeImage': 'Remove image',
    'f.imageInfo': '{w}×{h} pixels · {size}',
    'f.badType': 'Only PNG, JPEG, GIF or WebP images are accepted.',
    'f.style': 'Appearance',
    'f.color': 'Text colour',
    'f.background': 'Background',
    'f.default': 'Default',
    'f.defaultColor': 'panel default',
    'f.setColor': 'Pick colour',
    'f.align': 'Alignment',
    'align.left': 'Left',
    'align.center': 'Centre',
    'align.right': 'Right',
    'f.fit': 'Image fit',
    'fit.contain': 'Contain, whole image',
    'fit.cover': 'Cover, crop edges',
    'fit.stretch': 'Stretch',
    'f.caption': 'Text position with an image',
    'caption.below': 'Below the image',
    'caption.above': 'Above the image',
    'caption.over': 'Over the image',
    'btn.save': 'Save draft',
    'btn.saveChanges': 'Save changes',
    'btn.saving': 'Saving…',
    'btn.approve': 'Approve',
    'btn.delete': 'Delete',
    'btn.cancel': 'Cancel',
    'btn.back': 'Back',
    'btn.close': 'Close',
    'btn.confirm': 'Confirm',
    'btn.edit': 'Edit',
    'btn.open': 'Open',
    'btn.add': 'Add',
    'btn.create': 'Create',
    'btn.continue': 'Continue',
    'fourEyes': 'Needs someone else to approve (four-eyes rule)',
    'compose.approvedWarnTitle': 'Edit an approved message?',
    'compose.approvedWarn': 'This message is approved. Saving changes returns it to draft, and it stops playing until someone approves it again.',
    'compose.approvedBanner': 'Approved message: saving changes returns it to draft and it needs approval again.',
    'compose.saved': 'Draft saved.',
    'compose.approved': 'Message approved. It can now be scheduled.',
    'compose.deleted': 'Message deleted.',
    'compose.deleteTitle': 'Delete message?',
    'compose.deleteConfirm': 'Delete “{title}”? This cannot be undone.',
    'compose.saveFirst': 'Save your changes before approving.',
    'compose.needContent': 'A message needs text, an image, or both.',
    'compose.needTitle': 'Enter a title.',
    'compose.notFound': 'This message was not found. It may have been deleted.',
    'meta.status': 'Status',
    'meta.editedBy': 'Last edited by {who}, {when}',
    'meta.createdBy': 'Created by {who}, {when}',
    'meta.approvedBy': 'Approved by {who}, {when}',
    'meta.notApproved': 'Not approved. Drafts never reach a panel.',
    'preview.live': 'Preview on the panels',
    'preview.hint': 'Updates as you type; one image per kind of panel in use.',
    'preview.panels': '{n} panels',
    'preview.panels.one': '{n} panel',
    'preview.page': 'Page {n}/{total}',
    'preview.prev': 'Previous page',
    'preview.next': 'Next page',
    'preview.none': 'Type some text or add an image to see a preview.',
    'preview.tooLong': 'Passers-by may not finish reading.',
    'preview.saved': 'Saved version on each panel',
    'preview.panel': 'Panel',
    'preview.loading': 'Rendering…',
    'preview.noProfiles': 'There are no panels to preview on yet.',
    'preview.alt': 'Preview on a {size} panel, page {n}',
    'leave.confirm': 'You have unsaved changes. Leave this page?',

    'camp.title': 'Campaigns',
    'camp.lead': 'Choose messages, where and when. The higher priority wins when campaigns overlap.',
    'camp.new': 'New campaign',
    'camp.edit': 'Edit campaign',
    'camp.view': 'Campaign',
    'camp.col.name': 'Name',
    'camp.col.messages': 'Messages',
    'camp.col.targets': 'Where',
    'camp.col.timing': 'When',
    'camp.col.priority': 'Priority',
    'camp.empty': 'No campaigns yet.',
    'camp.saved': 'Campaign saved.',
    'camp.deleted': 'Campaign deleted.',
    'camp.deleteTitle': 'Delete campaign?',
    'camp.deleteConfirm': 'Delete “{name}”? Panels stop playing its messages.',
    'camp.days': 'All day {start} → {end}',
    'camp.cronFor': '{cron}, for {dur} each time',
    'camp.notFound': 'This campaign was not found.',
    'cf.name': 'Campaign name',
    'cf.messages': 'Messages (played in order)',
    'cf.addMessage': 'Add message',
    'cf.message': 'Message',
    'cf.chooseMessage': 'Choose a message…',
    'cf.dwell': 'Seconds per page',
    'cf.up': 'Move up',
    'cf.down': 'Move down',
    'cf.remove': 'Remove from list',
    'cf.noMessages': 'No messages yet. Add at least one.',
    'cf.draftNote': 'Drafts do not play until they are approved.',
    'cf.targets': 'Where',
    'cf.all': 'All panels',
    'cf.groups': 'By district',
    'cf.panels': 'Single panels',
    'cf.timing': 'When',
    'cf.mode.days': 'All day, over a date range',
    'cf.mode.cron': 'Repeating (cron)',
    'cf.cron': 'Cron expression',
    'cf.cronHint': 'minute hour day month weekday. “0 7 * * 1-5” means 7 am Monday to Friday.',
    'cf.duration': 'Each time, play for',
    'unit.min': 'minutes',
    'unit.hour': 'hours',
    'cf.start': 'From',
    'cf.end': 'Until the end of',
    'cf.priority': 'Priority',
    'cf.priorityHint': 'The larger number wins when campaigns overlap on a panel.',
    'cf.tz': 'Time zone',
    'cf.next': 'Next times',
    'cf.explaining': 'Reading the expression…',
    'cf.presets': 'Presets',
    'preset.weekday7': '7:00 on weekdays',
    'preset.daily6': '6:00 daily',
    'preset.hourly': 'Every hour',
    'preset.weekend': '8:00 at weekends',
    'cf.needTargets': 'Choose at least one target.',
    'cf.needMessages': 'Add at least one message.',
    'cf.needDates': 'Choose a start and an end date.',
    'cf.badDates': 'The end date must be on or after the start date.',
    'cf.needCron': 'Enter a cron expression and a duration.',
    'tl.title': 'Timeline',
    'tl.today': 'Today',
    'tl.week': 'This week',
    'tl.empty': 'Nothing is scheduled in this period.',
    'tl.noPanels': 'No panels selected.',
    'tl.alert': 'Emergency alert',
    'tl.now': 'Now',
    'tl.legend': 'Legend',
    'tl.rowLabel': 'Panel',
    'tl.page': 'page {n}',
    'tl.notLoaded': 'Not loaded',
    'tl.truncated': 'The hatched part was not loaded (a very dense schedule); details run until {when}.',

    'al.title': 'Emergency alerts',
    'al.lead': 'An alert appears at once on the chosen panels, above every campaign. Use it only for disasters, incidents and emergencies.',
    'al.formTitle': 'Send a new alert',
    'al.text': 'Alert text',
    'al.textPh': 'E.g. Typhoon landfall. Stay indoors from 6 pm.',
    'al.targets': 'Districts',
    'al.all': 'Whole province (all panels)',
    'al.duration': 'Duration (minutes)',
    'al.arm': 'I confirm this is an emergency',
    'al.send': 'Send alert',
    'al.confirmTitle': 'Send emergency alert?',
    'al.confirmBody': 'Send to {n} panels in {where} for {min} minutes?',
    'al.everywhere': 'the whole province',
    'al.sent': 'Alert sent.',
    'al.delivery': '{acked} / {targets} panels showing it',
    'al.deliveryTitle': 'Delivery confirmation',
    'al.firstAck': 'First panel: {ms} ms',
    'al.lastAck': 'Latest panel: {ms} ms',
    'al.waiting': 'Waiting for panels to confirm…',
    'al.allAcked': 'Every panel is showing the alert.',
    'al.active': 'Active alerts',
    'al.none': 'No alert is active.',
    'al.cancel': 'Stop alert',
    'al.cancelTitle': 'Stop the alert?',
    'al.cancelConfirm': 'Stop “{text}”? Panels return to their schedule within a second.',
    'al.cancelled': 'Alert stopped.',
    'al.ends': 'ends {when}',
    'al.createdAt': 'sent {when}',
    'al.noTargets': 'Choose at least one district.',
    'al.noText': 'Enter the alert text.',
    'al.badDuration': 'Duration must be 1 to 4320 minutes (3 days).',
    'al.recent': 'Recently ended',
    'al.ended': 'ended {when}',
    'al.cancelledAt': 'stopped {when}',

    'rep.title': 'Reports',
    'rep.lead': 'Plays as confirmed by the panels themselves (proof of play).',
    'rep.from': 'From',
    'rep.to': 'Until the end of',
    'rep.show': 'Show report',
    'rep.summary': 'Summary by campaign and district',
    'rep.plays': 'Play log',
    'rep.csv': 'Download CSV',
    'rep.col.campaign': 'Campaign',
    'rep.col.group': 'District',
    'rep.col.plays': 'Plays',
    'rep.col.time': 'Shown at',
    'rep.col.panel': 'Panel',
    'rep.col.message': 'Message',
    'rep.col.seq': 'Frame seq',
    'rep.total': 'Total',
    'rep.empty': 'No plays in this period.',
    'rep.more': 'Showing the first {n} of {total} rows. Download the CSV for all of them.',
    'rep.badRange': 'The end date must be on or after the start date.',
    'rep.downloaded': 'Downloaded {file}.',

    'adm.title': 'Administration',
    'adm.panels': 'LED panels',
    'adm.tokens': 'Users and tokens',
    'adm.audit': 'Audit trail',
    'p.id': 'Panel id',
    'p.idHint': 'Lowercase letters, digits and dashes. Cannot be changed later.',
    'p.name': 'Name',
    'p.size': 'Size',
    'p.width': 'Width (pixels)',
    'p.height': 'Height (pixels)',
    'p.format': 'Pixel format',
    'fmt.mono1': 'mono1 · single colour',
    'fmt.rgb565': 'rgb565 · 16-bit colour',
    'fmt.rgb888': 'rgb888 · 24-bit colour',
    'fmt.png': 'png · compressed',
    'p.groups': 'Districts',
    'p.groupsHint': 'Comma-separated, e.g. hai-chau, son-tra',
    'p.color': 'LED colour (single-colour panels)',
    'p.status': 'Status',
    'p.add': 'Add panel',
    'p.edit': 'Edit panel {id}',
    'p.new': 'New panel',
    'p.deleteTitle': 'Delete panel?',
    'p.deleteConfirm': 'Delete “{name}” ({id})? It will receive no more content.',
    'p.saved': 'Panel saved.',
    'p.deleted': 'Panel deleted.',
    'tok.name': 'User name',
    'tok.nameHint': 'Lowercase letters, digits and dashes, e.g. nguyen-van-a',
    'tok.roles': 'Roles',
    'tok.create': 'Issue token',
    'tok.newTitle': 'Access token for {name}',
    'tok.once': 'This token is shown only once. Copy it and hand it to the user in person; the server keeps only a hash and cannot show it again.',
    'tok.copy': 'Copy',
    'tok.copied': 'Copied to the clipboard.',
    'tok.revoke': 'Revoke',
    'tok.revokeTitle': 'Revoke token?',
    'tok.revokeConfirm': 'Revoke the token of “{name}”? They lose access at once.',
    'tok.revoked': 'Revoked the token of {name}.',
    'tok.needRole': 'Choose at least one role.',
    'tok.empty': 'No users yet.',
    'tok.you': 'you',
    'aud.at': 'When',
    'aud.who': 'Who',
    'aud.action': 'Action',
    'aud.kind': 'Kind',
    'aud.id': 'Id',
    'aud.detail': 'Detail',
    'aud.filter': 'Filter the trail',
    'aud.empty': 'The audit trail is empty.',

    'err.network': 'Cannot reach the server. Check the network and try again.',
    'err.session': 'Your session ended or your token was revoked. Please sign in again.',
    'err.http': 'The server answered {status}.',
    'err.load': 'Could not load the data.',
  },
};

const TZ = 'Asia/Ho_Chi_Minh';
const ROLES = ['editor', 'approver', 'scheduler', 'operator', 'admin'];
const FORMATS = ['mono1', 'rgb565', 'rgb888', 'png'];
const MAX_TEXT = 4000;

let lang = localStorage.getItem('bangtin.lang') === 'en' ? 'en' : 'vi';

function t(key, vars) {
  // English needs a singular; Vietnamese nouns do not change with number.
  if (vars && vars.n === 1 && DICT[lang][`${key}.one`]) key = `${key}.one`;
  let s = DICT[lang][key] ?? DICT.vi[key] ?? key;
  if (vars) s = s.replace(/\{(\w+)\}/g, (_, k) => (vars[k] ?? ''));
  return s;
}

// ---------------------------------------------------------------------------
// 2. Helpers
// ---------------------------------------------------------------------------

const PROPS = new Set(['value', 'checked', 'disabled', 'selected', 'hidden', 'indeterminate', 'open', 'required', 'multiple', 'readOnly']);

/** Builds an element: h('button', {class: 'btn', onclick: f}, 'Text', child). */
function h(tag, props, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (v == null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'style' && typeof v === 'object') Object.assign(el.style, v);
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (PROPS.has(k)) el[k] = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, kids);
  return el;
}

function append(el, kids) {
  for (const k of kids.flat(Infinity)) {
    if (k == null || k === false || k === true) continue;
    el.append(k instanceof Node ? k : document.createTextNode(String(k)));
  }
  return el;
}

function clear(el) { while (el.firstChild) el.firstChild.remove(); return el; }

const ICONS = {
  wall: '<rect x="3" y="4" width="8" height="6" rx="1"/><rect x="13" y="4" width="8" height="6" rx="1"/><rect x="3" y="14" width="8" height="6" rx="1"/><rect x="13" y="14" width="8" height="6" rx="1"/>',
  messages: '<path d="M4 5h16v11H8l-4 4z"/><path d="M8 9h8M8 12h5"/>',
  campaigns: '<rect x="3" y="5" width="18" height="16" rx="2"/><path d="M3 10h18M8 3v4M16 3v4M7 14h4M13 17h4"/>',
  alerts: '<path d="M12 3 2 20h20z"/><path d="M12 10v4M12 17v.5"/>',
  reports: '<path d="M4 20V4M4 20h16"/><path d="M8 16v-4M12 16V8M16 16v-6"/>',
  admin: '<circle cx="12" cy="12" r="3"/><path d="M12 2v3M12 19v3M2 12h3M19 12h3M4.9 4.9l2.1 2.1M17 17l2.1 2.1M4.9 19.1 7 17M17 7l2.1-2.1"/>',
  up: '<path d="m6 14 6-6 6 6"/>',
  down: '<path d="m6 10 6 6 6-6"/>',
  x: '<path d="M6 6l12 12M18 6 6 18"/>',
  left: '<path d="m14 6-6 6 6 6"/>',
  right: '<path d="m10 6 6 6-6 6"/>',
  plus: '<path d="M12 5v14M5 12h14"/>',
  image: '<rect x="3" y="5" width="18" height="14" rx="2"/><circle cx="9" cy="10" r="2"/><path d="m21 16-5-5-8 8"/>',
  warn: '<path d="M12 3 2 20h20z"/><path d="M12 10v4M12 17v.5"/>',
  copy: '<rect x="8" y="8" width="12" height="12" rx="2"/><path d="M16 8V5a1 1 0 0 0-1-1H5a1 1 0 0 0-1 1v10a1 1 0 0 0 1 1h3"/>',
  download: '<path d="M12 4v11M7 10l5 5 5-5M5 20h14"/>',
  signout: '<path d="M15 4h4v16h-4M10 8l-4 4 4 4M6 12h10"/>',
  check: '<path d="m5 12 5 5 9-10"/>',
};

function icon(name, cls = 'icon') {
  const span = document.createElement('span');
  span.className = cls;
  span.setAttribute('aria-hidden', 'true');
  span.innerHTML = `<svg viewBox="0 0 24 24" width="20" height="20" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round">${ICONS[name] || ''}</svg>`;
  return span;
}

function locale() { return lang === 'vi' ? 'vi-VN' : 'en-GB'; }

function fmtDateTime(iso) {
  if (!iso) return t('none');
  const d = new Date(iso);
  if (isNaN(d)) return iso;
  return new Intl.DateTimeFormat(locale(), { timeZone: TZ, day: '2-digit', month: '2-digit', year: 'numeric', hour: '2-digit', minute: '2-digit' }).format(d);
}

function fmtTime(iso) {
  if (!iso) return t('none');
  return new Intl.DateTimeFormat(locale(), { timeZone: TZ, hour: '2-digit', minute: '2-digit' }).format(new Date(iso));
}

function fmtDate(ymd) {
  if (!ymd) return t('none');
  const [y, m, d] = ymd.split('-').map(Number);
  return new Intl.DateTimeFormat(locale(), { timeZone: 'UTC', day: '2-digit', month: '2-digit', year: 'numeric' }).format(new Date(Date.UTC(y, m - 1, d)));
}

function relTime(iso) {
  if (!iso) return t('none');
  const diff = (new Date(iso).getTime() - Date.now()) / 1000;
  const rtf = new Intl.RelativeTimeFormat(lang === 'vi' ? 'vi' : 'en', { numeric: 'auto' });
  const a = Math.abs(diff);
  if (a < 45) return rtf.format(0, 'second');
  if (a < 3600) return rtf.format(Math.round(diff / 60), 'minute');
  if (a < 86400) return rtf.format(Math.round(diff / 3600), 'hour');
  return rtf.format(Math.round(diff / 86400), 'day');
}

function fmtDuration(s) {
  if (s == null) return t('none');
  if (s % 3600 === 0) return `${s / 3600} ${t('unit.hour')}`;
  if (s % 60 === 0) return `${s / 60} ${t('unit.min')}`;
  return `${s} s`;
}

function fmtBytes(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(0)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

/** Today's date in Vietnam as YYYY-MM-DD. */
function todayVN(offsetDays = 0) {
  const d = new Date(Date.now() + offsetDays * 86400000);
  return new Intl.DateTimeFormat('en-CA', { timeZone: TZ, year: 'numeric', month: '2-digit', day: '2-digit' }).format(d);
}

function addDays(ymd, n) {
  const [y, m, d] = ymd.split('-').map(Number);
  return new Date(Date.UTC(y, m - 1, d + n)).toISOString().slice(0, 10);
}

/** Midnight at the start of a Vietnamese date, as RFC 3339 with +07:00. */
function vnMidnight(ymd) { return `${ymd}T00:00:00+07:00`; }

function debounce(fn, ms) {
  let timer;
  const d = (...args) => { clearTimeout(timer); timer = setTimeout(() => fn(...args), ms); };
  d.cancel = () => clearTimeout(timer);
  return d;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A stable, readable colour per campaign id. */
function hueOf(s) {
  let x = 0;
  for (const c of String(s)) x = (x * 31 + c.codePointAt(0)) >>> 0;
  return (x * 137) % 360;
}

function campaignColor(id) { return `hsl(${hueOf(id)} 55% 42%)`; }

function uniq(xs) { return [...new Set(xs)]; }

function toast(message, kind = 'error') {
  const box = document.getElementById('toasts');
  const el = h('div', { class: `toast toast-${kind}`, role: kind === 'error' ? 'alert' : 'status' },
    h('span', { class: 'toast-text' }, message),
    h('button', { class: 'toast-close', type: 'button', 'aria-label': t('btn.close'), onclick: () => el.remove() }, icon('x')));
  box.append(el);
  setTimeout(() => el.remove(), kind === 'error' ? 9000 : 5000);
}

/** Shows an API error unless it was a cancelled request or a 401 (handled by the sign-out). */
function fail(e) {
  if (!e || e.name === 'AbortError' || e.status === 401) return;
  toast(e.message || String(e), 'error');
}

/**
 * A modal dialog. Resolves true when confirmed. `danger` paints the confirm
 * button red; `body` may be a string or a node.
 */
function confirmDialog({ title, body, ok = t('btn.confirm'), danger = false }) {
  return new Promise((resolve) => {
    const dlg = h('dialog', { class: `dialog${danger ? ' dialog-danger' : ''}`, 'aria-labelledby': 'dlg-title' },
      h('form', { method: 'dialog' },
        h('h2', { id: 'dlg-title' }, title),
        typeof body === 'string' ? h('p', {}, body) : body,
        h('div', { class: 'actions' },
          h('button', { class: 'btn', value: 'cancel', type: 'submit' }, t('btn.cancel')),
          h('button', { class: `btn ${danger ? 'btn-danger' : 'btn-primary'}`, value: 'ok', type: 'submit', 'data-role': 'confirm' }, ok))));
    dlg.addEventListener('close', () => { resolve(dlg.returnValue === 'ok'); dlg.remove(); });
    document.body.append(dlg);
    dlg.showModal();
    dlg.querySelector('[value=cancel]').focus();
  });
}

/** A form field: label, control, hint and an error slot, wired for screen readers. */
let fieldSeq = 0;
function field(label, control, { hint, cls = '' } = {}) {
  const id = control.id || `f${++fieldSeq}`;
  control.id = id;
  const hintEl = hint ? h('p', { class: 'hint', id: `${id}-hint` }, hint) : null;
  if (hintEl) control.setAttribute('aria-describedby', `${id}-hint`);
  return h('div', { class: `field ${cls}` }, h('label', { for: id }, label), control, hintEl);
}

function badge(text, kind) { return h('span', { class: `badge badge-${kind}` }, text); }

function statusBadge(status) {
  return badge(t(`status.${status}`), status === 'approved' ? 'ok' : 'draft');
}

function emptyState(text) { return h('p', { class: 'empty' }, text); }

/** Group ids are slugs ("hai-chau"); show them as words ("Hai Chau"). */
function prettyGroup(g) {
  return String(g).split('-').filter(Boolean).map((w) => w[0].toUpperCase() + w.slice(1)).join(' ');
}

// ---------------------------------------------------------------------------
// 3. API client
// ---------------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

const S = {
  token: sessionStorage.getItem('bangtin.token'),
  me: null,
  panels: [],
  messages: [],
  campaigns: [],
  alerts: [],
  now: {},            // panel id → `now` object (merged with live events)
  frames: {},         // panel id → {seq, url, missing, loading}
  live: 'off',
  dirty: false,
};

async function api(path, { method = 'GET', json, body, headers = {}, accept, signal, raw = false, quiet401 = false } = {}) {
  const hd = { Authorization: `Bearer ${S.token}`, ...headers };
  let payload = body;
  if (json !== undefined) {
    hd['Content-Type'] = 'application/json';
    payload = JSON.stringify(json);
  }
  if (accept) hd.Accept = accept;
  let res;
  try {
    res = await fetch(`/api/v1${path}`, { method, headers: hd, body: payload, signal, cache: 'no-store' });
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError(0, 'network', t('err.network'));
  }
  if (res.status === 401 && !quiet401) {
    signOut(t('err.session'));
    throw new ApiError(401, 'unauthorized', t('err.session'));
  }
  if (!res.ok) {
    let code = 'http';
    let msg = '';
    try {
      const j = await res.json();
      code = j.error || code;
      msg = j.message || '';
    } catch { /* not JSON */ }
    throw new ApiError(res.status, code, msg || t('err.http', { status: res.status }));
  }
  if (raw) return res;
  if (res.status === 204) return null;
  const ct = res.headers.get('content-type') || '';
  return ct.includes('json') ? res.json() : res.text();
}

const enc = encodeURIComponent;

function can(role) {
  const r = S.me?.roles || [];
  return r.includes('admin') || r.includes(role);
}

async function loadPanels() { S.panels = await api('/panels'); S.panels.sort((a, b) => a.name.localeCompare(b.name, 'vi')); return S.panels; }
async function loadMessages() { S.messages = await api('/messages'); return S.messages; }
async function loadCampaigns() { S.campaigns = await api('/campaigns'); return S.campaigns; }

function allGroups() {
  return uniq(S.panels.flatMap((p) => p.groups || [])).sort((a, b) => a.localeCompare(b, 'vi'));
}

function messageTitle(id) { return S.messages.find((m) => m.id === id)?.title || id; }
function campaignName(id) { return S.campaigns.find((c) => c.id === id)?.name || id; }
function panelName(id) { return S.panels.find((p) => p.id === id)?.name || id; }

/** Panels a list of targets ("all", "group:X", panel id) reaches. */
function panelsFor(targets) {
  return S.panels.filter((p) => targets.some((tg) => tg === 'all'
    || (tg.startsWith('group:') && (p.groups || []).includes(tg.slice(6)))
    || tg === p.id));
}

/** Fetches an image with the bearer token and returns an object URL plus headers. */
async function fetchImage(path, { method = 'GET', json, signal } = {}) {
  const res = await api(path, { method, json, signal, raw: true, accept: 'image/png' });
  const blob = await res.blob();
  return { url: URL.createObjectURL(blob), headers: res.headers };
}

// ---------------------------------------------------------------------------
// 4. Live events (server-sent events read by hand: EventSource cannot send
//    an Authorization header)
// ---------------------------------------------------------------------------

let eventsGen = 0;
let eventsCtrl = null;

function setLive(state) {
  S.live = state;
  const el = document.getElementById('live');
  if (!el) return;
  el.className = `live live-${state}`;
  el.querySelector('.live-text').textContent = t(`live.${state === 'on' ? 'on' : state === 'retry' ? 'retry' : 'connecting'}`);
}

function startEvents() {
  const gen = ++eventsGen;
  eventsCtrl?.abort();
  (async () => {
    let delay = 1000;
    let first = true;
    while (gen === eventsGen && S.token) {
      const ctrl = new AbortController();
      eventsCtrl = ctrl;
      setLive(first ? 'connecting' : 'retry');
      try {
        const res = await fetch('/api/v1/events', {
          headers: { Authorization: `Bearer ${S.token}`, Accept: 'text/event-stream' },
          signal: ctrl.signal,
          cache: 'no-store',
        });
        if (res.status === 401) { signOut(t('err.session')); return; }
        if (!res.ok || !res.body) throw new Error(`events: ${res.status}`);
        setLive('on');
        if (!first) onReconnect();
        first = false;
        delay = 1000;
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        let buf = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buf += value;
          buf = buf.replace(/\r\n/g, '\n');
          let idx;
          while ((idx = buf.indexOf('\n\n')) >= 0) {
            dispatchEvent(buf.slice(0, idx));
            buf = buf.slice(idx + 2);
          }
        }
      } catch (e) {
        if (ctrl.signal.aborted || gen !== eventsGen) return;
      }
      if (gen !== eventsGen) return;
      first = false;
      setLive('retry');
      await sleep(delay + Math.random() * 400);
      delay = Math.min(delay * 2, 30000);
    }
  })();
}

function stopEvents() {
  eventsGen++;
  eventsCtrl?.abort();
  eventsCtrl = null;
}

function dispatchEvent(block) {
  let name = 'message';
  const data = [];
  for (const line of block.split('\n')) {
    if (!line || line.startsWith(':')) continue;
    const i = line.indexOf(':');
    const f = i < 0 ? line : line.slice(0, i);
    let v = i < 0 ? '' : line.slice(i + 1);
    if (v.startsWith(' ')) v = v.slice(1);
    if (f === 'event') name = v;
    else if (f === 'data') data.push(v);
  }
  if (!data.length) return;
  let obj;
  try { obj = JSON.parse(data.join('\n')); } catch { return; }
  if (name === 'panel') onPanelEvent(obj);
}

function onPanelEvent(ev) {
  const p = S.panels.find((x) => x.id === ev.id);
  if (p) {
    if ('online' in ev) p.online = ev.online;
    if ('last_seen' in ev) p.last_seen = ev.last_seen;
  }
  const prev = S.now[ev.id] || {};
  const next = { ...prev };
  for (const k of ['seq', 'message', 'campaign', 'alert', 'since', 'until']) if (k in ev) next[k] = ev[k];
  // Events carry no `since`; a new seq means a new frame went out just now.
  if (!('since' in ev) && ev.seq !== prev.seq) next.since = new Date().toISOString();
  S.now[ev.id] = next;
  wallHooks.update?.(ev.id);
  // A message, campaign or alert we have not seen yet: fetch names, then redraw.
  const unknown = (ev.message && !S.messages.some((m) => m.id === ev.message))
    || (ev.campaign && !S.campaigns.some((c) => c.id === ev.campaign))
    || (ev.alert && !S.alerts.some((a) => a.id === ev.alert));
  if (unknown) refreshNames(ev.id);
}

const namesPending = new Set();
const refreshNamesSoon = debounce(async () => {
  await Promise.allSettled([loadMessages(), loadCampaigns(), loadAlertsQuiet()]);
  for (const id of namesPending) wallHooks.update?.(id);
  namesPending.clear();
}, 250);
function refreshNames(panelId) { namesPending.add(panelId); refreshNamesSoon(); }

function onReconnect() { wallHooks.resync?.(); }

// ---------------------------------------------------------------------------
// 5. Shell and router
// ---------------------------------------------------------------------------

const ROUTES = [
  { path: 'wall', label: 'nav.wall', icon: 'wall', show: () => true, view: (...a) => viewWall(...a) },
  { path: 'messages', label: 'nav.messages', icon: 'messages', show: () => true, view: (...a) => viewMessages(...a) },
  { path: 'campaigns', label: 'nav.campaigns', icon: 'campaigns', show: () => true, view: (...a) => viewCampaigns(...a) },
  { path: 'alerts', label: 'nav.alerts', icon: 'alerts', show: () => can('operator'), view: (...a) => viewAlerts(...a) },
  { path: 'reports', label: 'nav.reports', icon: 'reports', show: () => true, view: (...a) => viewReports(...a) },
  { path: 'admin', label: 'nav.admin', icon: 'admin', show: () => can('admin'), view: (...a) => viewAdmin(...a) },
];

const wallHooks = {};
let cleanups = [];
let routeGen = 0;
let lastHash = '';

function onCleanup(fn) { cleanups.push(fn); }

function runCleanups() {
  for (const fn of cleanups.splice(0)) { try { fn(); } catch { /* ignore */ } }
}

function parseHash() {
  const parts = location.hash.replace(/^#\/?/, '').split('/').filter(Boolean).map(decodeURIComponent);
  return { name: parts[0] || 'wall', args: parts.slice(1) };
}

function go(hash) {
  if (location.hash === hash) route(true);
  else location.hash = hash;
}

async function route(force = false) {
  if (!S.me) return;
  if (!force && location.hash === lastHash) return;
  if (S.dirty && lastHash && location.hash !== lastHash) {
    if (!window.confirm(t('leave.confirm'))) {
      history.replaceState(null, '', lastHash);
      return;
    }
  }
  S.dirty = false;
  lastHash = location.hash;
  runCleanups();
  const { name, args } = parseHash();
  let r = ROUTES.find((x) => x.path === name && x.show());
  if (!r) r = ROUTES[0];
  for (const a of document.querySelectorAll('.nav a')) {
    if (a.dataset.route === r.path) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  const main = document.getElementById('main');
  const gen = ++routeGen;
  clear(main).append(h('p', { class: 'loading' }, t('loading')));
  const ctx = { alive: () => gen === routeGen, main };
  try {
    await r.view(main, args, ctx);
  } catch (e) {
    if (gen !== routeGen) return;
    fail(e);
    if (!main.querySelector('.page')) {
      clear(main).append(h('div', { class: 'page' }, h('p', { class: 'error-box' }, e.message || t('err.load')),
        h('button', { class: 'btn', type: 'button', onclick: () => route(true) }, t('retry'))));
    }
  }
  document.getElementById('app').removeAttribute('aria-busy');
}

function renderShell() {
  const app = clear(document.getElementById('app'));
  document.documentElement.lang = lang;
  document.title = t('app.title');
  // An admin may do everything; listing every role would only add noise.
  const roles = S.me.roles.includes('admin') ? t('role.admin') : S.me.roles.map((r) => t(`role.${r}`)).join(' · ');
  app.append(
    h('a', { class: 'skip', href: '#main', onclick: (e) => { e.preventDefault(); document.getElementById('main').focus(); } }, t('skip')),
    h('header', { class: 'topbar' },
      h('div', { class: 'brand' }, logo(), h('div', {}, h('div', { class: 'brand-name' }, t('app.title')), h('div', { class: 'brand-sub' }, t('app.subtitle')))),
      h('div', { class: 'topbar-right' },
        h('span', { id: 'live', class: `live live-${S.live}`, role: 'status' }, h('span', { class: 'live-dot', 'aria-hidden': 'true' }), h('span', { class: 'live-text' }, '')),
        h('div', { class: 'who' }, h('span', { class: 'who-name', 'data-testid': 'me' }, S.me.name), h('span', { class: 'who-roles' }, roles)),
        h('button', { class: 'btn btn-ghost btn-small', type: 'button', lang: lang === 'vi' ? 'en' : 'vi', 'aria-label': t('lang.switchLabel'), onclick: switchLang }, t('lang.switch')),
        h('button', { class: 'btn btn-ghost btn-small', type: 'button', id: 'signout', onclick: () => signOut(t('signedOut'), 'info') }, icon('signout'), h('span', {}, t('signout'))))),
    h('nav', { class: 'nav', 'aria-label': t('nav.label') },
      h('ul', {}, ROUTES.filter((r) => r.show()).map((r) =>
        h('li', {}, h('a', { href: `#/${r.path}`, 'data-route': r.path, class: r.path === 'alerts' ? 'nav-alert' : '' }, icon(r.icon), h('span', {}, t(r.label))))))),
    h('main', { id: 'main', class: 'main', tabindex: '-1' }));
  setLive(S.live === 'off' ? 'connecting' : S.live);
}

function logo() {
  const span = document.createElement('span');
  span.className = 'logo';
  span.setAttribute('aria-hidden', 'true');
  let dots = '';
  const lit = [[0, 0], [1, 0], [2, 0], [3, 0], [0, 1], [3, 1], [0, 2], [1, 2], [2, 2], [0, 3], [3, 3], [0, 4], [1, 4], [2, 4], [3, 4]];
  for (let y = 0; y < 5; y++) for (let x = 0; x < 4; x++) {
    const on = lit.some(([a, b]) => a === x && b === y);
    dots += `<circle cx="${6 + x * 7}" cy="${4 + y * 6}" r="2.3" fill="${on ? '#ff6a2a' : '#2d4a66'}"/>`;
  }
  span.innerHTML = `<svg viewBox="0 0 36 32" width="36" height="32">${dots}</svg>`;
  return span;
}

function switchLang() {
  lang = lang === 'vi' ? 'en' : 'vi';
  localStorage.setItem('bangtin.lang', lang);
  if (S.me) { renderShell(); route(true); } else renderSignIn();
}

function signOut(message, kind = 'error') {
  const wasIn = !!S.token;
  S.token = null;
  S.me = null;
  S.dirty = false;
  sessionStorage.removeItem('bangtin.token');
  stopEvents();
  runCleanups();
  for (const f of Object.values(S.frames)) if (f.url) URL.revokeObjectURL(f.url);
  S.frames = {};
  S.now = {};
  renderSignIn();
  if (wasIn && message) toast(message, kind);
}

async function boot() {
  window.addEventListener('hashchange', () => route());
  window.addEventListener('beforeunload', (e) => { if (S.dirty) { e.preventDefault(); e.returnValue = ''; } });
  if (S.token) {
    try {
      S.me = await api('/me', { quiet401: true });
    } catch (e) {
      S.token = null;
      sessionStorage.removeItem('bangtin.token');
    }
  }
  if (S.me) await enter();
  else renderSignIn();
}

async function enter() {
  renderShell();
  // Names for messages and campaigns are needed on several pages.
  await Promise.allSettled([loadPanels(), loadMessages(), loadCampaigns()]);
  startEvents();
  lastHash = '';
  route(true);
}

// ---------------------------------------------------------------------------
// 6. Views
// ---------------------------------------------------------------------------

// 6.1 Sign in --------------------------------------------------------------

function renderSignIn() {
  document.documentElement.lang = lang;
  document.title = `${t('signin.title')} · ${t('app.title')}`;
  const app = clear(document.getElementById('app'));
  app.removeAttribute('aria-busy');
  const input = h('textarea', { id: 'token', name: 'token', rows: '3', autocomplete: 'off', spellcheck: 'false', class: 'mono', required: true });
  const err = h('p', { class: 'field-error', id: 'signin-error', role: 'alert' });
  const submit = h('button', { class: 'btn btn-primary btn-block', type: 'submit' }, t('signin.submit'));
  const form = h('form', {
    class: 'signin-card', novalidate: true,
    onsubmit: async (e) => {
      e.preventDefault();
      err.textContent = '';
      const token = input.value.trim();
      if (!token) { err.textContent = t('signin.empty'); input.focus(); return; }
      submit.disabled = true;
      submit.textContent = t('signin.checking');
      S.token = token;
      try {
        S.me = await api('/me', { quiet401: true });
        sessionStorage.setItem('bangtin.token', token);
        if (!location.hash) history.replaceState(null, '', '#/wall');
        await enter();
      } catch (ex) {
        S.token = null;
        err.textContent = ex.status === 401 ? t('signin.bad') : ex.message;
        input.setAttribute('aria-invalid', 'true');
        submit.disabled = false;
        submit.textContent = t('signin.submit');
        input.focus();
      }
    },
  },
  h('div', { class: 'signin-brand' }, logo(), h('div', {}, h('div', { class: 'brand-name' }, t('app.title')), h('div', { class: 'brand-sub' }, t('app.subtitle')))),
  h('h1', {}, t('signin.title')),
  h('p', { class: 'lead' }, t('signin.lead')),
  field(t('signin.token'), input),
  err,
  submit,
  h('p', { class: 'hint' }, t('signin.note')),
  h('button', { class: 'btn btn-link', type: 'button', lang: lang === 'vi' ? 'en' : 'vi', onclick: switchLang }, t('lang.switch')));
  app.append(h('div', { class: 'signin' }, form));
  input.focus();
}

// 6.2 Panel wall -----------------------------------------------------------

async function viewWall(main, _args, ctx) {
  document.title = `${t('wall.title')} · ${t('app.title')}`;
  await Promise.all([loadPanels(), loadMessages().catch(() => {}), loadCampaigns().catch(() => {}), loadAlertsQuiet()]);
  await loadNowAll();
  if (!ctx.alive()) return;

  const q = sessionStorage.getItem('bangtin.wall.q') || '';
  const g = sessionStorage.getItem('bangtin.wall.g') || '';
  const search = h('input', { type: 'search', value: q, placeholder: t('wall.searchPh'), autocomplete: 'off' });
  const district = h('select', {}, h('option', { value: '' }, t('wall.allDistricts')),
    allGroups().map((x) => h('option', { value: x, selected: x === g }, prettyGroup(x))));
  const counter = h('p', { class: 'counter', 'aria-live': 'polite' });
  const grid = h('div', { class: 'wall' });

  const render = () => {
    const text = search.value.trim().toLowerCase();
    const dg = district.value;
    sessionStorage.setItem('bangtin.wall.q', search.value);
    sessionStorage.setItem('bangtin.wall.g', dg);
    const match = S.panels.filter((p) => !text || p.name.toLowerCase().includes(text) || p.id.includes(text));
    const online = S.panels.filter((p) => p.online).length;
    counter.textContent = t('wall.count', { online, total: S.panels.length });
    clear(grid);
    if (!S.panels.length) { grid.append(emptyState(t('wall.noPanels'))); return; }
    const sections = new Map();
    for (const p of match) {
      const gs = p.groups?.length ? p.groups : [''];
      for (const x of gs) {
        if (dg && x !== dg) continue;
        if (!sections.has(x)) sections.set(x, []);
        sections.get(x).push(p);
      }
    }
    if (!sections.size) { grid.append(emptyState(t('wall.empty'))); return; }
    const keys = [...sections.keys()].sort((a, b) => (a === '') - (b === '') || a.localeCompare(b, 'vi'));
    for (const k of keys) {
      const ps = sections.get(k);
      const on = ps.filter((p) => p.online).length;
      grid.append(h('section', { class: 'district', 'aria-labelledby': `d-${k || 'none'}` },
        h('h2', { id: `d-${k || 'none'}` }, k ? prettyGroup(k) : t('wall.ungrouped'), h('span', { class: 'district-count' }, `${on}/${ps.length}`)),
        h('div', { class: 'tiles' }, ps.map((p) => panelTile(p)))));
    }
  };

  search.addEventListener('input', debounce(render, 150));
  district.addEventListener('change', render);

  clear(main).append(h('div', { class: 'page' },
    h('div', { class: 'page-head' },
      h('div', {}, h('h1', {}, t('wall.title')), h('p', { class: 'lead' }, t('wall.lead'))),
      counter),
    h('div', { class: 'toolbar' },
      field(t('wall.search'), search, { cls: 'grow' }),
      field(t('wall.district'), district)),
    grid));
  render();

  wallHooks.update = (id) => {
    for (const old of grid.querySelectorAll(`[data-panel="${CSS.escape(id)}"]`)) {
      const p = S.panels.find((x) => x.id === id);
      if (p) old.replaceWith(panelTile(p));
    }
    const online = S.panels.filter((p) => p.online).length;
    counter.textContent = t('wall.count', { online, total: S.panels.length });
  };
  wallHooks.resync = async () => {
    try { await loadPanels(); await loadNowAll(); if (ctx.alive()) render(); } catch (e) { fail(e); }
  };
  // Keep "seen 2 minutes ago" honest without events.
  const tick = setInterval(() => {
    for (const el of grid.querySelectorAll('[data-seen]')) el.textContent = seenText(el.dataset.seen);
  }, 30000);
  onCleanup(() => { clearInterval(tick); wallHooks.update = null; wallHooks.resync = null; });
}

async function loadAlertsQuiet() {
  try { S.alerts = await api('/alerts'); } catch { S.alerts = S.alerts || []; }
}

async function loadNowAll() {
  const ids = S.panels.map((p) => p.id);
  let i = 0;
  const worker = async () => {
    while (i < ids.length) {
      const id = ids[i++];
      try { S.now[id] = await api(`/panels/${enc(id)}/now`); } catch (e) { if (e.status === 401) throw e; }
    }
  };
  await Promise.all(Array.from({ length: Math.min(6, ids.length) }, worker));
}

function seenText(iso) { return iso ? t('wall.lastSeen', { when: relTime(iso) }) : t('wall.never'); }

function panelTile(p) {
  const now = S.now[p.id] || {};
  const screen = h('div', { class: 'screen', style: { aspectRatio: `${p.width} / ${p.height}` } });
  fillScreen(screen, p, now.seq);
  let showing;
  if (now.alert) {
    const al = S.alerts.find((a) => a.id === now.alert);
    showing = h('p', { class: 'now now-alert' }, h('strong', {}, t('wall.alert')), ' ', al?.text || now.alert);
  } else if (now.message) {
    showing = h('p', { class: 'now' }, h('span', { class: 'now-label' }, `${t('wall.showing')}: `),
      h('strong', { class: 'now-message', 'data-message': now.message }, messageTitle(now.message)),
      now.campaign ? h('span', { class: 'now-campaign' }, ` · ${campaignName(now.campaign)}`) : null);
  } else {
    showing = h('p', { class: 'now now-blank' }, t('wall.blank'));
  }
  const color = p.format === 'mono1' ? (p.color || '#ff2000') : null;
  return h('article', { class: `tile${now.alert ? ' tile-alert' : ''}${p.online ? '' : ' tile-offline'}`, 'data-panel': p.id, 'data-seq': now.seq ?? '', 'data-message': now.message || '' },
    screen,
    h('div', { class: 'tile-body' },
      h('div', { class: 'tile-head' },
        h('h3', {}, p.name),
        p.online ? badge(t('wall.online'), 'ok') : badge(t('wall.offline'), 'off')),
      h('p', { class: 'tile-meta' }, h('code', {}, p.id), ` · ${p.width}×${p.height} · ${p.format}`,
        color ? h('span', { class: 'swatch', style: { background: color }, title: color }) : null),
      showing,
      h('p', { class: 'tile-seen', 'data-seen': p.last_seen || '' }, seenText(p.last_seen),
        now.since ? ` · ${t('wall.since', { t: fmtTime(now.since) })}` : '')));
}

/** Puts the panel's current frame (LED look) into `screen`, fetching it once per seq. */
function fillScreen(screen, p, seq) {
  const f = S.frames[p.id];
  const placeholder = () => h('div', { class: 'screen-empty' }, t('wall.noFrame'));
  const show = () => {
    clear(screen);
    const cur = S.frames[p.id];
    if (cur?.url) screen.append(h('img', { src: cur.url, alt: t('wall.frameAlt', { name: p.name }), 'data-seq': cur.seq ?? '' }));
    else if (cur?.missing) screen.append(placeholder());
    else screen.append(h('div', { class: 'screen-empty screen-loading' }));
  };
  if (f && f.seq === seq && (f.url || f.missing)) { show(); return; }
  show();
  if (f?.loading === seq) { f.waiters.push(screen); return; }
  const entry = { seq, loading: seq, waiters: [screen], url: f?.url, missing: f?.missing };
  S.frames[p.id] = entry;
  api(`/panels/${enc(p.id)}/frame.png?look=led&t=${enc(seq ?? Date.now())}`, { raw: true, accept: 'image/png' })
    .then((r) => r.blob())
    .then((blob) => {
      if (S.frames[p.id] !== entry) return;
      if (f?.url) URL.revokeObjectURL(f.url);
      entry.url = URL.createObjectURL(blob);
      entry.missing = false;
    })
    .catch((e) => {
      if (S.frames[p.id] !== entry) return;
      if (e.status === 404) { entry.missing = true; if (entry.url) URL.revokeObjectURL(entry.url); entry.url = null; }
    })
    .finally(() => {
      if (S.frames[p.id] !== entry) return;
      entry.loading = null;
      for (const s of entry.waiters.splice(0)) if (s.isConnected) {
        clear(s);
        if (entry.url) s.append(h('img', { src: entry.url, alt: t('wall.frameAlt', { name: p.name }), 'data-seq': seq ?? '' }));
        else s.append(placeholder());
      }
    });
}

// 6.3 Messages -------------------------------------------------------------

async function viewMessages(main, args, ctx) {
  if (args[0]) return viewCompose(main, args[0], ctx);
  document.title = `${t('msg.title')} · ${t('app.title')}`;
  await loadMessages();
  if (!ctx.alive()) return;
  let filter = sessionStorage.getItem('bangtin.msg.filter') || '';
  const search = h('input', { type: 'search', placeholder: t('msg.search'), autocomplete: 'off' });
  const body = h('div');
  const tabs = h('div', { class: 'segmented', role: 'group', 'aria-label': t('msg.col.status') });
  const renderTabs = () => {
    clear(tabs);
    for (const [v, label] of [['', t('msg.all')], ['draft', t('status.draft')], ['approved', t('status.approved')]]) {
      const n = v ? S.messages.filter((m) => m.status === v).length : S.messages.length;
      tabs.append(h('button', { type: 'button', class: 'seg', 'aria-pressed': String(filter === v), onclick: () => { filter = v; sessionStorage.setItem('bangtin.msg.filter', v); renderTabs(); render(); } },
        label, h('span', { class: 'seg-count' }, n)));
    }
  };
  const render = () => {
    const q = search.value.trim().toLowerCase();
    const list = S.messages
      .filter((m) => (!filter || m.status === filter) && (!q || m.title.toLowerCase().includes(q) || (m.text || '').toLowerCase().includes(q)))
      .sort((a, b) => String(b.updated_at).localeCompare(String(a.updated_at)));
    clear(body);
    if (!S.messages.length) { body.append(emptyState(t('msg.empty'))); return; }
    if (!list.length) { body.append(emptyState(t('msg.noMatch'))); return; }
    body.append(h('div', { class: 'table-wrap' }, h('table', { class: 'table' },
      h('thead', {}, h('tr', {}, ['msg.col.title', 'msg.col.status', 'msg.col.editor', 'msg.col.approver', 'msg.col.updated', 'msg.col.actions'].map((k) => h('th', { scope: 'col' }, t(k))))),
      h('tbody', {}, list.map((m) => messageRow(m, () => { renderTabs(); render(); }))))));
  };
  search.addEventListener('input', debounce(render, 150));
  clear(main).append(h('div', { class: 'page' },
    h('div', { class: 'page-head' },
      h('div', {}, h('h1', {}, t('msg.title')), h('p', { class: 'lead' }, t('msg.lead'))),
      can('editor') ? h('a', { class: 'btn btn-primary', href: '#/messages/new', id: 'new-message' }, icon('plus'), t('msg.new')) : null),
    h('div', { class: 'toolbar' }, tabs, field(t('msg.search'), search, { cls: 'grow label-hidden' })),
    body));
  renderTabs();
  render();
}

function approveButton(m, onDone, { dirty = false } = {}) {
  const self = m.updated_by === S.me.name;
  const note = self ? t('fourEyes') : dirty ? t('compose.saveFirst') : null;
  const btn = h('button', {
    type: 'button', class: 'btn btn-approve', disabled: self || dirty, 'data-action': 'approve',
    title: note, 'aria-describedby': note ? `ap-${m.id}` : null,
    onclick: async () => {
      btn.disabled = true;
      try {
        await api(`/messages/${enc(m.id)}/approve`, { method: 'POST' });
        toast(t('compose.approved'), 'ok');
        await loadMessages();
        onDone?.();
      } catch (e) { fail(e); btn.disabled = false; }
    },
  }, icon('check'), t('btn.approve'));
  return h('span', { class: 'approve-wrap' }, btn, note ? h('span', { class: 'approve-note', id: `ap-${m.id}` }, note) : null);
}

function messageRow(m, refresh) {
  return h('tr', { 'data-message': m.id },
    h('td', {}, h('a', { href: `#/messages/${enc(m.id)}`, class: 'row-title' }, m.title),
      h('div', { class: 'row-sub' }, (m.text || '').slice(0, 90), m.image ? h('span', { class: 'chip' }, icon('image'), t('msg.image')) : null)),
    h('td', {}, statusBadge(m.status)),
    h('td', {}, m.updated_by || t('none')),
    h('td', {}, m.approved_by || t('none')),
    h('td', { class: 'nowrap' }, fmtDateTime(m.updated_at)),
    h('td', { class: 'actions-cell' },
      can('approver') && m.status === 'draft' ? approveButton(m, refresh) : null,
      h('a', { class: 'btn btn-small', href: `#/messages/${enc(m.id)}` }, can('editor') ? t('btn.edit') : t('btn.open'))));
}

/** Distinct panel profiles (size, format, colour) with how many panels use each. */
function profiles() {
  const map = new Map();
  for (const p of S.panels) {
    const color = p.color || '#ff2000';
    const key = `${p.width}x${p.height}x${p.format}x${p.format === 'mono1' ? color : ''}`;
    if (!map.has(key)) map.set(key, { key, width: p.width, height: p.height, format: p.format, color, panels: [] });
    map.get(key).panels.push(p);
  }
  return [...map.values()].sort((a, b) => b.panels.length - a.panels.length);
}

async function viewCompose(main, id, ctx) {
  const isNew = id === 'new';
  await loadPanels().catch(() => {});
  let msg = null;
  if (!isNew) {
    try { msg = await api(`/messages/${enc(id)}`); } catch (e) {
      if (e.status === 404) { clear(main).append(h('div', { class: 'page' }, h('p', { class: 'error-box' }, t('compose.notFound')), h('a', { class: 'btn', href: '#/messages' }, t('btn.back')))); return; }
      throw e;
    }
  }
  if (!ctx.alive()) return;
  const editable = can('editor');
  document.title = `${isNew ? t('compose.new') : msg.title} · ${t('app.title')}`;

  // Form state. Colours are null until the author picks one (panel default).
  const st = {
    title: msg?.title || '',
    text: msg?.text || '',
    image: msg?.image || null,
    imageInfo: null,
    color: msg?.style?.color || null,
    background: msg?.style?.background || null,
    align: msg?.style?.align || 'center',
    fit: msg?.style?.fit || 'contain',
    caption: msg?.style?.caption || 'below',
  };
  const body = () => {
    const style = { align: st.align };
    if (st.color) style.color = st.color;
    if (st.background) style.background = st.background;
    if (st.image) { style.fit = st.fit; style.caption = st.caption; }
    const b = { title: st.title.trim(), style };
    if (st.text.trim()) b.text = st.text;
    if (st.image) b.image = st.image;
    return b;
  };
  const saved = JSON.stringify(body());
  const markDirty = () => { S.dirty = JSON.stringify(body()) !== saved; syncButtons(); };

  // --- controls
  const title = h('input', { type: 'text', name: 'title', value: st.title, maxlength: '200', required: true, readOnly: !editable, autocomplete: 'off' });
  const text = h('textarea', { name: 'text', rows: '6', lang: 'vi', readOnly: !editable, spellcheck: 'false' });
  text.value = st.text;
  const counter = h('span', { class: 'char-count' });
  const updCounter = () => {
    const n = [...text.value].length;
    counter.textContent = t('f.chars', { n, max: MAX_TEXT });
    counter.classList.toggle('over', n > MAX_TEXT);
  };
  updCounter();

  const imageBox = h('div', { class: 'image-box' });
  const fileInput = h('input', { type: 'file', accept: 'image/png,image/jpeg,image/gif,image/webp', class: 'visually-hidden', id: 'image-file', tabindex: '-1' });
  const renderImage = async () => {
    clear(imageBox);
    if (st.image) {
      const thumb = h('div', { class: 'thumb' });
      imageBox.append(h('div', { class: 'image-set' }, thumb,
        h('div', { class: 'image-meta' },
          st.imageInfo ? h('p', {}, t('f.imageInfo', { w: st.imageInfo.width, h: st.imageInfo.height, size: fmtBytes(st.imageInfo.bytes) })) : null,
          h('p', { class: 'mono small' }, st.image.slice(0, 16) + '…'),
          editable ? h('button', { type: 'button', class: 'btn btn-small', onclick: () => { st.image = null; st.imageInfo = null; renderImage(); renderStyleExtras(); changed(); } }, icon('x'), t('f.removeImage')) : null)));
      try {
        const r = await api(`/assets/${enc(st.image)}`, { raw: true });
        const url = URL.createObjectURL(await r.blob());
        thumb.append(h('img', { src: url, alt: '' }));
        onCleanup(() => URL.revokeObjectURL(url));
      } catch { /* thumbnail is a nicety */ }
    } else if (editable) {
      const drop = h('label', { class: 'drop', for: 'image-file', tabindex: '0',
        onkeydown: (e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); fileInput.click(); } } },
      icon('image', 'icon icon-lg'),
      h('span', {}, t('f.drop'), ' ', h('u', {}, t('f.pick'))),
      h('span', { class: 'hint' }, t('f.imageTypes')));
      for (const ev of ['dragenter', 'dragover']) drop.addEventListener(ev, (e) => { e.preventDefault(); drop.classList.add('drag'); });
      for (const ev of ['dragleave', 'drop']) drop.addEventListener(ev, () => drop.classList.remove('drag'));
      drop.addEventListener('drop', (e) => { e.preventDefault(); const f = e.dataTransfer.files[0]; if (f) upload(f); });
      imageBox.append(drop);
    } else {
      imageBox.append(h('p', { class: 'muted' }, t('none')));
    }
  };
  const upload = async (file) => {
    if (!/^image\/(png|jpeg|gif|webp)$/.test(file.type)) { toast(t('f.badType')); return; }
    clear(imageBox).append(h('p', { class: 'muted' }, t('f.uploading')));
    try {
      const a = await api('/assets', { method: 'POST', body: file, headers: { 'Content-Type': file.type } });
      st.image = a.id;
      st.imageInfo = a;
      toast(t('f.uploaded'), 'ok');
    } catch (e) { fail(e); }
    renderImage();
    renderStyleExtras();
    changed();
  };
  fileInput.addEventListener('change', () => { if (fileInput.files[0]) upload(fileInput.files[0]); fileInput.value = ''; });

  const colorControl = (key, label, fallback) => {
    const input = h('input', { type: 'color', value: st[key] || fallback, disabled: !editable, 'aria-label': label });
    const state = h('span', { class: 'color-state' });
    const reset = h('button', { type: 'button', class: 'btn btn-link btn-small', disabled: !editable }, t('f.default'));
    const sync = () => { state.textContent = st[key] ? st[key] : t('f.defaultColor'); reset.hidden = !st[key]; };
    input.addEventListener('input', () => { st[key] = input.value; sync(); changed(); });
    reset.addEventListener('click', () => { st[key] = null; input.value = fallback; sync(); changed(); });
    sync();
    return h('div', { class: 'field' }, h('span', { class: 'label' }, label), h('div', { class: 'color-row' }, input, state, reset));
  };

  const alignGroup = h('div', { class: 'segmented', role: 'radiogroup', 'aria-label': t('f.align') });
  const renderAlign = () => {
    clear(alignGroup);
    for (const a of ['left', 'center', 'right']) {
      alignGroup.append(h('button', { type: 'button', role: 'radio', class: 'seg', 'aria-checked': String(st.align === a), disabled: !editable,
        onclick: () => { st.align = a; renderAlign(); changed(); } }, t(`align.${a}`)));
    }
  };
  renderAlign();
  const select = (key, options) => {
    const s = h('select', { disabled: !editable }, options.map((o) => h('option', { value: o, selected: st[key] === o }, t(`${key}.${o}`))));
    s.addEventListener('change', () => { st[key] = s.value; changed(); });
    return s;
  };
  const extras = h('div', { class: 'style-extras' });
  const renderStyleExtras = () => {
    clear(extras);
    if (!st.image) return;
    extras.append(field(t('f.fit'), select('fit', ['contain', 'cover', 'stretch'])), field(t('f.caption'), select('caption', ['below', 'above', 'over'])));
  };
  renderStyleExtras();

  title.addEventListener('input', () => { st.title = title.value; changed(); });
  text.addEventListener('input', () => { st.text = text.value; updCounter(); changed(); });

  // --- status and actions
  const meta = h('div', { class: 'meta-box' });
  const actions = h('div', { class: 'form-actions' });
  const saveBtn = h('button', { type: 'submit', class: 'btn btn-primary', id: 'save-message' }, isNew || msg?.status === 'draft' ? t('btn.save') : t('btn.saveChanges'));
  const renderMeta = () => {
    clear(meta);
    if (!msg) return;
    meta.append(
      h('div', { class: 'meta-row' }, h('span', { class: 'label' }, t('meta.status')), statusBadge(msg.status)),
      h('p', {}, t('meta.editedBy', { who: msg.updated_by, when: fmtDateTime(msg.updated_at) })),
      msg.approved_by && msg.status === 'approved'
        ? h('p', {}, t('meta.approvedBy', { who: msg.approved_by, when: fmtDateTime(msg.approved_at) }))
        : h('p', { class: 'muted' }, t('meta.notApproved')));
    if (msg.status === 'approved' && editable) meta.append(h('p', { class: 'notice' }, icon('warn'), t('compose.approvedBanner')));
  };
  const syncButtons = () => {
    clear(actions);
    if (editable) actions.append(saveBtn);
    if (msg && can('approver') && msg.status === 'draft') actions.append(approveButton(msg, reloadMsg, { dirty: S.dirty }));
    if (msg && editable) actions.append(h('button', { type: 'button', class: 'btn btn-danger-ghost', onclick: del }, t('btn.delete')));
    actions.append(h('a', { class: 'btn btn-ghost', href: '#/messages' }, t('btn.back')));
  };
  const reloadMsg = async () => {
    msg = await api(`/messages/${enc(msg.id)}`);
    renderMeta();
    syncButtons();
    savedPreview.refresh();
  };
  const del = async () => {
    const ok = await confirmDialog({ title: t('compose.deleteTitle'), body: t('compose.deleteConfirm', { title: msg.title }), ok: t('btn.delete'), danger: true });
    if (!ok) return;
    try {
      await api(`/messages/${enc(msg.id)}`, { method: 'DELETE' });
      toast(t('compose.deleted'), 'ok');
      S.dirty = false;
      await loadMessages();
      go('#/messages');
    } catch (e) { fail(e); }
  };
  const formErr = h('p', { class: 'field-error', role: 'alert' });
  const form = h('form', {
    class: 'card compose-form', novalidate: true,
    onsubmit: async (e) => {
      e.preventDefault();
      formErr.textContent = '';
      const b = body();
      if (!b.title) { formErr.textContent = t('compose.needTitle'); title.focus(); return; }
      if (!b.text && !b.image) { formErr.textContent = t('compose.needContent'); text.focus(); return; }
      if (msg?.status === 'approved') {
        const ok = await confirmDialog({ title: t('compose.approvedWarnTitle'), body: t('compose.approvedWarn'), ok: t('btn.saveChanges') });
        if (!ok) return;
      }
      saveBtn.disabled = true;
      saveBtn.textContent = t('btn.saving');
      try {
        const res = isNew ? await api('/messages', { method: 'POST', json: b }) : await api(`/messages/${enc(msg.id)}`, { method: 'PUT', json: b });
        toast(t('compose.saved'), 'ok');
        S.dirty = false;
        await loadMessages().catch(() => {});
        go(`#/messages/${enc(res.id || msg.id)}`);
      } catch (ex) {
        formErr.textContent = ex.message;
        saveBtn.disabled = false;
        saveBtn.textContent = t('btn.save');
      }
    },
  },
  field(t('f.title'), title, { hint: t('f.titleHint') }),
  h('div', { class: 'field' },
    h('div', { class: 'label-row' }, h('label', { for: 'msg-text' }, t('f.text')), counter),
    Object.assign(text, { id: 'msg-text' }),
    h('p', { class: 'hint' }, t('f.textHint'))),
  h('div', { class: 'field' }, h('span', { class: 'label' }, t('f.image')), imageBox, fileInput),
  h('fieldset', { class: 'style-set' },
    h('legend', {}, t('f.style')),
    h('div', { class: 'style-grid' },
      colorControl('color', t('f.color'), '#ffb000'),
      colorControl('background', t('f.background'), '#000000'),
      h('div', { class: 'field' }, h('span', { class: 'label' }, t('f.align')), alignGroup)),
    extras),
  formErr,
  actions);

  // --- previews
  const livePreview = editable ? makeLivePreview(body) : null;
  const savedPreview = makeSavedPreview(() => msg);
  const changed = () => { markDirty(); livePreview?.schedule(); };

  clear(main).append(h('div', { class: 'page' },
    h('nav', { class: 'crumbs', 'aria-label': 'breadcrumb' }, h('a', { href: '#/messages' }, t('msg.title')), ' / ', h('span', {}, isNew ? t('compose.new') : msg.title)),
    h('div', { class: 'page-head' }, h('h1', {}, isNew ? t('compose.new') : editable ? t('compose.edit') : t('compose.view'))),
    h('div', { class: 'compose' },
      h('div', { class: 'compose-left' }, meta, form),
      h('div', { class: 'compose-right' }, livePreview?.el, msg ? savedPreview.el : null))));
  renderMeta();
  syncButtons();
  renderImage();
  livePreview?.schedule(0);
  if (msg) savedPreview.refresh();
  if (editable && isNew) title.focus();
}

/** Live preview: one card per panel profile, re-rendered 300 ms after the last keystroke. */
function makeLivePreview(bodyFn) {
  const el = h('section', { class: 'card preview-card', 'aria-labelledby': 'pv-title' },
    h('h2', { id: 'pv-title' }, t('preview.live')), h('p', { class: 'hint' }, t('preview.hint')));
  const list = h('div', { class: 'previews' });
  el.append(list);
  const profs = profiles();
  const cards = profs.map((pr) => {
    const img = h('img', { class: 'preview-img', alt: '' });
    const frame = h('div', { class: 'screen screen-preview', style: { aspectRatio: `${pr.width} / ${pr.height}` } }, img);
    const pager = h('div', { class: 'pager' });
    const warn = h('p', { class: 'reading-warning', role: 'status', hidden: true });
    const card = { pr, page: 1, pages: 1, img, frame, pager, warn, ctrl: null, url: null };
    card.el = h('div', { class: 'preview', 'data-profile': pr.key },
      h('div', { class: 'preview-head' },
        h('span', { class: 'preview-size' }, `${pr.width}×${pr.height}`),
        h('span', { class: 'muted' }, ` · ${pr.format}`),
        pr.format === 'mono1' ? h('span', { class: 'swatch', style: { background: pr.color } }) : null,
        h('span', { class: 'muted preview-count', title: pr.panels.map((p) => p.name).join(', ') }, t('preview.panels', { n: pr.panels.length }))),
      frame, pager, warn);
    return card;
  });
  if (!cards.length) list.append(emptyState(t('preview.noProfiles')));
  for (const c of cards) list.append(c.el);

  const renderPager = (c) => {
    clear(c.pager);
    c.pager.append(
      h('button', { type: 'button', class: 'btn btn-icon', 'aria-label': t('preview.prev'), disabled: c.page <= 1, onclick: () => { c.page--; draw(c); } }, icon('left')),
      h('span', { class: 'page-no', 'aria-live': 'polite' }, t('preview.page', { n: c.page, total: c.pages })),
      h('button', { type: 'button', class: 'btn btn-icon', 'aria-label': t('preview.next'), disabled: c.page >= c.pages, onclick: () => { c.page++; draw(c); } }, icon('right')));
  };
  const draw = async (c) => {
    const b = bodyFn();
    if (!b.text && !b.image) {
      c.img.removeAttribute('src');
      c.frame.classList.add('screen-idle');
      c.frame.dataset.empty = t('preview.none');
      c.pages = 1; c.page = 1; renderPager(c); c.warn.hidden = true;
      return;
    }
    c.frame.classList.remove('screen-idle');
    c.ctrl?.abort();
    const ctrl = new AbortController();
    c.ctrl = ctrl;
    c.frame.classList.add('busy');
    const { pr } = c;
    const q = `width=${pr.width}&height=${pr.height}&format=${pr.format}&color=${enc(pr.color)}&page=${c.page}&look=led`;
    try {
      const b2 = { ...b, title: b.title || '-' };
      const { url, headers } = await fetchImage(`/preview?${q}`, { method: 'POST', json: b2, signal: ctrl.signal });
      if (c.ctrl !== ctrl) { URL.revokeObjectURL(url); return; }
      if (c.url) URL.revokeObjectURL(c.url);
      c.url = url;
      c.img.src = url;
      c.img.alt = t('preview.alt', { size: `${pr.width}×${pr.height}`, n: c.page });
      c.pages = Math.max(1, parseInt(headers.get('X-Pages') || '1', 10) || 1);
      if (c.page > c.pages) { c.page = c.pages; return draw(c); }
      const w = headers.get('X-Reading-Warning');
      c.warn.hidden = !w;
      clear(c.warn);
      if (w) {
        let sentence = w;
        try { sentence = decodeURIComponent(w.replace(/\+/g, ' ')); } catch { /* keep raw */ }
        c.warn.append(icon('warn'), h('span', {}, h('strong', { class: 'warn-lead' }, t('preview.tooLong')), ' ', sentence));
      }
      renderPager(c);
    } catch (e) {
      if (e.name === 'AbortError') return;
      c.warn.hidden = false;
      clear(c.warn).append(icon('warn'), h('span', {}, e.message));
      if (e.status !== 400 && e.status !== 422) fail(e);
    } finally {
      if (c.ctrl === ctrl) c.frame.classList.remove('busy');
    }
  };
  const run = () => { for (const c of cards) draw(c); };
  const deb = debounce(run, 300);
  onCleanup(() => { deb.cancel(); for (const c of cards) { c.ctrl?.abort(); if (c.url) URL.revokeObjectURL(c.url); } });
  for (const c of cards) renderPager(c);
  return { el, schedule: (ms) => (ms === 0 ? run() : deb()) };
}

/** The saved message as each real panel will show it (GET …/preview.png?panel=ID). */
function makeSavedPreview(msgFn) {
  const sel = h('select', {}, S.panels.map((p) => h('option', { value: p.id }, `${p.name} (${p.width}×${p.height})`)));
  const img = h('img', { class: 'preview-img', alt: '' });
  const frame = h('div', { class: 'screen screen-preview' }, img);
  const pager = h('div', { class: 'pager' });
  let page = 1;
  let pages = 1;
  let url = null;
  let ctrl = null;
  const el = h('section', { class: 'card preview-card', 'aria-labelledby': 'sp-title' },
    h('h2', { id: 'sp-title' }, t('preview.saved')),
    S.panels.length ? field(t('preview.panel'), sel) : emptyState(t('preview.noProfiles')),
    S.panels.length ? frame : null, pager);
  const renderPager = () => {
    clear(pager).append(
      h('button', { type: 'button', class: 'btn btn-icon', 'aria-label': t('preview.prev'), disabled: page <= 1, onclick: () => { page--; refresh(); } }, icon('left')),
      h('span', { class: 'page-no' }, t('preview.page', { n: page, total: pages })),
      h('button', { type: 'button', class: 'btn btn-icon', 'aria-label': t('preview.next'), disabled: page >= pages, onclick: () => { page++; refresh(); } }, icon('right')));
  };
  const refresh = async () => {
    const m = msgFn();
    const p = S.panels.find((x) => x.id === sel.value);
    if (!m || !p) return;
    frame.style.aspectRatio = `${p.width} / ${p.height}`;
    ctrl?.abort();
    const c = new AbortController();
    ctrl = c;
    frame.classList.add('busy');
    try {
      const r = await fetchImage(`/messages/${enc(m.id)}/preview.png?panel=${enc(p.id)}&page=${page}&look=led&v=${enc(m.version ?? m.updated_at ?? '')}`, { signal: c.signal });
      if (ctrl !== c) { URL.revokeObjectURL(r.url); return; }
      if (url) URL.revokeObjectURL(url);
      url = r.url;
      img.src = url;
      img.alt = t('preview.alt', { size: `${p.width}×${p.height}`, n: page });
      pages = Math.max(1, parseInt(r.headers.get('X-Pages') || '1', 10) || 1);
      renderPager();
    } catch (e) { fail(e); } finally { if (ctrl === c) frame.classList.remove('busy'); }
  };
  sel.addEventListener('change', () => { page = 1; refresh(); });
  onCleanup(() => { ctrl?.abort(); if (url) URL.revokeObjectURL(url); });
  renderPager();
  return { el, refresh };
}

// 6.4 Campaigns ------------------------------------------------------------

function describeTargets(targets) {
  return targets.map((tg) => (tg === 'all' ? t('cf.all') : tg.startsWith('group:') ? prettyGroup(tg.slice(6)) : panelName(tg))).join(', ');
}

function describeTiming(c) {
  if (c.cron) return t('camp.cronFor', { cron: c.cron, dur: fmtDuration(c.duration_s) });
  return t('camp.days', { start: fmtDate(c.start), end: fmtDate(c.end) });
}

async function viewCampaigns(main, args, ctx) {
  if (args[0]) return viewCampaignForm(main, args[0], ctx);
  document.title = `${t('camp.title')} · ${t('app.title')}`;
  await Promise.all([loadCampaigns(), loadMessages(), loadPanels()]);
  if (!ctx.alive()) return;
  const list = [...S.campaigns].sort((a, b) => b.priority - a.priority || a.name.localeCompare(b.name, 'vi'));
  const timeline = makeTimeline(() => S.panels);
  clear(main).append(h('div', { class: 'page' },
    h('div', { class: 'page-head' },
      h('div', {}, h('h1', {}, t('camp.title')), h('p', { class: 'lead' }, t('camp.lead'))),
      can('scheduler') ? h('a', { class: 'btn btn-primary', href: '#/campaigns/new', id: 'new-campaign' }, icon('plus'), t('camp.new')) : null),
    list.length ? h('div', { class: 'table-wrap' }, h('table', { class: 'table' },
      h('thead', {}, h('tr', {}, ['camp.col.name', 'camp.col.messages', 'camp.col.targets', 'camp.col.timing', 'camp.col.priority'].map((k) => h('th', { scope: 'col' }, t(k))))),
      h('tbody', {}, list.map((c) => h('tr', { 'data-campaign': c.id },
        h('td', {}, h('span', { class: 'swatch swatch-lg', style: { background: campaignColor(c.id) } }), h('a', { href: `#/campaigns/${enc(c.id)}`, class: 'row-title' }, c.name)),
        h('td', {}, c.messages.map((m) => messageTitle(m.id)).join(', ')),
        h('td', {}, describeTargets(c.targets)),
        h('td', {}, describeTiming(c)),
        h('td', { class: 'num' }, c.priority))))))
      : emptyState(t('camp.empty')),
    timeline.el));
  timeline.refresh();
}

/** Horizontal bars per panel for today or this week, coloured by campaign. */
function makeTimeline(panelsFn) {
  let range = 'today';
  const body = h('div', { class: 'timeline-body' });
  const legend = h('div', { class: 'legend', 'aria-label': t('tl.legend') });
  const tabs = h('div', { class: 'segmented', role: 'group', 'aria-label': t('tl.title') });
  const renderTabs = () => {
    clear(tabs);
    for (const r of ['today', 'week']) {
      tabs.append(h('button', { type: 'button', class: 'seg', 'aria-pressed': String(range === r), onclick: () => { range = r; renderTabs(); refresh(); } }, t(`tl.${r}`)));
    }
  };
  const el = h('section', { class: 'card timeline', 'aria-labelledby': 'tl-title' },
    h('div', { class: 'card-head' }, h('h2', { id: 'tl-title' }, t('tl.title')), tabs), body, legend);
  let gen = 0;
  const refresh = async () => {
    const my = ++gen;
    const panels = panelsFn();
    const today = todayVN();
    let fromDay = today;
    let days = 1;
    if (range === 'week') {
      const [y, m, d] = today.split('-').map(Number);
      const dow = (new Date(Date.UTC(y, m - 1, d)).getUTCDay() + 6) % 7; // Monday = 0
      fromDay = addDays(today, -dow);
      days = 7;
    }
    const from = vnMidnight(fromDay);
    const to = vnMidnight(addDays(fromDay, days));
    const t0 = new Date(from).getTime();
    const t1 = new Date(to).getTime();
    clear(body).append(h('p', { class: 'muted' }, t('loading')));
    clear(legend);
    if (!panels.length) { clear(body).append(emptyState(t('tl.noPanels'))); return; }
    const rows = await Promise.all(panels.map((p) => fetchTimeline(p.id, from, to, range === 'week' ? 3 : 4).catch((e) => { fail(e); return { bars: [], until: null }; })));
    if (my !== gen) return;
    clear(body);
    const axis = h('div', { class: 'tl-axis', 'aria-hidden': 'true' });
    if (range === 'today') {
      for (let hr = 0; hr <= 24; hr += 3) axis.append(h('span', { style: { left: `${(hr / 24) * 100}%` } }, `${String(hr).padStart(2, '0')}:00`));
    } else {
      const fmt = new Intl.DateTimeFormat(locale(), { timeZone: 'UTC', weekday: 'short', day: '2-digit', month: '2-digit' });
      for (let i = 0; i < 7; i++) {
        const [y, m, d] = addDays(fromDay, i).split('-').map(Number);
        axis.append(h('span', { class: 'tl-day', style: { left: `${(i / 7) * 100}%`, width: `${100 / 7}%` } }, fmt.format(new Date(Date.UTC(y, m - 1, d)))));
      }
    }
    const grid = h('div', { class: 'tl-grid', role: 'table', 'aria-label': t('tl.title') },
      h('div', { class: 'tl-row tl-head', role: 'row' }, h('div', { class: 'tl-label', role: 'columnheader' }, t('tl.rowLabel')), h('div', { class: 'tl-track', role: 'columnheader' }, axis)));
    const seen = new Map();
    const nowMs = Date.now();
    let any = false;
    let truncated = null;
    panels.forEach((p, i) => {
      const track = h('div', { class: 'tl-track', role: 'cell' });
      if (range === 'week') for (let d = 1; d < 7; d++) track.append(h('span', { class: 'tl-daysep', style: { left: `${(d / 7) * 100}%` } }));
      const { bars, until } = rows[i];
      for (const bar of bars) {
        const s = Math.max(t0, bar.start);
        const e = Math.min(t1, bar.end);
        if (e <= s) continue;
        any = true;
        const color = bar.alert ? '#c4261d' : campaignColor(bar.campaign);
        const label = bar.alert ? t('tl.alert') : campaignName(bar.campaign);
        seen.set(bar.key, { color, label });
        const titles = [...bar.messages].map(messageTitle);
        const when = range2(bar.start, bar.end, range === 'week');
        const tip = `${when} · ${label}${titles.length ? ` · ${titles.join(', ')}` : ''}`;
        track.append(h('span', { class: 'tl-bar', style: { left: `${((s - t0) / (t1 - t0)) * 100}%`, width: `${((e - s) / (t1 - t0)) * 100}%`, background: color }, title: tip, 'aria-label': tip, tabindex: '0' },
          h('span', { class: 'tl-bar-text' }, titles.length === 1 ? titles[0] : label)));
      }
      if (until && until < t1) {
        truncated = Math.min(truncated ?? until, until);
        track.append(h('span', { class: 'tl-unknown', style: { left: `${((until - t0) / (t1 - t0)) * 100}%`, right: '0' }, title: t('tl.notLoaded') }));
      }
      if (nowMs > t0 && nowMs < t1) track.append(h('span', { class: 'tl-now', style: { left: `${((nowMs - t0) / (t1 - t0)) * 100}%` }, title: t('tl.now') }));
      grid.append(h('div', { class: 'tl-row', role: 'row', 'data-panel': p.id }, h('div', { class: 'tl-label', role: 'rowheader' }, h('span', {}, p.name), h('code', {}, p.id)), track));
    });
    body.append(grid);
    if (!any) body.append(h('p', { class: 'muted tl-empty' }, t('tl.empty')));
    if (truncated) body.append(h('p', { class: 'muted tl-empty' }, t('tl.truncated', { when: fmtDateTime(new Date(truncated).toISOString()) })));
    for (const [, v] of seen) legend.append(h('span', { class: 'legend-item' }, h('span', { class: 'swatch', style: { background: v.color } }), v.label));
  };
  renderTabs();
  return { el, refresh };
}

/** "07:00–09:00", or with the day for the week view. */
function range2(a, b, withDay) {
  const f = (ms) => (withDay ? fmtDateTime(new Date(ms).toISOString()) : fmtTime(new Date(ms).toISOString()));
  return `${f(a)}–${f(b)}`;
}

/**
 * A panel's timeline between `from` and `to`, with consecutive slots of the
 * same campaign (or alert) merged into one bar. The server answers slot by
 * slot (one per page) and caps each answer, so this follows on from the last
 * slot it got, at most `maxRequests` times; `until` says where it stopped
 * when that was not enough.
 */
async function fetchTimeline(panelId, from, to, maxRequests) {
  const end = new Date(to).getTime();
  const bars = [];
  let cursor = from;
  let until = null;
  for (let i = 0; i < maxRequests; i++) {
    const slots = await api(`/panels/${enc(panelId)}/timeline?from=${enc(cursor)}&to=${enc(to)}`);
    for (const s of slots) {
      if (!s.campaign && !s.alert) continue;
      const key = s.alert ? `alert:${s.alert}` : s.campaign;
      const a = new Date(s.start).getTime();
      const b = new Date(s.end).getTime();
      const prev = bars[bars.length - 1];
      if (prev && prev.key === key && a - prev.end <= 1000) {
        prev.end = Math.max(prev.end, b);
      } else {
        bars.push({ key, campaign: s.campaign, alert: s.alert, start: a, end: b, messages: new Set() });
      }
      if (s.message) bars[bars.length - 1].messages.add(s.message);
    }
    const last = slots[slots.length - 1];
    const reached = last ? new Date(last.end).getTime() : end;
    if (!last || reached >= end) { until = null; break; }
    cursor = last.end;
    until = reached;
  }
  return { bars, until };
}

async function viewCampaignForm(main, id, ctx) {
  const isNew = id === 'new';
  await Promise.all([loadMessages(), loadPanels()]);
  let camp = null;
  if (!isNew) {
    try { camp = await api(`/campaigns/${enc(id)}`); } catch (e) {
      if (e.status === 404) { clear(main).append(h('div', { class: 'page' }, h('p', { class: 'error-box' }, t('camp.notFound')), h('a', { class: 'btn', href: '#/campaigns' }, t('btn.back')))); return; }
      throw e;
    }
  }
  if (!ctx.alive()) return;
  const editable = can('scheduler');
  document.title = `${isNew ? t('camp.new') : camp.name} · ${t('app.title')}`;
  const today = todayVN();
  const st = {
    name: camp?.name || '',
    items: (camp?.messages || []).map((m) => ({ id: m.id, dwell_s: m.dwell_s })),
    targets: new Set(camp?.targets || []),
    mode: camp?.cron ? 'cron' : 'days',
    cron: camp?.cron || '0 7 * * 1-5',
    durValue: camp?.duration_s ? (camp.duration_s % 3600 === 0 ? camp.duration_s / 3600 : Math.round(camp.duration_s / 60)) : 60,
    durUnit: camp?.duration_s && camp.duration_s % 3600 === 0 ? 'hour' : 'min',
    start: camp?.start || today,
    end: camp?.end || addDays(today, 6),
    priority: camp?.priority ?? 10,
    tz: camp?.tz || TZ,
  };
  const ro = !editable;
  const dirty = () => { S.dirty = true; };

  const name = h('input', { type: 'text', value: st.name, required: true, readOnly: ro, maxlength: '200', autocomplete: 'off' });
  name.addEventListener('input', () => { st.name = name.value; dirty(); });

  // Playlist
  const itemsBox = h('div', { class: 'playlist' });
  const renderItems = () => {
    clear(itemsBox);
    if (!st.items.length) itemsBox.append(h('p', { class: 'muted' }, t('cf.noMessages')));
    st.items.forEach((it, i) => {
      const sel = h('select', { disabled: ro, 'aria-label': `${t('cf.message')} ${i + 1}` },
        h('option', { value: '' }, t('cf.chooseMessage')),
        S.messages.map((m) => h('option', { value: m.id, selected: m.id === it.id }, `${m.title} (${t(`status.${m.status}`)})`)));
      sel.addEventListener('change', () => { it.id = sel.value; dirty(); renderItems(); });
      const dwell = h('input', { type: 'number', min: '1', max: '86400', value: it.dwell_s, readOnly: ro, class: 'num-input', 'aria-label': `${t('cf.dwell')} ${i + 1}` });
      dwell.addEventListener('input', () => { it.dwell_s = parseInt(dwell.value, 10) || 0; dirty(); });
      const m = S.messages.find((x) => x.id === it.id);
      itemsBox.append(h('div', { class: 'playlist-row' },
        h('span', { class: 'playlist-no' }, i + 1),
        h('div', { class: 'grow' }, sel, m ? h('div', { class: 'row-sub' }, statusBadge(m.status), m.status === 'draft' ? h('span', { class: 'muted' }, ` ${t('cf.draftNote')}`) : null) : null),
        h('label', { class: 'dwell' }, dwell, h('span', { class: 'muted' }, t('cf.dwell'))),
        ro ? null : h('div', { class: 'row-buttons' },
          h('button', { type: 'button', class: 'btn btn-icon', 'aria-label': t('cf.up'), disabled: i === 0, onclick: () => { [st.items[i - 1], st.items[i]] = [st.items[i], st.items[i - 1]]; dirty(); renderItems(); } }, icon('up')),
          h('button', { type: 'button', class: 'btn btn-icon', 'aria-label': t('cf.down'), disabled: i === st.items.length - 1, onclick: () => { [st.items[i + 1], st.items[i]] = [st.items[i], st.items[i + 1]]; dirty(); renderItems(); } }, icon('down')),
          h('button', { type: 'button', class: 'btn btn-icon', 'aria-label': t('cf.remove'), onclick: () => { st.items.splice(i, 1); dirty(); renderItems(); } }, icon('x')))));
    });
    if (!ro) itemsBox.append(h('button', { type: 'button', class: 'btn btn-small', id: 'add-item', onclick: () => { st.items.push({ id: '', dwell_s: 10 }); dirty(); renderItems(); itemsBox.querySelectorAll('select')[st.items.length - 1]?.focus(); } }, icon('plus'), t('cf.addMessage')));
  };
  renderItems();

  // Targets
  const targetsBox = h('div', { class: 'targets' });
  const renderTargets = () => {
    clear(targetsBox);
    const all = st.targets.has('all');
    const cb = (value, label, extra) => {
      const input = h('input', { type: 'checkbox', value, checked: st.targets.has(value), disabled: ro || (all && value !== 'all') });
      input.addEventListener('change', () => { if (input.checked) st.targets.add(value); else st.targets.delete(value); dirty(); renderTargets(); });
      return h('label', { class: 'check' }, input, h('span', {}, label), extra ? h('span', { class: 'muted check-extra' }, extra) : null);
    };
    targetsBox.append(cb('all', t('cf.all'), ` (${S.panels.length})`));
    const groups = allGroups();
    if (groups.length) targetsBox.append(h('fieldset', { class: 'sub' }, h('legend', {}, t('cf.groups')),
      h('div', { class: 'check-grid' }, groups.map((g) => cb(`group:${g}`, prettyGroup(g), ` (${S.panels.filter((p) => p.groups?.includes(g)).length})`)))));
    targetsBox.append(h('fieldset', { class: 'sub' }, h('legend', {}, t('cf.panels')),
      h('div', { class: 'check-grid check-grid-panels' }, S.panels.map((p) => cb(p.id, p.name, p.id)))));
  };
  renderTargets();

  // Timing
  const cronInput = h('input', { type: 'text', value: st.cron, class: 'mono', readOnly: ro, spellcheck: 'false', autocomplete: 'off' });
  const explain = h('div', { class: 'cron-explain', 'aria-live': 'polite' });
  const tzInput = h('input', { type: 'text', value: st.tz, readOnly: ro, list: 'tz-list', autocomplete: 'off' });
  let explainCtrl = null;
  const doExplain = async () => {
    explainCtrl?.abort();
    const c = new AbortController();
    explainCtrl = c;
    if (!st.cron.trim()) { clear(explain); return; }
    clear(explain).append(h('span', { class: 'muted' }, t('cf.explaining')));
    try {
      const r = await api('/cron/explain', { method: 'POST', json: { cron: st.cron.trim(), tz: st.tz.trim() || TZ }, signal: c.signal });
      if (explainCtrl !== c) return;
      clear(explain).append(h('p', { class: 'cron-desc' }, icon('check'), r.description),
        r.next?.length ? h('p', { class: 'muted' }, `${t('cf.next')}: `, r.next.slice(0, 5).map(fmtDateTime).join(' · ')) : null);
      cronInput.removeAttribute('aria-invalid');
    } catch (e) {
      if (e.name === 'AbortError' || explainCtrl !== c) return;
      clear(explain).append(h('p', { class: 'field-error' }, e.message));
      cronInput.setAttribute('aria-invalid', 'true');
    }
  };
  const explainSoon = debounce(doExplain, 350);
  onCleanup(() => { explainSoon.cancel(); explainCtrl?.abort(); });
  cronInput.addEventListener('input', () => { st.cron = cronInput.value; dirty(); explainSoon(); });
  tzInput.addEventListener('input', () => { st.tz = tzInput.value; dirty(); if (st.mode === 'cron') explainSoon(); });
  const presets = h('div', { class: 'presets' }, h('span', { class: 'muted' }, `${t('cf.presets')}:`),
    [['preset.weekday7', '0 7 * * 1-5'], ['preset.daily6', '0 6 * * *'], ['preset.hourly', '0 * * * *'], ['preset.weekend', '0 8 * * 6,0']].map(([k, v]) =>
      h('button', { type: 'button', class: 'btn btn-chip', disabled: ro, onclick: () => { st.cron = v; cronInput.value = v; dirty(); doExplain(); } }, t(k))));
  const durValue = h('input', { type: 'number', min: '1', value: st.durValue, readOnly: ro, class: 'num-input', 'aria-label': t('cf.duration') });
  const durUnit = h('select', { disabled: ro, 'aria-label': t('cf.duration') }, ['min', 'hour'].map((u) => h('option', { value: u, selected: st.durUnit === u }, t(`unit.${u}`))));
  durValue.addEventListener('input', () => { st.durValue = parseInt(durValue.value, 10) || 0; dirty(); });
  durUnit.addEventListener('change', () => { st.durUnit = durUnit.value; dirty(); });
  const startIn = h('input', { type: 'date', value: st.start, readOnly: ro });
  const endIn = h('input', { type: 'date', value: st.end, readOnly: ro });
  startIn.addEventListener('input', () => { st.start = startIn.value; dirty(); });
  endIn.addEventListener('input', () => { st.end = endIn.value; dirty(); });

  const cronPart = h('div', { class: 'timing-part' },
    field(t('cf.cron'), cronInput, { hint: t('cf.cronHint') }), explain, presets,
    h('div', { class: 'field' }, h('span', { class: 'label' }, t('cf.duration')), h('div', { class: 'inline' }, durValue, durUnit)));
  const daysPart = h('div', { class: 'timing-part inline-fields' }, field(t('cf.start'), startIn), field(t('cf.end'), endIn));
  const modeRadios = h('div', { class: 'segmented', role: 'radiogroup', 'aria-label': t('cf.timing') });
  const renderMode = () => {
    clear(modeRadios);
    for (const m of ['days', 'cron']) {
      modeRadios.append(h('button', { type: 'button', role: 'radio', class: 'seg', 'aria-checked': String(st.mode === m), disabled: ro, 'data-mode': m,
        onclick: () => { st.mode = m; dirty(); renderMode(); } }, t(`cf.mode.${m}`)));
    }
    cronPart.hidden = st.mode !== 'cron';
    daysPart.hidden = st.mode !== 'days';
    if (st.mode === 'cron') doExplain();
  };

  const priority = h('input', { type: 'number', value: st.priority, readOnly: ro, class: 'num-input', step: '1' });
  priority.addEventListener('input', () => { st.priority = parseInt(priority.value, 10); dirty(); });

  const formErr = h('p', { class: 'field-error', role: 'alert' });
  const saveBtn = h('button', { type: 'submit', class: 'btn btn-primary', id: 'save-campaign' }, isNew ? t('btn.create') : t('btn.saveChanges'));
  const timeline = makeTimeline(() => panelsFor(camp?.targets || []));

  const toBody = () => {
    const b = {
      name: st.name.trim(),
      messages: st.items.filter((x) => x.id).map((x) => ({ id: x.id, dwell_s: x.dwell_s })),
      targets: [...st.targets],
      priority: Number.isFinite(st.priority) ? st.priority : 0,
      tz: st.tz.trim() || TZ,
    };
    if (b.targets.includes('all')) b.targets = ['all'];
    if (st.mode === 'cron') {
      b.cron = st.cron.trim();
      b.duration_s = st.durValue * (st.durUnit === 'hour' ? 3600 : 60);
    } else {
      b.start = st.start;
      b.end = st.end;
    }
    return b;
  };
  const form = h('form', {
    class: 'card', novalidate: true,
    onsubmit: async (e) => {
      e.preventDefault();
      formErr.textContent = '';
      const b = toBody();
      const err = !b.name ? t('cf.name')
        : !b.messages.length ? t('cf.needMessages')
          : !b.targets.length ? t('cf.needTargets')
            : st.mode === 'days' && (!b.start || !b.end) ? t('cf.needDates')
              : st.mode === 'days' && b.end < b.start ? t('cf.badDates')
                : st.mode === 'cron' && (!b.cron || !b.duration_s) ? t('cf.needCron') : null;
      if (err) { formErr.textContent = err; return; }
      saveBtn.disabled = true;
      try {
        const res = isNew ? await api('/campaigns', { method: 'POST', json: b }) : await api(`/campaigns/${enc(camp.id)}`, { method: 'PUT', json: b });
        toast(t('camp.saved'), 'ok');
        S.dirty = false;
        await loadCampaigns().catch(() => {});
        go(`#/campaigns/${enc(res?.id || camp.id)}`);
      } catch (ex) {
        formErr.textContent = ex.message;
      } finally { saveBtn.disabled = false; }
    },
  },
  field(t('cf.name'), name),
  h('fieldset', {}, h('legend', {}, t('cf.messages')), itemsBox),
  h('fieldset', {}, h('legend', {}, t('cf.targets')), targetsBox),
  h('fieldset', {}, h('legend', {}, t('cf.timing')), modeRadios, daysPart, cronPart),
  h('div', { class: 'inline-fields' },
    field(t('cf.priority'), priority, { hint: t('cf.priorityHint') }),
    field(t('cf.tz'), tzInput)),
  h('datalist', { id: 'tz-list' }, ['Asia/Ho_Chi_Minh', 'Asia/Bangkok', 'UTC'].map((z) => h('option', { value: z }))),
  formErr,
  h('div', { class: 'form-actions' },
    editable ? saveBtn : null,
    editable && camp ? h('button', {
      type: 'button', class: 'btn btn-danger-ghost',
      onclick: async () => {
        if (!await confirmDialog({ title: t('camp.deleteTitle'), body: t('camp.deleteConfirm', { name: camp.name }), ok: t('btn.delete'), danger: true })) return;
        try { await api(`/campaigns/${enc(camp.id)}`, { method: 'DELETE' }); toast(t('camp.deleted'), 'ok'); S.dirty = false; go('#/campaigns'); } catch (ex) { fail(ex); }
      },
    }, t('btn.delete')) : null,
    h('a', { class: 'btn btn-ghost', href: '#/campaigns' }, t('btn.back'))));

  clear(main).append(h('div', { class: 'page' },
    h('nav', { class: 'crumbs', 'aria-label': 'breadcrumb' }, h('a', { href: '#/campaigns' }, t('camp.title')), ' / ', h('span', {}, isNew ? t('camp.new') : camp.name)),
    h('div', { class: 'page-head' }, h('h1', {}, isNew ? t('camp.new') : editable ? t('camp.edit') : t('camp.view'))),
    form,
    camp ? timeline.el : null));
  renderMode();
  if (camp) timeline.refresh();
  if (isNew && editable) name.focus();
}

// 6.5 Alerts ---------------------------------------------------------------

async function viewAlerts(main, _args, ctx) {
  document.title = `${t('al.title')} · ${t('app.title')}`;
  await Promise.all([loadPanels(), loadAlertsQuiet()]);
  if (!ctx.alive()) return;
  const groups = allGroups();
  const targets = new Set();
  const text = h('textarea', { rows: '3', lang: 'vi', placeholder: t('al.textPh'), maxlength: '1000' });
  const dur = h('input', { type: 'number', min: '1', max: '4320', value: '60', class: 'num-input' });
  const arm = h('input', { type: 'checkbox', id: 'al-arm' });
  const err = h('p', { class: 'field-error', role: 'alert' });
  const sendBtn = h('button', { type: 'submit', class: 'btn btn-danger btn-lg', disabled: true, id: 'send-alert' }, icon('alerts'), t('al.send'));
  arm.addEventListener('change', () => { sendBtn.disabled = !arm.checked; });
  const tbox = h('div', { class: 'targets' });
  const renderTargets = () => {
    clear(tbox);
    const all = targets.has('all');
    const cb = (value, label, n) => {
      const input = h('input', { type: 'checkbox', value, checked: targets.has(value), disabled: all && value !== 'all' });
      input.addEventListener('change', () => { if (input.checked) targets.add(value); else targets.delete(value); renderTargets(); });
      return h('label', { class: 'check' }, input, h('span', {}, label), h('span', { class: 'muted' }, ` (${n})`));
    };
    tbox.append(cb('all', t('al.all'), S.panels.length),
      h('div', { class: 'check-grid' }, groups.map((g) => cb(`group:${g}`, prettyGroup(g), S.panels.filter((p) => p.groups?.includes(g)).length))));
  };
  renderTargets();
  const delivery = h('div', { class: 'delivery', 'aria-live': 'polite' });
  const activeBox = h('div');
  let pollTimer = null;
  onCleanup(() => clearTimeout(pollTimer));

  const renderActive = () => {
    clear(activeBox);
    const now = Date.now();
    const active = S.alerts.filter((a) => !a.cancelled_at && new Date(a.ends_at).getTime() > now)
      .sort((a, b) => String(b.created_at).localeCompare(String(a.created_at)));
    const recent = S.alerts.filter((a) => !active.includes(a)).sort((a, b) => String(b.created_at).localeCompare(String(a.created_at))).slice(0, 5);
    activeBox.append(h('h2', {}, t('al.active')));
    if (!active.length) activeBox.append(emptyState(t('al.none')));
    for (const a of active) {
      activeBox.append(h('article', { class: 'alert-item', 'data-alert': a.id },
        h('div', { class: 'grow' },
          h('p', { class: 'alert-text' }, a.text),
          h('p', { class: 'muted' }, describeTargets(a.targets), ' · ', t('al.createdAt', { when: fmtDateTime(a.created_at) }), ' · ', t('al.ends', { when: fmtDateTime(a.ends_at) }))),
        h('button', {
          type: 'button', class: 'btn btn-danger-ghost',
          onclick: async () => {
            if (!await confirmDialog({ title: t('al.cancelTitle'), body: t('al.cancelConfirm', { text: a.text }), ok: t('al.cancel'), danger: true })) return;
            try {
              await api(`/alerts/${enc(a.id)}`, { method: 'DELETE' });
              toast(t('al.cancelled'), 'ok');
              await loadAlertsQuiet();
              renderActive();
            } catch (e) { fail(e); }
          },
        }, t('al.cancel'))));
    }
    if (recent.length) {
      activeBox.append(h('h3', { class: 'sub-head' }, t('al.recent')));
      for (const a of recent) {
        activeBox.append(h('article', { class: 'alert-item alert-past' }, h('div', { class: 'grow' },
          h('p', {}, a.text),
          h('p', { class: 'muted' }, describeTargets(a.targets), ' · ', a.cancelled_at ? t('al.cancelledAt', { when: fmtDateTime(a.cancelled_at) }) : t('al.ended', { when: fmtDateTime(a.ends_at) })))));
      }
    }
  };

  const poll = async (id, started) => {
    try {
      const a = await api(`/alerts/${enc(id)}`);
      if (!ctx.alive()) return;
      const d = a.delivery || { targets: 0, acked: 0 };
      const pct = d.targets ? Math.round((d.acked / d.targets) * 100) : 0;
      clear(delivery).append(h('div', { class: 'delivery-card' },
        h('h3', {}, t('al.deliveryTitle')),
        h('p', { class: 'delivery-count', 'data-testid': 'delivery' }, t('al.delivery', { acked: d.acked, targets: d.targets })),
        h('div', { class: 'meter', role: 'progressbar', 'aria-valuemin': '0', 'aria-valuemax': String(d.targets), 'aria-valuenow': String(d.acked) }, h('span', { style: { width: `${pct}%` } })),
        h('p', { class: 'muted' },
          d.first_ack_ms != null ? t('al.firstAck', { ms: d.first_ack_ms }) : t('al.waiting'),
          d.last_ack_ms != null ? ` · ${t('al.lastAck', { ms: d.last_ack_ms })}` : ''),
        d.targets && d.acked >= d.targets ? h('p', { class: 'ok-text' }, icon('check'), t('al.allAcked')) : null));
      const done = a.cancelled_at || new Date(a.ends_at).getTime() < Date.now() || (d.targets && d.acked >= d.targets && Date.now() - started > 10000);
      if (!done && Date.now() - started < 10 * 60000) pollTimer = setTimeout(() => poll(id, started), 1000);
    } catch (e) {
      if (e.status === 401) return;
      pollTimer = setTimeout(() => poll(id, started), 3000);
    }
  };

  const form = h('form', {
    class: 'card alert-form', novalidate: true,
    onsubmit: async (e) => {
      e.preventDefault();
      err.textContent = '';
      const minutes = parseInt(dur.value, 10);
      const tg = targets.has('all') ? ['all'] : [...targets];
      if (!text.value.trim()) { err.textContent = t('al.noText'); text.focus(); return; }
      if (!tg.length) { err.textContent = t('al.noTargets'); return; }
      if (!(minutes >= 1 && minutes <= 4320)) { err.textContent = t('al.badDuration'); dur.focus(); return; }
      const reach = panelsFor(tg);
      const where = tg.includes('all') ? t('al.everywhere') : tg.map((x) => prettyGroup(x.slice(6))).join(', ');
      const ok = await confirmDialog({
        title: t('al.confirmTitle'),
        body: h('div', {}, h('p', { class: 'confirm-big' }, t('al.confirmBody', { n: reach.length, where, min: minutes })), h('blockquote', { class: 'alert-quote' }, text.value.trim())),
        ok: t('al.send'), danger: true,
      });
      if (!ok) return;
      sendBtn.disabled = true;
      try {
        const r = await api('/alerts', { method: 'POST', json: { text: text.value.trim(), targets: tg, duration_s: minutes * 60 } });
        toast(t('al.sent'), 'ok');
        text.value = '';
        arm.checked = false;
        clearTimeout(pollTimer);
        poll(r.id, Date.now());
        await loadAlertsQuiet();
        renderActive();
      } catch (ex) { err.textContent = ex.message; sendBtn.disabled = !arm.checked; }
    },
  },
  h('h2', {}, icon('alerts'), t('al.formTitle')),
  field(t('al.text'), text),
  h('fieldset', {}, h('legend', {}, t('al.targets')), tbox),
  field(t('al.duration'), dur),
  h('label', { class: 'check arm' }, arm, h('span', {}, t('al.arm'))),
  err,
  h('div', { class: 'form-actions' }, sendBtn));

  clear(main).append(h('div', { class: 'page' },
    h('div', { class: 'page-head' }, h('div', {}, h('h1', {}, t('al.title')), h('p', { class: 'lead' }, t('al.lead')))),
    h('div', { class: 'two-col' }, h('div', {}, form, delivery), h('section', { class: 'card' }, activeBox))));
  renderActive();
  const refresh = setInterval(async () => { await loadAlertsQuiet(); if (ctx.alive()) renderActive(); }, 15000);
  onCleanup(() => clearInterval(refresh));
}

// 6.6 Reports --------------------------------------------------------------

async function viewReports(main, _args, ctx) {
  document.title = `${t('rep.title')} · ${t('app.title')}`;
  await Promise.all([loadPanels().catch(() => {}), loadMessages().catch(() => {}), loadCampaigns().catch(() => {})]);
  if (!ctx.alive()) return;
  const fromIn = h('input', { type: 'date', value: sessionStorage.getItem('bangtin.rep.from') || todayVN(-6) });
  const toIn = h('input', { type: 'date', value: sessionStorage.getItem('bangtin.rep.to') || todayVN() });
  const err = h('p', { class: 'field-error', role: 'alert' });
  const out = h('div');
  const range = () => ({ from: vnMidnight(fromIn.value), to: vnMidnight(addDays(toIn.value, 1)) });
  const q = () => { const r = range(); return `from=${enc(r.from)}&to=${enc(r.to)}`; };

  const csv = async (kind, btn) => {
    btn.disabled = true;
    try {
      const res = await api(`/reports/${kind}?${q()}`, { raw: true, accept: 'text/csv' });
      const blob = await res.blob();
      const file = `bangtin-${kind}-${fromIn.value}_${toIn.value}.csv`;
      const url = URL.createObjectURL(blob);
      const a = h('a', { href: url, download: file, hidden: true });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 5000);
      toast(t('rep.downloaded', { file }), 'ok');
    } catch (e) { fail(e); } finally { btn.disabled = false; }
  };
  const csvBtn = (kind) => {
    const b = h('button', { type: 'button', class: 'btn btn-small', onclick: () => csv(kind, b) }, icon('download'), t('rep.csv'));
    return b;
  };

  const show = async () => {
    err.textContent = '';
    if (!fromIn.value || !toIn.value || toIn.value < fromIn.value) { err.textContent = t('rep.badRange'); return; }
    sessionStorage.setItem('bangtin.rep.from', fromIn.value);
    sessionStorage.setItem('bangtin.rep.to', toIn.value);
    clear(out).append(h('p', { class: 'loading' }, t('loading')));
    try {
      const [summary, plays] = await Promise.all([api(`/reports/summary?${q()}`), api(`/reports/plays?${q()}`)]);
      if (!ctx.alive()) return;
      const total = summary.reduce((s, r) => s + (r.plays || 0), 0);
      const LIMIT = 500;
      const sortedPlays = [...plays].sort((a, b) => String(b.shown_at).localeCompare(String(a.shown_at)));
      clear(out).append(
        h('section', { class: 'card' },
          h('div', { class: 'card-head' }, h('h2', {}, t('rep.summary')), csvBtn('summary')),
          summary.length ? h('div', { class: 'table-wrap' }, h('table', { class: 'table', id: 'summary-table' },
            h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, t('rep.col.campaign')), h('th', { scope: 'col' }, t('rep.col.group')), h('th', { scope: 'col', class: 'num' }, t('rep.col.plays')))),
            h('tbody', {}, summary.map((r) => h('tr', {},
              h('td', {}, r.campaign ? h('span', {}, h('span', { class: 'swatch', style: { background: campaignColor(r.campaign) } }), campaignName(r.campaign)) : t('none')),
              h('td', {}, r.group ? prettyGroup(r.group) : t('wall.ungrouped')),
              h('td', { class: 'num' }, (r.plays || 0).toLocaleString(locale()))))),
            h('tfoot', {}, h('tr', {}, h('th', { scope: 'row', colspan: '2' }, t('rep.total')), h('td', { class: 'num' }, total.toLocaleString(locale()))))))
            : emptyState(t('rep.empty'))),
        h('section', { class: 'card' },
          h('div', { class: 'card-head' }, h('h2', {}, t('rep.plays')), csvBtn('plays')),
          plays.length ? h('div', { class: 'table-wrap table-scroll' }, h('table', { class: 'table table-dense' },
            h('thead', {}, h('tr', {}, ['rep.col.time', 'rep.col.panel', 'rep.col.message', 'rep.col.campaign', 'rep.col.seq'].map((k) => h('th', { scope: 'col' }, t(k))))),
            h('tbody', {}, sortedPlays.slice(0, LIMIT).map((r) => h('tr', {},
              h('td', { class: 'nowrap' }, fmtDateTime(r.shown_at)),
              h('td', {}, panelName(r.panel)),
              h('td', {}, r.message ? messageTitle(r.message) : t('none')),
              h('td', {}, r.alert ? h('span', { class: 'badge badge-alert' }, t('tl.alert')) : r.campaign ? campaignName(r.campaign) : t('none')),
              h('td', { class: 'num mono' }, r.seq))))))
            : emptyState(t('rep.empty')),
          plays.length > LIMIT ? h('p', { class: 'muted' }, t('rep.more', { n: LIMIT, total: plays.length })) : null));
    } catch (e) { clear(out); fail(e); }
  };

  clear(main).append(h('div', { class: 'page' },
    h('div', { class: 'page-head' }, h('div', {}, h('h1', {}, t('rep.title')), h('p', { class: 'lead' }, t('rep.lead')))),
    h('form', { class: 'toolbar card', onsubmit: (e) => { e.preventDefault(); show(); } },
      field(t('rep.from'), fromIn), field(t('rep.to'), toIn),
      h('div', { class: 'field field-button' }, h('button', { type: 'submit', class: 'btn btn-primary' }, t('rep.show')))),
    err, out));
  show();
}

// 6.7 Admin ----------------------------------------------------------------

async function viewAdmin(main, args, ctx) {
  document.title = `${t('adm.title')} · ${t('app.title')}`;
  const tab = ['panels', 'tokens', 'audit'].includes(args[0]) ? args[0] : 'panels';
  const body = h('div');
  clear(main).append(h('div', { class: 'page' },
    h('div', { class: 'page-head' }, h('h1', {}, t('adm.title'))),
    h('nav', { class: 'tabs', 'aria-label': t('adm.title') }, ['panels', 'tokens', 'audit'].map((k) =>
      h('a', { href: `#/admin/${k}`, class: 'tab', 'aria-current': k === tab ? 'page' : null }, t(`adm.${k}`)))),
    body));
  if (tab === 'panels') await adminPanels(body, ctx);
  else if (tab === 'tokens') await adminTokens(body, ctx);
  else await adminAudit(body, ctx);
}

async function adminPanels(box, ctx) {
  await loadPanels();
  if (!ctx.alive()) return;
  const render = () => {
    clear(box).append(
      h('div', { class: 'card-head' }, h('p', { class: 'muted' }, t('wall.panels', { n: S.panels.length })),
        h('button', { type: 'button', class: 'btn btn-primary', onclick: () => panelDialog(null, render) }, icon('plus'), t('p.add'))),
      S.panels.length ? h('div', { class: 'table-wrap' }, h('table', { class: 'table' },
        h('thead', {}, h('tr', {}, ['p.id', 'p.name', 'p.size', 'p.format', 'p.groups', 'p.status', 'msg.col.actions'].map((k) => h('th', { scope: 'col' }, t(k))))),
        h('tbody', {}, S.panels.map((p) => h('tr', { 'data-panel': p.id },
          h('td', {}, h('code', {}, p.id)),
          h('td', {}, p.name),
          h('td', { class: 'nowrap' }, `${p.width}×${p.height}`),
          h('td', {}, p.format, p.format === 'mono1' ? h('span', { class: 'swatch', style: { background: p.color || '#ff2000' } }) : null),
          h('td', {}, (p.groups || []).map((g) => h('span', { class: 'chip' }, prettyGroup(g)))),
          h('td', {}, p.online ? badge(t('wall.online'), 'ok') : badge(t('wall.offline'), 'off'), h('div', { class: 'row-sub' }, seenText(p.last_seen))),
          h('td', { class: 'actions-cell' },
            h('button', { type: 'button', class: 'btn btn-small', onclick: () => panelDialog(p, render) }, t('btn.edit')),
            h('button', {
              type: 'button', class: 'btn btn-small btn-danger-ghost',
              onclick: async () => {
                if (!await confirmDialog({ title: t('p.deleteTitle'), body: t('p.deleteConfirm', { name: p.name, id: p.id }), ok: t('btn.delete'), danger: true })) return;
                try { await api(`/panels/${enc(p.id)}`, { method: 'DELETE' }); toast(t('p.deleted'), 'ok'); await loadPanels(); render(); } catch (e) { fail(e); }
              },
            }, t('btn.delete'))))))))
        : emptyState(t('wall.noPanels')));
  };
  render();
}

function panelDialog(p, done) {
  const id = h('input', { type: 'text', value: p?.id || '', readOnly: !!p, required: true, pattern: '[a-z0-9][a-z0-9-]{0,63}', class: 'mono', autocomplete: 'off' });
  const name = h('input', { type: 'text', value: p?.name || '', required: true, autocomplete: 'off' });
  const width = h('input', { type: 'number', min: '8', max: '1024', value: p?.width || 128, class: 'num-input' });
  const height = h('input', { type: 'number', min: '8', max: '1024', value: p?.height || 32, class: 'num-input' });
  const format = h('select', {}, FORMATS.map((f) => h('option', { value: f, selected: (p?.format || 'mono1') === f }, t(`fmt.${f}`))));
  const groups = h('input', { type: 'text', value: (p?.groups || []).join(', '), autocomplete: 'off' });
  const color = h('input', { type: 'color', value: p?.color || '#ff2000' });
  const err = h('p', { class: 'field-error', role: 'alert' });
  const dlg = h('dialog', { class: 'dialog dialog-wide', 'aria-labelledby': 'pd-title' });
  const form = h('form', {
    novalidate: true,
    onsubmit: async (e) => {
      e.preventDefault();
      err.textContent = '';
      const b = {
        id: id.value.trim(),
        name: name.value.trim(),
        width: parseInt(width.value, 10),
        height: parseInt(height.value, 10),
        format: format.value,
        groups: groups.value.split(',').map((x) => x.trim()).filter(Boolean),
        color: color.value,
      };
      if (p?.brightness) b.brightness = p.brightness;
      try {
        if (p) await api(`/panels/${enc(p.id)}`, { method: 'PUT', json: b });
        else await api('/panels', { method: 'POST', json: b });
        toast(t('p.saved'), 'ok');
        dlg.close();
        await loadPanels();
        done();
      } catch (ex) { err.textContent = ex.message; }
    },
  },
  h('h2', { id: 'pd-title' }, p ? t('p.edit', { id: p.id }) : t('p.new')),
  h('div', { class: 'form-grid' },
    field(t('p.id'), id, { hint: t('p.idHint') }),
    field(t('p.name'), name),
    field(t('p.width'), width),
    field(t('p.height'), height),
    field(t('p.format'), format),
    field(t('p.color'), color),
    field(t('p.groups'), groups, { hint: t('p.groupsHint'), cls: 'span-2' })),
  err,
  h('div', { class: 'actions' },
    h('button', { type: 'button', class: 'btn', onclick: () => dlg.close() }, t('btn.cancel')),
    h('button', { type: 'submit', class: 'btn btn-primary' }, p ? t('btn.saveChanges') : t('btn.create'))));
  dlg.append(form);
  dlg.addEventListener('close', () => dlg.remove());
  document.body.append(dlg);
  dlg.showModal();
  (p ? name : id).focus();
}

async function adminTokens(box, ctx) {
  const list = await api('/tokens');
  if (!ctx.alive()) return;
  const name = h('input', { type: 'text', required: true, class: 'mono', autocomplete: 'off', pattern: '[a-z0-9][a-z0-9-]{0,63}' });
  const roles = new Set(['editor']);
  const roleBox = h('div', { class: 'check-row' }, ROLES.map((r) => {
    const cb = h('input', { type: 'checkbox', value: r, checked: roles.has(r) });
    cb.addEventListener('change', () => { if (cb.checked) roles.add(r); else roles.delete(r); });
    return h('label', { class: 'check' }, cb, h('span', {}, t(`role.${r}`)));
  }));
  const err = h('p', { class: 'field-error', role: 'alert' });
  const reveal = h('div');
  const form = h('form', {
    class: 'card', novalidate: true,
    onsubmit: async (e) => {
      e.preventDefault();
      err.textContent = '';
      if (!roles.size) { err.textContent = t('tok.needRole'); return; }
      try {
        const r = await api('/tokens', { method: 'POST', json: { name: name.value.trim(), roles: ROLES.filter((x) => roles.has(x)) } });
        const code = h('input', { type: 'text', readOnly: true, value: r.token, class: 'mono token-value', 'aria-label': t('signin.token') });
        clear(reveal).append(h('div', { class: 'token-reveal', role: 'alert' },
          h('h3', {}, t('tok.newTitle', { name: r.name })),
          h('p', { class: 'notice' }, icon('warn'), t('tok.once')),
          h('div', { class: 'copy-row' }, code,
            h('button', {
              type: 'button', class: 'btn btn-primary',
              onclick: async () => {
                code.select();
                try { await navigator.clipboard.writeText(r.token); } catch { document.execCommand('copy'); }
                toast(t('tok.copied'), 'ok');
              },
            }, icon('copy'), t('tok.copy')))));
        code.select();
        name.value = '';
        const fresh = await api('/tokens');
        renderList(fresh);
      } catch (ex) { err.textContent = ex.message; }
    },
  },
  h('h2', {}, t('tok.create')),
  h('div', { class: 'inline-fields' }, field(t('tok.name'), name, { hint: t('tok.nameHint') }),
    h('fieldset', { class: 'plain' }, h('legend', {}, t('tok.roles')), roleBox)),
  err,
  h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'btn btn-primary' }, t('tok.create'))));
  const listBox = h('div');
  const renderList = (items) => {
    clear(listBox).append(items.length ? h('div', { class: 'table-wrap' }, h('table', { class: 'table' },
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, t('tok.name')), h('th', { scope: 'col' }, t('tok.roles')), h('th', { scope: 'col' }, t('msg.col.actions')))),
      h('tbody', {}, items.map((x) => h('tr', {},
        h('td', {}, h('code', {}, x.name), x.name === S.me.name ? h('span', { class: 'muted' }, ` (${t('tok.you')})`) : null),
        h('td', {}, x.roles.map((r) => h('span', { class: 'chip' }, t(`role.${r}`)))),
        h('td', { class: 'actions-cell' }, h('button', {
          type: 'button', class: 'btn btn-small btn-danger-ghost',
          onclick: async () => {
            if (!await confirmDialog({ title: t('tok.revokeTitle'), body: t('tok.revokeConfirm', { name: x.name }), ok: t('tok.revoke'), danger: true })) return;
            try { await api(`/tokens/${enc(x.name)}`, { method: 'DELETE' }); toast(t('tok.revoked', { name: x.name }), 'ok'); renderList(await api('/tokens')); } catch (e) { fail(e); }
          },
        }, t('tok.revoke'))))))))
      : emptyState(t('tok.empty')));
  };
  renderList(list);
  clear(box).append(h('div', { class: 'two-col' }, h('div', {}, form, reveal), h('section', { class: 'card' }, h('h2', {}, t('adm.tokens')), listBox)));
}

async function adminAudit(box, ctx) {
  const rows = await api('/audit?limit=200');
  if (!ctx.alive()) return;
  const filter = h('input', { type: 'search', autocomplete: 'off' });
  const tbody = h('tbody');
  const render = () => {
    const q = filter.value.trim().toLowerCase();
    clear(tbody).append(rows.filter((r) => !q || JSON.stringify(r).toLowerCase().includes(q)).map((r) => h('tr', {},
      h('td', { class: 'nowrap' }, fmtDateTime(r.at)),
      h('td', {}, r.who),
      h('td', {}, h('span', { class: 'chip' }, r.action)),
      h('td', {}, r.kind),
      h('td', {}, h('code', {}, r.id ?? '')),
      h('td', { class: 'detail' }, typeof r.detail === 'string' ? r.detail : r.detail == null ? '' : JSON.stringify(r.detail)))));
  };
  filter.addEventListener('input', debounce(render, 150));
  clear(box).append(
    h('div', { class: 'toolbar' }, field(t('aud.filter'), filter, { cls: 'grow' })),
    rows.length ? h('div', { class: 'table-wrap' }, h('table', { class: 'table table-dense' },
      h('thead', {}, h('tr', {}, ['aud.at', 'aud.who', 'aud.action', 'aud.kind', 'aud.id', 'aud.detail'].map((k) => h('th', { scope: 'col' }, t(k))))),
      tbody)) : emptyState(t('aud.empty')));
  render();
}

boot();
