"""Brugada-HUCA reader and the CinC 2021 sub-database option, on the real data directory."""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import wfdb

from leadlift.data.readers import (
    READERS,
    BrugadaHUCAReader,
    CinC2021Reader,
    brugada_binary,
    canonical_name,
    get_reader,
    reader_option_names,
)
from leadlift.data.store import open_store, prepare
from leadlift.ecg import STANDARD_LEADS
from leadlift.errors import DataNotFoundError, InputError


@pytest.fixture(scope="module")
def brugada(data_dir: Path) -> BrugadaHUCAReader:
    return BrugadaHUCAReader(data_dir)


def _listed(data_dir: Path) -> pd.DataFrame:
    return pd.read_csv(data_dir / "brugada-huca" / "metadata.csv", dtype={"patient_id": str})


def test_brugada_lists_present_patients(brugada, data_dir) -> None:
    listed = _listed(data_dir)
    root = data_dir / "brugada-huca" / "files"
    present = [p for p in listed["patient_id"]
               if (root / p / f"{p}.hea").exists() and (root / p / f"{p}.dat").exists()]
    assert len(listed) == 363
    meta = brugada.metadata()
    assert list(meta["patient_id"]) == present and len(present) > 300
    assert (meta["record_id"] == meta["patient_id"]).all() and meta["record_id"].is_unique
    assert (meta["fs"] == 100).all() and (meta["n_samples"] == 1200).all()
    assert all((brugada.root / f"{p}.hea").exists() for p in meta["path"])
    assert "brugada" in READERS and canonical_name("Brugada-HUCA") == canonical_name("brugada_huca") == "brugada"
    assert isinstance(get_reader("brugada-huca", data_dir), BrugadaHUCAReader)


def test_brugada_record_is_12_leads_in_mv(brugada) -> None:
    meta = brugada.metadata()
    ecg = brugada.read(str(meta["record_id"].iloc[0]))
    assert ecg.leads == STANDARD_LEADS and ecg.fs == 100 and ecg.n_samples == 1200
    assert ecg.signal.shape == (12, 1200) and ecg.signal.dtype == np.float32
    assert ecg.patient_id == meta["patient_id"].iloc[0]
    amp = np.abs(ecg.signal).max(axis=1)
    assert (amp < 10).all() and (amp > 0.05).all()  # mV, not µV or V
    raw, fields = wfdb.rdsamp(str(brugada.root / meta["path"].iloc[0]))
    assert fields["units"] == ["mV"] * 12
    np.testing.assert_allclose(ecg.signal, raw.T.astype(np.float32), atol=1e-6)


def test_brugada_labels_match_metadata_csv(brugada, data_dir) -> None:
    listed = _listed(data_dir).set_index("patient_id")
    meta = brugada.metadata().set_index("patient_id")
    for col in ("brugada", "basal_pattern", "sudden_death"):
        np.testing.assert_array_equal(meta[col].to_numpy(), listed.loc[meta.index, col].to_numpy())
    code = meta["brugada"]
    target = meta["brugada_syndrome"]
    assert (target[code == 1] == 1).all() and (target[code == 0] == 0).all()
    assert target[code == 2].isna().all() and (code == 2).sum() > 0 and (code == 1).sum() > 0
    pd.testing.assert_series_equal(brugada_binary(meta), target)
    ecg = brugada.read(str(meta.index[int(np.flatnonzero(code == 2)[0])]))
    assert ecg.labels["brugada"] == 2 and np.isnan(ecg.labels["brugada_syndrome"])


def test_brugada_duplicate_pairs_share_a_group(brugada, data_dir) -> None:
    pairs = pd.read_csv(data_dir / "brugada-huca" / "duplicate_signal_pairs.csv", dtype=str)
    assert len(pairs) == 4
    meta = brugada.metadata().set_index("patient_id")
    for a, b in zip(pairs["patient_id_a"], pairs["patient_id_b"], strict=True):
        assert meta.loc[a, "group"] == meta.loc[b, "group"]
        assert meta.loc[a, "duplicate_of"] == b and meta.loc[b, "duplicate_of"] == a
        np.testing.assert_array_equal(brugada.read(a).signal, brugada.read(b).signal)
    dup = set(pairs["patient_id_a"]) | set(pairs["patient_id_b"])
    alone = meta.drop(index=list(dup))
    assert (alone["group"] == alone.index).all() and (alone["duplicate_of"] == "").all()
    assert meta["group"].nunique() == len(meta) - len(pairs)


def _partial_copy(data_dir: Path, tmp_path: Path, ids: list[str], listed_extra: list[str]) -> Path:
    """A partial Brugada-HUCA copy: symlinked signals of ``ids``; ``listed_extra`` listed only."""
    src = data_dir / "brugada-huca"
    dst = tmp_path / "data" / "brugada-huca"
    for pid in ids:
        (dst / "files" / pid).mkdir(parents=True)
        for f in (src / "files" / pid).iterdir():
            os.symlink(f, dst / "files" / pid / f.name)
    listed = _listed(data_dir).set_index("patient_id").loc[ids + listed_extra].reset_index()
    listed.to_csv(dst / "metadata.csv", index=False)
    return dst.parent


