"""Model cards (leadlift.inference.model_card): every bundled MODEL_CARD.md is what the generator
renders from its config (never hand-edited) and carries a valid Hugging Face YAML header, the
training-set size, the licences, a citation and only reproducible commands; the generator's parts
on their own (command normalisation, a card for a checkpoint not measured yet)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import yaml

from leadlift.api import available_models, bundled_weights_dir
from leadlift.inference.checkpoint import read_config
from leadlift.inference.model_card import (
    CITATIONS,
    PTBXL_RECORDS,
    model_card_markdown,
    reproducible_command,
    split_front_matter,
    summary_metrics,
)

BUNDLED = available_models()
SCRATCH = re.compile(r"(/tmp/|/var/folders/|/home/|/root/|/work/|/Users/|\.\./shared|C:\\\\)")


def _card(name: str) -> str:
    return (bundled_weights_dir() / name / "MODEL_CARD.md").read_text()


def test_every_bundled_model_has_a_card() -> None:
    assert {"mae-cpu", "recon-i", "recon-i-ii-v2"} <= set(BUNDLED)


@pytest.mark.parametrize("name", BUNDLED)
def test_bundled_card_is_generated(name: str) -> None:
    """The shipped card is exactly the generator's output for the shipped config: regenerate it
    with `leadlift model-card src/leadlift/weights/NAME --name NAME` after changing either."""
    assert _card(name) == model_card_markdown(bundled_weights_dir() / name, name=name)


@pytest.mark.parametrize("name", BUNDLED)
def test_bundled_card_header_size_licence_citation(name: str) -> None:
    text = _card(name)
    cfg = read_config(bundled_weights_dir() / name)
    meta, body = split_front_matter(text)
    assert isinstance(meta, dict), "no YAML header between --- lines"
    assert meta["license"] == "apache-2.0" and meta["library_name"] == "leadlift"
    assert {"ecg", "electrocardiogram", "lead-reconstruction"} <= set(meta["tags"]) and meta["datasets"] == ["ptb-xl"]
    # the measured means in model-index are the evaluation's own
    ev = cfg.evaluation
    assert ev is not None
    results = meta["model-index"][0]["results"]
    assert meta["model-index"][0]["name"] == name and len(results) == len(ev.inputs)
    for res, (key, table) in zip(results, ev.inputs.items(), strict=True):
        assert key in res["task"]["name"]
        values = {m["type"]: m["value"] for m in res["metrics"]}
        assert values["pearsonr"] == pytest.approx(summary_metrics(table)["pearson_r"], abs=1e-4)
    # training-set size: the records counted in the prepared store, and their share of PTB-XL
    n = ev.model_extra["train_records"]
    assert isinstance(n, int) and 0 < n < PTBXL_RECORDS
    assert f"training-set size: **{n:,} PTB-XL records**" in body
    assert f"{100 * n / PTBXL_RECORDS:.1f} % of the full PTB-XL ({PTBXL_RECORDS:,} records)" in body
    # licences and citations: the method's paper, the data, leadlift
    assert "Apache-2.0" in body and "CC BY 4.0" in body
    paper = CITATIONS["paper1"] if cfg.kind == "mae" else CITATIONS["paper2"]
    assert "## Citation" in body and paper in body and CITATIONS["ptbxl"] in body and "@software{leadlift," in body
    # reproducible commands only
    assert not SCRATCH.search(text), SCRATCH.search(text)
    produced = body.split("Produced by", 1)[1].split("```")[1].strip()
    assert produced.startswith(f"leadlift model-card src/leadlift/weights/{name} ")
    assert '--data-dir "$LEADLIFT_DATA"' in produced


def test_reproducible_command() -> None:
    assert (reproducible_command("leadlift model-card runs/x --data-dir /tmp/data --store-dir /tmp/s --leads I")
            == 'leadlift model-card runs/x --data-dir "$LEADLIFT_DATA" --leads I')
    assert reproducible_command("leadlift model-card x --data-dir=../shared/data --store-dir=/s") == (
        'leadlift model-card x --data-dir "$LEADLIFT_DATA"')
    assert reproducible_command("leadlift model-card 'my model'") == "leadlift model-card 'my model'"


def test_card_of_an_unmeasured_checkpoint(tmp_path: Path) -> None:
    """save_pretrained's card for a checkpoint never evaluated: the same header and sections, and
    what to run to measure it (the release path still refuses it)."""
    from leadlift.errors import InputError

    ckpt = tmp_path / "fresh"
    shutil.copytree(bundled_weights_dir() / "recon-i", ckpt)
    raw = yaml.safe_load((ckpt / "config.yaml").read_text())
    raw.pop("evaluation")
    (ckpt / "config.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    with pytest.raises(InputError, match="no evaluation"):
        model_card_markdown(ckpt)
    text = model_card_markdown(ckpt, name="org/fresh", require_evaluation=False)
    meta, body = split_front_matter(text)
    assert meta is not None and meta["license"] == "apache-2.0" and "model-index" not in meta
    assert "Not measured yet" in body and "training-set size: not recorded" in body
    assert 'LeadLift.from_pretrained("org/fresh")' in body and CITATIONS["paper2"] in body
