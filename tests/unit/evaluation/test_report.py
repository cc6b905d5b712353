"""``leadlift evaluate`` end to end on the real data with a tiny checkpoint; the report renders in
headless Chromium with every figure decoded.

Chromium comes from the distribution's packages (``apt-get install -y chromium``, done by
``.ci/run``). When it is missing the fixture tries that install itself and skips only when it
cannot be installed.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest

from leadlift.evaluation.evaluate import SECTIONS, evaluate
from leadlift.evaluation.report import markdown_to_html, with_toc

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
CHROME_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", "--hide-scrollbars")


def _find_browser() -> str | None:
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    return None


@pytest.fixture(scope="session")
def chromium() -> str:
    path = _find_browser()
    if path is None and shutil.which("apt-get") and hasattr(os, "geteuid") and os.geteuid() == 0:
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update"], capture_output=True, env=env, timeout=600, check=False)
        subprocess.run(["apt-get", "install", "-y", "chromium"], capture_output=True,
                       env=env, timeout=1200, check=False)
        path = _find_browser()
    if path is None:
        pytest.skip("chromium is not installed and could not be installed (apt-get install -y chromium)")
    return path


@pytest.fixture(scope="module")
def checkpoint(request, tmp_path_factory, data_dir) -> Path:
    """The suite's tiny MAE (conftest) when available, else one trained here (~20 s)."""
    try:
        return request.getfixturevalue("tiny_mae_checkpoint")
    except pytest.FixtureLookupError:
        from leadlift.config import load_config
        from leadlift.training.pretrain import pretrain

        out = tmp_path_factory.mktemp("eval_tiny")
        pretrain(load_config("mae-tiny"), data_dir, out, progress=False)
        return out


