"""Write every measured number of README.md (and of the docs pages in :data:`PAGES`) from the results
files in ``benchmarks/results/``.

Each measured number of the README sits in a generated block::

    <!-- table:NAME -->
    ... rendered here from benchmarks/results/*.json, ending with the command that produced them ...
    <!-- /table:NAME -->

and this script re-renders every block from the committed results, leaving the text around the
blocks alone. A block whose results file is missing (e.g. ``paper1.json`` before
``benchmarks/paper1.py`` has run) says so and names the command that writes it::

    python benchmarks/readme_tables.py           # rewrite README.md in place
    python benchmarks/readme_tables.py --check   # exit 1 when README.md differs from the results
    python benchmarks/readme_tables.py --show expect   # print one block

``tests/unit/benchmarks/test_readme_tables.py`` runs the check, so a new results file (or a new
block) is committed together with the README it changes.
"""

from __future__ import annotations

import argparse
import difflib
import importlib.util
import json
import math
import os
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
README = ROOT / "README.md"
#: every page with generated blocks (the README and the docs pages that quote measured tables)
PAGES = (README, ROOT / "docs" / "reconstruction.md", ROOT / "docs" / "any-subset.md")
WEIGHTS = ROOT / "src" / "leadlift" / "weights"

MARKER = re.compile(r"^<!-- table:(?P<name>[a-z0-9_-]+) -->\n(?P<body>.*?)^<!-- /table:(?P=name) -->$", re.S | re.M)
ANY_MARKER = re.compile(r"^<!-- /?table:(\S*) -->$", re.M)  # markers are whole lines; inline mentions are text

#: labels of the reconstruction benchmark's methods (as in its results.md)
METHOD_LABELS = {
    "zero": "zero predictor (0 mV)",
    "linear": "instantaneous least squares",
    "fir": "FIR least squares",
    "unet": "U-Net",
    "fusion_noemb": "fusion without embedding",
    "fusion_random": "fusion + random frozen encoder",
    "fusion": "fusion + SupCon encoder (pathology-aware, paper 2)",
    "mae": "aligned per-lead MAE (paper 1)",
}


class MissingResults(Exception):
    """A results file a block needs is not there (the block then says how to produce it)."""

    def __init__(self, path: Path, command: str) -> None:
        super().__init__(str(path))
        self.path, self.command = path, command


# ============================================================================== helpers
def _rel(path: Path) -> str:
    try:
        return path.resolve().relative_to(ROOT).as_posix()
    except ValueError:
        return path.as_posix()


def _load(results: Path, name: str, command: str) -> dict[str, Any]:
    path = results / name
    if not path.is_file():
        raise MissingResults(path, command)
    return json.loads(path.read_text())


def _link(results: Path, name: str) -> str:
    """A Markdown link to the human-readable companion (``.md``) of a results file, else the file."""
    md = (results / name).with_suffix(".md")
    target = _rel(md if md.is_file() else results / name)
    return f"[`{target}`]({target})"


def _source(results: Path, commands: Sequence[str], files: Sequence[str]) -> str:
    cmds = "; ".join(f"`{c}`" for c in commands)
    links = ", ".join(_link(results, f) for f in files)
    return f"\nMeasured by {cmds} → {links}."  # its own paragraph, after the numbers


def _f(v: Any, digits: int = 3) -> str:
    if v is None or (isinstance(v, float) and v != v):
        return "–"
    return f"{v:,.{digits}f}"


def _ci(v: Any, ci: Any, digits: int = 3) -> str:
    if v is None:
        return "–"
    if not ci or ci[0] is None:
        return _f(v, digits)
    return f"{_f(v, digits)} [{_f(ci[0], digits)}, {_f(ci[1], digits)}]"


def _signed(v: float, digits: int = 4) -> str:
    return f"{v:+.{digits}f}".replace("-", "−")


def _leads(names: Sequence[str]) -> str:
    return ", ".join(names)


def _machine(*docs: dict[str, Any]) -> str:
    """The machine line of the first results file that records one."""
    for d in docs:
        m = d.get("machine")
        if isinstance(m, str):
            return m
        if isinstance(m, dict):
            return f"{m.get('cpus', '?')} CPUs, Python {m.get('python', '?')}, torch {m.get('torch', '?')}"
    return "machine not recorded"


# ====================================================================== reconstruction
RECON = {"I,II,V2": "recon_I_II_V2/results.json", "I": "recon_I/results.json"}
RECON_CMD = {"I,II,V2": "leadlift reconstruct-benchmark --inputs I,II,V2 --threads 1 --mae mae-cpu "
                        "--checkpoint recon-i-ii-v2=recon-i-ii-v2 --out benchmarks/results/recon_I_II_V2",
             "I": "leadlift reconstruct-benchmark --inputs I --threads 1 --mae mae-cpu "
                  "--checkpoint recon-i=recon-i --out benchmarks/results/recon_I"}


def _recon(results: Path, inputs: str) -> dict[str, Any]:
    return _load(results, RECON[inputs], RECON_CMD[inputs])


def _scored(res: dict[str, Any]) -> list[str]:
    """The method keys of the reconstructor checkpoints scored through the API (``--checkpoint NAME=...``),
    in the order given."""
    return [key for key, info in res.get("training", {}).items()
            if isinstance(info, dict) and info.get("kind") == "recon" and "checkpoint" in info]


