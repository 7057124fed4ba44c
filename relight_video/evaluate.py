"""``relight-video eval`` (image harmonization benchmark) and ``eval-video`` (temporal metrics).

``eval`` reads a folder of cases, ``CASES_DIR/NNN/{composite,mask,background,target}.png``
(``target`` optional), the iHarmony4 layout (Cong et al., "DoveNet", CVPR 2020): the composite is
the input, with the subject already pasted on the background under the mask. Each engine gets
``fg`` = the composite's pixels, ``alpha`` = the mask, ``bg`` = ``background.png`` through
:class:`relight_video.harmonize.FrameHarmonizer`, i.e. the product's working-size engine call and
detail transfer. The harmonized foreground is then blended back over the *composite* with the
mask, so the ``composite`` engine reproduces its input exactly and soft mask edges are not mixed
with the background twice. Scores: fMSE, fPSNR, PSNR, SSIM (and MSE) of
:func:`relight_video.metrics.case_metrics`, per case and averaged over the cases with a target.

``eval-video`` scores a harmonized clip against its input: the warping error (Lai et al.,
"Learning Blind Video Temporal Consistency", ECCV 2018) with flow estimated on the *input* and
fwd–bwd occlusion (Sundaram et al., ECCV 2010), on the input matte's foreground; the flicker of
the mean foreground luma; and, given target frames, PSNR / fPSNR. It streams: only the previous
input and output frames are kept.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import numpy as np

from relight_video.errors import InputError

METRICS = ("fmse", "fpsnr", "psnr", "ssim", "mse")
# (key, column title) of the Markdown table; arrows say which way is better
COLUMNS = (("fmse", "fMSE ↓"), ("fpsnr", "fPSNR ↑"), ("psnr", "PSNR ↑"), ("ssim", "SSIM ↑"))
CASE_FILES = ("composite.png", "mask.png", "background.png")


# ----------------------------------------------------------------------------- image cases


@dataclass
class Case:
    """One benchmark case: ``composite, background (H, W, 3) uint8``, ``alpha (H, W) float32``
    in [0, 1], ``target (H, W, 3) uint8`` or ``None``."""

    name: str
    composite: np.ndarray
    alpha: np.ndarray
    background: np.ndarray
    target: np.ndarray | None


def find_cases(cases_dir: Path) -> list[Path]:
    """The case folders of ``cases_dir`` (those holding a ``composite.png``), in name order."""
    if not cases_dir.is_dir():
        raise InputError(f"cases folder not found: {cases_dir}")
    folders = sorted(d for d in cases_dir.iterdir() if d.is_dir() and (d / CASE_FILES[0]).is_file())
    if not folders:
        raise InputError(f"no cases in {cases_dir} (expected NNN/composite.png, mask.png, ...)")
    for d in folders:
        for name in CASE_FILES[1:]:
            if not (d / name).is_file():
                raise InputError(f"case {d.name}: missing {d / name}")
    return folders


def load_case(folder: Path) -> Case:
    """Read one case folder; every image must have the composite's size."""
    from relight_video import io
    from relight_video.matte import alpha_from_image

    comp = io._to_channels(io.read_image(folder / "composite.png"), 3)
    h, w = comp.shape[:2]

    def same_size(img: np.ndarray, name: str) -> np.ndarray:
        if img.shape[:2] != (h, w):
            raise InputError(
                f"case {folder.name}: {name} is {img.shape[1]}x{img.shape[0]}, "
                f"composite.png is {w}x{h}"
            )
        return img

    alpha = alpha_from_image(same_size(io.read_image(folder / "mask.png"), "mask.png"))
    bg = io._to_channels(same_size(io.read_image(folder / "background.png"), "background.png"), 3)
    target = None
    if (folder / "target.png").is_file():
        target = io._to_channels(same_size(io.read_image(folder / "target.png"), "target.png"), 3)
    return Case(folder.name, comp, alpha, bg, target)


