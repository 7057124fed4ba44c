"""The ``diffusion`` engine: :class:`RelightPipeline` behind the engine interface.

The model runs at its own small size (``diffusion.model_size``, short side, rounded to the
UNet's multiple; by default the size the checkpoint was trained at); its output is brought back
to the working size and the usual detail transfer carries the change to full resolution. A
clip shares one seeded initial noise for every frame (DESIGN.md, "Temporal consistency" step
1); :meth:`reset` draws it anew for the next clip.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from relight_video.config import DiffusionConfig
from relight_video.errors import InputError

BUNDLED = Path(__file__).resolve().parent / "assets" / "relight-small"
NO_ENV_BRANCH = (
    "--env-map needs a checkpoint with an env-map branch (train stage 2); "
    "this one reads light from the background only"
)


def load_pipeline(checkpoint: str | Path | None, device: str = "cpu"):
    """Load a ``RelightPipeline`` folder (default: the bundled checkpoint) in float32."""
    import torch
    from diffusers.utils import logging as diffusers_logging

    from relight_video.pipeline import RelightPipeline

    diffusers_logging.disable_progress_bar()
    path = Path(checkpoint) if checkpoint else BUNDLED
    if not (path / "model_index.json").is_file():
        raise InputError(f"checkpoint not found: {path} (expected a folder with model_index.json)")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise InputError(f"device {device!r} asked for, but no CUDA device is available")
    if device == "mps" and not torch.backends.mps.is_available():
        raise InputError("device 'mps' asked for, but this PyTorch has no usable Apple GPU")
    try:
        pipe = RelightPipeline.from_pretrained(path, dtype=torch.float32)
    except (OSError, ValueError, KeyError) as e:
        raise InputError(f"cannot load checkpoint {path}: {str(e).splitlines()[0]}") from None
    pipe.set_progress_bar_config(disable=True)
    return pipe.to(device)


# The training pairs frame a bust: its matte's long side fills about 0.9 of the square (the
# held-out sets: 109-122 of 128 px). A subject that would fill less than ZOOM_BELOW of the short
# side so framed gets a smaller square that frames it the same way.
FRAME_FILL = 1.1  # window side per px of the subject's long side
ZOOM_BELOW = 0.8


def _bbox(alpha: np.ndarray) -> tuple[int, int, int, int] | None:
    rows = np.nonzero((alpha > 0.02).any(1))[0]
    cols = np.nonzero((alpha > 0.02).any(0))[0]
    if not len(rows):
        return None
    return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1


def framed_side(alpha: np.ndarray) -> int | None:
    """The side of a square that frames the subject as the training busts are framed (its long
    side × :data:`FRAME_FILL`, rounded up to 4 px, at least 16), capped at the frame's short
    side; ``None`` for an empty matte."""
    box = _bbox(alpha)
    if box is None:
        return None
    need = max(box[2] - box[0], box[3] - box[1]) * FRAME_FILL
    return int(min(min(alpha.shape[:2]), max(16, -(-int(np.ceil(need)) // 4) * 4)))


def square_window(alpha: np.ndarray, side: int | None = None) -> tuple[int, int, int, int]:
    """``(x0, y0, x1, y1)``: a square of ``side`` (default: the frame's short side) around the
    subject (the matte's bounding box, ``alpha > 0.02``): centred on it across, and, when
    ``side`` is smaller than the frame's short side, with its bottom edge on the subject's, as
    a bust is framed; clamped to the frame. Along an axis where the subject is larger than the
    square, the window grows in steps of an eighth of the square until it spans the subject (at
    most the whole frame).

    The model was trained on square frames of busts. Run on the whole of a 16:9 frame it reads
    light from plate it never saw beside the subject: on 16:9 versions of the held-out cases it
    scores 0.1–1.1 dB lower, and with the subject shrunk to half, 1.5–3.0 dB lower (README,
    "Wide frames and smaller subjects"). A square frame with no ``side``, or an empty matte,
    gives the whole frame."""
    h, w = alpha.shape[:2]
    box = _bbox(alpha)
    if box is None or (h == w and side is None):
        return 0, 0, w, h
    side = min(w, h) if side is None else min(side, w, h)
    step = max(1, side // 8)
    bottom = side < min(w, h)

    def span(lo: int, hi: int, n: int, at_end: bool = False) -> tuple[int, int]:
        # a subject larger than the square is spanned in steps of an eighth of it, so a subject
        # about as wide as the frame is tall does not toggle the window's size frame to frame
        size = min(n, side + -(-max(0, hi - lo - side) // step) * step)
        start = hi - size if at_end else round((lo + hi - size) / 2)
        start = min(max(start, 0), n - size)
        return start, start + size

    x0, x1 = span(box[0], box[2], w)
    y0, y1 = span(box[1], box[3], h, at_end=bottom)
    return x0, y0, x1, y1


class DiffusionEngine:
    name = "diffusion"

    def __init__(
        self,
        cfg: DiffusionConfig,
        checkpoint: str | None = None,
        device: str = "cpu",
        seed: int = 0,
        shared_noise: bool = True,
    ):
        self.cfg, self.seed, self.device = cfg, seed, device
        self.shared_noise = shared_noise
        self.pipe = load_pipeline(checkpoint, device)
        self.multiple = 2 ** (len(self.pipe.unet.config.block_out_channels) - 1)
        self.size = cfg.model_size or self.trained_size()
        self.reset()

    def trained_size(self) -> int:
        """The short side, in px, the checkpoint was trained at: its denoiser's ``sample_size``
        (in latents for a latent model, so times the VAE's downscale)."""
        vae = getattr(self.pipe, "vae", None)
        down = 1 if vae is None else 2 ** (len(vae.config.block_out_channels) - 1)
        return int(self.pipe.unet.config.sample_size) * down

    def reset(self) -> None:
        self._noise = None
        self._generator = None  # per-frame noise draws, seeded per clip
        self.x0_hook = None  # set by the temporal loop
        self.env, self.env_exposure, self._env_input = None, None, None
        self._side = None  # the window's side while zoomed in on a small subject

    @property
    def supports_env(self) -> bool:
        return self.pipe.has_env_branch

    def set_env(self, env: np.ndarray | None, exposure: float | None = None) -> None:
        """Light the next frames from ``env`` (linear equirect ``(H, 2H, 3)``, exposed by
        ``exposure``; default its own auto exposure) through the env-map branch; ``None``:
        read the light from the background again."""
        if env is not None and not self.supports_env:
            raise InputError(NO_ENV_BRANCH)
        if env is self.env and exposure == self.env_exposure:
            return  # the same light as the last frame: keep its encoded branch input
        self.env, self.env_exposure = env, exposure
        self._env_input = None if env is None else self.pipe.prepare_env(env, exposure)

    def window(self, alpha: np.ndarray) -> tuple[int, int, int, int]:
        """``(x0, y0, x1, y1)``: the part of a working-size frame the model sees, with
        ``cfg.square`` :func:`square_window`, else the whole frame.

        With ``cfg.zoom``, a subject whose :func:`framed_side` is under :data:`ZOOM_BELOW` of
        the short side gets a square that frames it. Over a clip that side changes only when
        the subject no longer fits in it or its framed side falls below 0.8 of it, so a matte's
        jitter does not rescale the model's input frame to frame (a frame whose window changes
        size is not flow-fused). Calling it twice on one frame gives the same window."""
        h, w = alpha.shape[:2]
        if not self.cfg.square:
            return 0, 0, w, h
        want, short, box = framed_side(alpha), min(w, h), _bbox(alpha)
        if box is not None and self.cfg.zoom:
            current = self._side or short
            if max(box[2] - box[0], box[3] - box[1]) > current or want < ZOOM_BELOW * current:
                self._side = want if want < ZOOM_BELOW * short else None
        return square_window(alpha, self._side)

    def model_size(self, w: int, h: int) -> tuple[int, int]:
        """``(w, h)`` the model runs at: the short side :attr:`size` (the scale the model
        was trained at), aspect kept, rounded to the UNet's multiple."""
        s = self.size / min(w, h)
        m = self.multiple
        return max(m, round(w * s / m) * m), max(m, round(h * s / m) * m)

    def harmonize(self, fg: np.ndarray, alpha: np.ndarray, bg: np.ndarray, alt=None):
        """``(h, w, 3) float32`` sRGB in [0, 1] + alpha → harmonized foreground, same size.
        The model sees :meth:`window` of the frame; outside it nothing changes.

        ``alt = (plate, env_input)``: also run the frame under that other light (a plate, and
        a prepared env map or None) in the same batch and with the same noise, and return both
        results ``(out, out_alt)``; the ``x0_hook`` then sees ``[this light | the other]``
        stacked along the batch."""
        x0, y0, x1, y1 = self.window(alpha)
        if (x0, y0, x1, y1) == (0, 0, fg.shape[1], fg.shape[0]):
            return self._harmonize(fg, alpha, bg, alt)
        crop = (slice(y0, y1), slice(x0, x1))
        if alt is not None:
            alt = (alt[0][crop], alt[1])
        got = self._harmonize(fg[crop], alpha[crop], bg[crop], alt)
        outs = []
        for part in got if alt is not None else (got,):
            out = fg.copy()
            out[crop] = part
            outs.append(out)
        return tuple(outs) if alt is not None else outs[0]

    def _harmonize(self, fg: np.ndarray, alpha: np.ndarray, bg: np.ndarray, alt=None):
        import cv2
        import torch

        from relight_video.pipeline import to_tensor

        h, w = fg.shape[:2]
        mw, mh = self.model_size(w, h)
        plates = [bg] if alt is None else [bg, alt[0]]
        small = [cv2.resize(x, (mw, mh), interpolation=cv2.INTER_AREA) for x in (fg, alpha)]
        bgs = [cv2.resize(x, (mw, mh), interpolation=cv2.INTER_AREA) for x in plates]
        env = self._env_input
        if alt is not None and (env is None) != (alt[1] is None):
            raise ValueError("alt: both lights or neither must come from an env map")
        flip = self.cfg.flip and env is None
        k = self.cfg.samples
        n = k * (2 if flip else 1)  # one light's members: draws, then their mirrors
        shape = (n, 3, mh, mw)
        if not self.shared_noise:  # a fresh draw every frame, from one seeded stream per clip
            if self._generator is None:
                self._generator = torch.Generator().manual_seed(self.seed)
            self._noise = torch.randn(shape, generator=self._generator)
        elif self._noise is None or tuple(self._noise.shape) != shape:
            g = torch.Generator().manual_seed(self.seed)
            self._noise = torch.randn(shape, generator=g)
        fg_t, a_t = (to_tensor(x, c) for x, c in zip(small, (3, 1)))

        def unmirror(x):  # mirrors the second half of each light's members back (own inverse)
            if not flip:
                return x
            return torch.cat([torch.cat([y[:k], y[k:].flip(-1)]) for y in x.split(n)])

        def members(x):  # one light's inputs: k draws, then their mirrors
            x = torch.cat([x] * k)
            return torch.cat([x, x.flip(-1)]) if flip else x

        batch = [torch.cat([members(x)] * len(plates)) for x in (fg_t, a_t)]
        batch.append(torch.cat([members(to_tensor(b, 3)) for b in bgs]))
        if env is not None and alt is not None:
            env = torch.cat([env, alt[1]])
        hook = self.x0_hook
        if flip and hook is not None:  # the hook (temporal fusion) sees every member unmirrored

            def hook(i, steps, x0, inner=self.x0_hook):
                return unmirror(inner(i, steps, unmirror(x0)))

        out = self.pipe(
            *batch,
            env_map=env,
            num_inference_steps=self.cfg.steps,
            latents=torch.cat([self._noise] * len(plates)),
            x0_hook=hook,
            output_type="pt",
        )
        results = []
        for part in unmirror(out).split(n):
            o = ((part.mean(0) + 1) / 2).permute(1, 2, 0).float().cpu().numpy()
            # the change the model made, brought back to the working size
            change = cv2.resize(o - small[0], (w, h), interpolation=cv2.INTER_LINEAR)
            results.append(np.clip(fg + change, 0.0, 1.0))
        return tuple(results) if alt is not None else results[0]
