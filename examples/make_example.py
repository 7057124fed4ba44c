"""Make the bundled example: a short green-screen clip with an audio track, and a background.

    python examples/make_example.py            # writes examples/greenscreen.mp4, background.png

The subject is a procedurally shaded head-and-shoulders figure (textured shirt, hair, skin),
moving and turning slightly in front of an unevenly lit green screen with colour spill on its
edges, lit flat from the front (as a studio would). The background is a sunset street: a warm
sun low on the left, so a good harmonization warms the subject and lights its left side.
Deterministic: the same frames and sound every run. The H.264 file is not bit-identical run to
run (libx264 here made different, equally good choices on the hair's noise texture: decoded
frames 40 dB from the source every time, up to 50 levels apart from each other).
"""

from __future__ import annotations

import argparse
from fractions import Fraction
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def ellipse(xx, yy, cx, cy, rx, ry):
    """Signed 'inside-ness' of an ellipse: > 0 inside, 0 on the edge."""
    return 1.0 - ((xx - cx) / rx) ** 2 - ((yy - cy) / ry) ** 2


def subject_layer(w: int, h: int, t: float, rng_tex: np.ndarray):
    """RGB (float 0..1) and alpha of the figure at time ``t`` seconds."""
    import cv2

    ss = 2  # supersample for soft, anti-aliased edges
    W, H = w * ss, h * ss
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    cx = W * (0.5 + 0.08 * np.sin(2 * np.pi * t / 2.5))
    turn = 0.15 * np.sin(2 * np.pi * t / 3.0)
    head_c = (cx + turn * 0.05 * W, H * 0.40)
    head = ellipse(xx, yy, *head_c, 0.11 * W, 0.19 * H)
    neck = ellipse(xx, yy, cx, H * 0.62, 0.05 * W, 0.12 * H)
    body = ellipse(xx, yy, cx, H * 1.05, 0.30 * W, 0.33 * H)
    hair = ellipse(xx, yy, head_c[0], head_c[1] - 0.06 * H, 0.12 * W, 0.16 * H) * (yy < head_c[1])
    inside = np.maximum.reduce([head, neck, body])
    alpha = np.clip(inside * 8.0, 0, 1)
    # shading: a round-ish normal from each part, frontal light with a little fill
    nz = np.sqrt(np.clip(np.maximum.reduce([head, neck * 0.6, body * 0.8]), 0, 1))
    nx = (xx - head_c[0]) / (0.11 * W) * (head > 0) + (xx - cx) / (0.3 * W) * (head <= 0)
    shade = 0.35 + 0.65 * np.clip(0.85 * nz + 0.15 * (0.3 - 0.5 * nx - turn), 0, 1)
    skin = np.array([0.86, 0.64, 0.52], np.float32)
    shirt_a, shirt_b = np.array([0.20, 0.28, 0.55]), np.array([0.85, 0.85, 0.80])
    stripes = (np.sin((xx - cx) / W * 60 + yy / H * 10) > 0.3).astype(np.float32)[..., None]
    shirt = shirt_a * (1 - stripes) + shirt_b * stripes
    hair_col = np.array([0.18, 0.11, 0.07]) * (0.8 + 0.4 * rng_tex[:H, :W, None])
    rgb = np.where((body > neck)[..., None] & (body > head)[..., None], shirt, skin)
    rgb = np.where((hair > 0)[..., None], hair_col, rgb)
    eyes = sum(
        ellipse(
            xx, yy, head_c[0] + dx * W + turn * 0.06 * W, head_c[1] - 0.01 * H, 0.012 * W, 0.01 * H
        )
        > 0
        for dx in (-0.04, 0.04)
    )
    rgb = np.where((eyes > 0)[..., None], np.array([0.1, 0.08, 0.08]), rgb)
    rgb = rgb * shade[..., None]
    rgb = cv2.resize(rgb.astype(np.float32), (w, h), interpolation=cv2.INTER_AREA)
    alpha = cv2.resize(alpha.astype(np.float32), (w, h), interpolation=cv2.INTER_AREA)
    return rgb, alpha


def green_screen(w: int, h: int) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    light = 0.75 + 0.25 * np.exp(-(((xx - 0.3 * w) / w) ** 2 + ((yy - 0.3 * h) / h) ** 2) * 3)
    return np.stack([0.12 * light, 0.68 * light, 0.22 * light], axis=-1)