def _bundled(res: dict[str, Any]) -> str | None:
    """The first scored checkpoint (the fixed-input model bundled for these inputs)."""
    scored = _scored(res)
    return scored[0] if scored else None


def _learned(res: dict[str, Any], method: str) -> dict[str, Any]:
    test = res["test"]
    means = test["learned"][method]
    ci = test.get("ci", {}).get(method, {}).get("learned", {})
    return {"r": means.get("pearson_r"), "rmse": means.get("rmse"), "var_ratio": means.get("var_ratio"),
            "r_ci": ci.get("pearson_r"), "rmse_ci": ci.get("rmse")}


def block_training_set(results: Path, weights: Path | None = None) -> str:
    """The bundled models' training-set size, as their model cards count it (``config.yaml``'s evaluation)."""
    import yaml

    weights = weights or WEIGHTS
    cards = {}
    for cfg in sorted(weights.glob("*/config.yaml")):
        ev = (yaml.safe_load(cfg.read_text()) or {}).get("evaluation") or {}
        if ev.get("train_records"):
            cards[cfg.parent.name] = ev
    if not cards:
        raise MissingResults(weights / "NAME" / "config.yaml",
                             'leadlift model-card src/leadlift/weights/NAME --data-dir "$LEADLIFT_DATA" --name NAME')
    counts: dict[tuple[int, int, tuple[int, ...]], list[str]] = {}
    for name, ev in cards.items():
        key = (int(ev["train_records"]), int(ev.get("store_records") or 0), tuple(ev.get("train_folds") or ()))
        counts.setdefault(key, []).append(f"`{name}`")
    def names_s(names: list[str]) -> str:
        return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]

    parts = []
    for (n, store, folds), names in counts.items():
        contiguous = bool(folds) and list(folds) == list(range(folds[0], folds[-1] + 1))
        folds_s = f"{folds[0]}–{folds[-1]}" if contiguous else ", ".join(map(str, folds))
        of = f" of the {store:,} records in the data folder used here" if store else ""
        parts.append((names_s(names), f"**{n:,} PTB-XL records** (`strat_fold` {folds_s}{of})"))
    if len(parts) == 1:
        trained = f"The bundled models {parts[0][0]} were trained on {parts[0][1]}"
    else:
        trained = "The bundled models were trained: " + "; ".join(f"{who} on {what}" for who, what in parts)
    n_test = sorted({int(i.get("n_test_records", 0)) for ev in cards.values()
                     for i in (ev.get("inputs") or {}).values() if isinstance(i, dict)})
    test = f"the {', '.join(f'{n:,}' for n in n_test)} records of fold 10" if n_test else "fold 10"
    commands = {name: ev.get("command", "leadlift model-card") for name, ev in cards.items()}
    templates = {c.replace(name, "NAME") for name, c in commands.items()}
    if len(templates) == 1:
        how = f"`{templates.pop()}` for NAME = {', '.join(commands)}"
    else:
        how = "; ".join(f"`{c}`" for c in commands.values())
    links = ", ".join(f"[{n}]({_rel(weights / n / 'MODEL_CARD.md')})" for n in cards)
    return (f"{trained}: a small subset of PTB-XL. Their model cards measure them on {test}, which no model saw "
            f"in training.\n\nCounted by {how} → model cards: {links}.")


def block_expect(results: Path) -> str:
    rows = ["| input leads | bundled model | r per window [95 % CI] | RMSE, mV [95 % CI] | amplitude "
            "(variance ratio) | FIR least squares: r / RMSE | zero predictor: RMSE |",
            "|---|---|---:|---:|---:|---:|---:|"]
    notes, cmds, files = [], [], []
    for inputs, what in (("I", "I (a watch)"), ("I,II,V2", "I, II, V2 (a patch)")):
        res = _recon(results, inputs)
        if not _scored(res):
            continue
        fir, zero = _learned(res, "fir"), _learned(res, "zero")
        for name in _scored(res):
            m = _learned(res, name)
            rows.append(f"| {what} | `{name}` | {_ci(m['r'], m['r_ci'])} | {_ci(m['rmse'], m['rmse_ci'], 4)} | "
                        f"{_f(m['var_ratio'], 2)} | {_f(fir['r'])} / {_f(fir['rmse'], 4)} | {_f(zero['rmse'], 4)} |")
        notes.append(f"from {inputs.replace(',', ', ')}: {_leads(res['leads']['learned'])}")
        cmds.append(res.get("command", RECON_CMD[inputs]))
        files.append(RECON[inputs])
    res = _recon(results, "I")
    test = res["test"]
    return "\n".join([
        *rows, "",
        f"PTB-XL fold 10: {test['n_windows']:,} windows of {res['data']['window']} samples "
        f"({res['data']['window'] / res['data']['fs']:g} s at {res['data']['fs']:g} Hz) from {test['n_records']} "
        f"records, band-passed as the models' inputs; means over the leads a model has to learn "
        f"({'; '.join(notes)}; the limb leads III, aVR, aVL, aVF follow from I and II); 95 % CIs from a "
        f"paired bootstrap over records. A variance ratio below 1 means the reconstruction is flatter than "
        f"the real lead. FIR least squares is the classical linear filter fitted on the same training records.",
        _source(results, cmds, files),
    ])


