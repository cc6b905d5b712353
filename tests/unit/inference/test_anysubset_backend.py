"""The any-subset reconstructor through the one inference path, on a real PTB-XL fold-10 record:
marks and calibrated spread per input subset (API and CLI, every output format, the plot), the
quality floor (``LowQualityWarning`` + ``labels["quality_warning"]`` in every file) and the model
``--model auto`` chooses."""

from __future__ import annotations

import json
import logging
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import leadlift
import leadlift.plotting
from helpers import error_line, one_line, run_cli
from leadlift.api import LeadLift
from leadlift.ecg import DERIVED_LIMB_LEADS, ECG, PRECORDIAL_LEADS, STANDARD_LEADS
from leadlift.errors import InputError, LowQualityWarning
from leadlift.inference import hub
from leadlift.inference.checkpoint import read_config
from leadlift.inference.hub import DEFAULT_MODEL, DEFAULT_RECONSTRUCTOR, bundled_weights_dir, recommended_model
from leadlift.inference.quality import quality_warning
from leadlift.io import read_ecg
from leadlift.io.writers import sidecar_path
from leadlift.plotting import lead_labels

SPD = {"I,II": (["I", "II"], list(DERIVED_LIMB_LEADS), list(PRECORDIAL_LEADS)),
       "V2": (["V2"], [], [n for n in STANDARD_LEADS if n != "V2"]),
       "III": (["III"], [], [n for n in STANDARD_LEADS if n != "III"])}
"""Input subset -> (measured, derived_exactly, synthesized)."""


@pytest.fixture(scope="module")
def record_hea(data_dir: Path) -> Path:
    """PTB-XL ecg_id 9 (strat_fold 10, the test fold) at 500 Hz: 12 leads, 10 s."""
    return data_dir / "ptb-xl" / "records500" / "00000" / "00009_hr.hea"


@pytest.fixture(scope="module")
def record(record_hea: Path) -> ECG:
    return read_ecg(record_hea)


@pytest.fixture(scope="module")
def lift(tiny_anysubset_checkpoint: Path) -> LeadLift:
    return LeadLift.from_pretrained(tiny_anysubset_checkpoint)


def _no_quality_warning(fn: Any, *args: Any, **kwargs: Any) -> Any:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = fn(*args, **kwargs)
    assert not [w for w in caught if issubclass(w.category, LowQualityWarning)]
    return result


def _check_marked(rec: ECG, record: ECG, key: str, model: str) -> None:
    measured, exact, synthesized = SPD[key]
    assert rec.leads == STANDARD_LEADS and rec.fs == record.fs and rec.n_samples == record.n_samples
    assert rec.labels["measured"] == measured and rec.labels["derived_exactly"] == exact
    assert rec.labels["synthesized"] == synthesized and rec.labels["model"] == model
    assert rec.labels["interval"]["level"] == pytest.approx(0.9)
    assert rec.labels["interval"]["z"] == pytest.approx(1.6449, abs=1e-3)
    assert "quality_warning" not in rec.labels
    assert rec.spread is not None and rec.spread.shape == rec.signal.shape
    for k, name in enumerate(STANDARD_LEADS):
        if name in measured or name in exact:
            assert not rec.spread[k].any(), name
        else:
            assert rec.spread[k].mean() > 0 and (rec.spread[k] > 0).mean() > 0.99, name


@pytest.mark.parametrize("key", list(SPD))
def test_reconstruct_real_record_from_a_subset(lift: LeadLift, record: ECG, key: str) -> None:
    rec = _no_quality_warning(lift.reconstruct, record, leads=key)
    _check_marked(rec, record, key, lift.name)
    assert rec.labels["reconstructed_from"] == SPD[key][0]
    assert rec.labels["model_version"] == leadlift.__version__
    for name in SPD[key][0]:  # measured leads exactly as they came
        np.testing.assert_array_equal(rec[name], record[name])
    np.testing.assert_allclose(rec["aVF"], rec["II"] - rec["I"] / 2, atol=1e-5)  # Goldberger from the output's I, II
    np.testing.assert_allclose(rec["aVR"], -(rec["I"] + rec["II"]) / 2, atol=1e-5)
    np.testing.assert_allclose(rec["III"], rec["II"] - rec["I"], atol=1e-5)
    low, high = rec.interval()
    assert (high >= low).all() and np.array_equal(low[rec.leads.index(SPD[key][0][0])], rec[SPD[key][0][0]])


