"""README.md: its measured numbers are exactly what ``benchmarks/readme_tables.py`` renders from the
committed results files, and every ``leadlift`` command it shows is a real command with real options."""

from __future__ import annotations

import ast
import json
import re
import shlex
import sys
from pathlib import Path

import pytest
from typer.main import get_command

from leadlift.cli import app

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "benchmarks"))
import readme_tables

REPO = Path(__file__).resolve().parents[3]
README = REPO / "README.md"
#: pages whose commands are checked like the README's
PAGES = [README, *sorted((REPO / "docs").glob("*.md"))]
COMMANDS = get_command(app).commands  # type: ignore[attr-defined]
SEPARATORS = {"&&", "||", "|", ";"}


# ----------------------------------------------------------------------------- generated blocks
def test_readme_numbers_are_the_rendered_results() -> None:
    """The check `python benchmarks/readme_tables.py --check` runs: after a new results file, run
    `python benchmarks/readme_tables.py` and commit the README with it."""
    text = README.read_text(encoding="utf-8")
    rendered = readme_tables.update(text)
    if rendered != text:
        import difflib

        diff = "\n".join(difflib.unified_diff(text.splitlines(), rendered.splitlines(), "README.md", "rendered",
                                              lineterm="", n=0))
        pytest.fail("README.md is out of date with benchmarks/results: run python benchmarks/readme_tables.py\n"
                    + diff[:4000])
    assert readme_tables.main(["--check"]) == 0


@pytest.mark.parametrize("page", [p for p in readme_tables.PAGES if p != readme_tables.README],
                         ids=lambda p: p.name)
def test_docs_tables_are_the_rendered_results(page: Path) -> None:
    """Docs pages quote measured tables through the same generated blocks (never copied by hand)."""
    text = page.read_text(encoding="utf-8")
    assert readme_tables.MARKER.search(text), f"{page.name} has no generated block"
    rendered = readme_tables.update(text, link_prefix=readme_tables.link_prefix(page))
    assert rendered == text, f"{page} is out of date: run python benchmarks/readme_tables.py"


def test_every_block_has_its_place_in_the_readme() -> None:
    """Every block is placed on exactly one page; blocks quoted in docs only are listed here."""
    docs_only = {"anysubset-controls", "anysubset-limits"}
    names = [m["name"] for m in readme_tables.MARKER.finditer(README.read_text(encoding="utf-8"))]
    assert sorted(names) == sorted(set(readme_tables.BLOCKS) - docs_only)
    placed = [m["name"] for page in readme_tables.PAGES
              for m in readme_tables.MARKER.finditer(page.read_text(encoding="utf-8"))]
    assert set(placed) == set(readme_tables.BLOCKS)


def test_each_block_names_the_command_that_produced_it(tmp_path) -> None:
    for name in readme_tables.BLOCKS:
        block = readme_tables.render(name)
        assert "Measured by `" in block or "Counted by `" in block or "Not measured yet: `" in block, name
        assert "<!--" not in block, name
    # a missing results file gives a block that says how to make it, not an error
    missing = readme_tables.render("export", tmp_path)
    assert missing.startswith("_Not measured yet: `python benchmarks/export_latency.py"), missing


def test_markers_must_be_known_balanced_and_unique() -> None:
    ok = "a\n<!-- table:export -->\nold\n<!-- /table:export -->\nb\n"
    new = readme_tables.update(ok)
    assert new.startswith("a\n<!-- table:export -->\n| model |") and new.endswith("<!-- /table:export -->\nb\n")
    assert readme_tables.update(new) == new
    with pytest.raises(ValueError, match="unknown"):
        readme_tables.update("<!-- table:nope -->\n<!-- /table:nope -->\n")
    with pytest.raises(ValueError, match="unbalanced"):
        readme_tables.update("<!-- table:export -->\nno end\n")
    with pytest.raises(ValueError, match="twice"):
        readme_tables.update(ok + ok)
    inline = "Blocks sit between `<!-- table:NAME -->` markers.\n"  # a mention in the text is no marker
    assert readme_tables.update(inline) == inline


