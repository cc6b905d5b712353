"""Diagnostic fidelity: do reconstructed ECGs keep what a reader diagnoses? (issue 12, item 3)

For every input subset, every PTB-XL fold-10 record (100 Hz, 10 s, records with a diagnostic
superclass) and every Brugada-HUCA record (100 Hz, 12 s) is reconstructed from those leads through
the public API (``LeadLift.from_pretrained(MODEL).reconstruct_batch([ecg.select(leads), ...])``,
the path users get; the measured leads come back unchanged), then:

* a 12-lead superdiagnostic classifier trained on real PTB-XL (folds 1–8, fold 9 for model choice;
  :mod:`leadlift.training.classifier`, trained here when ``--classifier-dir`` holds none) scores
  the real and the reconstructed fold-10 ECGs: per-class and macro AUROC, real / reconstructed /
  Δ, 95 % CIs from a paired bootstrap over records (:func:`leadlift.evaluation.diagnostic.paired_auroc`);
* Brugada-HUCA: ST level at J + 60 ms (and at J) in V1 and V2 on real and reconstructed ECGs,
  beats placed on the subset's measured leads (:func:`leadlift.evaluation.diagnostic.st_levels`):
  AUROC of max(ST V1, V2) for Brugada 1 vs 0 (uncertain = 2 left out), real vs reconstructed with
  the paired CI of Δ, and the agreement of the ST values (mean difference, SD, Pearson r).

A subset the model cannot take is recorded as skipped with the model's reason. Writes
``<out>.json`` and ``<out>.md``::

    python benchmarks/diagnostic_fidelity.py --data-dir ../shared/data --model recon-i-ii-v2 --subsets "I,II,V2"
    python benchmarks/diagnostic_fidelity.py --model path/to/any-subset-model   # all default subsets
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
DEFAULT_SUBSETS = "I;II;I,II;I,II,V2;I,V2;V2;I,II,V1,V3,V5"
ST_MEASURES = ("st_j60", "st_j")
ST_TITLES = {"st_j60": "ST at J + 60 ms", "st_j": "ST at J"}


def _say(msg: str) -> None:
    print(msg, flush=True)


def load_or_train_classifier(folder: Path, data_dir: Path, store_dir: Path | None,
                             say: Callable[[str], None]) -> tuple[Any, bool]:
    """The classifier in ``folder``; trained there first (PTB-XL folds 1–8/9) when it holds none."""
    from leadlift.evaluation.diagnostic import load_classifier
    from leadlift.models.classifier import CLASSIFIER_CONFIG_FILE

    trained = False
    if not (folder / CLASSIFIER_CONFIG_FILE).exists():
        from leadlift.training.classifier import ClassifierTrainConfig, train_classifier

        say(f"no classifier in {folder}: training one (PTB-XL folds 1-8, fold 9 for model choice)")
        train_classifier(ClassifierTrainConfig(), data_dir, folder, store_dir=store_dir, say=say)
        trained = True
    return load_classifier(folder), trained


def ptbxl_test_ecgs(data_dir: Path, store_dir: Path | None, max_records: int | None) -> tuple[list[Any], np.ndarray]:
    """Fold-10 PTB-XL records at 100 Hz with at least one diagnostic superclass: ECGs and labels ``[N, 5]``."""
    from leadlift.conventions import PTBXL_TEST_FOLDS
    from leadlift.data.store import prepare
    from leadlift.data.windows import record_labels
    from leadlift.ecg import ECG

    store = prepare("ptbxl", 100, data_dir, store_dir=store_dir, progress=False)
    labels, _ = record_labels(store.meta, "superclass")
    rows = np.flatnonzero(np.isin(store.meta["strat_fold"].to_numpy(), PTBXL_TEST_FOLDS) & (labels.sum(axis=1) > 0))
    rows = rows[:max_records] if max_records else rows
    n_valid = store.meta["n_valid"].to_numpy()
    ids = store.meta["record_id"].astype(str).to_numpy()
    ecgs = [ECG(np.asarray(store.signals[r, :, :n_valid[r]]), store.fs, store.leads, record_id=f"ptbxl/{ids[r]}",
                check_units=False) for r in rows]
    return ecgs, labels[rows]


def brugada_ecgs(data_dir: Path, store_dir: Path | None, max_records: int | None) -> tuple[list[Any], np.ndarray]:
    """Brugada-HUCA records at 100 Hz: ECGs and ``brugada`` codes ``[N]`` (0, 1, 2 = uncertain)."""
    from leadlift.data.store import prepare
    from leadlift.ecg import ECG

    store = prepare("brugada", 100, data_dir, store_dir=store_dir, progress=False)
    rows = np.arange(len(store.meta))
    if max_records:  # a small dry run keeps both diagnoses
        code = store.meta["brugada"].to_numpy()
        rows = np.sort(np.concatenate([np.flatnonzero(code == c)[: max(max_records // 2, 1)] for c in (0, 1)]))
    n_valid = store.meta["n_valid"].to_numpy()
    ids = store.meta["record_id"].astype(str).to_numpy()
    ecgs = [ECG(np.asarray(store.signals[r, :, :n_valid[r]]), store.fs, store.leads, record_id=f"brugada/{ids[r]}",
                check_units=False) for r in rows]
    return ecgs, store.meta["brugada"].to_numpy()[rows].astype(int)


def st_arrays(real: Sequence[Any], recon: Sequence[Any], reference: Sequence[str]) -> dict[str, Any]:
    """ST levels of V1, V2 ``[N, 2]`` mV of real and reconstructed ECGs, beats placed once per record
    on the real ECG's ``reference`` leads (identical in the reconstruction)."""
    from leadlift.evaluation.diagnostic import fiducials, st_levels

    out: dict[str, Any] = {f"{m}_{k}": [] for m in ST_MEASURES for k in ("real", "recon")}
    fallback = 0
    for a, b in zip(real, recon, strict=True):
        fid = fiducials(a, reference)
        fallback += int(fid.fallback)
        sa, sb = st_levels(a, fid), st_levels(b, fid)
        for m in ST_MEASURES:
            out[f"{m}_real"].append(sa[m])
            out[f"{m}_recon"].append(sb[m])
    res = {k: np.asarray(v) for k, v in out.items()}
    res["fallback"] = fallback
    return res


