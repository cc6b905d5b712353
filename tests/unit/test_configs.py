"""The shipped configs (package data in ``src/leadlift/configs/``): every one validates, names and
paths resolve, unknown names fail with the list of names, the quickstart uses the shipped CPU
default, and a built wheel really contains the YAML files."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from leadlift.config import ModelConfig, load_config
from leadlift.configs import available_configs, config_path, normalise_name, read_config_text
from leadlift.errors import ConfigError
from leadlift.recon_config import ReconConfig, load_recon_config
from leadlift.workflows.quickstart import cpu_default_config

REPO = Path(__file__).resolve().parents[2]
SHIPPED = available_configs()


def test_the_expected_configs_are_shipped_and_the_root_folder_is_gone() -> None:
    assert {"mae_cpu", "mae_cpu_multichannel", "mae_cpu_noalign", "mae_cpu_shared", "mae_paper", "mae_tiny",
            "recon_cpu", "recon_paper", "recon_tiny"} <= set(SHIPPED)
    assert all(n.startswith(("mae_", "recon_")) for n in SHIPPED), SHIPPED
    assert available_configs("recon_") == [n for n in SHIPPED if n.startswith("recon_")]
    assert not (REPO / "configs").exists(), "configs live in src/leadlift/configs/ now"


@pytest.mark.parametrize("name", SHIPPED)
def test_every_shipped_config_loads_and_validates(name: str) -> None:
    cfg = load_config(name) if name.startswith("mae_") else load_recon_config(name)
    assert normalise_name(cfg.name) == name  # the file's `name:` matches its file name


@pytest.mark.parametrize("spelling", ["mae-cpu", "mae_cpu", "mae_cpu.yaml", "mae-cpu.yaml", "MAE-CPU"])
def test_names_resolve_with_dashes_underscores_and_suffix(spelling: str) -> None:
    assert config_path(spelling) == config_path("mae_cpu")
    assert config_path(spelling).name == "mae_cpu.yaml" and config_path(spelling).is_file()
    assert load_config(spelling) == load_config("mae_cpu")


def test_recon_names_and_default() -> None:
    assert load_recon_config("recon-tiny") == load_recon_config("recon_tiny.yaml")
    assert load_recon_config(None) == load_recon_config("recon-cpu") == ReconConfig()
    cfg = load_recon_config(None, {"data.inputs": ["I"]})
    assert cfg.data.inputs == ["I"] and cfg.name == "recon-cpu"


def test_paths_still_work_and_win_over_names(tmp_path, monkeypatch) -> None:
    text, _ = read_config_text("mae-tiny")
    own = tmp_path / "my_run.yaml"
    own.write_text(text.replace("name: mae-tiny", "name: mine"))
    assert load_config(own).name == "mine" and load_config(str(own)).name == "mine"
    # a file in the working directory named like a shipped config is taken as the path it is
    (tmp_path / "mae_tiny.yaml").write_text(text.replace("name: mae-tiny", "name: local"))
    monkeypatch.chdir(tmp_path)
    assert load_config("mae_tiny.yaml").name == "local"
    assert load_config("mae-tiny").name == "mae-tiny"


def test_unknown_name_lists_the_shipped_names() -> None:
    with pytest.raises(ConfigError) as info:
        load_config("mae-huge")
    msg = str(info.value)
    assert "\n" not in msg and "mae-huge" in msg
    assert all(n.replace("_", "-") in msg for n in SHIPPED)
    with pytest.raises(ConfigError, match="recon-cpu"):
        load_recon_config("recon-nope")


def test_missing_path_is_one_line_and_points_old_paths_to_the_name(tmp_path) -> None:
    with pytest.raises(ConfigError, match="not found") as info:
        load_config(tmp_path / "absent.yaml")
    assert "\n" not in str(info.value)
    with pytest.raises(ConfigError, match="-c mae-cpu"):
        load_config("configs/mae_cpu.yaml")  # the pre-package location


def test_quickstart_uses_the_shipped_cpu_config() -> None:
    ref = load_config("mae-cpu")
    cfg = cpu_default_config(minutes=7)
    assert cfg.trainer.max_time_minutes == 7 and ref.trainer.max_time_minutes is None
    cfg.trainer.max_time_minutes = None
    assert cfg == ref
    assert cpu_default_config() == ref


def test_model_sizes_have_one_source() -> None:
    """Model sizes live in the shipped configs only: the schema's defaults are mae-cpu's, and no
    table of named sizes is kept beside them in the models."""
    import leadlift.models.mae as mae

    assert ModelConfig() == load_config("mae-cpu").model
    assert not hasattr(mae, "MAE_PRESETS") and not hasattr(mae.LeadBankMAE, "from_preset")
    paper = load_config("mae-paper")
    assert (paper.model.embed_dim, paper.model.patch_size, paper.data.fs) == (768, 100, 500.0)


def test_cli_takes_a_name(tmp_path) -> None:
    res = subprocess.run([sys.executable, "-m", "leadlift.cli", "pretrain", "-c", "mae-nope", "--out",
                          str(tmp_path / "x")], capture_output=True, text=True, timeout=120)
    assert res.returncode == 2 and "mae-tiny" in res.stderr and "Traceback" not in res.stderr
    res = subprocess.run([sys.executable, "-m", "leadlift.cli", "pretrain", "--help"],
                         capture_output=True, text=True, timeout=120, env={**os.environ, "COLUMNS": "200"})
    assert res.returncode == 0 and "mae-cpu" in res.stdout and "NAME|PATH" in res.stdout


def test_wheel_ships_the_configs(tmp_path) -> None:
    """Build a wheel from a copy of the project (nothing written into the checkout), check that it
    holds the YAML files and that leadlift imported from the unpacked wheel finds them by name."""
    src = tmp_path / "project"
    shutil.copytree(REPO / "src", src / "src",
                    ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "*.pyc"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, src / name)
    res = subprocess.run([sys.executable, "-m", "pip", "wheel", str(src), "--no-deps", "--no-build-isolation",
                          "-q", "-w", str(tmp_path / "dist")], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    (wheel,) = (tmp_path / "dist").glob("leadlift-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        members = set(zf.namelist())
        zf.extractall(tmp_path / "site")
    assert {f"leadlift/configs/{n}.yaml" for n in SHIPPED} | {"leadlift/configs/__init__.py"} <= members
    code = ("import leadlift, leadlift.config as c, leadlift.recon_config as r; "
            "print(leadlift.__file__); print(c.load_config('mae-cpu').name, r.load_recon_config().name)")
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "site")}
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env,
                         cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-2000:]
    first, second = res.stdout.splitlines()[-2:]
    assert Path(first).is_relative_to(tmp_path / "site")
    assert second == "mae-cpu recon-cpu"


def test_triplet_margin_default_is_the_papers_0_5() -> None:
    """The pretraining config's triplet margin defaults to 0.5 (the paper's code), the same as the
    loss function's own default; configs that leave it out (mae-tiny) get it, and every shipped MAE
    config trains with it."""
    import inspect

    from leadlift.config import LossConfig
    from leadlift.losses import triplet_alignment_loss

    assert LossConfig().margin == 0.5
    assert inspect.signature(triplet_alignment_loss).parameters["margin"].default == 0.5
    assert "margin" not in read_config_text("mae-tiny")[0] and load_config("mae-tiny").loss.margin == 0.5
    assert {load_config(n).loss.margin for n in SHIPPED if n.startswith("mae_")} == {0.5}