def block_recon_benchmark(results: Path) -> str:
    order = ("I,II,V2", "I")
    res = {k: _recon(results, k) for k in order}
    methods: list[str] = []
    for k in order:
        for m in res[k]["test"]["learned"]:
            key = "bundled" if m == _bundled(res[k]) else m
            if key not in methods:
                methods.append(key)
    bundled_names = " / ".join(f"`{_bundled(res[k])}`" for k in order if _bundled(res[k]))
    rows = ["| method | from I, II, V2: r | RMSE (mV) [95 % CI] | from I: r | RMSE (mV) [95 % CI] |",
            "|---|---:|---:|---:|---:|"]
    for key in methods:
        if key == "bundled":
            label = f"bundled {bundled_names}, through `LeadLift.reconstruct`"
        elif any(key in _scored(res[k]) for k in order):
            label = f"bundled `{key}`, through `LeadLift.reconstruct`"
        else:
            label = METHOD_LABELS.get(key, f"`{key}`")
            if key == "fir":
                label += f" (±{_f(res['I']['training'].get('fir', {}).get('half_s'), 1)} s)"
            if key == "mae":
                ckpt = res["I"]["training"].get("mae", {}).get("checkpoint", "")
                label += f" `{Path(ckpt).name}`" if ckpt else ""
        cells = []
        for k in order:
            m = key if key != "bundled" else _bundled(res[k])
            if m in res[k]["test"]["learned"]:
                v = _learned(res[k], m)
                cells += [_f(v["r"]), _ci(v["rmse"], v["rmse_ci"], 4)]
            else:
                cells += ["–", "–"]
        rows.append(f"| {label} | " + " | ".join(cells) + " |")
    supcon = []
    for k in order:
        for c in res[k]["test"].get("contrasts", []):
            if c.get("method") == "fusion" and c.get("control") == "fusion_random":
                lo, hi = c["rmse"]["ci"]
                supcon.append(f"{_signed(c['rmse']['diff'])} mV [{_signed(lo)}, {_signed(hi)}] from "
                              f"{k.replace(',', ', ')}")
    best = []
    for k in order:
        test = res[k]["test"]
        trained = [m for m in test["learned"] if m not in ("zero", "linear", "fir", "mae", *_scored(res[k]))]
        vs = {m: test.get("ci", {}).get(m, {}).get("vs_reference", {}).get("rmse") for m in trained}
        vs = {m: v for m, v in vs.items() if v and v.get("ci")}
        if vs:
            m = min(vs, key=lambda x: test["learned"][x]["rmse"])
            lo, hi = vs[m]["ci"]
            best.append(f"from {k.replace(',', ', ')}, {METHOD_LABELS.get(m, m)} {_signed(vs[m]['diff'])} mV "
                        f"[{_signed(lo)}, {_signed(hi)}]")
    walls = ", ".join(f"{res[k].get('seconds', float('nan')):.0f} s (from {k.replace(',', ', ')})" for k in order)
    threads = res["I"].get("threads", "?")
    lines = [*rows, ""]
    if best:
        lines += ["The best trained model against the classical FIR filter, paired difference in RMSE with its "
                  "95 % CI (negative: better than FIR): " + "; ".join(best) + ".", ""]
    if supcon:
        lines += ["What SupCon training itself adds (the same fusion model with a random frozen encoder "
                  "instead), paired difference in RMSE: " + "; ".join(supcon) + ".", ""]
    lines += [
        f"Same split, same windows and same bootstrap for every method (fold 10, "
        f"{res['I']['test']['n_records']} records); every method is trained in the run, the bundled "
        f"checkpoints are only scored. Wall time of each run on {threads} CPU thread(s): {walls}. Per-lead "
        f"tables, controls and zero-shot results on PTB Diagnostic and Brugada-HUCA are in the linked files.",
        _source(results, [res[k].get("command", RECON_CMD[k]) for k in order], [RECON[k] for k in order]),
    ]
    return "\n".join(lines)


# ====================================================================== any subset
ANYSUBSET_CMD = "python benchmarks/anysubset.py --data-dir ../shared/data --model runs/recon-any"
SELECTION_CMD = "python benchmarks/anysubset_selection.py --data-dir ../shared/data NAME=CHECKPOINT ..."
DIAGNOSTIC_CMD = "python benchmarks/diagnostic_fidelity.py --data-dir ../shared/data --model runs/recon-any"
#: labels of the same-run specialists of ``benchmarks/anysubset.py``
SPECIALIST_LABELS = {"unet": "U-Net", "fusion": "fusion"}
#: the any-subset benchmark's targets (``meets`` keys of ``anysubset.json``), as the README names them
CRITERIA_LABELS = {"rmse_vs_fir": "RMSE ≤ {rmse_vs_fir:g} × FIR",
                   "rmse_vs_specialist": "RMSE ≤ {rmse_vs_specialist:g} × best specialist",
                   "coverage": "coverage within {coverage[0]:g}–{coverage[1]:g} on every lead",
                   "spearman": "Spearman ρ ≥ {spearman:g}"}