def _paper1_result() -> dict:
    """A paper1.json in the format benchmarks/paper1.py's main() writes."""
    rep = {"same_minus_diff_cosine": 0.31, "retrieval_top1": 0.52, "chance_retrieval": 0.004,
           "probe_I_auroc": 0.81, "probe_I_ci": [0.78, 0.84], "probe_12_auroc": 0.86, "probe_12_ci": [0.83, 0.88],
           "ecgid_record_nn_window": 0.5, "ecgid_record_nn_pooled": 0.6, "ecgid_template": 0.843,
           "ecgid_persons": 89}
    rnd = {**rep, "retrieval_top1": 0.05, "probe_I_auroc": 0.70, "probe_12_auroc": 0.77}
    method = {"r": 0.72, "var_ratio": 0.74, "rmse_mv": 0.17, "per_lead_r": {}, "r_ci": [0.70, 0.74],
              "r_vs_fir": {"diff": 0.02, "ci": [0.01, 0.03]}}
    return {
        "command": "python benchmarks/paper1.py --data-dir ../shared/data", "machine": "2 CPU cores",
        "training": {"default": {"name": "default", "seconds": 1500.0, "reused": False},
                     "faithful": {"name": "faithful", "seconds": 1200.0, "reused": False}},
        "representation": {"default": {"checkpoint": rep, "random": rnd},
                           "faithful": {"checkpoint": {**rep, "retrieval_top1": 0.2}, "random": rnd}},
        "reconstruction": {"n_records": 256, "n_windows": 3072, "learned": ["II", "V1", "V2", "V3", "V4", "V5", "V6"],
                           "methods": {"zero": {**method, "r": None, "r_ci": None}, "fir": {**method, "r": 0.705},
                                       "default": method, "faithful": {**method, "r": 0.1}}},
        "done_when": {"variance ratio ≥ 0.7": {"measured": "0.74", "met": True},
                      "12-lead probe ≥ 0.85": {"measured": "0.860", "met": True},
                      "pretraining < 30 min on 2 cores": {"measured": "25.0 min", "met": False}},
    }


def test_paper1_table_renders_when_its_results_exist(tmp_path) -> None:
    absent = readme_tables.render("paper1", tmp_path)
    assert absent.startswith("_Not measured yet: `python benchmarks/paper1.py")
    (tmp_path / "paper1.json").write_text(json.dumps(_paper1_result()))
    block = readme_tables.render("paper1", tmp_path)
    lines = block.splitlines()
    assert lines[0].startswith("| model | what it isolates |")
    rows = {line.split("|")[1].strip(): line for line in lines if line.startswith("| ") and "---" not in line}
    assert {"random init", "`default`", "`faithful`"} <= set(rows)
    assert "0.720 [0.700, 0.740]" in rows["`default`"] and "25.0" in rows["`default`"]
    assert "0.810 [0.780, 0.840]" in rows["`default`"]
    assert "the corrected objective" in rows["`default`"]  # what it isolates, from paper1.MODELS
    assert any(k.startswith("FIR") for k in rows)
    assert "meets 2 of the 3 targets" in block and "0.843" in block
    assert "Measured by `python benchmarks/paper1.py --data-dir ../shared/data`" in block


# ----------------------------------------------------------------------------- commands shown
def _fenced(text: str, lang: str) -> list[str]:
    return re.findall(rf"^```{lang}\n(.*?)^```", text, re.S | re.M)


def _shell_lines(block: str) -> list[str]:
    return [ln for ln in block.replace("\\\n", " ").splitlines() if ln.strip()]


