"""Tests of leadlift.data.download against a local PhysioNet-like HTTP server (never the internet).

The server serves a temporary folder laid out like ``https://physionet.org/files``:
``<tmp>/ecgiddb/1.0.0/`` with a few real ECG-ID files copied at run time from the shared data
folder, and a ``SHA256SUMS.txt`` made of the matching lines of the real published checksum list.
"""

from __future__ import annotations

import hashlib
import http.server
import os
import re
import shutil
import socket
import threading
import time
import urllib.parse
import zipfile
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest
import requests

from leadlift.data import download as dl
from leadlift.data.download import (
    PHYSIONET_DATASETS,
    download_dataset,
    get_dataset,
    parse_sha256sums,
    verify_dataset,
)
from leadlift.errors import CorruptFileError, DataNotFoundError, DownloadError, InputError

SHARED = Path(os.environ.get("LEADLIFT_DATA") or Path(__file__).resolve().parents[4] / "shared" / "data")
SOURCE = SHARED / "ecgiddb"
FILES = ["RECORDS", "Person_01/rec_1.hea", "Person_01/rec_1.dat", "Person_01/rec_2.dat"]
MISSING_ON_SERVER = "Person_01/rec_1.atr"  # listed in SHA256SUMS.txt but not served -> 404
PREFIX = "/ecgiddb/1.0.0/"


