#!/usr/bin/env python3
"""The usual Python stack for LED panels, as a yardstick for bangtin
(docs/PERFORMANCE.md).

What a province would otherwise write: Pillow draws the text with DejaVu
Sans (greedy word wrap, binary search for the largest size that fits, pages
at the smallest size when nothing fits), converts to the panel's packed
format, and paho-mqtt publishes the frames.

    python baseline.py text  --corpus FILE [--repeat N]      # frames/s per profile
    python baseline.py image --photo PNG [--repeat N]        # frames/s per profile
    python baseline.py publish --impl paho|c|c-lines|libmosquitto|cmd --port P [...]

Every mode prints one JSON object per line, so tools/baseline/compare.sh can
put the figures next to bangtin's. Needs Pillow, numpy and paho-mqtt (a venv:
see compare.sh). Single process, single thread: figures are per core.
"""
import argparse
import functools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

PROFILES = [("mono1", 128, 32), ("rgb565", 192, 96), ("rgb888", 384, 192)]
HERE = os.path.dirname(os.path.abspath(__file__))
FONT = os.path.join(HERE, "..", "..", "assets", "fonts", "DejaVuSans.ttf")


# ---------------------------------------------------------------- text

@functools.lru_cache(maxsize=None)
def font(size):
    from PIL import ImageFont
    return ImageFont.truetype(FONT, size)


@functools.lru_cache(maxsize=None)
def line_height(size):
    asc, desc = font(size).getmetrics()
    return asc + desc


def wrap(words, size, width):
    """Greedy word wrap; a word wider than the line gets a line of its own."""
    f = font(size)
    space = f.getlength(" ")
    lines, cur, cur_w = [], [], 0.0
    for w in words:
        ww = f.getlength(w)
        if cur and cur_w + space + ww <= width:
            cur.append(w)
            cur_w += space + ww
        else:
            if cur:
                lines.append(cur)
            cur, cur_w = [w], ww
    if cur:
        lines.append(cur)
    return [" ".join(l) for l in lines]


def fits(words, size, w, h):
    lines = wrap(words, size, w)
    return lines if len(lines) * line_height(size) <= h and all(
        font(size).getlength(l) <= w for l in lines) else None