@pytest.fixture(scope="module")
def evaluation(checkpoint, data_dir, tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("evaluation")
    bench = tmp_path_factory.mktemp("bench")
    (bench / "results.md").write_text("# Benchmark\n\n| lead | r |\n|---|---:|\n| V1 | 0.5 |\n")
    from leadlift.evaluation.evaluate import benchmark_block

    res = evaluate(checkpoint, data_dir, out, n_boot=50, cs=(0.1,), recon_inputs=("I", "V2"),
                   benchmark=benchmark_block(bench))
    return out, res


def _png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", head[16:24])


def test_results_have_every_section_with_the_random_baseline(evaluation) -> None:
    out, res = evaluation
    assert set(res["models"]) == {"checkpoint", "random"}
    for section in ("agreement", "probes", "reconstruction", "ecgid"):
        assert set(res["sections"][section]) == {"checkpoint", "random"}, section
    assert set(res["sections"]) == set(SECTIONS)
    probes = res["sections"]["probes"]["checkpoint"]
    assert set(probes["views"]) == {"12-lead", "I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4",
                                    "V5", "V6"}
    lead_i = probes["views"]["I"]
    assert 0.5 < lead_i["macro_auroc"] <= 1 and lead_i["macro_ci"][0] <= lead_i["macro_auroc"] <= lead_i["macro_ci"][1]
    assert set(lead_i["per_class"]) == {"NORM", "MI", "STTC", "CD", "HYP"}
    ecgid = res["sections"]["ecgid"]["checkpoint"]["protocols"]
    assert ecgid["cross-record"]["n_persons"] == 89 and ecgid["window-random"]["n_persons"] == 90
    assert ecgid["window-random"]["leaky"] is True and ecgid["cross-record"]["leaky"] is False
    assert ecgid["window-random"]["record_nn_top1"] is None  # no record level on a leaky split (NaN → null)
    assert isinstance(ecgid["cross-record"]["record_nn_top1"], float)
    section = res["sections"]["ecgid"]["checkpoint"]
    assert section["template"]["protocols"]["cross-record"]["record_nn_top1"] > 0.5  # chance 1/89
    assert section["shifted"]["shift_ms"] == 50 and section["shifted"]["n_crops"] > section["n_windows"]
    assert res["sections"]["mi"]["ptbdb"]["checkpoint"]["status"] == "skipped"  # one PTB record only
    rec = res["sections"]["reconstruction"]["checkpoint"]
    assert np.asarray(rec["r"]).shape == (2, 12) and rec["inputs"] == ["I", "V2"]
    head = res["headline"]["checkpoint"]
    for key in ("lead_I_probe_macro_auroc", "ecgid_cross_record_nn_top1", "agreement_gap", "lead_I_to_12_mean_r",
                "ecgid_cross_record_record_nn_top1", "ecgid_cross_record_shifted_record_nn_top1",
                "ecgid_template_cross_record_top1"):
        assert isinstance(head[key], float), key
    # strict JSON on disk (NaN written as null)
    text = (out / "results.json").read_text()
    json.loads(text, parse_constant=lambda c: pytest.fail(f"non-standard JSON constant {c}"))


def test_report_is_self_contained(evaluation) -> None:
    out, res = evaluation
    html = (out / "report.html").read_text()
    assert not re.search(r"""(src|href)\s*=\s*['"]?(https?:|//|file:)""", html)
    imgs = re.findall(r"<img[^>]*src='data:image/png;base64,", html)
    assert len(imgs) == len(res["figures"]) >= 6
    for name in res["figures"].values():
        assert (out / name).exists()
    for text in ("random init", "cross-record", "window-random (LEAKY)", "cross-session", "Benchmark", "ROC",
                 "not evaluated", "median-beat template", "shifted crops", "99.68 %", "unverified claim"):
        assert text in html, text
    # table of contents: every section linked, every link lands on a heading
    toc = re.search(r"<nav class='toc'.*?</nav>", html, flags=re.S)
    assert toc and html.index("<nav class='toc'") < html.index("<h2")
    links = re.findall(r"href='#([^']+)'", toc.group(0))
    ids = re.findall(r"<h2 id='([^']+)'>", html)
    assert links == ids and len(ids) >= 8 and len(set(ids)) == len(ids)
    assert "<div class='tw'><table" in html and ".tw{overflow-x:auto" in html


def test_report_renders_in_headless_chromium(evaluation, chromium, tmp_path) -> None:
    out, res = evaluation
    html = (out / "report.html").read_text()
    probe = ("<script>window.addEventListener('load',()=>{document.body.setAttribute('data-images',"
             "[...document.images].map(i=>(i.complete?1:0)+':'+i.naturalWidth+'x'+i.naturalHeight).join(' '));"
             "});</script>")
    page = tmp_path / "report_probe.html"
    page.write_text(html.replace("</body>", probe + "</body>"))
    profile = tmp_path / "profile"
    run = subprocess.run([chromium, *CHROME_FLAGS, f"--user-data-dir={profile}", "--virtual-time-budget=10000",
                          "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=180)
    m = re.search(r'data-images="([^"]*)"', run.stdout)
    assert m, f"chromium did not run the page script: {run.stderr[-500:]}"
    rendered = [tuple(map(int, re.split("[:x]", s))) for s in m.group(1).split()]
    expected = [_png_size(out / name) for name in res["figures"].values()]
    assert len(rendered) == len(expected)
    assert sorted((w, h) for _, w, h in rendered) == sorted(expected)  # every image decoded at its own size
    assert all(ok == 1 for ok, _, _ in rendered)
    # and a screenshot of the top of the page is not blank
    shot = tmp_path / "shot.png"
    subprocess.run([chromium, *CHROME_FLAGS, f"--user-data-dir={profile}", f"--screenshot={shot}",
                    "--window-size=1280,2400", (out / "report.html").as_uri()], capture_output=True, timeout=180)
    from matplotlib.image import imread

    pixels = imread(shot)
    assert pixels.shape[0] == 2400 and pixels.shape[1] == 1280
    assert pixels[..., :3].std() > 0.05 and len(np.unique(pixels[::8, ::8, :3].reshape(-1, 3), axis=0)) > 50


def test_markdown_tables_are_converted_and_escaped() -> None:
    html = markdown_to_html("# Title <x>\n\ntext with `code` and **bold**\n\n| a | b |\n|---|---:|\n| 1 | <2> |\n")
    assert "<h3>Title &lt;x&gt;</h3>" in html and "<code>code</code>" in html and "<b>bold</b>" in html
    assert "<td>&lt;2&gt;</td>" in html and html.count("<tr>") == 2


def test_twelve_channel_checkpoint_gets_the_sections_that_apply(data_dir, tmp_path) -> None:
    """A 12-channel MAE has no per-lead embeddings: probes run on its one embedding, the per-lead
    sections say why they do not apply, and the report still renders."""
    import torch

    from leadlift.inference.checkpoint import export_model
    from leadlift.models import MultiChannelMAE

    kw = dict(n_times=200, fs=100.0, patch_size=20, embed_dim=16, depth=1, num_heads=2, decoder_embed_dim=16,
              decoder_depth=1, decoder_heads=2)
    torch.manual_seed(0)
    model = MultiChannelMAE(**kw)
    ckpt = export_model(model, {"format": "leadlift-mae/1",
                                "model": {"class": "MultiChannelMAE", "kwargs": model.get_config()},
                                "preprocessing": {"fs": 100.0, "window_samples": 200, "zscore_eps": 1e-6}},
                        tmp_path / "mc")
    res = evaluate(ckpt, data_dir, tmp_path / "out", sections=("agreement", "probes", "ecgid", "reconstruction"),
                   n_boot=0, cs=(0.1,))
    assert list(res["sections"]["probes"]["checkpoint"]["views"]) == ["12-lead"]
    assert "per-lead bank" in res["sections"]["agreement"]["checkpoint"]["reason"]
    assert "lead-I encoder" in res["sections"]["ecgid"]["random"]["reason"]
    assert "per-lead bank" in res["sections"]["reconstruction"]["checkpoint"]["reason"]
    assert res["headline"]["checkpoint"]["lead_I_probe_macro_auroc"] is None
    html = (tmp_path / "out" / "report.html").read_text()
    assert "12-lead" in html and "per-lead bank" in html


def test_table_of_contents_links_every_h2() -> None:
    body = "<h1>t</h1><p>x</p><h2>1. Lead agreement</h2><p>a</p><h2>Data <b>used</b></h2><h2>Data used</h2>"
    html = with_toc(body)
    assert html.startswith("<h1>t</h1><p>x</p><nav class='toc'")
    assert re.findall(r"href='#([^']+)'", html) == ["sec-lead-agreement", "sec-data-used", "sec-data-used-2"]
    assert "<h2 id='sec-lead-agreement'>1. Lead agreement</h2>" in html and "<h2 id='sec-data-used-2'>" in html
    assert with_toc("<p>no sections</p>") == "<p>no sections</p>"
