"""Synthetic green-screen clips with ground truth: a moving subject, its alpha, its relit target.

The subject moves by translation (a slow sway and a small bob) and turns its head (yaw and a
little pitch), both smooth sinusoids with random phases. Every frame is **re-rendered** (a new
OLAT stack for the new pose), so cast shadows, shading and the anti-aliased alpha follow the
motion exactly; no image warping. Cost: one OLAT stack per frame (about a second at 128 px with
64 lights on one core).

Files in ``OUT``:

- ``greenscreen.mp4``: the subject lit by environment A over a chroma-green screen (uniformly
  lit screen, slight gradient, no spill), H.264 via :class:`relight_video.io.VideoWriter`;
- ``alpha/NNNN.png``: the true coverage per frame;
- ``target/NNNN.png``: the subject relit by environment B over background B;
- ``background.png``: background B (frame 0); with ``keyframed=True`` environment B turns over the
  clip (``target_yaw_range`` degrees in all), the plate pans with it and every frame's plate is
  in ``background/NNNN.png``;
- ``env_src.hdr``, ``env_tgt.hdr`` (B at frame 0), ``meta.json``: subject, environments, fixed
  exposures (one camera setting per clip: no exposure pumping) and per-frame motion
  (translation in world units and pixels, head yaw/pitch/roll, environment B yaw).
"""

from __future__ import annotations

import json
import shutil
from fractions import Fraction
from pathlib import Path

import numpy as np

from models.data.backgrounds import render_background, sample_view
from models.data.compose import composite, jsonable, light_summary, lit_display
from models.data.envmaps import ENV_KINDS, light_weights, sample_environment, save_env, to_equirect
from models.data.render import render_olat
from models.data.sphere import fibonacci_sphere
from models.data.subjects import sample_subject
from models.data.tonemap import auto_exposure, to_uint8, tonemap
from relight_video.errors import InputError
from relight_video.io import VideoWriter, write_image

GREEN = np.array([0.09, 0.62, 0.2], np.float32)  # display sRGB of the screen