def test_brugada_partial_copy_warns_once_and_finds_duplicates_itself(data_dir, tmp_path, caplog) -> None:
    # 1220716 and 972330 carry identical signals; no duplicate_signal_pairs.csv in this copy
    ids = ["188981", "1220716", "972330"]
    copy = _partial_copy(data_dir, tmp_path, ids, listed_extra=["251972", "265715"])
    logger = logging.getLogger("leadlift")
    isolated = not logger.propagate
    if isolated:
        logger.addHandler(caplog.handler)
    try:
        with caplog.at_level(logging.WARNING, logger="leadlift.data.readers"):
            meta = BrugadaHUCAReader(copy).metadata()
    finally:
        if isolated:
            logger.removeHandler(caplog.handler)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "2 of 5" in warnings[0].getMessage()
    assert list(meta["patient_id"]) == ids
    groups = dict(zip(meta["patient_id"], meta["group"], strict=True))
    assert groups["1220716"] == groups["972330"] == "972330" and groups["188981"] == "188981"


def test_brugada_prepare_store(data_dir, tmp_path, brugada) -> None:
    store = prepare("brugada", 100, data_dir, store_dir=tmp_path, progress=False)
    assert store.path.name == "brugada-100hz" and store.dataset == "brugada"
    assert store.signals.shape == (len(brugada), 12, 1200) and store.leads == STANDARD_LEADS
    assert (store.meta["n_valid"] == 1200).all()
    for col in ("group", "brugada", "brugada_syndrome", "basal_pattern", "sudden_death"):
        assert col in store.meta.columns
    np.testing.assert_array_equal(store.signals[5], brugada.read(5).signal)
    assert open_store("brugada-huca", 100, data_dir, store_dir=tmp_path).path == store.path


def test_unknown_reader_option_is_a_one_line_error(data_dir, tmp_path) -> None:
    with pytest.raises(InputError, match="no option subset") as info:
        get_reader("brugada", data_dir, subset="ptb")
    assert "\n" not in str(info.value) and "takes no options" in str(info.value)
    with pytest.raises(InputError, match="options are subset"):
        prepare("cinc2021", 100, data_dir, store_dir=tmp_path, reader_options={"subst": "ptb"}, progress=False)
    assert reader_option_names("cinc2021") == ("subset",)
    assert reader_option_names("ptbxl") == ("fs", "min_likelihood")


def test_cinc2021_ptb_subset(data_dir) -> None:
    root = data_dir / "challenge-2021"
    expected = sorted(f"ptb/{p.stem}" for p in (root / "ptb").glob("S*.hea") if p.with_suffix(".mat").exists())
    assert len(expected) == 10
    reader = get_reader("cinc2021", data_dir, subset="ptb")
    meta = reader.metadata()
    assert list(meta["record_id"]) == expected and (meta["source"] == "ptb").all()
    assert (meta["fs"] == 1000).all()
    for i in (0, len(meta) - 1):
        ecg = reader.read(i)
        assert ecg.leads == STANDARD_LEADS and ecg.fs == 1000 and ecg.n_samples == meta["n_samples"].iloc[i]
        assert np.abs(ecg.signal).max() < 20
    # the default still reads every source; another source works the same way
    everything = CinC2021Reader(data_dir).metadata()
    assert {"ptb", "ptb-xl"} <= set(everything["source"]) and len(everything) > len(meta)
    xl = CinC2021Reader(data_dir, subset="ptb-xl/").metadata()
    assert set(xl["source"]) == {"ptb-xl"} and len(xl) + len(meta) == len(everything)
    with pytest.raises(DataNotFoundError, match="present sources: ptb, ptb-xl"):
        CinC2021Reader(data_dir, subset="georgia")


def test_cinc2021_subsets_never_share_a_store(data_dir, tmp_path) -> None:
    ptb = prepare("cinc2021", 100, data_dir, store_dir=tmp_path, reader_options={"subset": "ptb"}, progress=False)
    xl = prepare("cinc2021", 100, data_dir, store_dir=tmp_path, reader_options={"subset": "ptb-xl"}, progress=False)
    assert ptb.path.name == "cinc2021-ptb-100hz" and xl.path.name == "cinc2021-ptb-xl-100hz"
    assert len(ptb) == 10 and set(xl.meta["source"]) == {"ptb-xl"}
    assert ptb.manifest["reader_options"] == {"subset": "ptb"}
    again = open_store("cinc2021", 100, data_dir, store_dir=tmp_path, reader_options={"subset": "ptb"})
    assert again.path == ptb.path and again.manifest["fingerprint"] == ptb.manifest["fingerprint"]
    with pytest.raises(DataNotFoundError, match="leadlift prepare"):
        open_store("cinc2021", 100, data_dir, store_dir=tmp_path)  # the all-sources store was never built
    with pytest.raises(DataNotFoundError, match=re.escape("reader_options={'subset': 'ptb'}")):
        open_store("cinc2021", 250, data_dir, store_dir=tmp_path, reader_options={"subset": "ptb"})
