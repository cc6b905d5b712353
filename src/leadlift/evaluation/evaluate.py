"""``leadlift evaluate``: every representation evaluation of a checkpoint, with its baselines.

For the checkpoint, the optional no-alignment baseline checkpoint (``baseline``) and a randomly
initialised encoder of the checkpoint's architecture (always), on frozen embeddings:

1. **agreement** — lead agreement on the PTB-XL test fold (:mod:`.agreement`);
2. **probes** — PTB-XL superdiagnostic linear probes, 12-lead and per lead (:mod:`.probes`);
3. **mi** — MI vs rest on PTB-XL (per lead) and MI vs healthy on PTB Diagnostic (:mod:`.mi`);
4. **ecgid** — ECG-ID identification under three protocols (``window-random`` flagged leaky), per
   window and per record, optionally on time-shifted crops, beside the median-beat template
   baseline (:mod:`.biometrics`);
5. **reconstruction** — 12 leads from each single lead on the PTB-XL test fold (:mod:`.single_lead`).

Writes ``OUT/results.json`` (all numbers; NaN as null), ``OUT/report.html`` (self-contained) and
the figures ``OUT/*.png``. Returns the results dict.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

import leadlift
from leadlift.conventions import SUPERCLASSES
from leadlift.data.splits import assert_patient_disjoint, ptbxl_folds
from leadlift.data.store import PreparedStore, prepare
from leadlift.ecg import ECG, STANDARD_LEADS
from leadlift.errors import DataNotFoundError, InputError
from leadlift.evaluation import figures
from leadlift.evaluation.agreement import lead_agreement
from leadlift.evaluation.biometrics import (
    LEAKY_PROTOCOLS,
    evaluate_identification,
    shifted_window_embeddings,
    template_identification,
    window_table,
)
from leadlift.evaluation.embeddings import TWELVE_LEAD, Encoder, embed_store, load_encoder, random_encoder
from leadlift.evaluation.mi import ptbdb_mi, ptbxl_mi_table
from leadlift.evaluation.probes import DEFAULT_CS, linear_probe
from leadlift.evaluation.report import render_report
from leadlift.evaluation.single_lead import single_lead_matrix
from leadlift.serialization import to_plain

SECTIONS: tuple[str, ...] = ("agreement", "probes", "mi", "ecgid", "reconstruction")





def to_jsonable(obj: Any) -> Any:
    """Results → JSON-safe values (numpy → Python, NaN/inf → None, private ``_keys`` dropped)."""
    return to_plain(obj, finite=True, drop_private=True)


class _Stores:
    """Prepared stores, built on first use and cached per (dataset, fs)."""

    def __init__(self, data_dir: Path, store_dir: Path | None, say: Callable[[str], None]) -> None:
        self.data_dir, self.store_dir, self.say = data_dir, store_dir, say
        self._cache: dict[tuple[str, float], PreparedStore | Exception] = {}

    def get(self, dataset: str, fs: float) -> PreparedStore:
        key = (dataset, float(fs))
        if key not in self._cache:
            try:
                self._cache[key] = prepare(dataset, fs, self.data_dir, store_dir=self.store_dir, progress=False,
                                           on_status=self.say)
            except DataNotFoundError as exc:
                self._cache[key] = exc
        value = self._cache[key]
        if isinstance(value, Exception):
            raise value
        return value


def _probe_views(enc: Encoder, store: PreparedStore) -> list[str]:
    views = list(enc.views(store.leads))
    return [TWELVE_LEAD, *views] if enc.per_lead and len(views) == 12 else views


def _ptbxl_sections(enc: Encoder, store: PreparedStore, sections: Sequence[str], n_boot: int, seed: int,
                    say: Callable[[str], None], cs: Sequence[float], recon_inputs: Sequence[str]) -> dict[str, Any]:
    """Agreement, probes, PTB-XL MI and reconstruction of one encoder."""
    res: dict[str, Any] = {}
    meta = store.meta
    parts = ptbxl_folds(meta["strat_fold"])
    assert_patient_disjoint(meta["patient_id"].to_numpy(), parts)
    t0 = time.perf_counter()
    emb = embed_store(enc, store)
    say(f"  embedded {len(emb.window)} PTB-XL windows of {len(emb.rows)} records in {time.perf_counter() - t0:.0f} s")
    row_pos = {int(r): i for i, r in enumerate(emb.rows)}

    def pick(idx: np.ndarray) -> np.ndarray:
        return np.asarray([row_pos[int(r)] for r in idx if int(r) in row_pos], dtype=int)

    if "agreement" in sections:
        if enc.per_lead and len(emb.views) > 1:
            test = pick(parts["test"])
            res["agreement"] = lead_agreement(emb.record[test], emb.views, seed=seed)
        else:
            res["agreement"] = {"reason": "needs one embedding per lead (a per-lead bank)"}
    if "probes" in sections or "mi" in sections:
        y_all = meta[list(SUPERCLASSES)].to_numpy(dtype=int)
        labelled = np.flatnonzero(y_all.sum(axis=1) > 0)
        sel = {k: pick(np.intersect1d(v, labelled)) for k, v in parts.items()}
        y = y_all[emb.rows]
        probes: dict[str, Any] = {}
        t0 = time.perf_counter()
        for view in _probe_views(enc, store):
            x = emb.view(view)
            probes[view] = linear_probe(x[sel["train"]], y[sel["train"]], x[sel["val"]], y[sel["val"]],
                                        x[sel["test"]], y[sel["test"]], SUPERCLASSES, cs=cs, n_boot=n_boot,
                                        seed=seed)
        say(f"  {len(probes)} linear probes in {time.perf_counter() - t0:.0f} s")
        first = next(iter(probes.values()))
        res["probes"] = {"labels": list(SUPERCLASSES), "n_train": first["n_train"], "n_val": first["n_val"],
                         "n_test": first["n_test"], "n_boot": n_boot, "views": probes}
        res["mi_ptbxl"] = ptbxl_mi_table({v: p for v, p in probes.items() if v != TWELVE_LEAD} or probes)
    if "reconstruction" in sections:
        if enc.per_lead and tuple(enc.leads) == tuple(STANDARD_LEADS) and tuple(store.leads) == tuple(STANDARD_LEADS):
            t0 = time.perf_counter()
            from leadlift.inference.backends import backend_from_network

            backend = backend_from_network(enc.model, enc.config, enc.name)
            res["reconstruction"] = single_lead_matrix(backend, store, parts["test"], parts["train"],
                                                       inputs=recon_inputs)
            say(f"  12 x 12 single-lead reconstruction in {time.perf_counter() - t0:.0f} s")
        else:
            res["reconstruction"] = {"reason": "needs a per-lead bank with all 12 standard leads"}
    return res


#: Default of the ECG-ID shifted-crop option: crops every 50 ms within ±1 s of each window (41
#: crops per window; for the bundled mae-cpu ~12 s per encoder on one CPU thread).
ECGID_SHIFT_MS: float | None = 50.0
ECGID_SHIFT_SPAN_S = 2.0


def _ecgid_section(enc: Encoder, stores: _Stores, seed: int, say: Callable[[str], None],
                   shift_ms: float | None = ECGID_SHIFT_MS, shift_span_s: float = ECGID_SHIFT_SPAN_S) -> dict[str, Any]:
    """ECG-ID identification of one encoder (:mod:`.biometrics`), window and record level, with the
    median-beat template baseline on the same windows and, when ``shift_ms`` is set, the same
    protocols on window embeddings averaged over crops shifted by ``shift_ms`` (within
    ±``shift_span_s``/2 s)."""
    if not (enc.per_lead and "I" in enc.leads):
        return {"reason": "needs a lead-I encoder (a per-lead bank); a 12-channel model cannot embed lead I alone"}
    try:
        store = stores.get("ecgid", enc.fs)
    except DataNotFoundError as exc:
        return {"reason": str(exc)}
    emb = embed_store(enc, store)
    windows = window_table(store.meta, emb.window_row, emb.window_start)
    res: dict[str, Any] = {
        "protocols": evaluate_identification(emb.window[:, emb.views.index("I")], windows, seed=seed),
        "leaky_protocols": sorted(LEAKY_PROTOCOLS),
        "n_records": int(store.meta["record_id"].nunique()), "n_persons_total": int(store.meta["person"].nunique()),
        "n_windows": len(windows), "window_s": enc.n_times / enc.fs, "fs": enc.fs,
    }
    t0 = time.perf_counter()
    res["template"] = template_identification(store, windows, enc.n_times, seed=seed)
    res["template"]["seconds"] = round(time.perf_counter() - t0, 1)
    if shift_ms is not None:
        t0 = time.perf_counter()
        x, n_crops = shifted_window_embeddings(enc, store, emb.window_row, emb.window_start, view="I",
                                               shift_ms=shift_ms, span_s=shift_span_s)
        res["shifted"] = {"shift_ms": float(shift_ms), "span_s": float(shift_span_s), "n_crops": n_crops,
                          "protocols": evaluate_identification(x, windows, seed=seed)}
        res["shifted"]["seconds"] = round(time.perf_counter() - t0, 1)
    cr, tp = res["protocols"]["cross-record"], res["template"]["protocols"]["cross-record"]
    say(f"  ECG-ID cross-record: NN {cr['nn_top1']:.3f}, linear {cr['linear_top1']:.3f} per window; "
        f"record NN {cr['record_nn_top1']:.3f}, linear {cr['record_linear_top1']:.3f}; median-beat template "
        f"{tp['record_nn_top1']:.3f} per record ({cr['n_persons']} persons)")
    if "shifted" in res:
        sc = res["shifted"]["protocols"]["cross-record"]
        say(f"  ECG-ID cross-record, crops every {shift_ms:g} ms: record NN {sc['record_nn_top1']:.3f}, "
            f"linear {sc['record_linear_top1']:.3f} ({res['shifted']['n_crops']} crops, "
            f"{res['shifted']['seconds']:.0f} s)")
    return res


def _ptbdb_section(enc: Encoder, stores: _Stores, seed: int, n_boot: int) -> dict[str, Any]:
    try:
        store = stores.get("ptbdb", enc.fs)
    except DataNotFoundError as exc:
        return {"status": "skipped", "reason": str(exc)}
    try:
        emb = embed_store(enc, store)
    except InputError as exc:
        return {"status": "skipped", "reason": str(exc)}
    return ptbdb_mi(emb, store.meta, _probe_views(enc, store), seed=seed, n_boot=n_boot)


def _headline(res: dict[str, Any]) -> dict[str, Any]:
    """The few numbers quoted everywhere (None when a section did not apply)."""
    probes = res.get("probes", {}).get("views", {})
    agr = res.get("agreement", {})
    rec = res.get("reconstruction", {})
    ecgid = res.get("ecgid", {})
    ecg = ecgid.get("protocols", {}).get("cross-record", {})
    tmpl = ecgid.get("template", {}).get("protocols", {}).get("cross-record", {})
    shifted = ecgid.get("shifted", {}).get("protocols", {}).get("cross-record", {})
    return {
        "lead_I_probe_macro_auroc": probes.get("I", {}).get("macro_auroc"),
        "lead_I_probe_macro_auroc_ci": probes.get("I", {}).get("macro_ci"),
        "twelve_lead_probe_macro_auroc": probes.get(TWELVE_LEAD, {}).get("macro_auroc"),
        "twelve_lead_probe_macro_auroc_ci": probes.get(TWELVE_LEAD, {}).get("macro_ci"),
        "lead_I_mi_auroc": res.get("mi_ptbxl", {}).get("I", {}).get("auroc"),
        "ecgid_cross_record_nn_top1": ecg.get("nn_top1"),
        "ecgid_cross_record_linear_top1": ecg.get("linear_top1"),
        "ecgid_cross_record_record_nn_top1": ecg.get("record_nn_top1"),
        "ecgid_cross_record_record_linear_top1": ecg.get("record_linear_top1"),
        "ecgid_cross_record_shifted_record_nn_top1": shifted.get("record_nn_top1"),
        "ecgid_cross_record_shifted_record_linear_top1": shifted.get("record_linear_top1"),
        "ecgid_template_cross_record_top1": tmpl.get("record_nn_top1"),
        "ecgid_template_cross_record_window_top1": tmpl.get("nn_top1"),
        "ecgid_cross_record_persons": ecg.get("n_persons"),
        "agreement_gap": agr.get("cosine", {}).get("mean_gap"),
        "agreement_centered_gap": agr.get("centered", {}).get("mean_gap"),
        "agreement_retrieval": agr.get("cosine", {}).get("mean_retrieval"),
        "lead_I_to_12_mean_r": rec.get("mean_r_other", {}).get("I"),
        "lead_I_to_12_mean_rmse_mv": rec.get("mean_rmse_other", {}).get("I"),
        "lead_I_to_12_zero_rmse_mv": rec.get("mean_zero_rmse_other", {}).get("I"),
    }


#: Largest peak-to-peak amplitude (mV, any lead) of the test window drawn in the report: keeps
#: windows with electrode artefacts (which would make every row of the plot very tall) out.
EXAMPLE_MAX_PTP_MV = 4.0


def _example_figure(rec: dict[str, Any], path: Path, fs: float) -> Path | None:
    """Plot a typical test window (median mean r, lead I → 12, among windows whose true leads all
    stay within :data:`EXAMPLE_MAX_PTP_MV`) under its truth."""
    from leadlift.evaluation.metrics import pearson_per_window
    from leadlift.plotting import plot_ecg

    win = rec.get("_windows")
    if not win:
        return None
    pred, true = win["pred_mv"], win["true_mv"]
    others = [i for i, ld in enumerate(STANDARD_LEADS) if ld != "I"]
    r = np.nanmean(pearson_per_window(true[:, others], pred[:, others]), axis=1)
    calm = np.ptp(true, axis=2).max(axis=1) <= EXAMPLE_MAX_PTP_MV
    ok = np.flatnonzero(np.isfinite(r) & calm)
    if len(ok) == 0:
        ok = np.flatnonzero(np.isfinite(r))
    if len(ok) == 0:
        return None
    k = int(ok[np.argsort(r[ok])[len(ok) // 2]])
    recon = ECG(pred[k].astype(np.float64), fs, STANDARD_LEADS, check_units=False)
    truth = ECG(true[k].astype(np.float64), fs, STANDARD_LEADS, check_units=False)
    plot_ecg(recon, path, title=f"from lead I (mean r {r[k]:.2f})", reference=truth, label="from lead I",
             reference_label="true", dpi=120)
    return path


def _figures(results: dict[str, Any], raw: dict[str, dict[str, Any]], out: Path, fs: float) -> dict[str, Path]:
    figs: dict[str, Path] = {}
    labels = {role: m["label"] for role, m in results["models"].items()}
    agr = {labels[r]: raw[r]["agreement"] for r in raw if "cosine" in raw[r].get("agreement", {})}
    if agr:
        leads = next(iter(agr.values()))["leads"]
        gaps = {k: np.asarray(v["cosine"]["gap"]) for k, v in agr.items()}
        lo = min(0.0, float(min(np.nanmin(g) for g in gaps.values())))
        figs["agreement_gap"] = figures.heatmaps(gaps, leads, leads, out / "agreement_gap.png",
                                                 "cosine(same ECG) − cosine(different ECGs)", lo,
                                                 max(0.05, float(max(np.nanmax(g) for g in gaps.values()))),
                                                 xlabel="lead k", ylabel="lead j")
        figs["agreement_retrieval"] = figures.heatmaps(
            {k: np.asarray(v["cosine"]["retrieval"]) for k, v in agr.items()}, leads, leads,
            out / "agreement_retrieval.png", "retrieval top-1: lead j finds the same ECG's lead k", 0.0, 1.0,
            xlabel="gallery lead k", ylabel="query lead j")
        figs["agreement_hist"] = figures.cosine_histograms({k: v["hist"] for k, v in agr.items() if "hist" in v},
                                                           out / "agreement_cosine_hist.png")
    probes = {labels[r]: raw[r]["probes"]["views"] for r in raw if "probes" in raw[r]}
    if probes:
        views = list(dict.fromkeys(v for p in probes.values() for v in p))
        figs["probe_bars"] = figures.probe_bars(probes, views, out / "probe_macro_auroc.png")
        roc_views = [v for v in (TWELVE_LEAD, "I") if any(v in p for p in probes.values())]
        figs["roc"] = figures.roc_grid(probes, roc_views, out / "probe_roc.png")
    with_rec = [r for r in raw if "r" in raw[r].get("reconstruction", {})]
    recs = {labels[r]: np.asarray(raw[r]["reconstruction"]["r"]) for r in with_rec}
    if recs:
        rec0 = raw[with_rec[0]]["reconstruction"]
        figs["recon_r"] = figures.heatmaps(recs, rec0["inputs"], rec0["leads"], out / "reconstruction_r.png",
                                           "Pearson r, single input lead → target lead (PTB-XL test fold)", 0.0, 1.0,
                                           xlabel="target lead", ylabel="input lead")
        main = raw[next(iter(raw))].get("reconstruction", {})
        ex = _example_figure(main, out / "reconstruction_from_lead_I.png", fs)
        if ex is not None:
            figs["recon_example"] = ex
    return figs


def benchmark_block(folder: str | Path) -> dict[str, Any]:
    """Report block of a reconstruction benchmark folder (``results.md`` + ``*.png``), or why not."""
    folder = Path(folder)
    md = folder / "results.md"
    if not md.exists():
        return {"status": "missing", "reason": f"no results.md in {folder}"}
    overlays = sorted(folder.glob("figures/*.png"), key=lambda p: ("test" not in p.name, p.name))[:1]
    figs = sorted(folder.glob("*.png")) + overlays  # per-lead bar charts + one test overlay
    return {"status": "ok", "dir": str(folder), "markdown": md.read_text(encoding="utf-8"),
            "figures": [str(p) for p in figs]}


def evaluate(
    checkpoint: str | Path,
    data_dir: str | Path,
    out: str | Path,
    baseline: str | Path | None = None,
    store_dir: str | Path | None = None,
    sections: Sequence[str] = SECTIONS,
    seed: int = 0,
    n_boot: int = 1000,
    cs: Sequence[float] = DEFAULT_CS,
    recon_inputs: Sequence[str] = STANDARD_LEADS,
    benchmark: dict[str, Any] | None = None,
    threads: int | None = 1,
    say: Callable[[str], None] | None = None,
    ecgid_shift_ms: float | None = ECGID_SHIFT_MS,
    ecgid_shift_span_s: float = ECGID_SHIFT_SPAN_S,
) -> dict[str, Any]:
    """Run the evaluations of ``sections`` and write results.json, report.html and the PNGs.

    Args:
        checkpoint: checkpoint folder written by ``leadlift pretrain``.
        data_dir: data directory (PTB-XL required; ECG-ID and PTB Diagnostic used when present).
        out: output folder.
        baseline: optional second checkpoint (e.g. the no-alignment bank) shown beside it.
        store_dir: prepared-store folder (default ``DATA_DIR/leadlift-prepared``).
        sections: subset of :data:`SECTIONS`.
        seed: seed of the random-init encoder, the bootstrap and the splits drawn at random.
        n_boot: bootstrap resamples for the 95 % intervals.
        cs: inverse regularisation strengths tried by the probes.
        recon_inputs: single input leads of the reconstruction table (rows; default all 12).
        benchmark: reconstruction-benchmark block for the report (see :func:`render_report`).
        threads: torch and BLAS threads during the evaluation (restored afterwards); None =
            the libraries' defaults. The problems here are small: with 1 thread (default) they
            run about as fast as with more on an idle machine, and many times faster on a busy
            one (multi-threaded BLAS on small matrices stalls when cores are shared).
        say: status callback (one line per step).
        ecgid_shift_ms: ECG-ID also on window embeddings averaged over crops shifted by this many
            milliseconds (results ``ecgid.<role>.shifted``); None skips it.
        ecgid_shift_span_s: total span of those shifts in seconds (−span/2 … +span/2 around each
            window, inside the record).

    Returns:
        The results dict written to ``results.json`` (``models``, ``sections``, ``headline``).
    """
    say = say or (lambda _m: None)
    unknown = set(sections) - set(SECTIONS)
    if unknown:
        raise InputError(f"unknown section(s) {', '.join(sorted(unknown))}; choose from {', '.join(SECTIONS)}")
    if threads is not None and threads < 1:
        raise InputError(f"threads={threads}; pass a positive number of threads (or None for torch's default)")
    if threads is None:
        return _evaluate(checkpoint, data_dir, out, baseline, store_dir, sections, seed, n_boot, cs, recon_inputs,
                         benchmark, say, ecgid_shift=(ecgid_shift_ms, ecgid_shift_span_s))
    from threadpoolctl import threadpool_limits

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        with threadpool_limits(limits=threads):
            return _evaluate(checkpoint, data_dir, out, baseline, store_dir, sections, seed, n_boot, cs,
                             recon_inputs, benchmark, say, ecgid_shift=(ecgid_shift_ms, ecgid_shift_span_s))
    finally:
        torch.set_num_threads(before)


def _evaluate(checkpoint: str | Path, data_dir: str | Path, out: str | Path, baseline: str | Path | None,
              store_dir: str | Path | None, sections: Sequence[str], seed: int, n_boot: int, cs: Sequence[float],
              recon_inputs: Sequence[str], benchmark: dict[str, Any] | None,
              say: Callable[[str], None],
              ecgid_shift: tuple[float | None, float] = (ECGID_SHIFT_MS, ECGID_SHIFT_SPAN_S)) -> dict[str, Any]:
    t_start = time.perf_counter()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    data_dir = Path(data_dir)
    main = load_encoder(checkpoint)
    encoders: dict[str, Encoder] = {"checkpoint": main}
    if baseline is not None:
        encoders["baseline"] = load_encoder(baseline)
        if encoders["baseline"].name == main.name:
            encoders["baseline"].name = f"{main.name} (baseline)"
    encoders["random"] = random_encoder(main.config, seed=seed, name="random init")
    describe = {
        "checkpoint": "the evaluated checkpoint",
        "baseline": "baseline checkpoint (e.g. the same bank trained without alignment)",
        "random": f"same architecture as the checkpoint, random weights (seed {seed}), never trained",
    }
    stores = _Stores(data_dir, Path(store_dir) if store_dir else None, say)
    results: dict[str, Any] = {
        "checkpoint": str(checkpoint),
        "created": time.strftime("%Y-%m-%d %H:%M:%S"),
        "leadlift_version": leadlift.__version__,
        "seed": seed,
        "models": {role: {"label": e.name, "source": e.source, "description": describe[role],
                          "class": type(e.model).__name__, "fs": e.fs, "window_samples": e.n_times,
                          "alignment": e.config.training.get("loss", {}).get("alignment")}
                   for role, e in encoders.items()},
        "sections": {s: {} for s in SECTIONS if s in sections},
        "timings_s": {},
    }
    raw: dict[str, dict[str, Any]] = {}
    for role, enc in encoders.items():
        t0 = time.perf_counter()
        say(f"evaluating {enc.name} ({role})")
        ptbxl = stores.get("ptbxl", enc.fs)
        r = _ptbxl_sections(enc, ptbxl, sections, n_boot, seed, say, cs, recon_inputs)
        if "mi" in sections:
            say("  PTB Diagnostic MI vs healthy")
            r["ptbdb"] = _ptbdb_section(enc, stores, seed, n_boot)
        if "ecgid" in sections:
            say("  ECG-ID identification")
            r["ecgid"] = _ecgid_section(enc, stores, seed, say, shift_ms=ecgid_shift[0], shift_span_s=ecgid_shift[1])
        raw[role] = r
        for s in ("agreement", "probes", "reconstruction", "ecgid"):
            if s in r and s in results["sections"]:
                results["sections"][s][role] = r[s]
        if "mi" in results["sections"]:
            results["sections"]["mi"].setdefault("ptbxl", {})[role] = r.get("mi_ptbxl", {})
            results["sections"]["mi"].setdefault("ptbdb", {})[role] = r.get("ptbdb", {})
        results["timings_s"][role] = round(time.perf_counter() - t0, 1)
        say(f"  {enc.name} done in {results['timings_s'][role]:.0f} s")
    results["headline"] = {role: _headline(r) for role, r in raw.items()}
    ptbxl = stores.get("ptbxl", main.fs)
    summary = {"PTB-XL": f"{len(ptbxl)} records at {ptbxl.fs:g} Hz, strat_fold 1–8 train / 9 val / 10 test "
                         f"({int((ptbxl.meta['strat_fold'] == 10).sum())} test records)"}
    for name, ds in (("ECG-ID", "ecgid"), ("PTB Diagnostic", "ptbdb")):
        try:
            st = stores.get(ds, main.fs)
            summary[name] = (f"{len(st)} record(s) of {st.meta['patient_id'].nunique()} person(s) at {st.fs:g} Hz "
                             f"({len(st.leads)} lead{'s' if len(st.leads) > 1 else ''})")
        except DataNotFoundError as exc:
            summary[name] = f"absent ({exc})"
    results["data"] = {"dir": str(data_dir), "summary": summary}
    say("drawing figures and writing the report")
    figs = _figures(results, raw, out, main.fs)
    results["figures"] = {k: p.name for k, p in figs.items()}
    results["seconds"] = round(time.perf_counter() - t_start, 1)
    clean = to_jsonable(results)
    (out / "results.json").write_text(json.dumps(clean, indent=1))
    render_report(clean, figs, out / "report.html", benchmark=benchmark)
    say(f"wrote {out / 'results.json'} and {out / 'report.html'} in {results['seconds']:.0f} s")
    return clean