def _shown(path: Path | str) -> str:
    """``path`` relative to the repository when it lies inside it (results files stay portable)."""
    p = Path(path).resolve()
    try:
        return str(p.relative_to(REPO))
    except ValueError:
        return str(p)


def run(args: argparse.Namespace, say: Callable[[str], None] = _say) -> dict[str, Any]:
    """The whole benchmark; returns the results (also written by :func:`main`)."""
    from leadlift.api import LeadLift
    from leadlift.ecg import parse_leads
    from leadlift.errors import InputError
    from leadlift.evaluation.diagnostic import brugada_st_check, paired_auroc

    t0 = time.perf_counter()
    data_dir = Path(args.data_dir).resolve()
    store_dir = Path(args.store_dir).resolve() if args.store_dir else None
    subsets = [s.strip() for s in args.subsets.split(";") if s.strip()]
    if not subsets:
        raise SystemExit("--subsets names no subset; pass e.g. 'I;I,II,V2'")
    lead_sets = {s: parse_leads(s) for s in subsets}
    clf, trained = load_or_train_classifier(Path(args.classifier_dir), data_dir, store_dir, say)
    model = LeadLift.from_pretrained(args.model)
    ptb, y = ptbxl_test_ecgs(data_dir, store_dir, args.max_records)
    bru, code = brugada_ecgs(data_dir, store_dir, args.max_records)
    say(f"{len(ptb)} PTB-XL fold-10 and {len(bru)} Brugada-HUCA records; classifier {clf.path} "
        f"({clf.config.input.mode} input, fold-9 macro AUROC {clf.config.metrics.get('val_macro_auroc')})")
    t_cls = time.perf_counter()
    real_probs = clf.predict(ptb)
    say(f"real fold-10 ECGs classified in {time.perf_counter() - t_cls:.1f} s")
    results: dict[str, Any] = {}
    for name, leads in lead_sets.items():
        ts = time.perf_counter()
        try:
            rec_ptb = model.reconstruct_batch([e.select(leads) for e in ptb], leads=list(leads))
            rec_bru = model.reconstruct_batch([e.select(leads) for e in bru], leads=list(leads))
        except InputError as exc:
            results[name] = {"leads": list(leads), "skipped": str(exc)}
            say(f"[{name}] skipped: {exc}")
            continue
        t_rec = time.perf_counter() - ts
        probs = clf.predict(rec_ptb)
        ptbxl = paired_auroc(y, real_probs, probs, clf.classes, n_boot=args.n_boot, seed=args.seed)
        st = st_arrays(bru, rec_bru, leads)
        brugada = {m: brugada_st_check(code, st[f"{m}_real"], st[f"{m}_recon"], n_boot=args.n_boot, seed=args.seed)
                   for m in ST_MEASURES}
        results[name] = {"leads": list(leads), "ptbxl": ptbxl, "brugada": brugada,
                         "st_fiducial_fallbacks": st["fallback"],
                         "seconds": {"reconstruct": round(t_rec, 1), "total": round(time.perf_counter() - ts, 1)}}
        m = ptbxl["macro"]
        say(f"[{name}] macro AUROC real {m['real']:.3f}, reconstructed {m['recon']:.3f} (Δ {m['delta']:+.3f}); "
            f"Brugada ST J+60 AUROC real {brugada['st_j60']['auroc']['real']:.3f}, reconstructed "
            f"{brugada['st_j60']['auroc']['recon']:.3f} ({time.perf_counter() - ts:.1f} s)")
    n_code = {str(c): int((code == c).sum()) for c in (0, 1, 2)}
    return {
        "command": args.command,
        "model": args.model,
        "model_path": _shown(model.path),
        "model_kind": model.kind,
        "model_leads": list(model.leads),
        "classifier": {"path": _shown(clf.path or args.classifier_dir), "trained_in_this_run": trained,
                       "input": clf.config.input.model_dump(),
                       "preprocessing": clf.config.preprocessing.model_dump(),
                       "val_macro_auroc": clf.config.metrics.get("val_macro_auroc"),
                       "val_auroc": clf.config.metrics.get("val_auroc"),
                       "training_seconds": clf.config.training.get("seconds"),
                       "input_modes_on_val": clf.config.training.get("input_mode_chosen_on_val")},
        "classes": list(clf.classes),
        "records": {"ptbxl_fold10": len(ptb), "ptbxl_fold10_positives": dict(zip(clf.classes,
                                                                              y.sum(axis=0).astype(int).tolist(),
                                                                              strict=True)),
                    "brugada": len(bru), "brugada_codes": n_code, "max_records": args.max_records},
        "n_boot": args.n_boot,
        "seed": args.seed,
        "subsets": results,
        "wall_seconds": round(time.perf_counter() - t0, 1),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "date": time.strftime("%Y-%m-%d"),
    }