class PhysioNetHandler(http.server.SimpleHTTPRequestHandler):
    """Static files with HTTP/1.1 keep-alive, byte ranges, request log and fault injection."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in two writes
    server: PhysioNetServer

    def log_message(self, format: str, *args: object) -> None:  # silence the console
        pass

    def setup(self) -> None:
        super().setup()
        with self.server.lock:
            self.server.connections += 1

    def do_GET(self) -> None:
        if self.path.startswith("http://"):  # absolute form, as sent to an HTTP proxy
            self.path = urllib.parse.urlsplit(self.path).path
        rel = urllib.parse.unquote(self.path)
        rng = self.headers.get("Range")
        local = Path(self.translate_path(self.path))
        if not local.is_file():
            self.server.log.append(("GET", rel, rng, 404))
            self.send_error(404)
            return
        data = bytearray(local.read_bytes())
        faults = self.server.faults.get(rel.removeprefix(PREFIX))
        fault = faults.pop(0) if faults else None
        if fault == "302":  # a redirect to the same file, as a mirror or CDN might answer
            self.server.log.append(("GET", rel, rng, 302))
            self.send_response(302)
            self.send_header("Location", self.path)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if fault in ("file-redirect", "ftp-redirect"):  # a hostile mirror pointing at local files
            self.server.log.append(("GET", rel, rng, 302))
            self.send_response(302)
            self.send_header("Location", "file:///etc/passwd" if fault == "file-redirect" else "ftp://127.0.0.1/x")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if fault == "trickle":  # promise the whole file, then send one byte every trickle_s seconds
            self.server.log.append(("GET", rel, rng, -1))
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.close_connection = True
            stop_at = time.monotonic() + 30
            try:
                for byte in bytes(data):
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                    time.sleep(self.server.trickle_s)
                    if time.monotonic() > stop_at:
                        break
            except OSError:  # the client gave up and hung up: what the test wants
                pass
            return
        if fault == "silent":  # promise the whole file, send half of it, then nothing (connection kept open)
            self.server.log.append(("GET", rel, rng, -1))
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(bytes(data[: len(data) // 2]))
            self.wfile.flush()
            self.close_connection = True
            time.sleep(5)
            return
        if fault in ("endless", "huge"):  # a "checksum list" that never ends / claims 1 GB
            self.server.log.append(("GET", rel, rng, 200))
            self.send_response(200)
            if fault == "huge":
                self.send_header("Content-Length", str(1 << 30))
            self.end_headers()
            self.close_connection = True
            line = (f"{'0' * 64} Person_01/rec_1.dat\n" * 1000).encode()
            try:
                for _ in range(100_000):  # 60 MB at most, but the client stops reading long before
                    self.wfile.write(line)
                    self.server.sent += len(line)
            except OSError:
                pass
            return
        if fault == "503":
            self.server.log.append(("GET", rel, rng, 503))
            self.send_error(503)
            return
        if fault == "drop":  # promise the whole file, send half of it, hang up
            self.server.log.append(("GET", rel, rng, -200))
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(bytes(data[: len(data) // 2]))
            self.close_connection = True
            return
        if rel.removeprefix(PREFIX) in self.server.corrupt:
            data[len(data) // 2] ^= 0xFF
        start, end, status = 0, len(data) - 1, 200
        match = re.fullmatch(r"bytes=(\d+)-(\d*)", rng or "")
        if match and self.server.ranges:
            start = int(match[1])
            end = min(int(match[2]), end) if match[2] else end
            if start >= len(data):
                self.server.log.append(("GET", rel, rng, 416))
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            status = 206
        body = bytes(data[start : end + 1])
        self.server.log.append(("GET", rel, rng, status))
        self.send_response(status)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{end}/{len(data)}")
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        self.wfile.write(body)


class PhysioNetServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, root: Path) -> None:
        super().__init__(("127.0.0.1", 0), partial(PhysioNetHandler, directory=str(root)))
        self.log: list[tuple[str, str, str | None, int]] = []
        self.corrupt: set[str] = set()
        self.lock = threading.Lock()
        self.connections = 0
        self.faults: dict[str, list[str]] = {}  # path -> faults for its next GETs: 302/503/drop
        self.ranges = True
        self.trickle_s = 0.3  # seconds between two bytes of a "trickle" fault
        self.sent = 0  # bytes sent by "endless"/"huge" faults

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def gets(self, rel: str) -> list[tuple[str, str, str | None, int]]:
        return [entry for entry in self.log if entry[1] == PREFIX + rel]

    def file_gets(self) -> list[tuple[str, str, str | None, int]]:
        return [entry for entry in self.log if not entry[1].endswith("/SHA256SUMS.txt")]


@pytest.fixture()
def served(tmp_path: Path) -> Path:
    """A PhysioNet-like tree with a few real ECG-ID files and their published checksums."""
    root = tmp_path / "www"
    dest = root / "ecgiddb" / "1.0.0"
    for rel in FILES:
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(SOURCE / rel, dest / rel)
    wanted = {*FILES, MISSING_ON_SERVER}
    lines = [
        line
        for line in (SOURCE / "SHA256SUMS.txt").read_text().splitlines()
        if line.split(maxsplit=1)[-1] in wanted
    ]
    assert len(lines) == len(wanted)
    (dest / "SHA256SUMS.txt").write_text("\n".join(lines) + "\n")
    return root


@pytest.fixture()
def server(served: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[PhysioNetServer]:
    srv = PhysioNetServer(served)
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    monkeypatch.setenv("LEADLIFT_PHYSIONET_URL", srv.url)
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    try:
        yield srv
    finally:
        srv.shutdown()
        srv.server_close()
        thread.join(5)


@pytest.fixture()
def data_dir(tmp_path: Path) -> Path:
    path = tmp_path / "data"
    path.mkdir()
    return path


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# ---------------------------------------------------------------------------------------------


def test_registry() -> None:
    ptbxl = PHYSIONET_DATASETS["ptbxl"]
    assert (ptbxl.slug, ptbxl.version, ptbxl.folder) == ("ptb-xl", "1.0.3", "ptb-xl")
    assert (PHYSIONET_DATASETS["ptbdb"].slug, PHYSIONET_DATASETS["ptbdb"].version) == ("ptbdb", "1.0.0")
    ecgid = PHYSIONET_DATASETS["ecgid"]
    assert (ecgid.slug, ecgid.version, ecgid.folder) == ("ecgiddb", "1.0.0", "ecgiddb")
    assert get_dataset("PTB-XL") is ptbxl
    assert ptbxl.files_url("https://example.org/files/") == "https://example.org/files/ptb-xl/1.0.3"
    with pytest.raises(InputError, match="ptbxl"):
        get_dataset("mitdb")


def test_parse_sha256sums_refuses_unsafe_paths() -> None:
    good = parse_sha256sums(f"{'a' * 64} sub/dir/x.dat\n\n{'B' * 64} *y.hea\n")
    assert good == {"sub/dir/x.dat": "a" * 64, "y.hea": "b" * 64}
    with pytest.raises(CorruptFileError, match="unsafe"):
        parse_sha256sums(f"{'a' * 64} ../../etc/passwd\n")
    with pytest.raises(CorruptFileError, match="line 1"):
        parse_sha256sums("not a checksum line\n")


def test_full_download_then_skip(server: PhysioNetServer, data_dir: Path) -> None:
    report = download_dataset("ecgid", data_dir, files=FILES, progress=False)
    root = data_dir / "ecgiddb"
    assert report.root == root
    assert sorted(report.fetched) == sorted(FILES)
    assert report.skipped == ()
    assert report.bytes_downloaded == sum((SOURCE / rel).stat().st_size for rel in FILES)
    for rel in FILES:
        assert (root / rel).read_bytes() == (SOURCE / rel).read_bytes()
        assert not (root / (rel + ".part")).exists()
    assert (root / "SHA256SUMS.txt").is_file()
    assert str(report).startswith(f"{len(FILES)} file(s) downloaded")

    server.log.clear()
    again = download_dataset("ecgid", data_dir, files=FILES, progress=False)
    assert again.fetched == ()
    assert sorted(again.skipped) == sorted(FILES)
    assert again.bytes_downloaded == 0
    assert server.file_gets() == []
    assert verify_dataset("ecgid", data_dir) == []


def test_connections_are_kept_alive(server: PhysioNetServer, data_dir: Path) -> None:
    report = download_dataset("ecgid", data_dir, files=FILES, progress=False, workers=1)
    assert len(report.fetched) == len(FILES)
    # one connection for the checksum list (main thread) and one reused by the worker
    assert server.connections <= 2


def test_second_call_rehashes_and_refetches_only_a_changed_file(server: PhysioNetServer, data_dir: Path) -> None:
    download_dataset("ecgid", data_dir, files=FILES, progress=False)
    # same size, new content and mtime: found wrong by its hash and downloaded again
    target = data_dir / "ecgiddb" / "Person_01" / "rec_2.dat"
    data = bytearray(target.read_bytes())
    data[100] ^= 0x01
    target.write_bytes(bytes(data))
    os.utime(target, ns=(time.time_ns(), time.time_ns() + 10_000_000))
    problems = verify_dataset("ecgid", data_dir)
    assert len(problems) == 1 and problems[0].startswith("Person_01/rec_2.dat: SHA256 mismatch")

    server.log.clear()
    report = download_dataset("ecgid", data_dir, files=FILES, progress=False)
    assert report.fetched == ("Person_01/rec_2.dat",)
    assert target.read_bytes() == (SOURCE / "Person_01/rec_2.dat").read_bytes()
    assert [entry[1] for entry in server.file_gets()] == [PREFIX + "Person_01/rec_2.dat"]


def test_existing_verified_file_is_not_downloaded(server: PhysioNetServer, data_dir: Path) -> None:
    rel = "Person_01/rec_1.dat"
    (data_dir / "ecgiddb" / "Person_01").mkdir(parents=True)
    shutil.copyfile(SOURCE / rel, data_dir / "ecgiddb" / rel)
    report = download_dataset("ecgid", data_dir, files=["Person_01/*.dat"], progress=False)
    assert report.skipped == (rel,)
    assert report.fetched == ("Person_01/rec_2.dat",)
    assert server.gets(rel) == []


def test_resume_from_partial_file(server: PhysioNetServer, data_dir: Path) -> None:
    rel = "Person_01/rec_1.dat"
    full = (SOURCE / rel).read_bytes()
    part = data_dir / "ecgiddb" / (rel + ".part")
    part.parent.mkdir(parents=True)
    part.write_bytes(full[: len(full) // 2])

    report = download_dataset("ecgid", data_dir, files=[rel], progress=False)

    assert server.gets(rel) == [("GET", PREFIX + rel, f"bytes={len(full) // 2}-", 206)]
    assert report.fetched == (rel,)
    assert report.bytes_downloaded == len(full) - len(full) // 2
    assert (data_dir / "ecgiddb" / rel).read_bytes() == full
    assert not part.exists()
    assert verify_dataset("ecgid", data_dir, files=[rel]) == []


def test_resume_restarts_when_server_ignores_range(server: PhysioNetServer, data_dir: Path) -> None:
    server.ranges = False
    rel = "Person_01/rec_2.dat"
    full = (SOURCE / rel).read_bytes()
    part = data_dir / "ecgiddb" / (rel + ".part")
    part.parent.mkdir(parents=True)
    part.write_bytes(b"garbage that must not survive")

    report = download_dataset("ecgid", data_dir, files=[rel], progress=False)

    assert [entry[3] for entry in server.gets(rel)] == [200]
    assert report.bytes_downloaded == len(full)
    assert (data_dir / "ecgiddb" / rel).read_bytes() == full


def test_stale_complete_part_is_judged_on_416(server: PhysioNetServer, data_dir: Path) -> None:
    rel = "Person_01/rec_1.hea"
    part = data_dir / "ecgiddb" / (rel + ".part")
    part.parent.mkdir(parents=True)
    shutil.copyfile(SOURCE / rel, part)  # complete, but never renamed (crash before os.replace)

    report = download_dataset("ecgid", data_dir, files=[rel], progress=False)

    assert [entry[3] for entry in server.gets(rel)] == [416]
    assert report.fetched == (rel,)
    assert _sha(data_dir / "ecgiddb" / rel) == _sha(SOURCE / rel)


def test_corrupted_file_raises_and_leaves_nothing(server: PhysioNetServer, data_dir: Path) -> None:
    bad = "Person_01/rec_2.dat"
    server.corrupt.add(bad)
    with pytest.raises(CorruptFileError, match=re.escape(bad)) as info:
        download_dataset("ecgid", data_dir, files=FILES, progress=False, retries=1, workers=1)
    assert "\n" not in str(info.value)
    assert len(server.gets(bad)) == 2  # first attempt + 1 retry
    assert not (data_dir / "ecgiddb" / bad).exists()
    assert not (data_dir / "ecgiddb" / (bad + ".part")).exists()


def test_503_redirect_and_dropped_connection_are_handled(
    server: PhysioNetServer, data_dir: Path
) -> None:
    rel = "Person_01/rec_1.dat"
    size = (SOURCE / rel).stat().st_size
    server.faults[rel] = ["503", "302", "drop"]
    report = download_dataset("ecgid", data_dir, files=[rel], progress=False, retries=3)
    assert [(entry[2], entry[3]) for entry in server.gets(rel)] == [
        (None, 503),
        (None, 302),
        (None, -200),  # half of the body, then the connection was closed
        (f"bytes={size // 2}-", 206),
    ]
    assert report.fetched == (rel,)
    assert (data_dir / "ecgiddb" / rel).read_bytes() == (SOURCE / rel).read_bytes()


def test_unreachable_server_fails_fast_with_advice(data_dir: Path) -> None:
    url = f"http://127.0.0.1:{_free_port()}"
    start = time.monotonic()
    with pytest.raises(DownloadError) as info:
        download_dataset("ptbxl", data_dir, base_url=url, progress=False)
    assert time.monotonic() - start < 5
    message = str(info.value)
    assert message.startswith(f"cannot reach {url} (")
    assert "--data-dir" in message and "LEADLIFT_DATA" in message
    assert "PTB-XL 1.0.3" in message and "https://physionet.org/content/ptb-xl/1.0.3/" in message
    assert "\n" not in message


def test_404_on_a_file_names_the_url(server: PhysioNetServer, data_dir: Path) -> None:
    with pytest.raises(DownloadError, match=re.escape(f"{server.url}{PREFIX}{MISSING_ON_SERVER}")):
        download_dataset("ecgid", data_dir, files=[MISSING_ON_SERVER], progress=False)
    assert not (data_dir / "ecgiddb" / MISSING_ON_SERVER).exists()


def test_404_on_the_checksum_list(server: PhysioNetServer, data_dir: Path) -> None:
    with pytest.raises(DownloadError, match=re.escape("/ptb-xl/1.0.3/SHA256SUMS.txt not found")):
        download_dataset("ptbxl", data_dir, progress=False)


def test_pattern_matching_nothing(server: PhysioNetServer, data_dir: Path) -> None:
    with pytest.raises(DataNotFoundError, match="Person_99"):
        download_dataset("ecgid", data_dir, files=["Person_99/*"], progress=False)


def test_empty_subset_fetches_only_the_checksum_list(server: PhysioNetServer, data_dir: Path) -> None:
    report = download_dataset("ecgid", data_dir, files=[], progress=False)
    assert report.fetched == report.skipped == ()
    assert server.file_gets() == []
    assert (data_dir / "ecgiddb" / "SHA256SUMS.txt").is_file()
    problems = verify_dataset("ecgid", data_dir, require_all=True)
    assert f"{MISSING_ON_SERVER}: missing" in problems and len(problems) == len(FILES) + 1


def test_progress_bar_counts_bytes_and_files(server: PhysioNetServer, data_dir: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    """With ``progress=True`` one bar on stderr ends at 100 % of the bytes downloaded and all files;
    with ``progress=False`` nothing is printed."""
    from tqdm import tqdm

    report = download_dataset("ecgid", data_dir, files=["RECORDS", "Person_01/*.dat"], progress=True)
    assert sorted(report.fetched) == ["Person_01/rec_1.dat", "Person_01/rec_2.dat", "RECORDS"]
    out, err = capsys.readouterr()
    assert out == ""
    final = err.split("\r")[-1]
    size = tqdm.format_sizeof(report.bytes_downloaded, divisor=1024)
    assert report.bytes_downloaded > 0 and final.startswith("ecgiddb")
    assert "100%" in final and f"{size}/{size}" in final and "3/3 files" in final, final
    quiet = download_dataset("ecgid", data_dir / "again", files=["RECORDS"], progress=False)
    assert quiet.fetched == ("RECORDS",) and capsys.readouterr().err == ""


def test_plain_http_proxy_is_used(
    server: PhysioNetServer, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("http_proxy", server.url)
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    report = download_dataset(
        "ecgid", data_dir, base_url="http://physionet.invalid", files=["RECORDS"], progress=False
    )
    assert report.fetched == ("RECORDS",)
    assert server.gets("RECORDS")


def test_verify_never_writes_into_an_unmanaged_folder(served: Path, data_dir: Path) -> None:
    shutil.copytree(served / "ecgiddb" / "1.0.0", data_dir / "ecgiddb")
    before = sorted(p.name for p in (data_dir / "ecgiddb").rglob("*"))
    assert verify_dataset("ecgid", data_dir) == []
    assert sorted(p.name for p in (data_dir / "ecgiddb").rglob("*")) == before


def test_verify_without_checksum_list(data_dir: Path) -> None:
    (data_dir / "ecgiddb").mkdir()
    with pytest.raises(DataNotFoundError, match="leadlift download ecgid"):
        verify_dataset("ecgid", data_dir)
    with pytest.raises(DataNotFoundError, match="--data-dir"):
        verify_dataset("ptbxl", data_dir)


def test_cli_download_then_read_and_offline_message(server: PhysioNetServer, data_dir: Path, capsys) -> None:
    """`leadlift download` end to end against the local server, then the reader uses the files."""
    from leadlift.cli import main
    from leadlift.data.readers import ECGIDReader

    with pytest.raises(SystemExit) as info:
        main(["download", "ecgid", "--data-dir", str(data_dir), "--base-url", server.url,
              *[arg for f in FILES for arg in ("--file", f)]])
    assert info.value.code in (0, None)
    assert "downloaded" in capsys.readouterr().out
    reader = ECGIDReader(data_dir)
    assert reader.metadata()["record_id"].tolist() == ["Person_01/rec_1"]  # rec_2 has no header here
    assert reader.read(0).n_samples == 10000
    with pytest.raises(SystemExit) as info:
        main(["download", "ecgid", "--data-dir", str(data_dir), "--base-url", f"http://127.0.0.1:{_free_port()}"])
    err = " ".join(capsys.readouterr().err.split())
    assert info.value.code == 2 and "error:" in err and "LEADLIFT_DATA" in err


# --------------------------------------------------------------------------------------------
# Hostile or slow mirrors, full disks (issue 14, items 5 and 6): limits, cleanup, clear lines
# --------------------------------------------------------------------------------------------


def _leftovers(root: Path) -> list[str]:
    """Partial or temporary files under ``root`` (``*.part``, ``*.tmp*``)."""
    if not root.exists():
        return []
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.suffix == ".part" or ".tmp" in p.name)


def test_silent_mirror_hits_the_stall_limit(server: PhysioNetServer, data_dir: Path) -> None:
    """Half the body, then nothing: no byte within the stall limit ends the download, nothing left."""
    rel = "Person_01/rec_1.dat"
    server.faults[rel] = ["silent"]
    start = time.monotonic()
    with pytest.raises(DownloadError) as info:
        download_dataset("ecgid", data_dir, files=[rel], progress=False, stall_timeout=1.0, deadline=0)
    assert time.monotonic() - start < 5
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{server.url}{PREFIX}{rel}: stalled")
    assert dl.STALL_ENV in message and "--base-url" in message
    assert len(server.gets(rel)) == 1  # a stall is final, not retried
    assert not (data_dir / "ecgiddb" / rel).exists()
    assert _leftovers(data_dir) == []


def test_trickling_mirror_hits_the_deadline(server: PhysioNetServer, data_dir: Path) -> None:
    """Without a stall limit the overall deadline still ends it, nothing partial left."""
    rel = "Person_01/rec_2.dat"
    server.faults[rel] = ["trickle"]
    server.trickle_s = 0.1
    start = time.monotonic()
    with pytest.raises(DownloadError) as info:
        download_dataset("ecgid", data_dir, files=[rel], progress=False, stall_timeout=0, deadline=1.5)
    elapsed = time.monotonic() - start
    assert 1.4 < elapsed < 5
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{server.url}{PREFIX}{rel}: the download did not finish within its 1.5 s deadline")
    assert f"{dl.DEADLINE_ENV}=SECONDS" in message
    assert not (data_dir / "ecgiddb" / rel).exists()
    assert _leftovers(data_dir) == []


@pytest.mark.parametrize("how", ["env", "--stall-timeout", "--deadline"])
def test_cli_limits_from_the_environment_or_options(
    server: PhysioNetServer, data_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys, how: str
) -> None:
    from helpers import error_line, run_cli

    rel = "Person_01/rec_1.dat"
    server.faults[rel] = ["silent" if how != "--deadline" else "trickle"]
    options = {"env": [], "--stall-timeout": ["--stall-timeout", "0.6"],
               "--deadline": ["--deadline", "0.6", "--stall-timeout", "0"]}[how]
    if how == "env":
        monkeypatch.setenv(dl.STALL_ENV, "0.6")
    start = time.monotonic()
    code, _out, err = run_cli(["download", "ecgid", "--data-dir", str(data_dir), "--base-url", server.url,
                               "--file", rel, *options], capsys)
    assert time.monotonic() - start < 5
    assert code == 2
    if how == "--deadline":
        error_line(err, f"{PREFIX}{rel}: the download did not finish within its 0.6 s deadline", "--deadline",
                   f"{dl.DEADLINE_ENV}=SECONDS")
    else:
        error_line(err, f"{PREFIX}{rel}: stalled", "--stall-timeout", f"{dl.STALL_ENV}=SECONDS")
    assert _leftovers(data_dir) == []


@pytest.mark.parametrize("env", [dl.DEADLINE_ENV, dl.STALL_ENV, dl.MAX_LIST_ENV])
def test_invalid_limit_settings_are_refused(
    server: PhysioNetServer, data_dir: Path, monkeypatch: pytest.MonkeyPatch, env: str
) -> None:
    monkeypatch.setenv(env, "soon")
    with pytest.raises(InputError, match=re.escape(f"{env}='soon'")):
        download_dataset("ecgid", data_dir, files=[], progress=False)
    assert server.log == []


@pytest.mark.parametrize("fault", ["endless", "huge"])
def test_oversized_checksum_list_is_refused_while_streaming(
    server: PhysioNetServer, data_dir: Path, fault: str
) -> None:
    """A never-ending list (no Content-Length) is cut at the cap, a declared 1 GB one is not read."""
    server.faults["SHA256SUMS.txt"] = [fault]
    cap = 256 * 1024
    start = time.monotonic()
    with pytest.raises(CorruptFileError) as info:
        download_dataset("ecgid", data_dir, progress=False, max_list_bytes=cap)
    assert time.monotonic() - start < 5
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{server.url}{PREFIX}SHA256SUMS.txt is ")
    assert "0.25 MiB" in message and f"{dl.MAX_LIST_ENV}=MB" in message
    assert ("1073741824 bytes" in message) == (fault == "huge")
    assert not (data_dir / "ecgiddb" / "SHA256SUMS.txt").exists()
    assert _leftovers(data_dir) == []


def test_saved_checksum_list_is_read_line_by_line_under_the_cap(
    served: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copytree(served / "ecgiddb" / "1.0.0", data_dir / "ecgiddb")
    sums = data_dir / "ecgiddb" / "SHA256SUMS.txt"
    assert len(dl.read_sha256sums(sums)) == len(FILES) + 1
    with open(sums, "ab") as fh:  # a 1 GiB list (sparse: costs no disk)
        fh.truncate(1 << 30)
    monkeypatch.setattr(Path, "read_text", lambda *a, **k: pytest.fail("the whole list was read"))
    with pytest.raises(CorruptFileError, match=r"is 1073741824 bytes, more than the 64 MiB .*MAX_CHECKSUM_LIST_MB=MB"):
        verify_dataset("ecgid", data_dir)
    monkeypatch.setenv(dl.MAX_LIST_ENV, "0.001")
    sums.write_text((served / "ecgiddb" / "1.0.0" / "SHA256SUMS.txt").read_bytes().decode() * 20)
    with pytest.raises(CorruptFileError, match=r"more than the 0\.001 MiB"):
        dl.read_sha256sums(sums)


class _FullDiskFile:
    """A binary file whose writes fail like a full disk."""

    def __init__(self, fh) -> None:
        self._fh = fh

    def write(self, data: bytes) -> int:
        raise OSError(28, "No space left on device")  # ENOSPC

    def __enter__(self):
        return self

    def __exit__(self, *exc: object) -> None:
        self._fh.close()

    def __getattr__(self, name: str):
        return getattr(self._fh, name)


@pytest.mark.parametrize("victim", ["SHA256SUMS.txt", "rec_1.dat"])
def test_full_disk_leaves_no_partial_file(
    server: PhysioNetServer, data_dir: Path, monkeypatch: pytest.MonkeyPatch, victim: str
) -> None:
    real_open = open

    def full_disk_open(file, mode="r", *args, **kwargs):
        fh = real_open(file, mode, *args, **kwargs)
        name = Path(file).name
        hit = name.startswith(".SHA256SUMS.tmp-") if victim == "SHA256SUMS.txt" else name == victim + ".part"
        return _FullDiskFile(fh) if hit and ("w" in mode or "a" in mode) else fh

    monkeypatch.setattr(dl, "open", full_disk_open, raising=False)
    with pytest.raises(DownloadError) as info:
        download_dataset("ecgid", data_dir, files=FILES, progress=False, workers=2)
    message = str(info.value)
    assert "\n" not in message
    assert "No space left on device" in message and "free some disk space" in message
    assert "LEADLIFT_DATA" in message
    assert _leftovers(data_dir) == []
    assert not (data_dir / "ecgiddb" / "Person_01" / "rec_1.dat").exists()
    if victim == "SHA256SUMS.txt":
        assert not (data_dir / "ecgiddb" / "SHA256SUMS.txt").exists()
        assert server.file_gets() == []


@pytest.mark.parametrize(("fault", "target"), [("file-redirect", "file:///etc/passwd"),
                                               ("ftp-redirect", "ftp://127.0.0.1/x")])
def test_redirect_to_another_scheme_is_refused(
    server: PhysioNetServer, data_dir: Path, fault: str, target: str
) -> None:
    rel = "Person_01/rec_1.hea"
    server.faults[rel] = [fault]
    with pytest.raises(DownloadError) as info:
        download_dataset("ecgid", data_dir, files=[rel], progress=False)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{server.url}{PREFIX}{rel} redirects to {target!r}")
    assert "http(s) URLs only" in message and "--base-url" in message
    assert len(server.gets(rel)) == 1
    assert not (data_dir / "ecgiddb" / rel).exists()
    assert _leftovers(data_dir) == []


def test_redirect_of_the_checksum_list_to_a_file_is_refused(server: PhysioNetServer, data_dir: Path) -> None:
    server.faults["SHA256SUMS.txt"] = ["file-redirect"]
    with pytest.raises(DownloadError, match=r"SHA256SUMS\.txt redirects to 'file:///etc/passwd'"):
        download_dataset("ecgid", data_dir, progress=False)
    assert not (data_dir / "ecgiddb" / "SHA256SUMS.txt").exists()
    assert _leftovers(data_dir) == []


def test_redirect_from_https_down_to_http_is_refused() -> None:
    """requests itself follows an https -> http redirect (it only drops credentials); leadlift refuses it, since
    a downgraded checksum list could be swapped in transit."""
    resp = requests.Response()
    resp.url, resp.status_code = "https://physionet.org/files/ptb-xl/1.0.3/SHA256SUMS.txt", 302
    resp.headers["Location"] = "http://mirror.example/ptb-xl/1.0.3/SHA256SUMS.txt"
    with pytest.raises(DownloadError, match="never from https to http") as info:
        dl._check_redirect(resp)  # the session's response hook, called before requests follows a redirect
    assert "\n" not in str(info.value) and "--base-url" in str(info.value)
    resp.headers["Location"] = "https://mirror.example/ptb-xl/1.0.3/SHA256SUMS.txt"
    dl._check_redirect(resp)  # https -> https is fine


# --------------------------------------------------------------------------------------------
# PTB-XL through its published zip, CinC 2021 into its reader's layout
# --------------------------------------------------------------------------------------------

PTBXL = SHARED / "ptb-xl"
PTBXL_FILES = ["scp_statements.csv", "records100/00000/00001_lr.hea", "records100/00000/00001_lr.dat",
               "records100/00000/00002_lr.hea", "records100/00000/00002_lr.dat"]
ZIP = PHYSIONET_DATASETS["ptbxl"].archive
ZIP_PATH = f"/static/published-projects/ptb-xl/{ZIP}"


def _serve_ptbxl(www: Path, *, damaged: str | None = None, single_files: bool = False) -> Path:
    """PTB-XL's checksum list and its zip (a few real files, in the zip's top folder) on the local server."""
    files = www / "ptb-xl" / "1.0.3"
    files.mkdir(parents=True)
    (files / "SHA256SUMS.txt").write_text("".join(f"{_sha(PTBXL / rel)} {rel}\n" for rel in PTBXL_FILES))
    archive = www / ZIP_PATH.lstrip("/")
    archive.parent.mkdir(parents=True)
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(f"{ZIP.removesuffix('.zip')}/LICENSE.txt", "not listed, never extracted")
        for rel in PTBXL_FILES:
            data = bytearray((PTBXL / rel).read_bytes())
            data[-1] ^= 0x01 if rel == damaged else 0
            zf.writestr(f"{ZIP.removesuffix('.zip')}/{rel}", bytes(data))
            if single_files:
                (files / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(PTBXL / rel, files / rel)
    return archive


def _gets(server: PhysioNetServer, path: str) -> list[tuple[str | None, int]]:
    return [(entry[2], entry[3]) for entry in server.log if entry[1] == path]


def test_ptbxl_archive_resumes_and_extracts_only_the_selection(
    server: PhysioNetServer, served: Path, data_dir: Path
) -> None:
    archive = _serve_ptbxl(served, single_files=True)
    size = archive.stat().st_size
    root = data_dir / "ptb-xl"
    server.faults[ZIP_PATH] = ["drop"]  # half of the zip, then the connection closes: kept for the next call
    with pytest.raises(DownloadError, match=re.escape(ZIP)):
        download_dataset("ptbxl", data_dir, files=["records100"], archive=True, retries=0, progress=False)
    assert (root / f".{ZIP}.part").stat().st_size == size // 2

    report = download_dataset("ptbxl", data_dir, files=["records100"], archive=True, progress=False)
    assert _gets(server, ZIP_PATH)[-1] == (f"bytes={size // 2}-", 206)
    assert report.bytes_downloaded == size - size // 2
    assert sorted(report.fetched) == sorted(PTBXL_FILES[1:]) and report.skipped == ()
    for rel in PTBXL_FILES[1:]:
        assert (root / rel).read_bytes() == (PTBXL / rel).read_bytes()
    assert not (root / "scp_statements.csv").exists() and not (root / "LICENSE.txt").exists()
    assert _leftovers(data_dir) == []  # the zip is gone once extracted
    assert not [e for e in server.log if e[1].startswith("/ptb-xl/1.0.3/records")]  # no single-file GETs

    server.log.clear()  # a few missing files: single GETs, not the zip again
    again = download_dataset("ptbxl", data_dir, progress=False)
    assert again.fetched == ("scp_statements.csv",) and len(again.skipped) == 4
    assert _gets(server, ZIP_PATH) == []
    assert verify_dataset("ptbxl", data_dir, require_all=True) == []


def test_damaged_archive_member_is_refused(server: PhysioNetServer, served: Path, data_dir: Path) -> None:
    bad = "records100/00000/00002_lr.dat"
    _serve_ptbxl(served, damaged=bad)
    with pytest.raises(CorruptFileError) as info:
        download_dataset("ptbxl", data_dir, archive=True, progress=False)
    message = str(info.value)
    assert "\n" not in message and ZIP in message and bad in message and "run the download again" in message
    assert not (data_dir / "ptb-xl" / bad).exists()
    assert _leftovers(data_dir) == []  # the damaged zip is removed, not resumed


def test_mirror_without_the_archive_says_so(server: PhysioNetServer, served: Path, data_dir: Path) -> None:
    _serve_ptbxl(served, single_files=True).unlink()
    with pytest.raises(DownloadError, match=re.escape(f"{ZIP_PATH} not found (HTTP 404")) as info:
        download_dataset("ptbxl", data_dir, archive=True, progress=False)
    assert "\n" not in str(info.value) and "--base-url" in str(info.value)
    assert download_dataset("ptbxl", data_dir, archive=False, progress=False).fetched == tuple(PTBXL_FILES)


CINC = SHARED / "challenge-2021"
CINC_RECORDS = {"training/ptb/g1/S0001": "ptb/S0001", "training/ptb/g1/S0002": "ptb/S0002",
                "training/ptb-xl/g1/HR00001": "ptb-xl/HR00001"}


def test_cinc2021_lands_in_the_readers_layout(server: PhysioNetServer, served: Path, data_dir: Path) -> None:
    """PhysioNet's training/<source>/g<N>/ is flattened to <source>/; index files are not kept (a RECORDS at the
    top would list paths the reader cannot find)."""
    from leadlift.data.readers import CinC2021Reader

    files = served / "challenge-2021" / "1.0.3"
    listed = {"RECORDS": "training/ptb/g1/S0001\n", "training/ptb/RECORDS": "g1/S0001\n"}
    for remote, local in CINC_RECORDS.items():
        for ext in (".hea", ".mat"):
            listed[remote + ext] = (CINC / (local + ext)).read_bytes()
    for rel, data in listed.items():
        (files / rel).parent.mkdir(parents=True, exist_ok=True)
        (files / rel).write_bytes(data.encode() if isinstance(data, str) else data)
    (files / "SHA256SUMS.txt").write_text("".join(f"{_sha(files / rel)} {rel}\n" for rel in listed))

    report = download_dataset("cinc2021", data_dir, files=["ptb"], progress=False)
    assert sorted(report.fetched) == ["ptb/S0001.hea", "ptb/S0001.mat", "ptb/S0002.hea", "ptb/S0002.mat"]
    root = data_dir / "challenge-2021"
    assert not (root / "training").exists() and not (root / "RECORDS").exists()
    reader = CinC2021Reader(data_dir, subset="ptb")
    assert reader.metadata()["record_id"].tolist() == ["ptb/S0001", "ptb/S0002"]
    assert reader.read(0).fs == 1000

    report = download_dataset("cinc2021", data_dir, progress=False)
    assert report.fetched == ("ptb-xl/HR00001.hea", "ptb-xl/HR00001.mat") and len(report.skipped) == 4
    assert len(CinC2021Reader(data_dir)) == 3
    assert verify_dataset("cinc2021", data_dir, require_all=True) == []
