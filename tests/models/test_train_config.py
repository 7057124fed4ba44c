"""Training settings are checked before any work: one error line, not a traceback or a model
trained on nonsense."""

import pytest

from models.train.config import load_train_config
from relight_video.errors import InputError


@pytest.mark.parametrize(
    "override, message",
    [
        ("steps=-5", "steps: expected at least 1"),
        ("save_every=0", "save_every: expected at least 1"),
        ("log_every=0", "log_every: expected at least 1"),
        ("batch_size=0", "batch_size: expected at least 1"),
        ("align_steps=-1", "align_steps: expected at least 0"),
        ("lr=-1", "lr: expected a positive"),
        ("ema_decay=2", "ema_decay: expected 0 <= value < 1"),
        ("mixed_precision=bogus", "mixed_precision: expected no, fp16 or bf16"),
        ("model.block_out_channels=[]", "block_out_channels: expected positive sizes"),
        ("model.norm_num_groups=7", "norm_num_groups: 7 must divide"),
        ("model.sample_size=30", "sample_size: expected a positive multiple of 4"),
    ],
)
def test_bad_training_setting_is_an_input_error(override, message):
    with pytest.raises(InputError, match=message):
        load_train_config("configs/train/stage1.yaml", [override])


@pytest.mark.parametrize("name", ["stage1", "stage1_top", "stage2", "stage3"])
def test_shipped_training_configs_are_valid(name):
    assert load_train_config(f"configs/train/{name}.yaml").steps >= 1


def _write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def test_base_config_is_inherited_section_by_section(tmp_path):
    _write(tmp_path / "a.yaml", "steps: 10\nlr: 0.001\ndata:\n  n_subjects: 8\n  n_envs: 16\n")
    _write(tmp_path / "b.yaml", "base: a.yaml\nsteps: 20\n")
    _write(tmp_path / "c.yaml", "base: b.yaml\ndata:\n  n_envs: 32\n")
    cfg = load_train_config(tmp_path / "c.yaml")
    assert (cfg.steps, cfg.lr) == (20, 0.001)  # b's steps, a's lr
    assert (cfg.data.n_subjects, cfg.data.n_envs) == (8, 32)  # a's subjects, c's envs
    # --set still wins over the whole chain
    assert load_train_config(tmp_path / "c.yaml", ["data.n_subjects=4"]).data.n_subjects == 4


@pytest.mark.parametrize(
    "files, message",
    [
        ({"c.yaml": "base: nowhere.yaml\n"}, "base config not found"),
        ({"c.yaml": "base: c.yaml\n"}, "'base' chain loops"),
        ({"c.yaml": "base: d.yaml\n", "d.yaml": "base: c.yaml\n"}, "'base' chain loops"),
        ({"c.yaml": "base: [1, 2]\n"}, "'base' must name another config file"),
        ({"c.yaml": "base: d.yaml\n", "d.yaml": "stepz: 3\n"}, "unknown config key 'stepz'"),
    ],
)
def test_bad_base_is_an_input_error(tmp_path, files, message):
    for name, text in files.items():
        _write(tmp_path / name, text)
    with pytest.raises(InputError, match=message):
        load_train_config(tmp_path / "c.yaml")