def test_einthoven_with_only_one_measured_limb_lead(lift: LeadLift, record: ECG) -> None:
    """I is derived from the measured III as recorded and the predicted II (not from the model's
    band-passed copy of III), so the output obeys Einthoven exactly."""
    rec = _no_quality_warning(lift.reconstruct, record, leads="III")
    np.testing.assert_allclose(rec["III"], rec["II"] - rec["I"], atol=1e-4)
    assert "I" in rec.labels["synthesized"] and rec.spread[rec.leads.index("I")].max() > 0


def test_two_measured_limb_leads_give_every_limb_lead_exactly(lift: LeadLift, record: ECG) -> None:
    """III and aVF fix the limb plane: I, II, aVR, aVL are derived exactly from them as recorded
    (spread 0, marked derived_exactly), never predicted."""
    rec = _no_quality_warning(lift.reconstruct, record, leads="III,aVF")
    for name in ("I", "II", "aVR", "aVL"):
        np.testing.assert_allclose(rec[name], record[name], atol=5e-3)  # PTB-XL stores leads to 1 µV
        assert rec.spread[rec.leads.index(name)].max() == 0
    assert set(rec.labels["derived_exactly"]) == {"I", "II", "aVR", "aVL"}
    assert not {"I", "II", "aVR", "aVL"} & set(rec.labels["synthesized"])


def test_all_twelve_leads_in_is_one_line_error(lift: LeadLift, record: ECG) -> None:
    with pytest.raises(InputError, match="already has all 12 leads") as exc:
        lift.reconstruct(record)
    one_line(exc)


@pytest.mark.parametrize("name", ["out.csv", "out.npz", "out.edf", "out"])
def test_cli_writes_marks_and_spread_in_every_format(tiny_anysubset_checkpoint: Path, record_hea: Path,
                                                     record: ECG, lift: LeadLift, tmp_path: Path, capsys,
                                                     name: str) -> None:
    target = tmp_path / name
    code, out, err = run_cli(["reconstruct", str(record_hea), "--leads", "I,II", "--model",
                              str(tiny_anysubset_checkpoint), "-o", str(target)], capsys)
    assert code == 0, err
    assert "warning" not in err and "wrote" in out
    back = read_ecg(tmp_path / "out.hea" if name == "out" else target)
    _check_marked(back, record, "I,II", str(tiny_anysubset_checkpoint))
    want = lift.reconstruct(record, leads="I,II")
    assert want.spread is not None and back.spread is not None
    tol = {"out.csv": 2e-6, "out.npz": 0.0}.get(name, float(want.spread.max()) / 65535 * 1.01)  # 16-bit formats
    np.testing.assert_allclose(back.spread, want.spread, atol=tol + 1e-7, rtol=0)