def background(w: int, h: int) -> np.ndarray:
    """A sunset street: warm sky, low sun on the left, buildings and a road."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    v = yy / h
    sky = np.stack([1.0 - 0.3 * v, 0.55 - 0.2 * v, 0.35 + 0.1 * v], -1) * 0.9
    sun_d = np.hypot(xx - 0.18 * w, yy - 0.45 * h) / w
    sky += np.array([1.0, 0.75, 0.4]) * np.exp(-sun_d * 14)[..., None] * 1.2
    img = sky
    rng = np.random.default_rng(7)
    x = 0
    while x < w:
        bw, bh = rng.integers(w // 12, w // 6), rng.uniform(0.15, 0.4) * h
        shade = 0.35 if x > 0.3 * w else 0.55
        col = np.array([0.45, 0.30, 0.28]) * shade * rng.uniform(0.8, 1.2)
        m = (xx >= x) & (xx < x + bw) & (yy > 0.62 * h - bh)
        img = np.where(m[..., None], col, img)
        x += bw + rng.integers(0, w // 30)
    road = yy > 0.62 * h
    img = np.where(
        road[..., None], np.array([0.30, 0.24, 0.22]) * (0.6 + 0.6 * (1 - xx / w))[..., None], img
    )
    return np.clip(img, 0, 1)


def tone(n: int, sample_rate: int) -> np.ndarray:
    t = np.arange(n) / sample_rate
    f = 220 * (1 + 0.5 * (t % 1.0))
    return (0.2 * np.sin(2 * np.pi * np.cumsum(f) / sample_rate)).astype(np.float32)


def write_clip(path: Path, w: int, h: int, seconds: float, fps: int) -> None:
    import av

    rng_tex = np.random.default_rng(3).random((2 * h, 2 * w)).astype(np.float32)
    screen = green_screen(w, h)
    n = int(round(seconds * fps))
    sr = 48000
    tmp = path.with_name(path.stem + ".partial" + path.suffix)
    with av.open(str(tmp), "w") as c:
        vs = c.add_stream("libx264", rate=Fraction(fps))
        vs.width, vs.height, vs.pix_fmt = w, h, "yuv420p"
        vs.options = {"crf": "20", "preset": "slow"}
        aus = c.add_stream("aac", rate=sr)
        aus.layout = "mono"
        audio = tone(int(seconds * sr), sr)
        a_pos = 0
        for i in range(n):
            rgb, alpha = subject_layer(w, h, i / fps, rng_tex)
            a = alpha[..., None]
            spill = np.array([0.0, 0.10, 0.0]) * (a * (1 - a) * 4 + 0.25 * a)
            frame = rgb * a + screen * (1 - a) + spill
            img = (np.clip(frame, 0, 1) * 255 + 0.5).astype(np.uint8)
            vf = av.VideoFrame.from_ndarray(img, format="rgb24")
            vf.pts = i
            for p in vs.encode(vf):
                c.mux(p)
            end = min(len(audio), int((i + 1) / fps * sr))
            while a_pos + 1024 <= end or (i == n - 1 and a_pos < len(audio)):
                chunk = audio[a_pos : a_pos + 1024]
                af = av.AudioFrame.from_ndarray(chunk[None], format="flt", layout="mono")
                af.sample_rate, af.pts = sr, a_pos
                for p in aus.encode(af):
                    c.mux(p)
                a_pos += len(chunk)
        for s in (vs, aus):
            for p in s.encode(None):
                c.mux(p)
    tmp.replace(path)


def main() -> None:
    import cv2

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=HERE)
    ap.add_argument("--size", default="480x270")
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--fps", type=int, default=24)
    args = ap.parse_args()
    w, h = (int(x) for x in args.size.split("x"))
    args.out.mkdir(parents=True, exist_ok=True)
    write_clip(args.out / "greenscreen.mp4", w, h, args.seconds, args.fps)
    bg = (background(960, 540) * 255 + 0.5).astype(np.uint8)
    cv2.imwrite(str(args.out / "background.png"), cv2.cvtColor(bg, cv2.COLOR_RGB2BGR))
    print(f"wrote {args.out / 'greenscreen.mp4'} and {args.out / 'background.png'}")


if __name__ == "__main__":
    main()
