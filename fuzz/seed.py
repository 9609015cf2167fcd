#!/usr/bin/env python3
"""Writes the seed corpora for the fuzz targets (fuzz/corpus/TARGET/seed-*).

Run from the repo root: python3 fuzz/seed.py. The fuzzers add their own
finds next to these; `cargo fuzz cmin` keeps the corpora small.
"""
import glob, os, struct, zlib

ROOT = os.path.dirname(os.path.abspath(__file__))


def put(target, name, data):
    d = os.path.join(ROOT, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def png(w, h, color_type=6, depth=8, rows=None):
    bpp = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[color_type] * depth // 8
    raw = b"".join(b"\x00" + bytes((x * 37 + y * 11) & 255 for x in range(w * bpp)) for y in range(h))
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
    out = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, color_type, 0, 0, 0))
    if color_type == 3:
        out += chunk(b"PLTE", bytes(range(48))) + chunk(b"tRNS", b"\x00\x80")
    return out + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def btf1(fmt, w, h, data, flags=0, seq=1, valid_until=0, sig=b""):
    hdr = b"BTF1" + struct.pack("<BBHHHIQII", fmt, 255, w, h, flags, seq, valid_until, len(data), zlib.crc32(data))
    return hdr + data + sig


# BTF1 frames: every format, blank, emergency, signed (dummy signature).
put("frame_decode", "mono-16x4", btf1(1, 16, 4, bytes([0xff, 0xff, 0x80, 0x01] * 2), seq=42, valid_until=1767225600))
put("frame_decode", "mono-9x3", btf1(1, 9, 3, bytes([0x80, 0x80, 0, 0, 0xff, 0])))
put("frame_decode", "rgb565-2x2", btf1(2, 2, 2, struct.pack("<4H", 0xF800, 0x07E0, 0x001F, 0xFFFF)))
put("frame_decode", "rgb888-2x1", btf1(3, 2, 1, bytes([255, 0, 0, 0, 255, 0]), flags=1))
put("frame_decode", "png-3x2", btf1(4, 3, 2, png(3, 2, 2)))
put("frame_decode", "blank", btf1(1, 8, 1, b"\x00", flags=2))
put("frame_decode", "signed", btf1(1, 8, 1, b"\xaa", flags=4, sig=bytes(range(64))))
put("frame_decode", "truncated", btf1(1, 16, 4, bytes(8))[:40])

# Images: the production formats, plus ones that must be refused.
put("image_decode", "rgba-3x2.png", png(3, 2, 6))
put("image_decode", "gray-5x1.png", png(5, 1, 0))
put("image_decode", "palette-2x2.png", png(2, 2, 3))
put("image_decode", "rgb16-2x2.png", png(2, 2, 2, 16))
put("image_decode", "bomb-ihdr.png", png(2, 2, 2)[:16] + struct.pack(">II", 100000, 100000) + png(2, 2, 2)[24:])
# Small images from CPython's test data (PSF licence): JPEG, GIF, WebP, BMP, TIFF.
for p in glob.glob("/root/.pyenv/versions/3.7.16/lib/python3.7/test/imghdrdata/python.*"):
    ext = p.rsplit(".", 1)[1]
    if ext in ("jpg", "gif", "webp", "png", "bmp", "tiff"):
        put("image_decode", "python." + ext, open(p, "rb").read())

# Domain JSON: byte 0 picks the type (0 campaign, 1 panel, 2 message,
# 3 alert, 4 cron, 5 time zone).
repo = os.path.dirname(ROOT)
for p in sorted(glob.glob(os.path.join(repo, "schedules", "*.json"))):
    body = open(p, "rb").read()
    put("domain_json", "campaign-" + os.path.basename(p), b"\x00" + body)
for p in sorted(glob.glob(os.path.join(repo, "content", "panels", "*.json"))):
    put("domain_json", "panel-" + os.path.basename(p), b"\x01" + open(p, "rb").read())
for p in sorted(glob.glob(os.path.join(repo, "content", "messages", "*.json"))):
    put("domain_json", "message-" + os.path.basename(p), b"\x02" + open(p, "rb").read())
put("domain_json", "campaign-cron", b'\x00{"name":"Gi\xe1\xbb\x9d cao \xc4\x91i\xe1\xbb\x83m","messages":[{"id":"m","dwell_s":8}],"targets":["group:hai-chau","p1","all"],"cron":"0 6,16 * * 1-5","duration_s":10800,"priority":10,"tz":"Asia/Ho_Chi_Minh"}')
put("domain_json", "campaign-dates", b'\x00{"name":"T","messages":[{"id":"m","dwell_s":10}],"targets":["all"],"start":"2027-02-01","end":"2027-02-15","priority":-5}')
put("domain_json", "message-body", '\x02{"title":"Tiêm chủng","text":"Đưa trẻ đi tiêm chủng","style":{"color":"#ffe066","background":"#000000","align":"center","fit":"cover","caption":"over"}}'.encode())
put("domain_json", "message-image", b'\x02{"title":"A","image":"' + b"0" * 64 + b'"}')
put("domain_json", "alert", '\x03{"text":"BÃO SỐ 9","targets":["group:ven-bien"],"duration_s":21600}'.encode())
for i, c in enumerate(["0 7 * * 1-5", "*/10 * * * * *", "0 0 7 * * Mon-Fri 2026", "@daily", "@hourly",
                       "0 0 29 2 *", "59 23 31 12 7", "0-59/7 */3 1,15 JAN-DEC SUN-SAT", "0 0 1 1 * 2099", "@reboot"]):
    put("domain_json", "cron-%d" % i, b"\x04" + c.encode())
for i, z in enumerate(["Asia/Ho_Chi_Minh", "Europe/London", "America/Sao_Paulo", "UTC", "Etc/GMT+12"]):
    put("domain_json", "tz-%d" % i, b"\x05" + z.encode())

# Text: byte 0 = profile and style, byte 1 = repeat count (mod 32).
texts = {
    "vietnamese": "Khai báo tạm trú trực tuyến trên ứng dụng VNeID, không cần đến trụ sở.",
    "nfd": "Tie\u0302\u0301m chu\u031b\u0309ng đa\u0302\u0300y đu\u0309",
    "control": "a\x00b\x07c\x1b[31md\r\ne\tf\x7f\u0085g\u2028h\u2029",
    "rtl": "مرحبا بالعالم שלום עולם \u202eabc\u202c",
    "emoji-zwj": "👨\u200d👩\u200d👧\u200d👦 🏳️\u200d🌈 👍🏽 ✊🏿 🇻🇳",
    "zero-width": "a\u200bb\u200cc\u200dd\ufeffe\u2060f",
    "combining-stack": "a" + "\u0301" * 200,
    "long-word": "x" * 300,
    "cjk": "中文字符 日本語 한국어",
    "surrogate-ish": "\ufffd\ufffe\uffff",
    "spaces": " \u00a0\u2003\u3000 ",
}
for i, (name, t) in enumerate(texts.items()):
    put("render_text", name, bytes([i * 37 & 255, 31 if name == "long-word" else 1]) + t.encode("utf-8", "surrogatepass"))