def test_cli_plot_marks_synthesized_leads(tiny_anysubset_checkpoint: Path, record_hea: Path, tmp_path: Path,
                                          capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    figures = []
    plot = leadlift.plotting.plot_ecg

    def keep(*args: Any, **kwargs: Any) -> Any:
        figures.append(plot(*args, **kwargs))
        return figures[-1]

    monkeypatch.setattr(leadlift.plotting, "plot_ecg", keep)
    png = tmp_path / "out.png"
    code, _, err = run_cli(["reconstruct", str(record_hea), "--leads", "V2", "--model", str(tiny_anysubset_checkpoint),
                            "-o", str(tmp_path / "out.npz"), "--plot", str(png)], capsys)
    assert code == 0, err
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000
    assert lead_labels(figures[0]) == [n if n == "V2" else f"{n}*" for n in STANDARD_LEADS]


# ------------------------------------------------------------------------------------- the quality floor
def _with_evaluation(cfg: Any, key: str, r: float, var_ratio: float) -> Any:
    """``cfg`` with an evaluation entry for input set ``key`` whose every lead scores ``r`` / ``var_ratio``."""
    template = read_config(bundled_weights_dir() / "mae-cpu").evaluation
    assert template is not None
    table = {n: {"rmse": 0.1, "pearson_r": r, "r2": 0.0, "bias": 0.0, "var_ratio": var_ratio, "n_windows": 9}
             for n in STANDARD_LEADS}
    ev = template.model_copy(update={"inputs": {key: {"inputs": key.split(","), "mV": table}}})
    return cfg.model_copy(update={"evaluation": ev})


def test_quality_warning_rules(tiny_anysubset_checkpoint: Path) -> None:
    mae = read_config(bundled_weights_dir() / "mae-cpu")
    assert quality_warning(mae, ("I",), "mae-cpu") is None  # measured: mean r 0.67, variance ratio 1.07
    assert quality_warning(mae, ("V2", "II", "I"), "mae-cpu") is None  # measured as I,II,V2 (any order)
    never = quality_warning(mae, ("V2",), "mae-cpu")
    assert never is not None and "\n" not in never and never.isascii()
    assert "mae-cpu" in never and "never measured" in never and "from V2" in never and "use recon-any" in never
    low_r = quality_warning(_with_evaluation(mae, "V2", 0.31, 0.9), ("V2",), "mae-cpu")
    assert low_r is not None and "r 0.31" in low_r and "variance ratio 0.90" in low_r and "use recon-any" in low_r
    low_var = quality_warning(_with_evaluation(mae, "V2", 0.8, 0.42), ("V2",), "mae-cpu")
    assert low_var is not None and "variance ratio 0.42" in low_var
    assert quality_warning(_with_evaluation(mae, "V2", 0.5, 0.5), ("V2",), "mae-cpu") is None  # at the floor: fine
    assert quality_warning(mae, STANDARD_LEADS, "mae-cpu") is None  # nothing reconstructed
    anysub = read_config(tiny_anysubset_checkpoint)
    assert quality_warning(anysub, ("V6",), "any") is None  # any-subset, not measured: its spread speaks
    poor = quality_warning(_with_evaluation(anysub, "V6", 0.2, 0.3), ("V6",), "any")
    assert poor is not None and "record more leads" in poor and "use recon-any" not in poor


def test_bundled_mae_on_an_unmeasured_subset_warns_and_labels(record: ECG, tmp_path: Path) -> None:
    mae = LeadLift.from_pretrained("mae-cpu")
    with pytest.warns(LowQualityWarning, match="never measured reconstructing from V2") as caught:
        recs = mae.reconstruct_batch([record, record], leads="V2")
    assert len([w for w in caught if issubclass(w.category, LowQualityWarning)]) == 1  # once per message
    assert caught[0].filename == __file__  # points at the caller
    message = str(caught[0].message)
    assert all(r.labels["quality_warning"] == message for r in recs)
    assert isinstance(caught[0].message, leadlift.LowQualityWarning)
    for name in ("q.csv", "q.npz"):  # what the files say
        from leadlift.io import write_ecg

        write_ecg(recs[0], tmp_path / name)
        assert read_ecg(tmp_path / name).labels["quality_warning"] == message
    _no_quality_warning(mae.reconstruct, record, leads="I")  # measured above the floor


def test_cli_prints_one_warning_line_and_still_writes(record_hea: Path, tmp_path: Path, capsys) -> None:
    target = tmp_path / "v2.csv"
    code, out, err = run_cli(["reconstruct", str(record_hea), "--leads", "V2", "--model", "mae-cpu",
                              "-o", str(target)], capsys)
    assert code == 0, err
    lines = [" ".join(ln.split()) for ln in err.splitlines() if ln.strip()]
    warned = [ln for ln in lines if ln.startswith("warning:")]
    assert len(warned) == 1 and "mae-cpu" in warned[0] and "V2" in warned[0] and "use recon-any" in warned[0]
    assert f"wrote {target}" in out
    side = json.loads(sidecar_path(target).read_text())
    assert side["quality_warning"] == warned[0].removeprefix("warning: ")


def test_fixed_input_reconstructor_refuses_other_leads(record: ECG, record_hea: Path, tmp_path: Path,
                                                       capsys) -> None:
    with pytest.raises(InputError, match="reconstructs from I,II,V2 only") as exc:
        LeadLift.from_pretrained("recon-i-ii-v2").reconstruct(record, leads="V2")
    one_line(exc)
    code, _, err = run_cli(["reconstruct", str(record_hea), "--leads", "I", "--model", "recon-i-ii-v2",
                            "-o", str(tmp_path / "x.csv")], capsys)
    assert code == 2
    error_line(err, "reconstructs from I,II,V2 only")
    assert not (tmp_path / "x.csv").exists()


# ------------------------------------------------------------------------------------- --model auto
def test_recommended_model_prefers_the_any_subset_reconstructor(monkeypatch: pytest.MonkeyPatch,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(logging.getLogger("leadlift"), "propagate", True)  # the CLI turns it off
    every = [DEFAULT_MODEL, DEFAULT_RECONSTRUCTOR, "recon-i", "recon-i-ii-v2"]
    monkeypatch.setattr(hub, "available_models", lambda: every)
    with caplog.at_level(logging.WARNING, logger="leadlift"):
        for leads in (("I",), ("I", "II", "V2"), ("V2",), ("III",), STANDARD_LEADS[:11]):
            assert recommended_model(leads) == DEFAULT_RECONSTRUCTOR, leads
        assert not caplog.records
        assert recommended_model(STANDARD_LEADS) == DEFAULT_MODEL  # nothing to reconstruct: not recon-any
    caplog.clear()
    monkeypatch.setattr(hub, "available_models", lambda: [DEFAULT_MODEL, "recon-i", "recon-i-ii-v2"])
    with caplog.at_level(logging.WARNING, logger="leadlift"):
        assert recommended_model(("I",)) == "recon-i"
        assert recommended_model(("V2", "I", "II")) == "recon-i-ii-v2"
        assert not caplog.records
        assert recommended_model(("V2",)) == DEFAULT_MODEL
    # one warning (a handler another test left on the leadlift logger may capture it twice)
    assert {(r.levelno, r.getMessage()) for r in caplog.records} == {(logging.WARNING, caplog.records[0].getMessage())}
    assert "falling back to mae-cpu" in caplog.text and "recon-any" in caplog.text


def test_cli_auto_fallback_is_loud(record_hea: Path, tmp_path: Path, capsys,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hub, "available_models", lambda: [DEFAULT_MODEL, "recon-i", "recon-i-ii-v2"])
    code, out, err = run_cli(["reconstruct", str(record_hea), "--leads", "V2", "-o", str(tmp_path / "a.npz")], capsys)
    assert code == 0, err
    assert "model: mae-cpu" in out
    warned = [" ".join(ln.split()) for ln in err.splitlines() if ln.startswith("warning:")]
    assert len(warned) == 2 and "falling back to mae-cpu" in warned[0] and "never measured" in warned[1]
    code, out, err = run_cli(["reconstruct", "--help"], capsys)
    assert "recon-any" in " ".join(out.split())


def test_onnx_export_of_the_any_subset_model_is_refused_in_one_line(tiny_anysubset_checkpoint: Path,
                                                                    tmp_path: Path) -> None:
    from leadlift.inference.export import export_onnx

    with pytest.raises(InputError, match="not supported yet") as exc:
        export_onnx(tiny_anysubset_checkpoint, tmp_path / "m.onnx", leads="I,II", fs_in=100.0, duration_s=10.0)
    one_line(exc)
    assert not (tmp_path / "m.onnx").exists()
