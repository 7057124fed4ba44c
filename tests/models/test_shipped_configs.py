"""The shipped training configs load, and each stage reads the stage before it."""

from pathlib import Path

from models.train.config import load_train_config

CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "train"

# stage -> the stage whose exported pipeline it starts from (None: from scratch)
CHAIN = {
    "stage1": None,
    "stage1_top": "stage1",
    "stage2": "stage1_top",
    "stage3": "stage2",
    "stage1c": "stage3",
    "stage2c": "stage1c",
    "stage3c": "stage2c",
    "stage1d": "stage3c",
    "stage1e": "stage3c",
    "stage1f": "stage1e",
    "stage2f": "stage1f",
    "stage3f": "stage2f",
    "stage1g": "stage3f",
    "stage1h": "stage1g",
    "stage2h": "stage1h",
    "stage3h": "stage2h",
    "stage2i": "stage1h",
    "stage3i": "stage2i",
    "stage1j": "stage1h",
    "stage2j": "stage1j",
    "stage3j": "stage2j",
    "stage1k": "stage1j",
    "stage1l": "stage1k",
    "stage2l": "stage1l",
    "stage3l": "stage2l",
    "stage1m": "stage1l",
    "stage2m": "stage1m",
    "stage3m": "stage2m",
    "stage1n": "stage1m",
    "stage2n": "stage1n",
    "stage3n": "stage2n",
    "stage1o": "stage3m",
    "stage1o32": "stage3m",
    "stage1o64": "stage3m",
    "stage2o": "stage1o",
    "stage3o": "stage2o",
    "stage1p": "stage1o",
    "stage1q": "stage1o",
    "stage2q": "stage1q",
    "stage3q": "stage2q",
    "stage1r": "stage1q",
    "stage2r": "stage1r",
    "stage3r": "stage2r",
    "stage1s64": "stage1r",
    "stage2s64": "stage1s64",
    "stage3s64": "stage2s64",
    "stage1t64": "stage3q",
    "stage2t64": "stage1t64",
    "stage3t64": "stage2t64",
    "stage1u64": "stage1t64",
    "stage2u64": "stage1u64",
    "stage3u64": "stage2u64",
}


def test_every_config_loads_and_the_chain_links_up():
    assert sorted(p.stem for p in CONFIGS.glob("*.yaml")) == sorted(CHAIN)
    cfgs = {name: load_train_config(CONFIGS / f"{name}.yaml") for name in CHAIN}
    for name, parent in CHAIN.items():
        cfg = cfgs[name]
        if parent is None:
            assert not cfg.init_checkpoint
        else:
            assert cfg.init_checkpoint == f"{cfgs[parent].output_dir}/pipeline", name


def test_the_stages_from_1c_on_train_only_the_sampled_timestep():
    """Every stage from 1c on (the CHAIN's order) trains at the top timestep, the one step the
    default sampler takes, and its photo stages simulate their photos in that one step."""
    names = list(CHAIN)
    for name in names[names.index("stage1c") :]:
        cfg = load_train_config(CONFIGS / f"{name}.yaml")
        assert cfg.top_timestep_share == 1.0, name
        if name.startswith("stage3"):
            assert cfg.stage3.sim_steps == 1, name