def _leadlift_calls(line: str) -> list[list[str]]:
    """``[[command, option, ...], ...]`` for every ``leadlift COMMAND`` (or ``-m leadlift.cli COMMAND``)."""
    tokens = shlex.split(line, comments=True)
    calls, i = [], 0
    while i < len(tokens):
        tok = tokens[i]
        if tok == "leadlift" or (tok == "leadlift.cli" and i and tokens[i - 1] == "-m"):
            j = i + 1
            while j < len(tokens) and tokens[j] in ("-v", "--verbose"):
                j += 1
            call = []
            while j < len(tokens) and tokens[j].rstrip(";") not in SEPARATORS and tokens[j] not in SEPARATORS:
                call.append(tokens[j].rstrip(";"))
                if tokens[j].endswith(";"):
                    break
                j += 1
            calls.append(call)
            i = j
        i += 1
    return calls


def _options(name: str) -> set[str]:
    found = {"--help"}
    for p in COMMANDS[name].params:
        found.update(getattr(p, "opts", []))
        found.update(getattr(p, "secondary_opts", []))
    return found


def _check_call(call: list[str], where: str) -> list[str]:
    if not call or call[0] in ("--help", "--version"):
        return []
    name, problems = call[0], []
    if name not in COMMANDS:
        return [f"{where}: `leadlift {name}` is not a command (known: {', '.join(sorted(COMMANDS))})"]
    known = _options(name)
    for tok in call[1:]:
        opt = tok.split("=", 1)[0]
        if re.fullmatch(r"--?[a-z][a-z0-9-]*", opt) and opt not in known:
            problems.append(f"{where}: `leadlift {name}` has no option {opt}")
    return problems


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_shell_blocks_name_real_commands_and_options(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    problems, n = [], 0
    for block in _fenced(text, "bash"):
        for line in _shell_lines(block):
            for call in _leadlift_calls(line):
                n += 1
                problems += _check_call(call, f"{page.name}: {line.strip()[:80]}")
    assert not problems, "\n".join(problems)
    if page == README:
        assert n >= 20  # the README shows the CLI; an empty parse would prove nothing


def test_inline_commands_of_the_readme_are_real() -> None:
    text = re.sub(r"^```.*?^```", "", README.read_text(encoding="utf-8"), flags=re.S | re.M)
    spans = [" ".join(s.split()) for s in re.findall(r"`([^`]+)`", text)]
    calls = [s for s in spans if s.startswith("leadlift ")]
    assert calls
    problems = [p for s in calls for call in _leadlift_calls(s) for p in _check_call(call, s)]
    assert not problems, "\n".join(problems)


def test_the_parser_sees_commands_options_and_separators() -> None:
    calls = _leadlift_calls('leadlift datasets && leadlift prepare ptbxl --fs 100 # comment --nope')
    assert calls == [["datasets"], ["prepare", "ptbxl", "--fs", "100"]]
    assert _leadlift_calls("srun leadlift pretrain -c mae-paper") == [["pretrain", "-c", "mae-paper"]]
    assert _leadlift_calls("torchrun -m leadlift.cli train-recon --leads I") == [["train-recon", "--leads", "I"]]
    assert _check_call(["reconstrut", "x.hea"], "x") and _check_call(["reconstruct", "--lead", "I"], "x")
    assert not _check_call(["reconstruct", "x.hea", "--leads", "I", "-o", "o.csv", "--fs=500"], "x")


def test_python_blocks_of_the_readme_parse() -> None:
    blocks = _fenced(README.read_text(encoding="utf-8"), "python")
    assert blocks
    for block in blocks:
        ast.parse(block)


def test_readme_shows_the_commands_ci_runs() -> None:
    """.ci/run runs the README's install, lint and test commands: each of its command lines is
    shown, as it is, in a bash block of the README."""
    shown = {ln.split(" #")[0].strip() for b in _fenced(README.read_text(encoding="utf-8"), "bash")
             for ln in _shell_lines(b)}
    ci = [ln.split(" #")[0].strip() for ln in (REPO / ".ci" / "run").read_text().splitlines()]
    wanted = [ln for ln in ci if ln.startswith(("python -m pip install", "ruff ", "python -m pytest"))]
    assert len(wanted) >= 4, wanted
    missing = [ln for ln in wanted if ln not in shown]
    assert not missing, f"commands of .ci/run missing from the README: {missing}"
    assert 'python -m pytest -m "not slow"' in shown and "python -m pytest -m slow" in shown


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_relative_links_resolve(page: Path) -> None:
    text = re.sub(r"^```.*?^```", "", page.read_text(encoding="utf-8"), flags=re.S | re.M)
    targets = [t.split("#")[0] for t in re.findall(r"\]\(([^)\s]+)\)", text)]
    missing = [t for t in targets if t and "://" not in t and not (page.parent / t).exists()]
    assert not missing, f"{page.name}: links to missing files {missing}"


# ----------------------------------------------------------------------------- any-subset blocks
def _anysubset_result() -> dict:
    """An anysubset.json in the format benchmarks/anysubset.py's summarize() and main() write."""
    def row(subset: str, learned: list[str], any_rmse: float, best: str, meets: dict) -> dict:
        rmse = {"zero": 0.24, "fir": 0.20, "unet": 0.19, "fusion": 0.18, "recon-any": any_rmse}
        return {"subset": subset, "learned": learned, "rmse": rmse, "rmse_ci": [any_rmse - 0.01, any_rmse + 0.01],
                "pearson_r": {"fir": 0.70, "unet": 0.80, "fusion": 0.81, "recon-any": 0.82}, "var_ratio": 0.83,
                "best_specialist": best, "ratio_to_fir": any_rmse / 0.20, "ratio_to_best_specialist": any_rmse / 0.18,
                "delta_rmse_vs_best_specialist": {"diff": any_rmse - 0.18, "ci": [-0.01, 0.01]},
                "delta_r_vs_fir": {"diff": 0.12, "ci": [0.1, 0.14]}, "coverage_min": 0.871, "coverage_max": 0.912,
                "spearman": 0.45, "meets": meets}

    ok = {"rmse_vs_fir": True, "rmse_vs_specialist": True, "coverage": True, "spearman": True}
    return {
        "model": "recon-any",
        "criteria": {"rmse_vs_fir": 0.9, "rmse_vs_specialist": 1.03, "r_gain_vs_fir_from_I": 0.05,
                     "coverage": [0.85, 0.95], "spearman": 0.3, "var_ratio_I_II": 0.6},
        "subsets": [row("I", ["II", "V1", "V2", "V3", "V4", "V5", "V6"], 0.175, "fusion",
                        {**ok, "r_gain_vs_fir": True}),
                    row("I,II", ["V1", "V2", "V3", "V4", "V5", "V6"], 0.19, "fusion",
                        {**ok, "rmse_vs_fir": False, "rmse_vs_specialist": False, "var_ratio_I_II": True})],
        "coverage": {"I": {"test": {"II": 0.9}, "spearman_per_lead": {"II": 0.4}}},
        "zero_shot": {},
        "runs": {k: {"seconds": 100.0, "command": "x", "n_test_windows": 3072, "n_test_records": 256, "training": {}}
                 for k in ("I", "I,II")},
        "machine": {"python": "3.11.7", "torch": "2.13.0+cpu", "threads": 2},
        "command": "python benchmarks/anysubset.py --data-dir ../shared/data --model runs/recon-any",
        "config": "recon-cpu",
    }


def test_anysubset_block_renders_when_its_results_exist(tmp_path) -> None:
    absent = readme_tables.render("anysubset", tmp_path)
    assert absent.startswith("_Not measured yet: `python benchmarks/anysubset.py --data-dir ../shared/data "
                             "--model runs/recon-any` writes")
    (tmp_path / "anysubset.json").write_text(json.dumps(_anysubset_result()))
    block = readme_tables.render("anysubset", tmp_path)
    lines = block.splitlines()
    assert lines[0].startswith("| input leads | `recon-any` RMSE, mV [95 % CI] | FIR least squares |")
    rows = {line.split("|")[1].strip(): line for line in lines if line.startswith("| ") and "---" not in line}
    assert set(rows) == {"input leads", "I", "I, II"}
    cells = [c.strip() for c in rows["I"].split("|")[1:-1]]
    assert cells == ["I", "0.1750 [0.1650, 0.1850]", "0.2000", "0.1800 (fusion)", "0.875", "0.972", "0.820 (0.700)",
                     "0.83", "0.871–0.912", "0.45"]
    assert "0.950" in rows["I, II"] and "1.056" in rows["I, II"]
    assert "RMSE ≤ 0.9 × FIR: 1 of 2" in block and "RMSE ≤ 1.03 × best specialist: 1 of 2" in block
    assert "coverage within 0.85–0.95 on every lead: 2 of 2" in block and "256 records" in block
    assert ("Measured by `python benchmarks/anysubset.py --data-dir ../shared/data --model runs/recon-any` → "
            "[`") in block and "anysubset.json" in block  # no .md next to it here: the link is the JSON
    (tmp_path / "anysubset.md").write_text("# summary\n")
    assert "anysubset.md`](" in readme_tables.render("anysubset", tmp_path)


def _diagnostic_result() -> dict:
    """A diagnostic_fidelity.json in the format benchmarks/diagnostic_fidelity.py's run() writes."""
    def auroc(real: float, recon: float) -> dict:
        return {"real": real, "recon": recon, "delta": recon - real, "real_ci": [real - 0.03, real + 0.03],
                "recon_ci": [recon - 0.03, recon + 0.03], "delta_ci": [recon - real - 0.01, recon - real + 0.01],
                "n_pos": 69, "n_neg": 287}

    def subset(leads: list[str], macro: tuple[float, float], j60: tuple[float, float]) -> dict:
        n = {"records": 363, "measured": 363, "not_measured": 0, "brugada_1": 69, "brugada_0": 287,
             "uncertain_excluded_from_auroc": 7}
        return {"leads": leads,
                "ptbxl": {"classes": {"MI": auroc(0.87, 0.85)}, "n": 254, "n_boot": 1000, "level": 0.95,
                          "macro": {**auroc(*macro), "classes": ["NORM", "MI", "STTC", "CD", "HYP"]}},
                "brugada": {"st_j60": {"n": n, "auroc": auroc(*j60), "agreement": {}},
                            "st_j": {"n": n, "auroc": auroc(0.73, 0.74), "agreement": {}}},
                "st_fiducial_fallbacks": 0, "seconds": {"reconstruct": 10.0, "total": 12.0}}

    return {
        "command": "python benchmarks/diagnostic_fidelity.py --model recon-any",
        "model": "recon-any", "model_path": "src/leadlift/weights/recon-any", "model_kind": "anysubset",
        "model_leads": [],
        "classifier": {"path": "runs/diagnostic-classifier", "trained_in_this_run": False, "val_macro_auroc": 0.9317},
        "classes": ["NORM", "MI", "STTC", "CD", "HYP"],
        "records": {"ptbxl_fold10": 254, "brugada": 363, "brugada_codes": {"0": 287, "1": 69, "2": 7}},
        "n_boot": 1000, "seed": 0,
        "subsets": {"I": subset(["I"], (0.879, 0.801), (0.649, 0.600)),
                    "I,II,V2": subset(["I", "II", "V2"], (0.879, 0.870), (0.649, 0.644)),
                    "V9": {"leads": ["V9"], "skipped": "no such lead"}},
        "wall_seconds": 30.0, "machine": "x86_64, 2 cores, Python 3.11.7", "date": "2026-12-01",
    }


def test_diagnostic_block_renders_when_its_results_exist(tmp_path) -> None:
    absent = readme_tables.render("diagnostic", tmp_path)
    assert absent.startswith("_Not measured yet: `python benchmarks/diagnostic_fidelity.py")
    (tmp_path / "diagnostic_fidelity.json").write_text(json.dumps(_diagnostic_result()))
    block = readme_tables.render("diagnostic", tmp_path)
    lines = block.splitlines()
    assert lines[0].startswith("| input leads | PTB-XL macro AUROC: real → reconstructed | Δ [95 % CI] |")
    rows = {line.split("|")[1].strip(): line for line in lines if line.startswith("| ") and "---" not in line}
    assert set(rows) == {"input leads", "I", "I, II, V2", "V9"}
    cells = [c.strip() for c in rows["I"].split("|")[1:-1]]
    assert cells == ["I", "0.879 → 0.801", "-0.078 [-0.088, -0.068]", "0.649 → 0.600", "-0.049 [-0.059, -0.039]"]
    assert "0.879 → 0.870" in rows["I, II, V2"] and "skipped" in rows["V9"]
    assert "`recon-any`" in block and "254 fold-10 records" in block and "363 records" in block
    assert "Measured by `python benchmarks/diagnostic_fidelity.py --model recon-any` → [`" in block


def test_training_set_block_lists_every_bundled_model(tmp_path) -> None:
    """Every bundled model whose config.yaml carries the model card's evaluation joins the list,
    including a newly bundled one."""
    import shutil

    import yaml

    for cfg in sorted(readme_tables.WEIGHTS.glob("*/config.yaml")):
        (tmp_path / cfg.parent.name).mkdir()
        shutil.copy(cfg, tmp_path / cfg.parent.name / "config.yaml")
    ev = {"split": "PTB-XL strat_fold 10 (test)", "train_folds": [1, 2, 3, 4, 5, 6, 7, 8], "train_records": 1496,
          "store_records": 1997, "command": 'leadlift model-card runs/recon-new --data-dir "$LEADLIFT_DATA" '
          "--name recon-new --subsets-results benchmarks/results/anysubset.json",
          "inputs": {"I": {"n_test_records": 257}, "I,II": {"n_test_records": 257}}}
    (tmp_path / "recon-new").mkdir()
    (tmp_path / "recon-new" / "config.yaml").write_text(yaml.safe_dump({"kind": "anysubset", "evaluation": ev}))
    block = readme_tables.block_training_set(tmp_path, tmp_path)
    assert "`recon-new`" in block and "--name recon-new --subsets-results" in block
    assert "[recon-new](" in block and "recon-new/MODEL_CARD.md" in block
    for cfg in readme_tables.WEIGHTS.glob("*/config.yaml"):
        assert f"`{cfg.parent.name}`" in block


def test_paper1_block_quotes_the_api_pooled_numbers_and_which_encoder_pooling_helps(tmp_path) -> None:
    res = _paper1_result()
    pooled = {"hop_s": 0.05, "probe_I_ci": [0.8, 0.86], "retrieval_top1": 0.3, "same_minus_diff_cosine": 0.4}
    res["api_pooled"] = {"default": {**pooled, "probe_I_auroc": 0.83},
                         "random init": {**pooled, "probe_I_auroc": 0.78, "retrieval_top1": 0.01}}
    res["api_pooled_command"] = "python benchmarks/paper1.py --api-pooled-only"
    (tmp_path / "paper1.json").write_text(json.dumps(res))
    block = readme_tables.render("paper1", tmp_path)
    assert "windows every 50 ms" in block and "0.830 [0.800, 0.860]" in block and "0.300 vs 0.010" in block
    # default 0.81 -> 0.83 (+0.020), random 0.70 -> 0.78 (+0.080): measured, it names the random encoder
    assert "+0.020 for `default` and +0.080 for random init (more for the untrained encoder)" in block
    assert "`python benchmarks/paper1.py --api-pooled-only`" in block