def block_anysubset(results: Path) -> str:
    """``recon-any`` against same-run FIR and specialists per core subset, with its 90 % band's coverage."""
    res = _load(results, "anysubset.json", ANYSUBSET_CMD)
    name = res.get("model", "recon-any")
    rows = [f"| input leads | `{name}` RMSE, mV [95 % CI] | FIR least squares | best same-run specialist | "
            "÷ FIR | ÷ best specialist | r (FIR r) | variance ratio | 90 % band coverage, min–max over leads | "
            "spread–error Spearman ρ |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for row in res.get("subsets", []):
        rm, r = row.get("rmse", {}), row.get("pearson_r", {})
        best = row.get("best_specialist")
        spec = f"{_f(rm.get(best), 4)} ({SPECIALIST_LABELS.get(best, best)})" if best else "–"
        rows.append(f"| {row['subset'].replace(',', ', ')} | {_ci(rm.get(name), row.get('rmse_ci'), 4)} | "
                    f"{_f(rm.get('fir'), 4)} | {spec} | {_f(row.get('ratio_to_fir'))} | "
                    f"{_f(row.get('ratio_to_best_specialist'))} | {_f(r.get(name))} ({_f(r.get('fir'))}) | "
                    f"{_f(row.get('var_ratio'), 2)} | {_f(row.get('coverage_min'))}–{_f(row.get('coverage_max'))} | "
                    f"{_f(row.get('spearman'), 2)} |")
    n = len(res.get("subsets", []))
    crit = res.get("criteria") or {}
    met = []
    for key, label in CRITERIA_LABELS.items():
        flags = [row.get("meets", {}).get(key) for row in res.get("subsets", [])]
        if crit and any(f is not None for f in flags):
            try:
                what = label.format(**crit)
            except (KeyError, IndexError, TypeError):
                what = key
            met.append(f"{what}: {sum(bool(f) for f in flags)} of {n}")
    runs = res.get("runs", {})
    records = sorted({int(v["n_test_records"]) for v in runs.values() if v.get("n_test_records")})
    lines = [
        *rows, "",
        f"PTB-XL fold 10 ({', '.join(f'{k:,}' for k in records) or '?'} records), per input subset; RMSE in mV "
        f"and r per window over the leads the subset does not give, 95 % CI from a paired bootstrap over records. "
        f"FIR least squares and the specialists (a U-Net and the pathology-aware fusion model trained for that "
        f"subset only) are trained in the same run on the same folds; ÷ below 1 means `{name}` is better. "
        f"Coverage: share of true samples inside the calibrated 90 % band (nominal 0.90); Spearman ρ: how well the "
        f"predicted spread ranks the actual error of windows (pooled over leads). Per-lead coverage and the "
        f"zero-shot sets (other hospitals and devices) are in the linked file.",
    ]
    if met:
        lines += ["", "Targets met (subsets): " + "; ".join(met) + "."]
    lines.append(_source(results, [res.get("command", ANYSUBSET_CMD)], ["anysubset.json"]))
    return "\n".join(lines)


def block_diagnostic(results: Path) -> str:
    """Does a 12-lead classifier see the same on the reconstruction as on the real ECG (per subset)?"""
    res = _load(results, "diagnostic_fidelity.json", DIAGNOSTIC_CMD)
    rows = ["| input leads | PTB-XL macro AUROC: real → reconstructed | Δ [95 % CI] | "
            "Brugada-HUCA ST at J + 60 ms AUROC: real → reconstructed | Δ [95 % CI] |", "|---|---:|---:|---:|---:|"]
    skipped = []
    for key, s in res.get("subsets", {}).items():
        leads = key.replace(",", ", ")
        if "skipped" in s:
            skipped.append(leads)
            rows.append(f"| {leads} | skipped: the model does not take these leads | – | – | – |")
            continue
        m = s.get("ptbxl", {}).get("macro", {})
        b = (s.get("brugada", {}).get("st_j60") or {}).get("auroc") or {}
        rows.append(f"| {leads} | {_f(m.get('real'))} → {_f(m.get('recon'))} | "
                    f"{_ci(m.get('delta'), m.get('delta_ci'))} | {_f(b.get('real'))} → {_f(b.get('recon'))} | "
                    f"{_ci(b.get('delta'), b.get('delta_ci'))} |")
    rec, clf = res.get("records", {}), res.get("classifier", {})
    classes = ", ".join(res.get("classes", []))
    lines = [
        *rows, "",
        f"Reconstructions by `{res.get('model', '?')}` through `LeadLift.reconstruct_batch` (measured leads returned "
        f"as measured). A 12-lead classifier trained on real PTB-XL (folds 1–8; fold-9 macro AUROC "
        f"{_f(clf.get('val_macro_auroc'))}) scores the real and the reconstructed ECGs of "
        f"{_f(rec.get('ptbxl_fold10'), 0)} fold-10 records ({classes}); Brugada-HUCA "
        f"({_f(rec.get('brugada'), 0)} records): AUROC of max(ST V1, ST V2) at J + 60 ms for Brugada syndrome "
        f"vs none. Δ = reconstructed − real, 95 % CI from a paired bootstrap over records.",
        _source(results, [res.get("command", DIAGNOSTIC_CMD)], ["diagnostic_fidelity.json"]),
    ]
    return "\n".join(lines)


# ============================================================================== speed
def block_speed(results: Path) -> str:
    cli = _load(results, "cli_startup.json", "python benchmarks/cli_startup.py")
    batch = _load(results, "batch_files.json", "python benchmarks/batch_files.py")
    lat = _load(results, "inference_latency.json", "python benchmarks/inference_latency.py --data-dir "
                "../shared/data --out benchmarks/results/inference_latency.json")
    auto = batch["models"]["auto"]
    rows = [
        "| what | time (median) |", "|---|---:|",
        f"| `python -c \"import torch\"`, for scale | {cli['median_s']['import_torch']:.2f} s |",
        f"| `leadlift reconstruct` of one 10-s record (lead I, {cli['record'].rsplit('/', 1)[-1]}), "
        f"start-up included | {cli['median_s']['reconstruct']:.2f} s |",
        f"| `leadlift reconstruct` of {batch['n_files']} such records in one call | {auto['median_s']['many']:.2f} s "
        f"({auto['marginal_ms_per_file']:.0f} ms per further file) |",
        f"| `LeadLift.reconstruct` (`{lat['model']}`), one 10-s lead at 500 Hz, model loaded, "
        f"{lat['latency_threads']} thread | {lat['reconstruct_ms']:.1f} ms |",
        f"| `LeadLift.embed` (`{lat['model']}`), the same lead | {lat['embed_ms']:.1f} ms |",
    ]
    return "\n".join([
        *rows, "",
        f"On {cli['machine']} (shared with other jobs), {cli['date']}; median of {cli['repeats']} "
        f"({batch['repeats']} for the batch, {lat['repeats']} calls from Python).",
        _source(results, [cli["command"], batch["command"], lat["command"]],
                ["cli_startup.json", "batch_files.json", "inference_latency.json"]),
    ])


def block_store(results: Path) -> str:
    st = _load(results, "store_vs_wfdb.json", "python benchmarks/store_vs_wfdb.py --data-dir ../shared/data")
    sc = _load(results, "scale.json", "python benchmarks/scale.py")
    sp = st["seconds_per_pass"]
    big = max(sc["prepare"], key=lambda r: (r["records"], r["workers"]))
    return "\n".join([
        f"One pass over the {st['n_records']:,} PTB-XL records at {st['fs']:g} Hz: "
        f"{sp['wfdb_rdsamp']:.1f} s with `wfdb.rdsamp`, {sp['store'] * 1000:.1f} ms from the prepared store "
        f"({sp['store_dataloader'] * 1000:.0f} ms through a PyTorch `DataLoader`). Preparing "
        f"{big['records']:,} records (PTB-XL tiled) with {big['workers']} workers took {big['seconds']:.0f} s "
        f"({big['records_per_s']:.0f} records/s, {big['store_mib']:,.0f} MiB, main process peak "
        f"{big['peak_rss_main_mib']:.0f} MiB); {st['machine'].get('cpus', '?')} CPU cores.",
        _source(results, [st["command"], sc["command"]], ["store_vs_wfdb.json", "scale.json"]),
    ])


# ============================================================================== export
def block_export(results: Path) -> str:
    ex = _load(results, "export_latency.json", "python benchmarks/export_latency.py --data-dir ../shared/data")
    groups: dict[tuple[str, str, int], dict[str, dict[str, Any]]] = {}
    for r in ex["rows"]:
        groups.setdefault((r["model"], r["leads"], r["fs_in"]), {})[r["variant"]] = r
    rows = ["| model | input | torch: size, latency | ONNX float32: size, latency, max \\|Δ\\| | "
            "ONNX int8: size, latency, max \\|Δ\\| |", "|---|---|---:|---:|---:|"]

    def cell(r: dict[str, Any] | None, parity: bool) -> str:
        if r is None:
            return "–"
        s = f"{r['size_bytes'] / 1e6:.2f} MB, {r['latency_ms']['median']:.1f} ms"
        return s + (f", {r['parity']['max_abs_mv']:.2g} mV" if parity else "")

    for (model, leads, fs_in), v in groups.items():
        rows.append(f"| `{model}` | {leads} @ {fs_in} Hz | {cell(v.get('torch'), False)} | "
                    f"{cell(v.get('onnx-fp32'), True)} | {cell(v.get('onnx-int8'), True)} |")
    return "\n".join([
        *rows, "",
        f"Latency: one 10-s strip, one thread, median of {ex['repeats']} calls; max |Δ|: largest difference from "
        f"the Python path over every lead and sample of {ex['records']}. {ex['machine']}, {ex['date']}.",
        _source(results, [ex["command"]], ["export_latency.json"]),
    ])


# ============================================================================== training
def block_gpu(results: Path) -> str:
    g = _load(results, "gpu_check.json", "python benchmarks/gpu_check.py --windows windows.npz")
    sec, env = g["sections"], g["environment"]
    rows = ["| training step | batch | ECG windows / s | peak GPU memory |", "|---|---:|---:|---:|"]
    for name, v in sec.get("mae_throughput", {}).items():
        if not isinstance(v, dict) or not v.get("rows"):
            continue
        top = max(v["rows"], key=lambda r: r["batch_size"])
        rows.append(f"| paper 1 MAE `{name}` | {top['batch_size']:,} | {top['ecgs_per_s']:,.0f} | "
                    f"{top['peak_gib']:.1f} GiB |")
    rt = sec.get("recon_throughput", {})
    for key, label in (("fusion", "paper 2 fusion reconstructor"), ("supcon_encoder", "paper 2 SupCon encoder")):
        if rt.get(key):
            top = max(rt[key], key=lambda r: r["batch_size"])
            rows.append(f"| {label} (`{rt['config'].get('config', '?')}`) | {top['batch_size']:,} | "
                        f"{top['ecgs_per_s']:,.0f} | {top['peak_gib']:.1f} GiB |")
    bank = sec.get("leadbank_vs_loop", {}).get("rows", [])
    speed = ", ".join(f"{r['speedup']:.1f}× at batch {r['batch_size']}" for r in bank)
    return "\n".join([
        *rows, "",
        f"One {env['gpu']} (torch {env['torch']}, {'bf16 autocast' if g.get('bf16') else 'float32'}); "
        + (f"the batched 12-lead MAE bank vs the same 12 encoders in a loop: {speed}. " if speed else "")
        + "Training-step throughput on real PTB-XL windows, not end-to-end runs.",
        _source(results, [g["command"]], ["gpu_check.json"]),
    ])


# ============================================================================== paper 1
def _paper1_models() -> dict[str, Any]:
    """``benchmarks/paper1.py``'s MODELS (name → (config, overrides, what it isolates)), if importable."""
    path = Path(__file__).resolve().parent / "paper1.py"
    try:
        spec = importlib.util.spec_from_file_location("_leadlift_paper1", path)
        mod = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
        spec.loader.exec_module(mod)  # type: ignore[union-attr]
        return dict(mod.MODELS)
    except Exception:
        return {}


def _pooling_gain(rep: dict[str, Any], a: dict[str, Any], r: dict[str, Any]) -> str:
    """Which encoder's lead-I probe gains more from the API's pooling (measured, not assumed)."""
    w = (rep.get("default") or {}).get("checkpoint", {}).get("probe_I_auroc")
    wr = (rep.get("default") or {}).get("random", {}).get("probe_I_auroc")
    if w is None or wr is None:
        return ""
    gd, gr = a["probe_I_auroc"] - w, r["probe_I_auroc"] - wr
    who = "the untrained encoder" if gr > gd else "`default`"
    return (f"; pooling moves the probe by {gd:+.3f} for `default` and {gr:+.3f} for random init "
            f"(more for {who})")


def block_paper1(results: Path) -> str:
    res = _load(results, "paper1.json", "python benchmarks/paper1.py --data-dir ../shared/data")
    rec = res.get("reconstruction", {})
    methods = rec.get("methods", {})
    rep = res.get("representation", {})
    models = _paper1_models()
    rows = ["| model | what it isolates | r, I → learned leads [95 % CI] | variance ratio | lead-pair retrieval top-1 "
            "| same − different ECG cosine | ECG-ID record 1-NN (pooled crops) | lead-I probe AUROC [95 % CI] | "
            "12-lead probe AUROC | pretraining (min) |", "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    random = (rep.get("default") or next(iter(rep.values()), {})).get("random", {})
    if random:
        rows.append(f"| random init | same architecture, untrained | – | – | {_f(random.get('retrieval_top1'))} | "
                    f"{_f(random.get('same_minus_diff_cosine'))} | {_f(random.get('ecgid_record_nn_pooled'))} | "
                    f"{_ci(random.get('probe_I_auroc'), random.get('probe_I_ci'))} | "
                    f"{_f(random.get('probe_12_auroc'))} | – |")
    for name, r in rep.items():
        c, m = r.get("checkpoint", {}), methods.get(name, {})
        seconds = res.get("training", {}).get(name, {}).get("seconds")
        what = models.get(name, ("", {}, ""))[2]
        rows.append(f"| `{name}` | {what} | {_ci(m.get('r'), m.get('r_ci'))} | {_f(m.get('var_ratio'), 2)} | "
                    f"{_f(c.get('retrieval_top1'))} | {_f(c.get('same_minus_diff_cosine'))} | "
                    f"{_f(c.get('ecgid_record_nn_pooled'))} | {_ci(c.get('probe_I_auroc'), c.get('probe_I_ci'))} | "
                    f"{_f(c.get('probe_12_auroc'))} | {_f(seconds / 60 if seconds else None, 1)} |")
    for base in ("zero", "linear", "fir"):
        if base in methods:
            b = methods[base]
            rows.append(f"| {METHOD_LABELS[base]} | baseline, same windows | {_ci(b.get('r'), b.get('r_ci'))} | "
                        f"{_f(b.get('var_ratio'), 2)} | – | – | – | – | – | – |")
    learned = rec.get("learned") or []
    done = res.get("done_when", {})
    met = sum(1 for v in done.values() if v.get("met"))
    lines = [
        *rows, "",
        f"PTB-XL fold 10 ({rec.get('n_records', '?')} records; learned leads {_leads(learned)}) and ECG-ID "
        f"cross-record identification ({random.get('ecgid_persons', '?')} persons; the classical median-beat "
        f"template reaches {_f(random.get('ecgid_template'))}). Every model was pretrained in the same run on folds "
        f"1–8 at the size of `mae-cpu`.",
    ]
    api = res.get("api_pooled") or {}
    if "default" in api and "random init" in api:
        a, r = api["default"], api["random init"]
        lines.append(
            f"On the embedding `embed()` returns from `default` (windows every {a['hop_s'] * 1000:.0f} ms over the "
            "whole record, "
            f"pooled, through the inference pipeline) the lead-I probe is "
            f"{_ci(a['probe_I_auroc'], a['probe_I_ci'])} for `default` and "
            f"{_ci(r['probe_I_auroc'], r['probe_I_ci'])} for random init, and lead-pair retrieval "
            f"{_f(a['retrieval_top1'])} vs {_f(r['retrieval_top1'])}" + _pooling_gain(rep, a, r) + ".")
    if done:
        lines.append(f"The corrected default meets {met} of the {len(done)} targets set for it "
                     f"(listed in [`benchmarks/results/paper1.md`](benchmarks/results/paper1.md)).")
    commands = [res.get("command", "python benchmarks/paper1.py")]
    if res.get("api_pooled_command"):
        commands.append(res["api_pooled_command"])
    lines.append(_source(results, commands, ["paper1.json"]))
    return "\n".join(lines)


def block_anysubset_controls(results: Path) -> str:
    """What the any-subset model's components add: paired Δ RMSE on fold 10 against each control
    checkpoint scored in the same run, and the fold-9 selection those checkpoints came from."""
    res = _load(results, "anysubset.json", ANYSUBSET_CMD)
    sel = _load(results, "anysubset_selection.json", SELECTION_CMD)
    name = res.get("model", "recon-any")
    controls = res.get("controls", [])
    rows = ["| input leads | " + " | ".join(f"`{name}` − `{c}`, Δ RMSE mV [95 % CI]" for c in controls) + " |",
            "|---|" + "---:|" * len(controls)]
    for row in res.get("subsets", []):
        cells = []
        for c in controls:
            d = (row.get("controls", {}).get(c) or {}).get("delta_rmse") or {}
            lo, hi = d.get("ci") or (None, None)
            cells.append(f"{_signed(d['diff'])} [{_signed(lo)}, {_signed(hi)}]" if d else "–")
        rows.append(f"| {row['subset'].replace(',', ', ')} | " + " | ".join(cells) + " |")
    sel_rows = ["| checkpoint (fold-9 selection) | Wiener prior (s) | core-subset weight | steps | "
                "best fold-9 MSE, mV² |",
                "|---|---:|---:|---:|---:|"]
    for m in sel.get("models", []):
        sel_rows.append(f"| `{m['name']}` | {m['prior_half_taps_s']:g} | {m['core_weight']:g} | {m['steps']} | "
                        f"{_f(m['best_val_mse'], 5)} |")
    return "\n".join([*rows, "", "Fold 10, the same windows for every checkpoint; negative: "
                       f"`{name}` better. Selection on fold 9 (fold 10 not read):", "", *sel_rows,
                       _source(results, [res.get("command", ANYSUBSET_CMD), sel.get("command", SELECTION_CMD)],
                               ["anysubset.json", "anysubset_selection.json"])])


CURVE_CMD = "python benchmarks/anysubset_learning_curve.py --data-dir ../shared/data"
ENSEMBLE_CMD = ("python benchmarks/anysubset_selection.py --data-dir ../shared/data --out "
                "benchmarks/results/anysubset_ensemble NAME=A+B ...")


def block_anysubset_limits(results: Path) -> str:
    """What limits the subsets with a measured chest lead: the fold-9 learning curve (RMSE ÷ same-run
    FIR by training records, with its log2 line) and the fold-9 deep-ensemble check."""
    cur = _load(results, "anysubset_learning_curve.json", CURVE_CMD)
    ens = _load(results, "anysubset_ensemble.json", ENSEMBLE_CMD)
    subsets = list(cur["points"][0]["ratio_to_fir"])
    rows = ["| training records | " + " | ".join(s.replace(",", ", ") for s in subsets) + " |",
            "|---:|" + "---:|" * len(subsets)]
    fractions = cur.get("by_fraction") or [{**q, "n_seeds": 1, "ratio_mean": q["ratio_to_fir"]} for q in cur["points"]]
    for q in fractions:
        cells = [_f(q["ratio_mean"][s]) + (f" ({_f(q['ratio_min'][s])}–{_f(q['ratio_max'][s])})"
                                           if q["n_seeds"] > 1 else "") for s in subsets]
        rows.append(f"| {q['n_records']:,} | " + " | ".join(cells) + " |")
    rows.append("| change per doubling (line through the points) | "
                + " | ".join(_signed(cur["trend"][s]["slope_per_doubling"], 3) for s in subsets) + " |")
    full = cur.get("full_ptbxl_train_records")
    first, last = fractions[0], fractions[-1]
    seeds = sorted({q["n_seeds"] for q in fractions})
    fir_change = [abs(last["fir_rmse"][s] / first["fir_rmse"][s] - 1) for s in subsets]
    open_ = [s for s in subsets if last["ratio_mean"][s] > 0.90]
    slopes = [cur["trend"][s]["slope_per_doubling"] for s in open_]
    ext = []
    for s in open_:
        at = cur["trend"][s].get("records_at_0.90")
        name = s.replace(",", ", ")
        if at is None:
            ext.append(f"{name} never (the line does not fall)")
        elif full and at > 100 * full:
            ext.append(f"{name} beyond 100 × the whole PTB-XL")
        else:
            ext.append(f"{name} at ~{float(f'{at:.2g}'):,.0f} records")
    text = (f"Fold-9 RMSE over the learned leads ÷ the same-run FIR least squares (the model's own Wiener prior, "
            f"fitted on the same records), the shipped configuration trained on nested fractions of the "
            f"{last['n_records']:,} training records ({' or '.join(map(str, seeds))} training "
            f"seed{'s' if max(seeds) > 1 else ''} per point; "
            f"with several, the mean and the range over seeds). From {first['n_records']:,} to "
            f"{last['n_records']:,} records the FIR's own RMSE changes by at most {100 * max(fir_change):.1f} %.")
    if open_:
        text += (f" Where the ratio is still above 0.90, the line falls by {_f(-max(slopes))}–{_f(-min(slopes))} per "
                 f"doubling of the data; continued (an extrapolation, for scale only) it reaches 0.90: "
                 f"{'; '.join(ext)}"
                 + (f" (the whole PTB-XL has about {full:,} records in folds 1–8, "
                    f"{math.log2(full / last['n_records']):.1f} doublings beyond the data measured here)."
                    if full else "."))
        if full:
            need = {s: (last["ratio_mean"][s] - 0.90) / math.log2(full / last["n_records"]) for s in open_}
            text += (" To reach 0.90 within the whole PTB-XL the ratio would have to fall by "
                     + ", ".join(f"{_f(need[s])} ({s.replace(',', ', ')})" for s in open_)
                     + " per doubling from here; measured: "
                     + ", ".join(f"{_f(-cur['trend'][s]['slope_per_doubling'])}" for s in open_) + ".")
    e_rows = ["| fold-9 RMSE ÷ FIR (±0.4 s) | " + " | ".join(s.replace(",", ", ") for s in subsets) + " |",
              "|---|" + "---:|" * len(subsets)]
    for m in ens.get("models", []):
        label = (f"mean of {m['members']} runs (`{m['name']}`)" if m.get("members", 1) > 1 else f"`{m['name']}` alone")
        e_rows.append(f"| {label} | " + " | ".join(_f(m["ratio_to_fir"][s]) for s in subsets) + " |")
    return "\n".join([
        *rows, "", text,
        "", "A deep ensemble (the mean of independently trained runs' predictions) on the same fold-9 windows:", "",
        *e_rows,
        _source(results, [cur.get("command", CURVE_CMD), ens.get("command", ENSEMBLE_CMD)],
                ["anysubset_learning_curve.json", "anysubset_ensemble.json"]),
    ])


# ============================================================================== driver
BLOCKS: dict[str, Callable[[Path], str]] = {
    "training-set": block_training_set,
    "expect": block_expect,
    "speed": block_speed,
    "store": block_store,
    "paper1": block_paper1,
    "recon-benchmark": block_recon_benchmark,
    "anysubset": block_anysubset,
    "anysubset-controls": block_anysubset_controls,
    "anysubset-limits": block_anysubset_limits,
    "diagnostic": block_diagnostic,
    "gpu": block_gpu,
    "export": block_export,
}


def render(name: str, results: Path = RESULTS) -> str:
    """One block's Markdown (without its markers), rendered from the results files."""
    if name not in BLOCKS:
        raise KeyError(f"unknown generated block {name!r}; known: {', '.join(BLOCKS)}")
    try:
        return BLOCKS[name](results).rstrip("\n")
    except MissingResults as e:
        return (f"_Not measured yet: `{e.command}` writes `{_rel(e.path)}`; then "
                f"`python benchmarks/readme_tables.py` puts its numbers here._")


_RELATIVE_LINK = re.compile(r"\]\((?!https?:|#|/)([^)\s]+)\)")


def update(text: str, results: Path = RESULTS, link_prefix: str = "") -> str:
    """``text`` with every generated block re-rendered; unknown or unbalanced markers are errors.

    ``link_prefix``: prepended to the blocks' relative links (written relative to the repository
    root), e.g. ``"../"`` for a page in ``docs/``."""
    names = [m.group("name") for m in MARKER.finditer(text)]
    if len(ANY_MARKER.findall(text)) != 2 * len(names):
        raise ValueError("unbalanced generated-block markers: every <!-- table:NAME --> needs its own "
                         "<!-- /table:NAME --> on a line of its own after it")
    dupes = {n for n in names if names.count(n) > 1}
    if dupes:
        raise ValueError(f"generated block(s) used twice: {', '.join(sorted(dupes))}")
    unknown = [n for n in names if n not in BLOCKS]
    if unknown:
        raise ValueError(f"unknown generated block(s) {', '.join(unknown)}; known: {', '.join(BLOCKS)}")
    def block(name: str) -> str:
        body = render(name, results)
        return _RELATIVE_LINK.sub(lambda m: f"]({link_prefix}{m[1]})", body) if link_prefix else body

    return MARKER.sub(lambda m: f"<!-- table:{m['name']} -->\n{block(m['name'])}\n"
                                f"<!-- /table:{m['name']} -->", text)


def link_prefix(page: Path) -> str:
    """How a page reaches the repository root (``""`` for README.md, ``"../"`` for docs/*.md)."""
    rel = Path(os.path.relpath(ROOT, page.resolve().parent)).as_posix()
    return "" if rel == "." else rel + "/"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--check", action="store_true", help="exit 1 when README.md is out of date (writes nothing)")
    p.add_argument("--show", metavar="NAME", help="print one rendered block and exit")
    p.add_argument("--readme", type=Path, default=None, help="one page to render (default: README.md and the "
                                                                 "docs pages with generated blocks)")
    p.add_argument("--results", type=Path, default=RESULTS)
    args = p.parse_args(argv)
    if args.show:
        print(render(args.show, args.results))
        return 0
    stale = 0
    for page in [args.readme] if args.readme else PAGES:
        old = page.read_text(encoding="utf-8")
        new = update(old, args.results, link_prefix(page))
        if args.check:
            if new != old:
                diff = difflib.unified_diff(old.splitlines(), new.splitlines(), str(page), "rendered", lineterm="")
                print("\n".join(diff))
                print(f"{page} is out of date with {args.results}: run python benchmarks/readme_tables.py",
                      file=sys.stderr)
                stale += 1
            else:
                print(f"{page}: generated blocks up to date")
        elif new != old:
            page.write_text(new, encoding="utf-8")
            print(f"updated {page}")
        else:
            print(f"{page}: already up to date")
    return 1 if stale else 0


if __name__ == "__main__":
    raise SystemExit(main())