def green_screen(size: int, rng: np.random.Generator) -> np.ndarray:
    """A chroma-green backdrop ``(S, S, 3)`` display float: slight gradient and fabric noise."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / max(size - 1, 1)
    shade = 1.0 - 0.12 * (xx - 0.5) ** 2 - 0.1 * yy
    screen = GREEN[None, None] * shade[..., None]
    screen += rng.normal(0, 0.006, screen.shape).astype(np.float32)
    return np.clip(screen, 0, 1).astype(np.float32)


def clip_motion(frames: int, rng: np.random.Generator) -> list[dict]:
    """Per-frame translation (world units) and head-pose offsets (degrees)."""
    sway, bob = rng.uniform(0.04, 0.15), rng.uniform(0.0, 0.02)
    turn, nod = rng.uniform(10, 30), rng.uniform(0, 8)
    ph = rng.uniform(0, 2 * np.pi, 4)
    cycles = rng.uniform(0.5, 1.2)
    out = []
    for i in range(frames):
        a = 2 * np.pi * cycles * i / max(frames, 1)
        out.append(
            {
                "offset": (float(sway * np.sin(a + ph[0])), float(bob * np.sin(2 * a + ph[1]))),
                "yaw": float(turn * np.sin(a + ph[2])),
                "pitch": float(nod * np.sin(a + ph[3])),
            }
        )
    return out


def write_clip(
    out_dir: str | Path,
    frames: int = 24,
    size: int = 128,
    seed: int = 0,
    *,
    fps: float = 24.0,
    n_lights: int = 64,
    env_height: int = 64,
    keyframed: bool = False,
    target_yaw_range: float = 90.0,
    progress: bool = True,
) -> Path:
    """Write a clip folder (see the module docstring); returns ``out_dir``."""
    # 1. check inputs
    if frames < 1:
        raise InputError(f"frames must be >= 1, got {frames}")
    if not 16 <= size <= 1024:
        raise InputError(f"size must be in [16, 1024], got {size}")
    if not 4 <= n_lights <= 4096:
        raise InputError(f"n_lights must be in [4, 4096], got {n_lights}")
    if fps <= 0:
        raise InputError(f"fps must be > 0, got {fps}")
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(f"output is not a folder: {out_dir}")
    # 2. draw the subject, its motion, both environments and the plate camera
    rng = np.random.default_rng([seed, 3])
    subject = sample_subject(rng)
    motion = clip_motion(frames, rng)
    env_a = sample_environment(rng, ENV_KINDS)
    env_b = sample_environment(rng, ENV_KINDS)
    view = sample_view(rng)
    screen = green_screen(size, rng)
    dirs = fibonacci_sphere(n_lights)
    map_a = to_equirect(env_a, env_height)
    w_a = light_weights(map_a, dirs)
    k_a = auto_exposure(w_a, dirs)
    yaws = [
        env_b.yaw + (target_yaw_range * i / max(frames - 1, 1) if keyframed else 0.0)
        for i in range(frames)
    ]
    map_b0 = to_equirect(env_b, env_height)
    k_b = auto_exposure(light_weights(map_b0, dirs), dirs)
    # 3. render frame by frame into a temporary folder
    tmp = out_dir.with_name(f".{out_dir.name}.partial")
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "alpha").mkdir(parents=True)
    (tmp / "target").mkdir()
    if keyframed:
        (tmp / "background").mkdir()
    from tqdm import tqdm

    per_frame, bg_cache = [], {}
    try:
        with VideoWriter(
            tmp / "greenscreen.mp4", Fraction(fps).limit_denominator(1001), size, size
        ) as vw:
            for i in tqdm(range(frames), desc="clip", unit="frame", disable=not progress):
                m = motion[i]
                posed = subject.posed(
                    yaw=subject.yaw + m["yaw"], pitch=subject.pitch + m["pitch"], offset=m["offset"]
                )
                stack = render_olat(posed, size, dirs)
                env_bt = env_b.rotated(yaws[i] - env_b.yaw)
                if yaws[i] not in bg_cache:
                    map_bt = map_b0 if i == 0 or not keyframed else to_equirect(env_bt, env_height)
                    bg_lin = render_background(env_bt, size, view)
                    bg_cache = {yaws[i]: (light_weights(map_bt, dirs), tonemap(bg_lin, k_b))}
                w_b, bg = bg_cache[yaws[i]]
                fg_a = lit_display(stack.olat, w_a, k_a)
                fg_b = lit_display(stack.olat, w_b, k_b)
                vw.write(to_uint8(composite(fg_a, stack.mask, screen)))
                write_image(tmp / "alpha" / f"{i:04d}.png", to_uint8(stack.mask))
                write_image(
                    tmp / "target" / f"{i:04d}.png", to_uint8(composite(fg_b, stack.mask, bg))
                )
                if i == 0:
                    write_image(tmp / "background.png", to_uint8(bg))
                if keyframed:
                    write_image(tmp / "background" / f"{i:04d}.png", to_uint8(bg))
                per_frame.append(
                    {
                        "index": i,
                        "offset_world": list(m["offset"]),
                        "offset_px": [m["offset"][0] * size / 2, -m["offset"][1] * size / 2],
                        "head_yaw": posed.yaw,
                        "head_pitch": posed.pitch,
                        "head_roll": posed.roll,
                        "env_tgt_yaw": yaws[i],
                        "light_tgt": light_summary(w_b, dirs) if keyframed else None,
                    }
                )
        save_env(tmp / "env_src.hdr", map_a)
        save_env(tmp / "env_tgt.hdr", map_b0)
        meta = {
            "seed": seed,
            "frames": frames,
            "fps": fps,
            "size": size,
            "n_lights": n_lights,
            "keyframed": keyframed,
            "motion": "re-rendered per frame: translation + head yaw/pitch (no warping)",
            "subject": subject.to_dict(),
            "env_src": env_a.describe(),
            "env_tgt": env_b.describe(),
            "exposure_src": k_a,
            "exposure_tgt": k_b,
            "view": {"fov": view.fov, "pitch": view.pitch, "defocus": view.defocus},
            "light_src": light_summary(w_a, dirs),
            "light_tgt": light_summary(light_weights(map_b0, dirs), dirs),
            "green": GREEN.tolist(),
            "per_frame": per_frame,
        }
        (tmp / "meta.json").write_text(json.dumps(jsonable(meta), indent=1, sort_keys=True) + "\n")
        if out_dir.exists():
            shutil.rmtree(out_dir)
        tmp.rename(out_dir)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out_dir
