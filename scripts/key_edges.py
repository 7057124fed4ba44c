"""How well the chroma keyer's soft edge comes out, on synthetic subjects with a known matte.

A striped disc (navy/white, skin/yellow/brown, red/black/blue) with a linear soft edge of 2 or
6 px on an unevenly lit green screen, optionally through 4:2:0 chroma subsampling as in most
delivered video; keyed, composited over a brown plate and compared with the true composite in a
band around the edge. Prints, for ``keying.edge_alpha`` off and on: the mean absolute error in
levels and the green cast (G minus the mean of R and B, over the truth's), per subject; then a
blue-screen case and a head with 1-px hair strands (soft pixels that are never opaque).

    python scripts/key_edges.py
"""

from __future__ import annotations

import cv2
import numpy as np

from relight_video.keying import ChromaKeyer

SUBJECTS = {
    "navy/white": [(40, 60, 140), (225, 225, 215), (40, 60, 140)],
    "skin/yellow": [(220, 170, 140), (230, 210, 50), (120, 80, 60)],
    "red/black": [(200, 40, 40), (25, 25, 25), (90, 90, 200)],
}


def frame_for(colours, soft_px: float, chroma420: bool, rng, h: int = 360, w: int = 640):
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    stripe = ((xx + 0.6 * yy) // 28) % 3
    fg = np.zeros((h, w, 3), np.float32)
    for i, c in enumerate(colours):
        fg[stripe == i] = c
    d = np.hypot(xx - w / 2, (yy - 400) / 1.3)
    alpha = np.clip((260 - d) / soft_px + 0.5, 0, 1)[..., None]
    screen = np.array([40, 155, 60], np.float32) * (0.9 + 0.2 * xx[..., None] / w)
    frame = alpha * fg + (1 - alpha) * screen + rng.normal(0, 1.5, (h, w, 3))
    frame = np.clip(frame, 0, 255).astype(np.uint8)
    if chroma420:
        ycc = cv2.cvtColor(frame, cv2.COLOR_RGB2YCrCb)
        for c in (1, 2):
            half = cv2.resize(ycc[..., c], (w // 2, h // 2), interpolation=cv2.INTER_AREA)
            ycc[..., c] = cv2.resize(half, (w, h), interpolation=cv2.INTER_LINEAR)
        frame = cv2.cvtColor(ycc, cv2.COLOR_YCrCb2RGB)
    return frame, alpha, fg


def blue_screen_case(rng, h: int = 360, w: int = 640):
    """An orange/white striped disc with a 2-px edge on a blue screen."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    stripe = ((xx + 0.6 * yy) // 28) % 2
    fg = np.where(stripe[..., None] == 0, [220, 120, 40], [225, 225, 215]).astype(np.float32)
    alpha = np.clip((260 - np.hypot(xx - w / 2, (yy - 400) / 1.3)) / 2 + 0.5, 0, 1)[..., None]
    screen = np.array([40, 70, 170], np.float32) * (0.9 + 0.2 * xx[..., None] / w)
    frame = alpha * fg + (1 - alpha) * screen + rng.normal(0, 1.5, (h, w, 3))
    return np.clip(frame, 0, 255).astype(np.uint8), alpha, fg


def hair_case(rng, h: int = 360, w: int = 640):
    """A dark-brown head on green with forty 1-px strands at 60 % coverage sticking out: soft
    pixels that are never opaque, where the edge re-estimate must do no harm."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    fg = np.full((h, w, 3), [60, 40, 30], np.float32)
    alpha = np.clip((150 - np.hypot(xx - 320, yy - 250)) / 1.5 + 0.5, 0, 1)
    for k in range(40):
        ang = np.pi * (0.1 + 0.8 * k / 40)
        x0, y0 = 320 + 150 * np.cos(ang), 250 - 150 * np.sin(ang)
        x1, y1 = 320 + 185 * np.cos(ang + 0.1), 250 - 185 * np.sin(ang + 0.1)
        strand = np.zeros((h, w), np.float32)
        ends = (int(x0 * 16), int(y0 * 16)), (int(x1 * 16), int(y1 * 16))
        cv2.line(strand, *ends, 0.6, 1, cv2.LINE_AA, 4)
        alpha = np.maximum(alpha, strand)
    alpha = alpha[..., None]
    screen = np.array([40, 155, 60], np.float32) * (0.9 + 0.2 * xx[..., None] / w)
    frame = alpha * fg + (1 - alpha) * screen + rng.normal(0, 1.5, (h, w, 3))
    return np.clip(frame, 0, 255).astype(np.uint8), alpha, fg


def cast(img: np.ndarray) -> np.ndarray:
    return img[..., 1] - (img[..., 0] + img[..., 2]) / 2  # green's excess (the blue case: read
    # as a colour shift only)


def score(frame, alpha, fg, mode: str) -> str:
    plate = np.array([90, 70, 65], np.float32)
    truth = alpha * fg + (1 - alpha) * plate
    soft_band = (alpha[..., 0] > 0.001) & (alpha[..., 0] < 0.999)
    band = cv2.dilate(soft_band.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    errs, casts = [], []
    for edge in (False, True):
        a, f = ChromaKeyer(mode, edge_alpha=edge)(frame)
        comp = a[..., None] * f.astype(np.float32) + (1 - a[..., None]) * plate
        errs.append(np.abs(comp - truth)[band].mean())
        casts.append((cast(comp) - cast(truth))[band].mean())
    return f"{errs[0]:.2f} → {errs[1]:.2f} | {casts[0]:+.2f} → {casts[1]:+.2f} |"


def main() -> None:
    print("| soft edge | 4:2:0 | subject | error, edge_alpha off → on | green cast, off → on |")
    print("|---|---|---|---|---|")
    for soft in (2.0, 6.0):
        for chroma in (False, True):
            for name, colours in SUBJECTS.items():
                frame, alpha, fg = frame_for(colours, soft, chroma, np.random.default_rng(0))
                row = score(frame, alpha, fg, "green")
                print(f"| {soft:g} px | {'yes' if chroma else 'no'} | {name} | {row}")
    frame, alpha, fg = blue_screen_case(np.random.default_rng(0))
    print(f"| 2 px | no | orange/white, blue screen | {score(frame, alpha, fg, 'blue')}")
    frame, alpha, fg = hair_case(np.random.default_rng(0))
    print(f"| 1.5 px | no | dark head, 1-px strands | {score(frame, alpha, fg, 'green')}")


if __name__ == "__main__":
    main()
