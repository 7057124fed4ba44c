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


def test_the_c_and_d_stages_train_only_the_sampled_timestep():
    """The c to g stages train at the top timestep; 3c and 3f simulate photos in one step."""
    for name in (
        "stage1c",
        "stage2c",
        "stage3c",
        "stage1d",
        "stage1e",
        "stage1f",
        "stage2f",
        "stage3f",
        "stage1g",
    ):
        assert load_train_config(CONFIGS / f"{name}.yaml").top_timestep_share == 1.0
    for name in ("stage3c", "stage3f"):
        assert load_train_config(CONFIGS / f"{name}.yaml").stage3.sim_steps == 1
