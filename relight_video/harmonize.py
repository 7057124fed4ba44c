"""The Python API: harmonize a clip or an image. The CLI calls exactly these functions.

Per frame (DESIGN.md, "The data path"):

1. decode the frame and get its matte (chroma key / alpha clip / own alpha / person matte),
2. downscale foreground, matte and background to the working size,
3. the engine harmonizes the foreground there,
4. detail transfer applies the low-frequency change to the full-resolution foreground,
5. composite over the full-resolution background and encode (audio copied from the input).

Frames stream through: memory is flat in clip length.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import sys
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from relight_video import io
from relight_video.background import Background
from relight_video.config import RunConfig, load_run_config, parse_rate
from relight_video.cuts import CutDetector
from relight_video.detail import apply_gain, composite, downscale, lowfreq_gain, scale_gain
from relight_video.engines import Engine, make_engine
from relight_video.errors import InputError
from relight_video.temporal import Stabilizer

ENV_VIEW = "<view of the env map>"


@dataclass
class RunStats:
    frames: int = 0
    seconds: float = 0.0
    cuts: list[int] = field(default_factory=list)  # frames that start a new shot
    empty_frames: int = 0  # frames whose matte held no subject (they show the background)
    first_empty: int | None = None  # the first of them
    stages: dict[str, float] = field(default_factory=lambda: defaultdict(float))

    def no_subject_warning(self) -> str | None:
        """One line for a run where the matte was empty on some frames, else None."""
        if not self.empty_frames:
            return None
        return (
            f"warning: no subject in {self.empty_frames} of {self.frames} frames (first: frame "
            f"{self.first_empty}); the matte is empty there, so those frames show the background "
            "alone (check the key colour, the alpha or that the shot has a person in it)"
        )

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0


def working_size(width: int, height: int, long_side: int) -> tuple[int, int]:
    """``(w, h)`` with the long side ``long_side`` (never upscaled), aspect kept, ≥ 8 px."""
    scale = min(1.0, long_side / max(width, height))
    return max(8, round(width * scale)), max(8, round(height * scale))


class FrameHarmonizer:
    """Harmonizes full-resolution frames one at a time with an engine at working size."""

    def __init__(
        self,
        engine: Engine,
        width: int,
        height: int,
        long_side: int,
        strength: float = 1.0,
        light_cuts: CutDetector | None = None,
    ):
        """``light_cuts``: watches the light the engine reads (the plate under the keyed
        lighting); where it jumps (a background clip's cut, a ``hold`` key) the engine's
        temporal state is reset, so the subject's light jumps with it instead of easing over."""
        self.engine = engine
        self.strength = strength
        self.size = working_size(width, height, long_side)
        self.stages: dict[str, float] = defaultdict(float)
        self.light_cuts = light_cuts
        self._plate: np.ndarray | None = None
        self._plate_s: np.ndarray | None = None
        self._last_keys: tuple | None = None  # (lighting, env) of the last frame
        k = getattr(engine, "stabilize", 0.0)  # flow guidance: the subject's pixels too
        self.stabilizer = Stabilizer(k) if k > 0 and hasattr(engine, "motion") else None
        self.subject_seen = True  # whether the last prepared frame's matte held a subject
        self._lock = threading.Lock()

    def __call__(
        self, fg: np.ndarray, alpha: np.ndarray, bg: np.ndarray, lighting=None, env=None
    ) -> tuple[np.ndarray, np.ndarray]:
        """``fg, bg (H, W, 3) uint8``, ``alpha (H, W) float32`` → (composite, harmonized fg),
        both ``(H, W, 3) uint8``. ``lighting`` (:class:`keyframes.Lighting`) changes the light
        the engine reads from the plate, not the visible plate; ``env`` (:class:`EnvLight`)
        lights the subject from an HDR map instead of the plate."""
        return self.finish(fg, bg, alpha, *self.prepare(fg, alpha, bg, lighting, env))

    def prepare(
        self,
        fg: np.ndarray,
        alpha: np.ndarray,
        bg: np.ndarray,
        lighting=None,
        env=None,
        bg_last_keys: np.ndarray | None = None,
    ) -> tuple[np.ndarray, tuple | None]:
        """Steps 2-3 and the gain of step 4 (working size): → ``(gain (h, w, 3) float32,
        motion)``, what :meth:`finish` applies at full resolution (``motion``: the flow guidance's
        flow and visibility for the stabiliser, or None). A video loop calls the two on different
        threads so the full-resolution passes of one frame overlap the next frame's engine.
        ``bg_last_keys``: this frame's plate as the last frame's keys composed it, where keyed
        plate cross-fades moved on (else None)."""
        t0 = time.perf_counter()
        fg_s = downscale(fg, self.size).astype(np.float32) / 255.0
        if bg is not self._plate:  # a still background is resized once, and stays one object
            self._plate = bg
            self._plate_s = downscale(bg, self.size).astype(np.float32) / 255.0
        bg_s = self._plate_s
        if lighting is not None:  # under an env map, the map turns and the plate stays
            bg_s = lighting.apply_to_plate(bg_s, turn=env is None)
        if self.light_cuts is not None and self.light_cuts(bg_s):
            self.engine.reset()  # before set_env: a reset forgets the engine's env map
        if env is not None:
            self.engine.set_env(env.map, env.exposure)
        if hasattr(self.engine, "last_keys_plate"):  # flow guidance: keyed changes pass at once
            self.engine.last_keys_plate = self._plate_under_last_keys(lighting, env, bg_last_keys)
        a_s = downscale(alpha, self.size)
        self.subject_seen = bool(a_s.max() > 0.02)  # an empty matte: the background alone
        t1 = time.perf_counter()
        out_s = self.engine.harmonize(fg_s, a_s, bg_s)
        t2 = time.perf_counter()
        gain = lowfreq_gain(fg_s, out_s, a_s)
        if hasattr(self.engine, "smooth_gain"):
            gain = self.engine.smooth_gain(gain)
        gain = scale_gain(gain, self.strength * (1.0 if lighting is None else lighting.strength))
        if lighting is not None and env is None and self.engine.name != "composite":
            gain = gain * np.float32(lighting.subject_gain())  # keyed intensity, plate light
        with self._lock:
            self.stages["resize"] += t1 - t0
            self.stages["model"] += t2 - t1
            self.stages["detail"] += time.perf_counter() - t2
        motion = self.engine.motion() if self.stabilizer is not None else None
        return gain, motion

    def _plate_under_last_keys(self, lighting, env, bg_last_keys=None) -> np.ndarray | None:
        """This frame's plate (working size) under the last frame's keys, or None when the
        keys give the engine the same light as on the last frame."""
        last, self._last_keys = self._last_keys, (lighting, env)
        if last is None:
            return None
        if bg_last_keys is None and not _keyed_light_changed(last, (lighting, env)):
            return None
        plate = self._plate_s
        if bg_last_keys is not None:
            plate = downscale(bg_last_keys, self.size).astype(np.float32) / 255.0
        return plate if last[0] is None else last[0].apply_to_plate(plate, turn=last[1] is None)

    def finish(
        self,
        fg: np.ndarray,
        bg: np.ndarray,
        alpha: np.ndarray,
        gain: np.ndarray,
        motion: tuple | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Step 4-5 at full resolution: → ``(composite, harmonized fg)``. Frames must come in
        order (the stabiliser keeps the last one)."""
        t = time.perf_counter()
        if self.stabilizer is not None:
            fg = self.stabilizer(fg, motion)
        fg_h = apply_gain(fg, gain)
        result = composite(fg_h, bg, alpha)
        with self._lock:  # prepare() and finish() may run on two threads
            self.stages["detail"] += time.perf_counter() - t
        return result, fg_h


def _keyed_light_changed(a: tuple, b: tuple) -> bool:
    """Whether two frames' ``(lighting, env)`` give the engine different light: the keyed
    colour and turn of the plate, or another env map (by value)."""
    (la, ea), (lb, eb) = a, b
    if (la is None) != (lb is None) or (ea is None) != (eb is None):
        return True
    if la is not None and la.plate_light() != lb.plate_light():
        return True
    if ea is None:
        return False
    return ea.exposure != eb.exposure or (
        ea.map is not eb.map and not np.array_equal(ea.map, eb.map)
    )


class Prefetch:
    """Runs an iterator (decode + matte) on a worker thread, ``depth`` items ahead, so decoding
    and keying (OpenCV/FFmpeg release the GIL) overlap the engine's work on the previous frame.
    Exceptions from the iterator are re-raised in the consumer."""

    _DONE = object()

    def __init__(self, iterator, depth: int = 2):
        import queue
        import threading

        self.queue: queue.Queue = queue.Queue(maxsize=depth)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(iterator,), daemon=True)
        self.thread.start()

    def _run(self, iterator) -> None:
        import queue

        try:
            for item in iterator:
                while not self.stop.is_set():
                    try:
                        self.queue.put((True, item), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if self.stop.is_set():
                    return
            self.queue.put((True, self._DONE))
        except BaseException as e:  # handed to the consumer
            self.queue.put((False, e))
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()

    def __iter__(self):
        while True:
            ok, item = self.queue.get()
            if not ok:
                raise item
            if item is self._DONE:
                return
            yield item

    def __enter__(self) -> Prefetch:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.stop.set()
        while self.thread.is_alive():  # unblock a producer waiting on a full queue
            try:
                self.queue.get_nowait()
            except Exception:
                self.thread.join(timeout=0.05)


class BackgroundEncoder:
    """Runs calls (frame writes, the full-resolution finish) on one worker thread, in order, at
    most ``depth`` behind, so x264/ProRes encoding and OpenCV passes (which release the GIL)
    overlap the next frame's work. Errors surface in the
    caller at the next :meth:`submit` or at exit; on an exception queued writes are dropped."""

    def __init__(self, depth: int = 2):
        from collections import deque
        from concurrent.futures import ThreadPoolExecutor

        self.pool = ThreadPoolExecutor(1, thread_name_prefix="encode")
        self.pending = deque()
        self.depth = depth

    def submit(self, fn, *args) -> None:
        self.pending.append(self.pool.submit(fn, *args))
        while len(self.pending) > self.depth:
            self.pending.popleft().result()

    def __enter__(self) -> BackgroundEncoder:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            try:
                while self.pending:
                    self.pending.popleft().result()
            finally:
                self.pool.shutdown(wait=True)
        else:
            self.pool.shutdown(wait=True, cancel_futures=True)


@dataclass
class EnvLight:
    """An HDR map to light from: linear equirect ``map (H, 2H, 3)`` and the clip's exposure."""

    map: np.ndarray
    exposure: float


class EnvMaps:
    """The env maps a run lights from (``--env-map`` and keyframes' ``env_map``), each read
    once; :meth:`at` gives a frame's :class:`EnvLight` (keyed yaw, colour and cross-fades
    applied, ``--env-yaw`` on top) with one exposure for the whole clip, so keyed intensity
    changes stay visible."""

    MAX_ROWS = 256

    def __init__(self, cfg: RunConfig, keys=None):
        from relight_video.envmap import auto_exposure, load_env, resize_env, rotate_env

        paths = [cfg.env_map] if cfg.env_map else []
        if keys is not None:
            paths += [k.values["env_map"] for k in keys.keys if "env_map" in k.values]
        self.maps = {}
        for p in dict.fromkeys(paths):
            env = load_env(p)
            if env.shape[1] != 2 * env.shape[0]:
                raise InputError(f"{p}: expected an equirectangular map (W = 2H), got {env.shape}")
            self.maps[p] = resize_env(env, min(self.MAX_ROWS, env.shape[0]))
        self.base = cfg.env_map or (keys.keys[0].values.get("env_map") if keys else None)
        self.yaw = cfg.env_yaw
        self._static: EnvLight | None = None
        self.exposure = None
        if self.base is not None:
            self.exposure = auto_exposure(rotate_env(self.maps[self.base], self.yaw))

    def __bool__(self) -> bool:
        return bool(self.maps)

    def at(self, light) -> EnvLight | None:
        from relight_video.envmap import rotate_env

        if light is None and self._static is not None:
            return self._static  # no keyframes: one light for the whole clip
        path = (light.env_map if light is not None and light.env_map else None) or self.base
        if path is None:
            return None
        env = self.maps[path]
        if light is not None:
            nxt = self.maps.get(light.env_map_next) if light.env_map_next else None
            env = light.apply_to_env(env, nxt)
        if self.yaw:
            env = rotate_env(env, self.yaw)
        if light is None:
            self._static = EnvLight(env, self.exposure)
            return self._static
        return EnvLight(env, self.exposure)

    def view(self, width: int, height: int) -> np.ndarray:
        """The base map seen from the camera: the background when none is given."""
        from relight_video.envmap import perspective_view, rotate_env

        env = rotate_env(self.maps[self.base], self.yaw)
        return perspective_view(env, width, height, exposure=self.exposure)


def straight_rgba(fg: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """The harmonized foreground with its matte as straight (unpremultiplied) alpha:
    ``(H, W, 4) uint8`` for ``--output-alpha``."""
    a8 = (np.clip(alpha, 0, 1) * 255 + 0.5).astype(np.uint8)
    return np.dstack([fg, a8])


def check_env_engine(cfg: RunConfig, envs: EnvMaps, engine=None) -> None:
    """An env map needs the diffusion engine, and (given the ``engine``) an env-map branch."""
    if not envs:
        return
    if cfg.engine != "diffusion":
        source = "--env-map" if cfg.env_map else "env_map (in the keyframes)"
        raise InputError(f"{source} needs --engine diffusion (got {cfg.engine!r})")
    if engine is not None and not engine.supports_env:
        from relight_video.diffusion_engine import NO_ENV_BRANCH

        raise InputError(NO_ENV_BRANCH)


def check_paths(
    input_path: Path,
    outputs: list[Path | None],
    sources: dict[str, str | Path | None] | None = None,
) -> None:
    """Outputs must not be the input, one of the other files the run reads (``sources``: the
    matte, the plate, ...), or each other; their folders must exist."""
    read = {input_path.resolve(): "the input"}
    read |= {Path(p).resolve(): name for name, p in (sources or {}).items() if p}
    written: set[Path] = set()
    for out in outputs:
        if out is None:
            continue
        r = out.resolve()
        if r in read:
            raise InputError(f"output would overwrite {read[r]}: {out}")
        if "%" in out.name and r.parent in read and r.parent.is_dir():  # frames into a folder
            raise InputError(f"output frames would be added to {read[r.parent]}: {out}")
        if r in written:
            raise InputError(f"two outputs are the same file: {out}")
        written.add(r)
        if not out.parent.is_dir():
            raise InputError(f"output folder does not exist: {out.parent}")


def _check_path_argument(name: str, value) -> None:
    if value is not None and not isinstance(value, (str, Path)):
        raise InputError(f"{name}: expected a file path, got {type(value).__name__}")


def harmonize_video(
    input: str | Path,
    background: str | Path | None,
    output: str | Path,
    *,
    config: RunConfig | None = None,
    progress: bool = True,
    keyframes=None,
    **options,
) -> RunStats:
    """Harmonize a clip into a background and write it.

    Args:
        input: the clip (any format FFmpeg reads, or a folder of frames).
        background: a still image or a clip (``None``: taken from ``config.background``).
        output: ``.mp4`` (H.264), ``.mov`` (ProRes 4444) or a folder (PNG sequence).
        config: a :class:`RunConfig`; ``options`` override its fields (``engine="classical"``,
            ``key="green"``, ``alpha="mask/"``, ...).
        progress: show a tqdm bar.
        keyframes: a keyframe YAML path, a :class:`keyframes.Keyframes`, or a list of key dicts
            (``[{"frame": 0, "temperature_k": 6500}, {"time": 4.0, "temperature_k": 2500}]``).

    Returns:
        :class:`RunStats` with the frame count, wall time and per-stage seconds.
    """
    from tqdm import tqdm

    from relight_video.matte import garbage_matte, mattes

    # 1. check inputs
    _check_path_argument("background", background)
    from relight_video.keyframes import Keyframes

    if keyframes is not None and not isinstance(keyframes, (Keyframes, list, tuple, str, Path)):
        raise InputError(
            "keyframes: expected a Keyframes, a list of key mappings or a YAML path, got "
            f"{type(keyframes).__name__}"
        )
    cfg = config or RunConfig()
    if options or background is not None:
        data = {**options, **({"background": str(background)} if background else {})}
        cfg = load_run_config(None, (), **{**_flat(cfg), **data})
    input_path, output_path = Path(input), Path(output)
    alpha_out = Path(cfg.output_alpha) if cfg.output_alpha else None
    info = io.probe(input_path)
    if cfg.fps is not None:
        if not input_path.is_dir():
            raise InputError(
                f"--fps sets an image sequence's frame rate; {input_path} is a clip "
                f"({float(info.fps):g} fps, kept)"
            )
        info = dataclasses.replace(info, fps=parse_rate(cfg.fps))
    if info.interlaced:
        print(
            f"note: {input_path.name} is interlaced; it is deinterlaced (bwdif) and the output "
            "is progressive",
            file=sys.stderr,
        )
    if info.transfer != "sdr":
        print(
            f"note: {input_path.name} is HDR ({info.transfer.upper()}); it is tone-mapped to SDR "
            "BT.709, and so is the output",
            file=sys.stderr,
        )
    keys = None
    if isinstance(keyframes, Keyframes):  # built by the caller: placed on this clip's frames?
        keys = keyframes
        late = [k.frame for k in keys.keys if k.frame >= info.num_frames]
        if late:
            raise InputError(
                f"keyframes: a key at frame {late[0]} is out of range (the clip has "
                f"{info.num_frames} frames; build time keys with this clip's fps, {info.fps})"
            )
    elif isinstance(keyframes, (list, tuple)):
        keys = Keyframes.from_list(
            list(keyframes), float(info.fps), info.num_frames, times=info.frame_times
        )
    elif keyframes is not None or cfg.keyframes:
        keys = Keyframes.load(
            keyframes or cfg.keyframes, float(info.fps), info.num_frames, times=info.frame_times
        )
    envs = EnvMaps(cfg, keys)
    check_env_engine(cfg, envs)  # before any output is opened or the model loads
    if keys and not envs and cfg.engine == "diffusion":
        if any(k.values.get("yaw_deg", 0) for k in keys.keys):
            print(
                "warning: keyed yaw_deg without an env map rolls the plate, which the diffusion "
                "model does not follow as a turning light (README, Keyframed lighting); give "
                "env_map in the first key to turn the light",
                file=sys.stderr,
            )
    if cfg.background is None and envs.base is None:
        raise InputError("no background given (-b/--background, or --env-map)")
    backgrounds = {cfg.background} if cfg.background else set()
    if keys:
        backgrounds |= {k.values["background"] for k in keys.keys if "background" in k.values}
    sources = {f"the background {b}": b for b in backgrounds}
    sources["the keyframes file"] = (
        keyframes if isinstance(keyframes, (str, Path)) else cfg.keyframes
    )
    sources["the matte"] = cfg.alpha if cfg.alpha != "self" else None
    sources["the garbage matte"] = cfg.garbage
    check_paths(input_path, [output_path, alpha_out], sources)
    if cfg.garbage:  # read (and size-checked) before any output is opened
        garbage_matte(cfg.garbage, info.width, info.height)
    plates = {
        path: Background(
            path,
            info.width,
            info.height,
            fit=cfg.fit,
            loop=cfg.background_loop,
            fps=info.fps,
            sar=info.sar,
        )
        for path in backgrounds
    }
    plates = {path: source.frames() for path, source in plates.items()}
    default_plate = cfg.background or ENV_VIEW
    if cfg.background is None:
        plates[ENV_VIEW] = itertools.repeat(envs.view(info.width, info.height))
    audio = input_path if cfg.encode.audio == "copy" and info.has_audio else None
    stats = RunStats()

    # 2. stream: decode → matte → harmonize → encode
    enc = {"crf": cfg.encode.crf, "preset": cfg.encode.preset}
    enc["timing"] = io.Timing(info.start, info.frame_times)  # variable frame times, audio offset
    enc["sar"], enc["timecode"] = info.sar, info.timecode
    with contextlib.ExitStack() as stack:
        writer = stack.enter_context(
            io.VideoWriter(output_path, info.fps, info.width, info.height, audio_from=audio, **enc)
        )
        fg_writer = None
        if alpha_out is not None:
            fg_writer = stack.enter_context(
                io.VideoWriter(
                    alpha_out,
                    info.fps,
                    info.width,
                    info.height,
                    alpha=True,
                    audio_from=audio,
                    **enc,
                )
            )
        # The outputs are opened and the first frame's matte pulled before the engine loads
        # (seconds, for the model), so an unwritable output, a matte of the wrong size or a clip
        # with no screen to key fails at once.
        frame_source = mattes(cfg, input_path, info)
        first = next(frame_source, None)
        if first is None:
            raise InputError(f"no frames decoded from {input_path}")
        try:
            engine = make_engine(cfg)
            engine.reset()
            check_env_engine(cfg, envs, engine)
        except BaseException:
            frame_source.close()  # the decoder (and its file) now, not at garbage collection
            raise
        c = cfg.cuts
        harmonizer = FrameHarmonizer(
            engine,
            info.width,
            info.height,
            cfg.working_px,
            strength=cfg.strength,
            light_cuts=CutDetector(c.threshold, c.histogram, c.ratio) if c.detect else None,
        )
        start = time.perf_counter()
        bar = stack.enter_context(
            tqdm(total=info.num_frames, unit="frame", disable=not progress, desc=input_path.name)
        )
        encoder = stack.enter_context(BackgroundEncoder())  # exits after the finisher

        def finish(fg, plate, alpha, gain, motion):  # on the finisher thread, frames in order
            result, fg_h = harmonizer.finish(fg, plate, alpha, gain, motion)
            encoder.submit(writer.write, result)
            if fg_writer is not None:
                encoder.submit(fg_writer.write, straight_rgba(fg_h, alpha))

        # full-resolution gain + composite of frame i overlap the engine on frame i+1
        finisher = stack.enter_context(BackgroundEncoder())  # exits first: drains both queues
        sources = stack.enter_context(Prefetch(itertools.chain([first], frame_source)))
        t = time.perf_counter()

        def keyed_plate(light, frame_plates: dict) -> np.ndarray:
            plate = frame_plates[(light and light.background) or default_plate]
            if light is not None and light.background_next is not None:
                other = frame_plates[light.background_next]
                plate = composite(
                    other, plate, np.full(plate.shape[:2], light.background_mix, np.float32)
                )
            return plate

        def plate_keys(light) -> tuple:
            return (light.background, light.background_next, light.background_mix)

        last_light = None
        for i, (alpha, fg, cut) in enumerate(sources):
            if cut:  # a new shot: nothing of the last one carries over (relight_video.cuts)
                engine.reset()
                stats.cuts.append(i)
            frame_plates = {path: next(it) for path, it in plates.items()}
            light = keys.at(i) if keys else None
            plate = keyed_plate(light, frame_plates)
            plate_last = None  # where a keyed cross-fade moved on: the plate as it was keyed
            if light is not None and last_light is not None:
                if plate_keys(light) != plate_keys(last_light):
                    plate_last = keyed_plate(last_light, frame_plates)
            last_light = light
            t_dec = time.perf_counter()
            stats.stages["decode+matte"] += t_dec - t
            gain, motion = harmonizer.prepare(
                fg, alpha, plate, lighting=light, env=envs.at(light), bg_last_keys=plate_last
            )
            if not harmonizer.subject_seen:
                stats.empty_frames += 1
                if stats.first_empty is None:
                    stats.first_empty = i
            t_enc = time.perf_counter()
            finisher.submit(finish, fg, plate, alpha, gain, motion)
            t = time.perf_counter()
            stats.stages["encode"] += t - t_enc
            stats.frames += 1
            bar.update(1)
        t_close = time.perf_counter()
    stats.stages["encode"] += time.perf_counter() - t_close
    for name, seconds in harmonizer.stages.items():
        stats.stages[name] += seconds
    stats.seconds = time.perf_counter() - start
    return stats


def harmonize_image(
    foreground: str | Path,
    background: str | Path | None,
    output: str | Path,
    *,
    alpha: str | Path | None = None,
    config: RunConfig | None = None,
    **options,
) -> np.ndarray:
    """Harmonize one image. ``foreground`` may be RGBA (then ``alpha`` is optional); without
    either, the chroma key pulls the matte. Writes ``output`` (PNG/JPEG) and returns it."""
    from relight_video.keying import ChromaKeyer
    from relight_video.matte import alpha_from_image, garbage_matte

    _check_path_argument("background", background)
    cfg = config or RunConfig()
    data = {**options, **({"background": str(background)} if background else {})}
    cfg = load_run_config(None, (), **{**_flat(cfg), **data})
    if cfg.background is None and not cfg.env_map:
        raise InputError("no background given (-b/--background, or --env-map)")
    if alpha is not None and (cfg.key or cfg.matte):
        raise InputError("give only one of --key, --alpha, --matte")
    if cfg.keyframes:
        raise InputError("--keyframes animate a clip's light; an image has one frame")
    output = Path(output)
    alpha_out = Path(cfg.output_alpha) if cfg.output_alpha else None
    io.check_image_suffix(output, alpha=False)
    if alpha_out is not None:
        io.check_image_suffix(alpha_out, alpha=True)
    check_paths(
        Path(foreground),
        [output, alpha_out],
        {"the background": cfg.background, "the matte": alpha, "the garbage matte": cfg.garbage},
    )
    img = io.read_image(foreground)
    fg = io._to_channels(img, 3)
    if alpha is not None:
        a_img = io.read_image(alpha)
        if a_img.shape[:2] != fg.shape[:2]:
            raise InputError(
                f"alpha {alpha} is {a_img.shape[1]}x{a_img.shape[0]}, "
                f"foreground is {fg.shape[1]}x{fg.shape[0]}"
            )
        a = alpha_from_image(a_img)
    elif img.ndim == 3 and img.shape[2] == 4:
        a = img[..., 3].astype(np.float32) / 255.0
    else:
        k = cfg.keying
        a, fg = ChromaKeyer(
            cfg.key or "auto",
            fg_level=k.fg_level,
            bg_level=k.bg_level,
            spill=k.spill,
            matte_blur=k.matte_blur,
            edge_alpha=k.edge_alpha,
        )(fg)
    h, w = fg.shape[:2]
    if cfg.garbage:
        a = a * garbage_matte(cfg.garbage, w, h)
    envs = EnvMaps(cfg)
    if cfg.background:
        plate = next(Background(cfg.background, w, h, fit=cfg.fit).frames())
    else:
        plate = envs.view(w, h)
    engine = make_engine(cfg)
    check_env_engine(cfg, envs, engine)
    harmonizer = FrameHarmonizer(engine, w, h, cfg.working_px, strength=cfg.strength)
    result, fg_h = harmonizer(fg, a, plate, env=envs.at(None))
    if not harmonizer.subject_seen:
        print(
            "warning: the matte is empty (no subject found), so the output is the background "
            "alone (check the key colour or the alpha)",
            file=sys.stderr,
        )
    io.write_image(output, result)
    if cfg.output_alpha:
        io.write_image(cfg.output_alpha, straight_rgba(fg_h, a))
    return result


def _flat(cfg: RunConfig) -> dict:
    from relight_video.config import to_dict

    return to_dict(cfg)