# ----------------------------------------------------------------------------------------- Markdown
def _f(v: Any, digits: int = 3, sign: bool = False) -> str:
    if v is None or not np.isfinite(float(v)):
        return "–"
    return f"{float(v):+.{digits}f}" if sign else f"{float(v):.{digits}f}"


def _g(v: Any) -> str:
    return "–" if v is None else f"{float(v):g}"


def _fci(v: Any, ci: Sequence[float] | None, digits: int = 3, sign: bool = False) -> str:
    if not ci or any(c is None for c in ci):
        return _f(v, digits, sign)
    return f"{_f(v, digits, sign)} [{_f(ci[0], digits, sign)}, {_f(ci[1], digits, sign)}]"


def markdown(res: dict[str, Any]) -> str:
    c, r = res["classifier"], res["records"]
    pre = c["preprocessing"]
    modes = c.get("input_modes_on_val") or {}
    lines = [
        "# Diagnostic fidelity of reconstructed ECGs",
        "",
        f"`{res['command']}` — {res['machine']}, {res['date']}, wall time {res['wall_seconds']:.0f} s"
        + (f" (including {_f(c['training_seconds'], 0)} s of classifier training)" if c["trained_in_this_run"] else "")
        + ".",
        "",
        f"Reconstruction model: `{res['model']}` ({res['model_kind']}, input leads of the checkpoint: "
        f"{', '.join(res['model_leads'])}), through `LeadLift.reconstruct_batch` (measured leads returned as "
        "measured). Records: "
        f"{r['ptbxl_fold10']} PTB-XL fold-10 records with a diagnostic superclass (positives: "
        + ", ".join(f"{k} {v}" for k, v in r["ptbxl_fold10_positives"].items())
        + f"); {r['brugada']} Brugada-HUCA records (brugada 0: {r['brugada_codes']['0']}, 1: "
        f"{r['brugada_codes']['1']}, uncertain 2: {r['brugada_codes']['2']})"
        + (f"; first {r['max_records']} of each only (dry run)" if r["max_records"] else "") + ".",
        "",
        f"Classifier: 12-lead 1-D ResNet trained on real PTB-XL folds 1–8 at 100 Hz, `{c['input']['mode']}` input "
        f"chosen on fold 9 (macro AUROC {_f(c['val_macro_auroc'])}"
        + ("; " + ", ".join(f"{m}: {_f(v.get('val_macro_auroc'))}" for m, v in modes.items()) if modes else "")
        + f"; trained in {_f(c['training_seconds'], 0)} s), `{c['path']}`. It applies its own preprocessing "
        f"(band-pass {_g(pre['bandpass_low_hz'])}–"
        f"{_g(pre['bandpass_high_hz'])} Hz, {_g(pre['baseline_window_s'])}-s median baseline) to real and "
        "reconstructed ECGs alike.",
        "",
        f"95 % CIs: percentile paired bootstrap over records ({res['n_boot']} resamples, seed {res['seed']}; the same "
        "resamples for real and reconstructed). Δ = reconstructed − real.",
        "",
        "## PTB-XL fold 10: superdiagnostic AUROC, real vs reconstructed",
        "",
        "| input leads | class | n+ | AUROC real | AUROC reconstructed | Δ |",
        "|---|---|---:|---|---|---|",
    ]
    skipped = []
    for name, s in res["subsets"].items():
        if "skipped" in s:
            skipped.append(f"- `{name}`: skipped — {s['skipped']}")
            continue
        p = s["ptbxl"]
        for cls, e in p["classes"].items():
            lines.append(f"| {name} | {cls} | {e['n_pos']} | {_fci(e['real'], e['real_ci'])} | "
                         f"{_fci(e['recon'], e['recon_ci'])} | {_fci(e['delta'], e['delta_ci'], sign=True)} |")
        m = p["macro"]
        lines.append(f"| {name} | **macro** | | **{_fci(m['real'], m['real_ci'])}** | "
                     f"**{_fci(m['recon'], m['recon_ci'])}** | **{_fci(m['delta'], m['delta_ci'], sign=True)}** |")
    lines += [
        "",
        "## Brugada-HUCA: ST elevation in V1–V2, real vs reconstructed",
        "",
        "ST level relative to the PR baseline on the median beat (0.5–40 Hz band-pass; R peaks, QRS onset and J point "
        "from the subset's measured leads, the same instants for the real and the reconstructed ECG; "
        "`leadlift.evaluation.diagnostic`). AUROC of max(ST V1, ST V2) for Brugada syndrome (1) vs none (0); "
        "uncertain diagnoses (2) are left out of the AUROC and kept in the agreement.",
        "",
        "| input leads | measure | n (1 / 0) | AUROC real | AUROC reconstructed | Δ AUROC |",
        "|---|---|---|---|---|---|",
    ]
    for name, s in res["subsets"].items():
        if "skipped" in s:
            continue
        for m, b in s["brugada"].items():
            a = b["auroc"]
            lines.append(f"| {name} | {ST_TITLES[m]} | {b['n']['brugada_1']} / {b['n']['brugada_0']} | "
                         f"{_fci(a['real'], a['real_ci'])} | {_fci(a['recon'], a['recon_ci'])} | "
                         f"{_fci(a['delta'], a['delta_ci'], sign=True)} |")
    lines += [
        "",
        "Agreement of the ST values (all measured records; mV). A lead that is an input is returned as measured, "
        "so its agreement is exact by construction.",
        "",
        "| input leads | measure | lead | n | mean real | mean reconstructed | mean Δ [CI] | SD of Δ "
        "| Pearson r [CI] |",
        "|---|---|---|---:|---:|---:|---|---:|---|",
    ]
    for name, s in res["subsets"].items():
        if "skipped" in s:
            continue
        for m, b in s["brugada"].items():
            for lead, g in b["agreement"].items():
                label = "max(V1, V2)" if lead == "max" else lead + (" (measured)" if lead in s["leads"] else "")
                lines.append(f"| {name} | {ST_TITLES[m]} | {label} | {g['n']} | "
                             f"{_f(g['mean_real_mv'])} | {_f(g['mean_recon_mv'])} | "
                             f"{_fci(g['mean_diff_mv'], g['mean_diff_ci'], sign=True)} | {_f(g['sd_diff_mv'])} | "
                             f"{_fci(g['pearson_r'], g['pearson_r_ci'])} |")
    if skipped:
        lines += ["", "Subsets the model cannot take:", "", *skipped]
    lines.append("")
    return "\n".join(lines)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", default=os.environ.get("LEADLIFT_DATA", str(REPO.parent / "shared" / "data")),
                   help="folder holding ptb-xl/ and brugada-huca/")
    p.add_argument("--store-dir", default=str(REPO / "runs" / "leadlift-prepared"),
                   help="where the prepared 100-Hz stores are built/reused (the data folder may be read-only)")
    p.add_argument("--model", default="recon-i-ii-v2",
                   help="reconstruction model: bundled name, checkpoint folder or Hub id (LeadLift.from_pretrained)")
    p.add_argument("--subsets", default=DEFAULT_SUBSETS, help="input lead subsets, ';'-separated, leads ','-separated")
    p.add_argument("--classifier-dir", default=str(REPO / "runs" / "diagnostic-classifier"),
                   help="trained classifier folder (trained there when absent, else reused)")
    p.add_argument("--out", default=str(HERE / "results" / "diagnostic_fidelity"),
                   help="results path without suffix (.json and .md are written)")
    p.add_argument("--n-boot", type=int, default=1000, help="paired bootstrap resamples")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed")
    p.add_argument("--max-records", type=int, default=None, help="dry runs: first N records of each data set")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    return p


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = parser().parse_args(argv)
    if args.n_boot < 0 or (args.max_records is not None and args.max_records < 2):
        raise SystemExit("--n-boot must be >= 0 and --max-records >= 2")
    args.command = shlex.join(["python", "benchmarks/diagnostic_fidelity.py",
                               *(sys.argv[1:] if argv is None else list(argv))])
    import torch

    torch.set_num_threads(args.threads)
    from leadlift.serialization import to_plain

    res = run(args)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(to_plain(res, finite=True), indent=2) + "\n")
    out.with_suffix(".md").write_text(markdown(to_plain(res, finite=True)))
    _say(f"wrote {out.with_suffix('.json')} and {out.with_suffix('.md')}")
    return res


if __name__ == "__main__":
    main()
