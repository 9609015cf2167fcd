#!/usr/bin/env python3
"""Writes benches/corpus/messages-vi.txt: ~300 Vietnamese public-information
messages built from phrases (deterministic: same file every run).

    python3 tools/baseline/make_corpus.py > benches/corpus/messages-vi.txt
"""
import itertools
import random

SUBJECTS = [
    "Người dân", "Các hộ gia đình", "Người tham gia giao thông",
    "Chủ phương tiện", "Phụ huynh và học sinh", "Hộ kinh doanh",
    "Người lao động", "Tàu thuyền đánh bắt xa bờ", "Cán bộ, công chức",
    "Nhân dân các xã ven biển",
]
ACTIONS = [
    "đội mũ bảo hiểm đạt chuẩn khi đi xe máy, xe đạp điện",
    "khai báo tạm trú trực tuyến trên ứng dụng VNeID",
    "nộp hồ sơ thủ tục hành chính tại dichvucong.gov.vn",
    "không sử dụng rượu bia khi điều khiển phương tiện",
    "chủ động phòng chống bão lũ, gia cố nhà cửa",
    "tiêm vắc-xin đầy đủ cho trẻ em dưới 5 tuổi",
    "phân loại rác thải sinh hoạt tại nguồn",
    "thanh toán không dùng tiền mặt khi nộp thuế, phí",
    "kiểm tra hệ thống điện, phòng cháy chữa cháy trong nhà",
    "không đốt rơm rạ, thực bì gây ô nhiễm không khí",
    "diệt lăng quăng, bọ gậy phòng chống sốt xuất huyết",
    "đăng ký kết hôn, khai sinh trực tuyến mức độ 4",
    "tuân thủ hướng dẫn của lực lượng chức năng",
    "giữ gìn vệ sinh môi trường, trồng thêm cây xanh",
]
REASONS = [
    "để bảo vệ tính mạng và tài sản",
    "vì một thành phố văn minh, sạch đẹp",
    "nhằm giảm thời gian và chi phí đi lại",
    "để phòng ngừa tai nạn giao thông",
    "theo chỉ đạo của Ủy ban nhân dân tỉnh",
    "góp phần xây dựng chính quyền số",
    "bảo vệ sức khỏe cộng đồng",
    "",
]
DATES = [
    "từ ngày 01/12 đến hết ngày 31/12/2026",
    "trước ngày 15/01/2027",
    "trong mùa mưa bão năm nay",
    "từ 6 giờ đến 22 giờ hằng ngày",
    "trong dịp Tết Nguyên đán Đinh Mùi",
    "",
]
SHORT = [
    "Đội mũ bảo hiểm", "Đã uống rượu bia – không lái xe", "Giảm tốc độ",
    "Cấm đốt rác", "Khu vực trường học – đi chậm", "Bão số 9: không ra khơi",
    "Chào mừng Quốc khánh 2/9", "Nước sạch – sức khỏe", "Phòng cháy chữa cháy",
    "Tiết kiệm điện", "Đường ngập – đi đường khác", "Ủng hộ đồng bào lũ lụt",
    "Hiến máu cứu người", "Chợ Hàn – đỗ xe đúng nơi quy định", "VNeID mức độ 2",
    "Nói không với ma túy", "Xây dựng nông thôn mới", "An toàn thực phẩm",
    "Cảnh báo lừa đảo qua điện thoại", "Kỷ niệm 50 năm giải phóng Đà Nẵng",
]


def main():
    rng = random.Random(7)
    out = list(SHORT)
    templates = ["{subj} {act}", "Đề nghị {subj_l} {act}", "Khuyến cáo: {subj_l} cần {act}"]
    combos = list(itertools.product(SUBJECTS, ACTIONS, templates))
    rng.shuffle(combos)
    for subj, act, tpl in combos:
        if len(out) >= 300:
            break
        s = tpl.format(subj=subj, subj_l=subj[0].lower() + subj[1:], act=act)
        r, d = rng.choice(REASONS), rng.choice(DATES)
        if d:
            s += f" {d}"
        if r:
            s += f", {r}"
        out.append(s + ".")
    for line in out[:300]:
        print(line)


if __name__ == "__main__":
    main()