def harmonize_case(
    engine: Any, case: Case, working_size: int, env: Any = None, strength: float = 1.0
) -> np.ndarray:
    """Harmonize one case: ``(H, W, 3) uint8``, the harmonized foreground over the composite.

    The engine sees fg = composite, alpha = mask, bg = background at working size
    (:class:`FrameHarmonizer`), and is lit from ``env`` (:class:`harmonize.EnvLight`) instead of
    the background when one is given; its low-frequency change is carried to full resolution by
    the detail transfer (:mod:`relight_video.detail`).
    """
    from relight_video.detail import composite
    from relight_video.harmonize import FrameHarmonizer

    h, w = case.composite.shape[:2]
    engine.reset()  # cases are independent: no temporal state carried between them
    _, fg_h = FrameHarmonizer(engine, w, h, working_size, strength=strength)(
        case.composite, case.alpha, case.background, env=env
    )
    return composite(fg_h, case.composite, case.alpha)


def mean_metrics(per_case: dict[str, dict[str, float]]) -> dict[str, float] | None:
    """Mean of each metric over the cases (``None`` when there are none)."""
    if not per_case:
        return None
    return {k: float(np.mean([m[k] for m in per_case.values()])) for k in METRICS}


def markdown_table(doc: dict[str, Any]) -> str:
    """Engines side by side: means over the cases with a target, then fMSE / PSNR per case."""
    engines = doc["engines"]
    n_target = len(doc["cases_with_target"])
    lines = [
        "| engine | " + " | ".join(t for _, t in COLUMNS) + " | cases |",
        "|---|" + "---:|" * (len(COLUMNS) + 1),
    ]
    for name, res in engines.items():
        mean = res["mean"]
        cells = [_fmt(k, mean[k]) if mean else "–" for k, _ in COLUMNS]
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {n_target} |")
    table = "\n".join(lines)
    if not n_target:
        table += "\n\nNo case has a target.png: outputs and the contact sheet only."
    return table


def markdown_report(doc: dict[str, Any]) -> str:
    """The ``metrics.md`` page: header, the mean table, per-case tables."""
    engines = doc["engines"]
    with_target = doc["cases_with_target"]
    parts = [
        "# Harmonization metrics",
        "",
        f"{len(doc['cases'])} cases from `{doc['cases_dir']}` ({len(with_target)} with a "
        f"target), working size {doc['working_size']} px. fMSE / MSE on the 0..255 scale, "
        "PSNR / fPSNR in dB, SSIM (11×11 Gaussian window); means over the cases with a target.",
        "",
        markdown_table(doc),
    ]
    for key, title in (("fmse", "fMSE ↓"), ("psnr", "PSNR ↑")):
        if not with_target:
            break
        parts += ["", f"## {title} per case", ""]
        parts.append("| case | " + " | ".join(engines) + " |")
        parts.append("|---|" + "---:|" * len(engines))
        for case in with_target:
            cells = [_fmt(key, engines[e]["cases"][case][key]) for e in engines]
            parts.append(f"| {case} | " + " | ".join(cells) + " |")
    return "\n".join(parts) + "\n"


def _fmt(key: str, value: float) -> str:
    return f"{value:.4f}" if key == "ssim" else f"{value:.2f}"


