"""scripts/average_pipelines.py: the weight average of pipeline folders (model soups)."""

import importlib.util
import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "average_pipelines.py"
spec = importlib.util.spec_from_file_location("average_pipelines", SCRIPT)
average_pipelines = importlib.util.module_from_spec(spec)
spec.loader.exec_module(average_pipelines)
WEIGHTS = average_pipelines.WEIGHTS_FILE


def fake_pipeline(root: Path, scale: float, conv_shape=(4, 3)) -> Path:
    """A folder laid out like a saved pipeline: model_index.json and two components."""
    (root / "unet").mkdir(parents=True)
    (root / "aligner").mkdir()
    (root / "model_index.json").write_text(json.dumps({"tag": str(root.name)}))
    (root / "unet" / "config.json").write_text("{}")
    g = torch.Generator().manual_seed(0)
    save_file(
        {
            "conv.weight": (torch.randn(conv_shape, generator=g) * scale).half(),
            "steps": torch.tensor([int(scale * 10)], dtype=torch.int64),
        },
        str(root / "unet" / WEIGHTS),
    )
    save_file({"w": torch.full((2,), scale)}, str(root / "aligner" / WEIGHTS))
    return root


def test_the_soup_is_the_weighted_mean(tmp_path):
    a, b = fake_pipeline(tmp_path / "a", 1.0), fake_pipeline(tmp_path / "b", 3.0)
    out = tmp_path / "soup"
    assert average_pipelines.average([a, b], [0.25, 0.75], out) == 2
    unet = load_file(str(out / "unet" / WEIGHTS))
    expected = 0.25 * load_file(str(a / "unet" / WEIGHTS))["conv.weight"].double() + 0.75 * (
        load_file(str(b / "unet" / WEIGHTS))["conv.weight"].double()
    )
    assert unet["conv.weight"].dtype == torch.float16  # the inputs' dtype is kept
    assert torch.allclose(unet["conv.weight"].double(), expected, atol=2e-3)
    assert unet["steps"].item() == 10  # integer tensors are the first input's
    assert torch.allclose(load_file(str(out / "aligner" / WEIGHTS))["w"], torch.full((2,), 2.5))
    assert json.loads((out / "model_index.json").read_text()) == {"tag": "a"}


def test_mismatched_pipelines_are_refused_and_nothing_is_written(tmp_path):
    a = fake_pipeline(tmp_path / "a", 1.0)
    b = fake_pipeline(tmp_path / "b", 2.0, conv_shape=(4, 4))
    out = tmp_path / "soup"
    with pytest.raises(ValueError, match="conv.weight missing or of another shape"):
        average_pipelines.average([a, b], [0.5, 0.5], out)
    c = fake_pipeline(tmp_path / "c", 2.0)
    (c / "aligner" / WEIGHTS).unlink()
    with pytest.raises(ValueError, match="components differ"):
        average_pipelines.average([a, c], [0.5, 0.5], out)
    assert not out.exists() and not list(tmp_path.glob(".soup*"))  # no partial folder either


def test_the_command_line_reports_bad_input_in_one_line(tmp_path):
    import subprocess
    import sys

    a = fake_pipeline(tmp_path / "a", 1.0)
    b = fake_pipeline(tmp_path / "b", 2.0)
    (b / "unet" / WEIGHTS).write_bytes(b"not a safetensors file")
    run = subprocess.run(
        [sys.executable, str(SCRIPT), str(a), str(b), "-o", str(tmp_path / "soup")],
        capture_output=True,
        text=True,
    )
    assert run.returncode != 0
    assert run.stderr.startswith("error: ") and len(run.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "soup").exists()
