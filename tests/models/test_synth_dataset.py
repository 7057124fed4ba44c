"""LightStageDataset: shapes, ranges, fixed validation split, disjoint subjects."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from models.data.dataset import LightStageDataset, split_hdris, split_subjects
from relight_video.errors import InputError

KW = dict(
    size=24, render_size=32, n_subjects=2, n_envs=3, n_lights=8, pairs_per_epoch=6, progress=False
)


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return tmp_path_factory.mktemp("lightstage")


def test_items_shapes_and_ranges(root):
    ds = LightStageDataset(root, "train", **KW)
    assert len(ds) == 6
    batch = next(iter(torch.utils.data.DataLoader(ds, batch_size=3)))
    for k in ("composite", "target", "background"):
        assert batch[k].shape == (3, 3, 24, 24) and batch[k].dtype == torch.float32
        assert batch[k].min() >= -1 and batch[k].max() <= 1
    assert batch["mask"].shape == (3, 1, 24, 24)
    assert 0 <= batch["mask"].min() and batch["mask"].max() <= 1 and batch["mask"].max() > 0.99
    assert batch["env_src"].shape == (3, 3, 32, 64) and torch.isfinite(batch["env_tgt"]).all()
    with pytest.raises(IndexError):
        ds[6]


def test_validation_is_fixed_and_disjoint(root):
    a = LightStageDataset(root, "val", seed=1, **KW)
    b = LightStageDataset(root, "val", seed=2, **KW)
    for k in ("composite", "target", "env_src"):
        assert torch.equal(a[1][k], b[1][k])
    train = {s.subject_id for s in split_subjects("train", 50, seed=0)}
    val = {s.subject_id for s in split_subjects("val", 50)}
    assert not train & val
    names = [f"{c}.exr" for c in "abcdefgh"]
    from pathlib import Path

    files = [Path(n) for n in names]
    assert not set(split_hdris("train", files)) & set(split_hdris("val", files))


def test_epochs_change_training_pairs_and_identity_pairs_match(root):
    ds = LightStageDataset(root, "train", fractions=(0, 0, 1), augment=False, **KW)
    item = ds[0]
    torch.testing.assert_close(item["composite"], item["target"])
    ds2 = LightStageDataset(root, "train", **KW)
    first = ds2[0]["target"]
    ds2.set_epoch(1)
    assert not torch.equal(first, ds2[0]["target"])
    assert np.isfinite(ds2[3]["composite"].numpy()).all()


def test_caches_built_in_worker_processes_match_the_serial_build(tmp_path, monkeypatch):
    """prepare(workers=2) spawns processes for the stacks and the bank; the files must be the
    serial build's, byte for byte (the bank is one sequential draw either way), and a second
    dataset over the same root renders nothing."""
    import models.data.dataset as dataset

    monkeypatch.setattr(dataset, "POOL_MIN_STACKS", 2)
    kw = {**KW, "n_subjects": 3, "n_envs": 5}
    serial = LightStageDataset(tmp_path / "serial", "train", **kw)
    pooled = LightStageDataset(tmp_path / "pooled", "train", prepare_workers=2, **kw)
    files = sorted(
        p.relative_to(tmp_path / "serial") for p in (tmp_path / "serial").rglob("*") if p.is_file()
    )
    assert len([f for f in files if f.name.endswith(".cm.npy")]) == 3
    assert any(f.name.startswith("envbank-") for f in files)
    for f in files:  # stacks, masks and the bank
        assert (tmp_path / "pooled" / f).read_bytes() == (tmp_path / "serial" / f).read_bytes(), f
    assert not list((tmp_path / "pooled").rglob(".*partial*"))
    for k in ("composite", "target", "env_tgt"):
        assert torch.equal(serial[2][k], pooled[2][k])

    def no_render(*a, **k):
        raise AssertionError("a cached stack was rendered again")

    monkeypatch.setattr(dataset, "_write_stacks", no_render)
    LightStageDataset(tmp_path / "pooled", "train", prepare_workers=2, **kw)


def test_a_failing_cache_worker_is_raised_and_leaves_no_partial_files(tmp_path, monkeypatch):
    """A corrupt stack left by an earlier ``write_pairs`` fails in its worker process: the
    error reaches the caller, and what the other workers wrote is finished files only."""
    import models.data.dataset as dataset
    from models.data.render import stack_path

    monkeypatch.setattr(dataset, "POOL_MIN_STACKS", 2)
    kw = {**KW, "n_subjects": 3}
    subject = split_subjects("train", 3, seed=0)[1]
    bad = stack_path(tmp_path / "stacks", subject, kw["render_size"], kw["n_lights"])
    bad.parent.mkdir(parents=True)
    bad.write_bytes(b"not a stack")
    with pytest.raises(InputError, match=f"cached stack {bad} is unreadable"):
        LightStageDataset(tmp_path, "train", prepare_workers=2, **kw)
    assert not list(tmp_path.rglob(".*partial*"))
    assert not bad.with_suffix(".cm.npy").exists()