def layout(text, w, h, min_size=10):
    """Largest size (binary search) at which the text fits on one page;
    else the smallest size, split into pages."""
    words = text.split()
    lo, hi, best = min_size, h, None
    while lo <= hi:
        mid = (lo + hi) // 2
        lines = fits(words, mid, w, h)
        if lines is not None:
            best = (mid, lines)
            lo = mid + 1
        else:
            hi = mid - 1
    if best:
        return best[0], [best[1]]
    lines = wrap(words, min_size, w)
    per = max(1, h // line_height(min_size))
    return min_size, [lines[i:i + per] for i in range(0, len(lines), per)]


def pack(img, fmt):
    """A PIL image (mode '1' for mono, RGB otherwise) to BTF1 data."""
    import numpy as np
    if fmt == "mono1":
        return img.tobytes()  # mode '1': rows MSB-first, 1 = lit
    if fmt == "rgb565":
        a = np.asarray(img, dtype=np.uint16)
        v = ((a[..., 0] >> 3) << 11) | ((a[..., 1] >> 2) << 5) | (a[..., 2] >> 3)
        return v.astype("<u2").tobytes()
    return img.tobytes()


def render_text(text, fmt, w, h):
    from PIL import Image, ImageDraw
    size, pages = layout(text, w, h)
    f = font(size)
    lh = line_height(size)
    out = []
    for lines in pages:
        if fmt == "mono1":
            img = Image.new("1", (w, h), 0)
            fill = 1
        else:
            img = Image.new("RGB", (w, h), (0, 0, 0))
            fill = (255, 224, 102)
        d = ImageDraw.Draw(img)
        y = (h - lh * len(lines)) // 2
        for l in lines:
            x = (w - f.getlength(l)) / 2
            d.text((x, y), l, font=f, fill=fill)
            y += lh
        out.append(pack(img, fmt))
    return out


def cmd_text(a):
    with open(a.corpus, encoding="utf-8") as fh:
        lines = [l.strip() for l in fh if l.strip()]
    import unicodedata
    lines = [unicodedata.normalize("NFC", l) for l in lines]
    for fmt, w, h in PROFILES:
        render_text(lines[0], fmt, w, h)  # warm the font cache
        t0 = time.perf_counter()
        frames = 0
        for _ in range(a.repeat):
            for l in lines:
                frames += len(render_text(l, fmt, w, h))
        secs = time.perf_counter() - t0
        print(json.dumps({"impl": "python", "work": "text", "profile": fmt,
                          "messages": len(lines) * a.repeat, "frames": frames,
                          "seconds": round(secs, 4), "fps": round(frames / secs, 1)}))


# ---------------------------------------------------------------- image

def render_image(photo, fmt, w, h):
    from PIL import Image
    sw, sh = photo.size
    k = min(w / sw, h / sh)
    dw, dh = max(1, round(sw * k)), max(1, round(sh * k))
    fitted = photo.resize((dw, dh), Image.LANCZOS)
    canvas = Image.new("RGB", (w, h), (0, 0, 0))
    canvas.paste(fitted, ((w - dw) // 2, (h - dh) // 2))
    if fmt == "mono1":
        canvas = canvas.convert("1")  # Floyd–Steinberg, like bangtin
    return pack(canvas, fmt)


def cmd_image(a):
    from PIL import Image
    photo = Image.open(a.photo).convert("RGB")  # decode excluded from timing
    photo.load()
    for fmt, w, h in PROFILES:
        render_image(photo, fmt, w, h)
        t0 = time.perf_counter()
        for _ in range(a.repeat):
            render_image(photo, fmt, w, h)
        secs = time.perf_counter() - t0
        print(json.dumps({"impl": "python", "work": "image", "profile": fmt,
                          "frames": a.repeat, "seconds": round(secs, 4),
                          "fps": round(a.repeat / secs, 1)}))


# ---------------------------------------------------------------- publish

def paho_publisher(a, root):
    import paho.mqtt.client as mqtt
    payload = os.urandom(a.size)
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"paho-{os.getpid()}")
    c.max_inflight_messages_set(a.inflight)
    c.connect("127.0.0.1", a.port)
    c.loop_start()
    infos = []
    for i in range(a.count):
        infos.append(c.publish(f"{root}/panels/t{i % a.topics:04}/frame", payload, qos=1, retain=True))
    for info in infos:
        info.wait_for_publish(timeout=60)
    c.loop_stop()
    c.disconnect()


def start_c_publishers(a, root, tmp, lines):
    """Mosquitto's own clients: `--procs` processes, each on its own share
    of the topics. `-f --repeat` sends one file R times per topic; with
    `lines`, `-l` streams R lines of the same size per topic."""
    payload = os.path.join(tmp, "payload")
    with open(payload, "wb") as fh:
        if lines:
            fh.write((b"x" * a.size + b"\n") * (a.count // a.topics))
        else:
            fh.write(os.urandom(a.size))
    per_topic = a.count // a.topics
    topics = list(range(a.topics))
    shares = [topics[i::a.procs] for i in range(a.procs)]
    script = []
    for n, share in enumerate(shares):
        cmds = []
        for t in share:
            topic = f"{root}/panels/t{t:04}/frame"
            base = f"mosquitto_pub -p {a.port} -q 1 -r -t {topic} -i c{n}-{t}"
            if lines:
                cmds.append(f"{base} -l < {payload}")
            else:
                cmds.append(f"{base} -f {payload} --repeat {per_topic}")
        script.append(" ; ".join(cmds))
    return [subprocess.Popen(["sh", "-c", s]) for s in script]


def cmd_publish(a):
    """Times N publishes as a mosquitto_sub (C, QoS 1) sees them arrive:
    (received - 1) / (last arrival - first arrival). The same yardstick for
    every publisher."""
    root = f"bench{os.getpid()}{int(time.time() * 1000) % 100000}"
    sub = subprocess.Popen(
        ["mosquitto_sub", "-p", str(a.port), "-q", "1", "-t", f"{root}/panels/+/frame",
         "-C", str(a.count), "-F", "%U", "-i", f"sub-{root}"],
        stdout=subprocess.PIPE, text=True)
    time.sleep(0.3)  # subscribed before the first publish
    tmp = tempfile.mkdtemp()
    procs = []
    t0 = time.time()
    try:
        if a.impl == "paho":
            paho_publisher(a, root)
        elif a.impl in ("c", "c-lines"):
            procs = start_c_publishers(a, root, tmp, a.impl == "c-lines")
        elif a.impl == "libmosquitto":
            procs = [subprocess.Popen([a.cpub, str(a.port), root, str(a.count), str(a.size),
                                       str(a.topics), str(a.inflight)])]
        elif a.impl == "cmd":
            procs = [subprocess.Popen(a.cmd + ["--root", root], stdout=subprocess.DEVNULL)]
        try:
            out, _ = sub.communicate(timeout=a.timeout)
        except subprocess.TimeoutExpired:
            sub.kill()
            out, _ = sub.communicate()
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
        for p in procs:
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(tmp, ignore_errors=True)
    stamps = [float(l) for l in out.split()]
    n = len(stamps)
    secs = (stamps[-1] - stamps[0]) if n > 1 else float("nan")
    print(json.dumps({"impl": a.label or a.impl, "work": "publish", "procs": a.procs,
                      "size": a.size, "topics": a.topics, "sent": a.count, "received": n,
                      "seconds": round(secs, 4), "wall": round(time.time() - t0, 3),
                      "msg_s": round((n - 1) / secs, 1) if n > 1 else 0}))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sp = ap.add_subparsers(dest="mode", required=True)
    t = sp.add_parser("text")
    t.add_argument("--corpus", required=True)
    t.add_argument("--repeat", type=int, default=1)
    i = sp.add_parser("image")
    i.add_argument("--photo", required=True)
    i.add_argument("--repeat", type=int, default=100)
    p = sp.add_parser("publish")
    p.add_argument("--impl", choices=["paho", "c", "c-lines", "libmosquitto", "cmd"], required=True)
    p.add_argument("--label")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--size", type=int, default=36864)
    p.add_argument("--topics", type=int, default=1000)
    p.add_argument("--count", type=int, default=20000)
    p.add_argument("--procs", type=int, default=1)
    p.add_argument("--inflight", type=int, default=20)
    p.add_argument("--timeout", type=float, default=120)
    p.add_argument("--cpub", default="/tmp/cpub", help="tools/baseline/cpub.c, built")
    p.add_argument("cmd", nargs="*", help="with --impl cmd: the publisher command (gets --root R)")
    a = ap.parse_args()
    {"text": cmd_text, "image": cmd_image, "publish": cmd_publish}[a.mode](a)


if __name__ == "__main__":
    sys.exit(main())
