"""Average the weights of pipelines fine-tuned from a common ancestor (a "model soup").

Wortsman et al. 2022 ("Model soups", ICML) report that averaging the weights of models
fine-tuned from one pretrained model often scores better than any one of them. Our stages are
such a family: stage 3f, and the 1g/1h/2i/3i chain that continued from it. This writes a
pipeline folder whose every floating-point tensor is the weighted mean of the inputs'; configs,
the scheduler and integer buffers are the first input's. The inputs must have the same
components, tensor names and shapes (one error line otherwise).

    python scripts/average_pipelines.py runs/stage3f/pipeline runs/stage3i/pipeline \\
        -o runs/soup/pipeline [--weights 0.5,0.5]
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

WEIGHTS_FILE = "diffusion_pytorch_model.safetensors"


def average(inputs: list[Path], weights: list[float], out: Path) -> int:
    """Write the soup to ``out``; returns the number of tensors averaged."""
    files = sorted(p.relative_to(inputs[0]) for p in inputs[0].rglob(WEIGHTS_FILE))
    if not files:
        raise ValueError(f"{inputs[0]}: no {WEIGHTS_FILE} files (not a pipeline folder?)")
    for other in inputs[1:]:
        theirs = sorted(p.relative_to(other) for p in other.rglob(WEIGHTS_FILE))
        if theirs != files:
            raise ValueError(f"{other}: components differ from {inputs[0]}'s")
    tmp = out.with_name(f".{out.name}.partial")
    shutil.rmtree(tmp, ignore_errors=True)
    # configs and the scheduler from the first input; the weight files are written below
    shutil.copytree(inputs[0], tmp, ignore=shutil.ignore_patterns(WEIGHTS_FILE))
    try:
        count = _average_into(inputs, weights, files, tmp)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)  # no half-written soup is left behind
        raise
    shutil.rmtree(out, ignore_errors=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp.replace(out)
    return count


def _average_into(inputs: list[Path], weights: list[float], files: list[Path], tmp: Path) -> int:
    from safetensors.torch import load_file, save_file

    count = 0
    for rel in files:
        states = [load_file(str(root / rel)) for root in inputs]
        soup = {}
        for root, state in zip(inputs[1:], states[1:], strict=True):
            extra = sorted(set(state) - set(states[0]))
            if extra:
                raise ValueError(f"{root / rel}: tensors {extra} not in {inputs[0] / rel}")
            for name, first in states[0].items():
                if name not in state or state[name].shape != first.shape:
                    raise ValueError(f"{root / rel}: tensor {name} missing or of another shape")
        for name, first in states[0].items():
            if first.is_floating_point():
                acc = sum(w * s[name].double() for w, s in zip(weights, states, strict=True))
                soup[name] = acc.to(first.dtype)
                count += 1
            else:
                soup[name] = first.clone()
        save_file({k: v.contiguous() for k, v in soup.items()}, str(tmp / rel))
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("inputs", nargs="+", type=Path, help="pipeline folders (at least 2)")
    parser.add_argument("-o", "--out", type=Path, required=True, help="soup pipeline folder")
    parser.add_argument("--weights", help="comma-separated, summing to 1 (default: equal)")
    opts = parser.parse_args()
    n = len(opts.inputs)
    try:
        if n < 2:
            raise ValueError("give at least two pipeline folders")
        for p in opts.inputs:
            if not (p / "model_index.json").is_file():
                raise ValueError(f"{p}: not a pipeline folder (no model_index.json)")
        weights = [float(w) for w in opts.weights.split(",")] if opts.weights else [1 / n] * n
        if len(weights) != n or any(w < 0 for w in weights) or abs(sum(weights) - 1) > 1e-6:
            raise ValueError(f"--weights: {n} non-negative numbers summing to 1, got {weights}")
        count = average(opts.inputs, weights, opts.out)
    except Exception as err:  # bad folders, unreadable or corrupt weight files: one line
        sys.exit(f"error: {err}")
    print(f"{opts.out}: {count} tensors averaged from {n} pipelines, weights {weights}")


if __name__ == "__main__":
    main()
