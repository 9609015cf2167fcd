#!/usr/bin/env python3
"""Draws the sample images shipped in content/assets (no dependencies).

The images are the project's own work: simple geometric banners that look
like public-information artwork on a billboard. Run from the repo root:
    python3 tools/make_sample_images.py OUTDIR
Then upload them (the server names assets by content hash).
"""
import math, struct, sys, zlib, os

def png(path, w, h, px):
    raw = b"".join(b"\x00" + bytes(c for x in range(w) for c in px(x, y)) for y in range(h))
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
    data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) \
        + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")
    open(path, "wb").write(data)

def star(cx, cy, r):
    """Points of a five-pointed star, top point up."""
    pts = []
    for i in range(10):
        a = -math.pi / 2 + i * math.pi / 5
        rr = r if i % 2 == 0 else r * 0.382
        pts.append((cx + rr * math.cos(a), cy + rr * math.sin(a)))
    return pts

def inside(poly, x, y):
    c = False
    j = len(poly) - 1
    for i in range(len(poly)):
        xi, yi = poly[i]; xj, yj = poly[j]
        if (yi > y) != (yj > y) and x < (xj - xi) * (y - yi) / (yj - yi) + xi:
            c = not c
        j = i
    return c

def flag(x, y, w=600, h=400):
    s = star(w / 2, h / 2, h * 0.3)
    return (255, 205, 0) if inside(s, x + 0.5, y + 0.5) else (218, 37, 29)

def storm(x, y, w=640, h=360):
    # Dark sky gradient with a white typhoon symbol (two curled arms round an eye).
    t = y / h
    base = (int(20 + 30 * t), int(40 + 50 * t), int(80 + 60 * t))
    cx, cy = w * 0.5, h * 0.5
    dx, dy = x - cx, y - cy
    r = math.hypot(dx, dy)
    a = math.atan2(dy, dx)
    if r < 22:
        return base
    if r < 150:
        for k in (0, math.pi):
            arm = (a - k - math.log(r / 22) * 1.6) % (2 * math.pi)
            if arm < 0.9 and r < 140:
                return (245, 245, 250)
    if r < 40:
        return (245, 245, 250)
    return base

def helmet_sign(x, y, w=400, h=400):
    # Blue round mandatory sign with a white helmet silhouette.
    cx, cy = w / 2, h / 2
    r = math.hypot(x - cx, y - cy)
    if r > 190:
        return (255, 255, 255)
    if r > 178:
        return (255, 255, 255)
    blue = (0, 82, 165)
    # helmet: upper half-disc plus a visor bar
    hx, hy = x - cx, y - (cy + 30)
    if hy < 0 and math.hypot(hx, hy * 1.25) < 110:
        return (255, 255, 255)
    if 0 <= hy < 18 and -125 < hx < 125:
        return (255, 255, 255)
    return blue

if __name__ == "__main__":
    out = sys.argv[1] if len(sys.argv) > 1 else "."
    os.makedirs(out, exist_ok=True)
    png(os.path.join(out, "co-to-quoc.png"), 600, 400, flag)
    png(os.path.join(out, "bao.png"), 640, 360, storm)
    png(os.path.join(out, "mu-bao-hiem.png"), 400, 400, helmet_sign)