def contact_sheet(
    cases: list[str],
    columns: list[str],
    cells: dict[tuple[str, str], np.ndarray | None],
    cell_h: int = 144,
) -> np.ndarray:
    """Rows = cases, columns = ``columns``; each cell is ``cells[(case, column)]`` fitted into a
    ``cell_h``-high box (``None`` → a grey "none" cell). Returns ``(H, W, 3) uint8`` RGB."""
    import cv2

    aspect = max(img.shape[1] / img.shape[0] for img in cells.values() if img is not None)
    cell_w = int(round(cell_h * aspect))
    label_w, head_h, pad = 64, 24, 4
    sheet_h = head_h + len(cases) * (cell_h + pad)
    sheet_w = label_w + len(columns) * (cell_w + pad)
    sheet = np.full((sheet_h, sheet_w, 3), 255, np.uint8)
    font = cv2.FONT_HERSHEY_SIMPLEX
    for j, col in enumerate(columns):
        x = label_w + j * (cell_w + pad)
        cv2.putText(sheet, col[:18], (x + 2, head_h - 8), font, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    for i, case in enumerate(cases):
        y = head_h + i * (cell_h + pad)
        cv2.putText(sheet, case[:7], (4, y + cell_h // 2), font, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
        for j, col in enumerate(columns):
            x = label_w + j * (cell_w + pad)
            box = np.full((cell_h, cell_w, 3), 200, np.uint8)
            img = cells.get((case, col))
            if img is None:
                cv2.putText(box, "none", (8, cell_h // 2), font, 0.45, (90, 90, 90), 1, cv2.LINE_AA)
            else:
                scale = min(cell_h / img.shape[0], cell_w / img.shape[1])
                nh, nw = max(1, round(img.shape[0] * scale)), max(1, round(img.shape[1] * scale))
                interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
                small = cv2.resize(img, (nw, nh), interpolation=interp)
                oy, ox = (cell_h - nh) // 2, (cell_w - nw) // 2
                box[oy : oy + nh, ox : ox + nw] = small
            sheet[y : y + cell_h, x : x + cell_w] = box
    return sheet


def evaluate_cases(
    cases_dir: Path,
    output: Path,
    engines: list[str],
    *,
    config_path: str | None = None,
    overrides: tuple[str, ...] = (),
    working_size: int | None = None,
    checkpoint: str | None = None,
    sheet_rows: int = 16,
    progress: bool = True,
) -> dict[str, Any]:
    """Run ``engines`` on every case of ``cases_dir``, write outputs and reports under ``output``.

    Writes ``output/NNN/harmonized.png`` (one engine) or ``output/<engine>/NNN/harmonized.png``,
    ``metrics.json``, ``metrics.md`` and ``sheet.png``. Returns the ``metrics.json`` document:
    ``{"cases_dir", "working_size", "cases", "cases_with_target", "engines": {name: {"outputs",
    "mean": {fmse, fpsnr, psnr, ssim, mse} | None, "cases": {case: {...}}}}}``.
    """
    from tqdm import tqdm

    from relight_video import io
    from relight_video.config import load_run_config
    from relight_video.engines import make_engine
    from relight_video.metrics import case_metrics

    # 1. check inputs: cases, engines (built before any work), output folder
    folders = find_cases(cases_dir)
    if not engines:
        raise InputError("--engine: expected at least one engine")
    built = {}
    specs = [parse_engine_spec(e, checkpoint) for e in engines]
    engines = [label for label, _, _ in specs]
    if len(set(engines)) != len(engines):
        raise InputError(f"--engine: a name is used twice: {','.join(engines)}")
    for label, name, ckpt in specs:
        cfg = load_run_config(
            config_path, overrides, engine=name, working_size=working_size, checkpoint=ckpt
        )
        built[label] = (make_engine(cfg), cfg.working_px, cfg.strength)
    if not output.parent.is_dir():
        raise InputError(f"output folder does not exist: {output.parent}")
    if output.exists() and not output.is_dir():
        raise InputError(f"output is a file, expected a folder: {output}")
    output.mkdir(exist_ok=True)

    # 2. harmonize every case with every engine, score those with a target
    def out_dir(engine: str, case: str) -> Path:
        return output / case if len(engines) == 1 else output / engine / case

    results: dict[str, dict[str, Any]] = {name: {"cases": {}} for name in engines}
    sheet_cases: list[str] = []
    cells: dict[tuple[str, str], np.ndarray | None] = {}
    names, with_target = [], []
    with tqdm(total=len(folders) * len(engines), unit="case", disable=not progress) as bar:
        for folder in folders:
            case = load_case(folder)
            names.append(case.name)
            if case.target is not None:
                with_target.append(case.name)
            keep = len(sheet_cases) < sheet_rows
            if keep:
                sheet_cases.append(case.name)
                cells[(case.name, "input")] = case.composite
                cells[(case.name, "target")] = case.target
            for name, (engine, size, strength) in built.items():
                bar.set_postfix_str(f"{case.name} {name}")
                pred = harmonize_case(engine, case, size, strength=strength)
                folder_out = out_dir(name, case.name)
                folder_out.mkdir(parents=True, exist_ok=True)
                io.write_image(folder_out / "harmonized.png", pred)
                if case.target is not None:
                    try:
                        scores = case_metrics(pred, case.target, case.alpha)
                    except InputError as e:  # e.g. an empty mask: fMSE is undefined
                        raise InputError(f"case {case.name}: {e}") from None
                    results[name]["cases"][case.name] = scores
                if keep:
                    cells[(case.name, name)] = pred
                bar.update(1)

    # 3. reports
    for name in engines:
        results[name]["outputs"] = "." if len(engines) == 1 else name
        results[name]["mean"] = mean_metrics(results[name]["cases"])
    doc = {
        "cases_dir": str(cases_dir),
        "working_size": _working_sizes({name: size for name, (_, size, _) in built.items()}),
        "cases": names,
        "cases_with_target": with_target,
        "engines": {name: _ordered(results[name]) for name in engines},
    }
    (output / "metrics.json").write_text(json.dumps(doc, indent=2))
    (output / "metrics.md").write_text(markdown_report(doc))
    sheet = contact_sheet(sheet_cases, ["input", *engines, "target"], cells)
    io.write_image(output / "sheet.png", sheet)
    return doc


def parse_engine_spec(text: str, checkpoint: str | None) -> tuple[str, str, str | None]:
    """``NAME`` or ``LABEL=CHECKPOINT_DIR`` (the diffusion engine with that checkpoint, shown as
    LABEL: compare checkpoints, e.g. training stages, in one table) → (label, engine, ckpt)."""
    if "=" not in text:
        return text, text, checkpoint
    label, _, path = text.partition("=")
    label, path = label.strip(), path.strip()
    if not label or not path or not label.replace("-", "").replace("_", "").isalnum():
        raise InputError(f"--engine: expected NAME or LABEL=CHECKPOINT_DIR, got {text!r}")
    return label, "diffusion", path


def _working_sizes(sizes: dict[str, int]) -> int | str:
    """One working size, or, where engines differ (the diffusion engine's default is 256, the
    others' 128), each engine's: ``"composite 128, diffusion 256"``."""
    if len(set(sizes.values())) == 1:
        return next(iter(sizes.values()))
    return ", ".join(f"{name} {size}" for name, size in sizes.items())


def _ordered(res: dict[str, Any]) -> dict[str, Any]:
    return {"outputs": res["outputs"], "mean": res["mean"], "cases": res["cases"]}


@click.command("eval")
@click.argument("cases_dir", type=click.Path(path_type=Path))
@click.option("-o", "--output", required=True, type=click.Path(path_type=Path), help="PRED_DIR.")
@click.option(
    "--engine",
    "engines",
    default="composite,classical",
    show_default=True,
    help="Comma-separated engines (composite, classical, diffusion), or LABEL=CHECKPOINT_DIR "
    "for the diffusion engine with that checkpoint (e.g. stage1=runs/stage1/pipeline).",
)
@click.option("--checkpoint", default=None, help="Model checkpoint folder (diffusion).")
@click.option("--working-size", type=int, default=None, help="Engine long side in px (128).")
@click.option("--config", "config_path", default=None, help="YAML config file.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override a setting.")
@click.option("--sheet-rows", type=int, default=16, show_default=True, help="Cases on the sheet.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
def eval_command(
    cases_dir: Path,
    output: Path,
    engines: str,
    checkpoint: str | None,
    working_size: int | None,
    config_path: str | None,
    overrides: tuple[str, ...],
    sheet_rows: int,
    quiet: bool,
) -> None:
    """Harmonize the cases of CASES_DIR (NNN/composite,mask,background[,target].png) with each
    engine; write outputs, metrics.json, metrics.md and sheet.png to PRED_DIR."""
    if sheet_rows < 1:
        raise InputError(f"--sheet-rows: expected at least 1, got {sheet_rows}")
    doc = evaluate_cases(
        cases_dir,
        output,
        [e.strip() for e in engines.split(",") if e.strip()],
        config_path=config_path,
        overrides=overrides,
        working_size=working_size,
        checkpoint=checkpoint,
        sheet_rows=sheet_rows,
        progress=not quiet,
    )
    click.echo(markdown_table(doc))
    click.echo(f"wrote {output}/ (metrics.json, metrics.md, sheet.png)", err=True)


# ----------------------------------------------------------------------------- video


def evaluate_video(
    output: Path,
    input_path: Path,
    *,
    key: str | None = None,
    alpha: str | None = None,
    matte: str | None = None,
    target: Path | None = None,
    flow_backend: str = "dis",
    flow_weights: str | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Temporal and (with ``target``) fidelity metrics of a harmonized clip, streaming.

    Per frame ``t``: the input's matte ``alpha_t (H, W)`` in [0, 1] (chroma key / alpha clip /
    own alpha, :func:`relight_video.matte.mattes`), foreground = ``alpha_t > 0.5``;

    - warping error (Lai et al. ECCV 2018): :class:`relight_video.metrics.WarpingError` with flow
      between input frames ``t`` and ``t − 1`` and the fwd–bwd visibility, on foreground pixels;
      mean squared difference on the [0, 1] scale;
    - flicker: :class:`relight_video.metrics.Flicker`, mean ``|ΔL|`` of the mean foreground
      Rec. 709 luma, 0..255 levels;
    - both within shots: no pair across a hard cut of the input (:mod:`relight_video.cuts`,
      the run's default detector) is scored;
    - with ``target`` (a folder of PNGs or a clip, one frame per output frame): per-frame PSNR,
      fPSNR, MSE, fMSE (0..255 scale), averaged over frames (fPSNR / fMSE over frames with a
      foreground).

    Returns ``{"output", "input", "frames", "width", "height", "flow", "warping_error",
    "warping_pairs", "flicker", "cuts", "psnr", "fpsnr", "mse", "fmse"}`` (target metrics
    ``None`` without a target; ``cuts``: the frames that start a new shot).
    """
    from tqdm import tqdm

    from relight_video import io
    from relight_video.config import load_run_config
    from relight_video.matte import mattes
    from relight_video.metrics import Flicker, WarpingError, fmse, fpsnr, mse, psnr

    # 1. check inputs: the output, its target and the alpha source must match the input
    cfg = load_run_config(None, (), key=key, alpha=alpha, matte=matte)
    info = io.probe(input_path)
    out_info = io.probe(output)
    clips = [(output, out_info)]
    if target is not None:
        clips.append((target, io.probe(target)))
    # an odd-sized input comes back from H.264 (4:2:0) padded by one row/column: cropped here
    padded = (info.width + info.width % 2, info.height + info.height % 2)
    for path, other in clips:
        if (other.width, other.height) not in ((info.width, info.height), padded):
            raise InputError(
                f"{path} is {other.width}x{other.height}, input is {info.width}x{info.height}"
            )
        if other.num_frames != info.num_frames:
            raise InputError(f"{path} has {other.num_frames} frames, input has {info.num_frames}")
    warping = WarpingError(backend=flow_backend, weights=flow_weights)
    flicker = Flicker()
    fid: dict[str, list[float]] = {"psnr": [], "fpsnr": [], "mse": [], "fmse": []}

    # 2. stream: input matte + input frame + output frame (+ target frame)
    def read(path):
        return (f[: info.height, : info.width] for f in io.read_frames(path))

    streams = [mattes(cfg, input_path, info), io.read_frames(input_path), read(output)]
    if target is not None:
        streams.append(read(target))
    prev_in = prev_out = None
    frames, cuts = 0, []
    bar = tqdm(total=info.num_frames, unit="frame", disable=not progress, desc=output.name)
    with bar:
        for items in zip(*streams):
            (a, _, cut), frame_in, frame_out = items[:3]
            if cut:  # a new shot: Lai et al.'s error and the flicker are taken within shots
                prev_in = prev_out = None
                flicker.cut()
                cuts.append(frames)
            if prev_in is not None:
                warping.update(prev_in, frame_in, prev_out, frame_out, fg_mask=a)
            flicker.update(frame_out, a)
            if target is not None:
                fid["mse"].append(mse(frame_out, items[3]))
                fid["psnr"].append(psnr(frame_out, items[3]))
                if (a > 0.5).any():
                    fid["fmse"].append(fmse(frame_out, items[3], a))
                    fid["fpsnr"].append(fpsnr(frame_out, items[3], a))
            prev_in, prev_out = frame_in, frame_out
            frames += 1
            bar.update(1)

    # 3. summary
    def mean(values: list[float]) -> float | None:
        return float(np.mean(values)) if values else None

    return {
        "output": str(output),
        "input": str(input_path),
        "frames": frames,
        "width": info.width,
        "height": info.height,
        "flow": flow_backend,
        "warping_error": _finite(warping.value),
        "warping_pairs": warping.count,
        "flicker": _finite(flicker.value),
        "cuts": cuts,
        **{k: mean(v) if target is not None else None for k, v in fid.items()},
    }


def _finite(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None


def video_table(doc: dict[str, Any]) -> str:
    """A small two-column table of :func:`evaluate_video`'s result."""
    rows = [
        ("frames", f"{doc['frames']} ({doc['width']}x{doc['height']})"),
        ("warping error ↓", _num(doc["warping_error"], "{:.6f}") + f"  ({doc['flow']} flow)"),
        ("flicker ↓", _num(doc["flicker"], "{:.3f}") + "  (luma levels / frame)"),
    ]
    if doc.get("cuts"):  # both scored within shots
        cuts = ", ".join(map(str, doc["cuts"]))
        rows.append(("shots", f"{len(doc['cuts']) + 1} (cuts at frames {cuts})"))
    if doc["psnr"] is not None:
        rows += [
            ("PSNR ↑", _num(doc["psnr"], "{:.2f} dB")),
            ("fPSNR ↑", _num(doc["fpsnr"], "{:.2f} dB")),
            ("MSE ↓", _num(doc["mse"], "{:.2f}")),
            ("fMSE ↓", _num(doc["fmse"], "{:.2f}")),
        ]
    width = max(len(r[0]) for r in rows)
    return "\n".join(f"{name:<{width}}  {value}" for name, value in rows)


def _num(x: float | None, fmt: str) -> str:
    return "n/a" if x is None else fmt.format(x)


@click.command("eval-video")
@click.argument("output", type=click.Path(path_type=Path))
@click.option("--input", "input_path", required=True, type=click.Path(path_type=Path))
@click.option("--alpha", default=None, help="Input's alpha: a clip, a PNG folder, or 'self'.")
@click.option("--key", type=click.Choice(["green", "blue", "auto"]), default=None)
@click.option("--target", type=click.Path(path_type=Path), default=None, help="Target frames.")
@click.option("--json", "json_path", type=click.Path(path_type=Path), default=None)
@click.option(
    "--flow",
    "flow_backend",
    type=click.Choice(["dis", "raft_small", "raft_large"]),
    default="dis",
    show_default=True,
)
@click.option("--flow-weights", default=None, help="Local RAFT state dict (raft_* only).")
@click.option("--matte", type=click.Choice(["person"]), default=None, help="Input's person matte.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
def eval_video_command(
    output: Path,
    input_path: Path,
    alpha: str | None,
    key: str | None,
    target: Path | None,
    json_path: Path | None,
    flow_backend: str,
    flow_weights: str | None,
    matte: str | None,
    quiet: bool,
) -> None:
    """Warping error, flicker (and PSNR/fPSNR against --target) of the harmonized clip OUTPUT.

    To compare methods, score PNG-sequence or ProRes outputs: H.264's compression smooths the
    frames and lowers the warping error by itself (README, Video: temporal stability)."""
    if json_path is not None and not json_path.parent.is_dir():
        raise InputError(f"output folder does not exist: {json_path.parent}")
    if json_path is not None:  # the report must not land on a clip it measures
        read = {"the clip": output, "the input": input_path, "the target": target}
        read["the alpha"] = Path(alpha) if alpha and alpha != "self" else None
        for name, p in read.items():
            if p is not None and json_path.resolve() == Path(p).resolve():
                raise InputError(f"--json {json_path} would overwrite {name}")
        if json_path.is_dir():
            raise InputError(f"--json {json_path} is a folder")
    doc = evaluate_video(
        output,
        input_path,
        key=key,
        alpha=alpha,
        matte=matte,
        target=target,
        flow_backend=flow_backend,
        flow_weights=flow_weights,
        progress=not quiet,
    )
    click.echo(video_table(doc))
    if json_path is not None:
        json_path.write_text(json.dumps(doc, indent=2))
        click.echo(f"wrote {json_path}", err=True)
