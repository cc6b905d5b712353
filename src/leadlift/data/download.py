"""Fetch public PhysioNet databases: verified, resumable and atomic, on ``requests`` and urllib3's ``Retry``.

``SHA256SUMS.txt`` (at most 64 MiB) comes first; each listed file streams to ``<file>.part``, resumes by a Range
request, takes its name once its SHA256 matched; verified files are skipped. PTB-XL comes as PhysioNet's zip
when many files are absent; CinC 2021's ``training/<src>/g<N>/`` become ``<src>/``. Limits: an overall deadline,
a stall limit (no bytes for N s). Redirects: http(s) only, never https to http."""

from __future__ import annotations

import fnmatch
import hashlib
import os
import threading
import time
import urllib.parse
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import requests
from tqdm import tqdm
from urllib3.exceptions import HTTPError, MaxRetryError, ReadTimeoutError
from urllib3.util.retry import Retry

from leadlift import __version__
from leadlift.atomic import atomic_path
from leadlift.errors import CorruptFileError, DataNotFoundError, DownloadError, InputError, LeadliftError

__all__ = ["BASE_URL_ENV", "CHECKSUM_FILE", "DEADLINE_ENV", "DEFAULT_BASE_URL", "MAX_LIST_ENV", "PHYSIONET_DATASETS",
           "STALL_ENV", "DownloadReport", "PhysioNetDataset", "download_dataset", "get_dataset", "parse_sha256sums",
           "read_sha256sums", "resolve_base_url", "sha256_file", "verify_dataset"]

DEFAULT_BASE_URL = "https://physionet.org/files"
BASE_URL_ENV = "LEADLIFT_PHYSIONET_URL"
DEADLINE_ENV = "LEADLIFT_DOWNLOAD_DEADLINE"
STALL_ENV = "LEADLIFT_DOWNLOAD_STALL_TIMEOUT"
MAX_LIST_ENV = "LEADLIFT_MAX_CHECKSUM_LIST_MB"
ARCHIVE_MIN_FILES = 5000  # from this many absent files on, a dataset's zip beats single GETs
CHECKSUM_FILE = "SHA256SUMS.txt"
_CHUNK = 256 * 1024


@dataclass(frozen=True)
class PhysioNetDataset:
    """A database version: ``name`` (CLI), ``slug`` and ``version`` (URL), ``folder``, zip, CinC-style layout."""

    name: str
    slug: str
    version: str
    folder: str
    title: str
    archive: str = ""
    flatten_sources: bool = False

    def files_url(self, base_url: str | None = None) -> str:
        return f"{resolve_base_url(base_url)}/{self.slug}/{self.version}"

    def local_path(self, remote: str) -> str | None:
        """Where a listed file goes inside :attr:`folder` (``None``: not kept)."""
        parts = remote.split("/")
        keep = len(parts) == 4 and parts[0] == "training" and parts[3].endswith((".hea", ".mat"))
        return remote if not self.flatten_sources else f"{parts[1]}/{parts[3]}" if keep else None


PHYSIONET_DATASETS: dict[str, PhysioNetDataset] = {d.name: d for d in (
    PhysioNetDataset("ptbxl", "ptb-xl", "1.0.3", "ptb-xl", "PTB-XL",  # ~3 GB in ~87,000 files, or a 1.7 GB zip
                     "ptb-xl-a-large-publicly-available-electrocardiography-dataset-1.0.3.zip"),
    PhysioNetDataset("ptbdb", "ptbdb", "1.0.0", "ptbdb", "PTB Diagnostic ECG Database"),  # ~1.7 GB
    PhysioNetDataset("ecgid", "ecgiddb", "1.0.0", "ecgiddb", "ECG-ID"),  # ~13 MB
    PhysioNetDataset("cinc2021", "challenge-2021", "1.0.3", "challenge-2021", "PhysioNet/CinC Challenge 2021",
                     flatten_sources=True))}  # 88,253 records of 7 sources, ~11 GB; --file ptb: one source
"""The databases leadlift can download, by short name."""


def get_dataset(name: str) -> PhysioNetDataset:
    """A dataset by short name, PhysioNet slug or folder (case-insensitive); InputError if unknown."""
    for ds in PHYSIONET_DATASETS.values():
        if name.strip().lower() in (ds.name, ds.slug, ds.folder):
            return ds
    raise InputError(f"unknown dataset {name!r}; choose one of: {', '.join(PHYSIONET_DATASETS)}")


def resolve_base_url(base_url: str | None = None) -> str:
    """The argument, else ``$LEADLIFT_PHYSIONET_URL``, else PhysioNet; InputError unless http(s)."""
    url = (base_url or os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL).strip().rstrip("/")
    if not url.startswith(("http://", "https://")) or not urllib.parse.urlsplit(url).hostname:
        raise InputError(f"invalid PhysioNet base URL {url!r}; give an http(s) URL such as {DEFAULT_BASE_URL} "
                         f"(argument or {BASE_URL_ENV})")
    return url


def _number(value: float | None, env: str, arg: str, default: float, what: str = "number of seconds >= 0") -> float:
    """``value``, else ``$env``, else ``default``: a finite number >= 0 (> 0 for sizes), else InputError."""
    source = f"{arg}={value!r}"
    if value is None:
        if not (raw := os.environ.get(env, "").strip()):
            return default
        source, value = f"{env}={raw!r}", float(raw) if raw.replace(".", "", 1).isdigit() else -1.0
    if not 0 <= value < float("inf") or (value == 0 and what == "size > 0"):
        raise InputError(f"{source} is not a {what}; set e.g. {env}={default:g} or unset it")
    return float(value)


def _too_large(source: str, size: int | str, cap: int) -> CorruptFileError:
    return CorruptFileError(f"{source} is {size} bytes, more than the {round(cap / 2**20, 3):g} MiB a checksum list "
                            f"may have; check the server or mirror, or raise the limit with {MAX_LIST_ENV}=MB")


def parse_sha256sums(text: str | Iterable[str], source: str = CHECKSUM_FILE) -> dict[str, str]:
    """``{path: sha256}`` of ``<sha256> <path>`` lines (a string or an open file); CorruptFileError on a
    malformed line or a path that is absolute or climbs out of the dataset folder."""
    entries: dict[str, str] = {}
    for lineno, raw in enumerate(text.splitlines() if isinstance(text, str) else text, start=1):
        if not (line := raw.strip()):
            continue
        digest, _, path = line.partition(" ")
        if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest.lower()) or not path.strip():
            raise CorruptFileError(f"{source} line {lineno} is not '<sha256> <path>' ({line[:60]!r}); fetch it again")
        path = PurePosixPath(path.strip().removeprefix("*").removeprefix("./"))
        if path.is_absolute() or ".." in path.parts or "\\" in str(path):
            raise CorruptFileError(f"{source} line {lineno} names an unsafe path {str(path)!r} (outside the dataset "
                                   "folder); check the server or mirror you download from")
        entries[path.as_posix()] = digest.lower()
    return entries


def read_sha256sums(path: str | os.PathLike[str], max_bytes: int | None = None) -> dict[str, str]:
    """Parse a saved checksum list line by line, refusing one above the size cap (CorruptFileError)."""
    mib = _number(max_bytes and max_bytes / 2**20, MAX_LIST_ENV, "max_list_bytes", 64, "size > 0")
    if (size := os.stat(path).st_size) > (cap := int(mib * 2**20)):
        raise _too_large(str(path), size, cap)
    with open(path, encoding="utf-8", errors="replace") as fh:
        return parse_sha256sums(fh, str(path))


def sha256_file(path: str | os.PathLike[str]) -> str:
    """SHA256 hex digest of a file."""
    hasher = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            hasher.update(block)
    return hasher.hexdigest()


def _problem(path: Path, expected: str) -> str:
    """What is wrong with a listed file: ``""`` (verified), ``missing``, ``unreadable (...)`` or a mismatch."""
    try:
        got = sha256_file(path)
    except FileNotFoundError:
        return "missing"
    except OSError as exc:
        return f"unreadable ({exc.strerror or exc})"
    return "" if got == expected else f"SHA256 mismatch (expected {expected[:12]}…, got {got[:12]}…)"


def _select(ds: PhysioNetDataset, entries: dict[str, str], files: Sequence[str] | None) -> dict[str, tuple[str, str]]:
    """``{local path: (server path, sha256)}`` of the kept files that ``files`` (paths, folders or ``fnmatch``
    globs; None: all) select; DataNotFoundError for a pattern that matches nothing."""
    listed = {loc: (p, d) for p, d in entries.items() if p != CHECKSUM_FILE and (loc := ds.local_path(p)) is not None}
    chosen = set(listed) if files is None else set()
    for spec in [files] if isinstance(files, str) else files or ():
        pat = spec.strip().replace("\\", "/").removeprefix("./").rstrip("/")
        if not (hits := {p for p in listed if p == pat or p.startswith(pat + "/") or fnmatch.fnmatchcase(p, pat)}):
            raise DataNotFoundError(f"no file of {ds.title} matches {spec!r} in its {CHECKSUM_FILE}; give paths or "
                                    f"globs relative to the dataset folder, e.g. {next(iter(listed), 'RECORDS')!r}")
        chosen |= hits
    return {p: v for p, v in listed.items() if p in chosen}


@contextmanager
def _local_io(path: Path) -> Iterator[None]:
    """A local file-system failure (full disk, permissions) as a one-line DownloadError."""
    try:
        yield
    except OSError as exc:
        if isinstance(exc, (LeadliftError, requests.RequestException)):
            raise
        raise DownloadError(f"cannot write or read {exc.filename or path} ({exc.strerror or exc}); free some disk "
                            "space or choose a writable folder with --data-dir or LEADLIFT_DATA") from exc


def _parallel(fn: Callable[[Any], Any], items: Iterable[Any], workers: int) -> Iterator[Any]:
    """``fn`` over ``items`` on ``workers`` threads, in order, a bounded number in flight; an error cancels the rest."""
    pool, pending = ThreadPoolExecutor(workers, thread_name_prefix="leadlift-dl"), list[Any]()
    try:
        for item in items:
            pending.append(pool.submit(fn, item))
            if len(pending) > 4 * workers:
                yield pending.pop(0).result()
        yield from (future.result() for future in pending)
    finally:
        pool.shutdown(cancel_futures=True)


@dataclass(frozen=True)
class DownloadReport:
    """What :func:`download_dataset` did: files ``fetched`` (verified) and ``skipped`` (verified before)."""

    dataset: str
    root: Path
    fetched: tuple[str, ...]
    skipped: tuple[str, ...]
    bytes_downloaded: int

    def __str__(self) -> str:
        return (f"{len(self.fetched)} file(s) downloaded ({self.bytes_downloaded / 1e6:.1f} MB), "
                f"{len(self.skipped)} already verified, in {self.root}")


def _reason(exc: BaseException) -> str:
    """The innermost cause of a network error (``Connection refused``...)."""
    while isinstance(nxt := getattr(exc, "reason", None) or exc.__cause__ or exc.__context__, BaseException):
        exc = nxt
    return " ".join((getattr(exc, "strerror", None) or str(exc) or type(exc).__name__).split())


def _check_redirect(resp: requests.Response, **_: Any) -> None:
    """Response hook: refuse redirects to other schemes and from https down to http (requests follows those)."""
    new = urllib.parse.urljoin(resp.url, resp.headers["Location"]) if resp.is_redirect else ""
    if new and (not new.startswith(("http://", "https://")) or (new[:5], resp.url[:6]) == ("http:", "https:")):
        raise DownloadError(f"{resp.url} redirects to {new[:80]!r}; leadlift follows redirects to http(s) URLs "
                            f"only, never from https to http — check the mirror (--base-url or {BASE_URL_ENV})")


class _Downloader:
    """One :func:`download_dataset` call: session, limits, progress bar, bytes received."""

    def __init__(self, ds: PhysioNetDataset, base: str, timeout: float, retries: int, workers: int,
                 deadline: float, stall: float) -> None:
        self.ds, self.base, self.files_url, self.deadline, self.stall = ds, base, ds.files_url(base), deadline, stall
        self.timeouts = (min(timeout, 5.0), stall or timeout)  # connect, read: a read waiting longer is a stall
        self.deadline_at = time.monotonic() + (deadline or float("inf"))
        self.advice = f"try again later or get {ds.title} {ds.version} from https://physionet.org/content/{ds.slug}/{ds.version}/"
        self.retry = Retry(total=retries, backoff_factor=0.5, backoff_max=8.0)
        self.session = requests.Session()
        self.session.hooks["response"].append(_check_redirect)
        self.session.headers.update({"User-Agent": f"leadlift/{__version__}", "Accept-Encoding": "identity"})
        adapter = requests.adapters.HTTPAdapter(pool_maxsize=workers, max_retries=self.retry.new(
            connect=min(1, retries), status_forcelist=(429, 500, 502, 503, 504), raise_on_status=False,
            respect_retry_after_header=False))  # a Retry-After of hours must not outlive the deadline
        for prefix in ("http://", "https://"):
            self.session.mount(prefix, adapter)
        self.received, self.bar, self.lock = 0, tqdm(disable=True), threading.Lock()

    def check(self, url: str, got: int, stalled: bool = False) -> None:
        """Raise the deadline error when due, or the stall error when ``stalled`` (a read timed out)."""
        hint = "try again later (verified files are kept) or another mirror (--base-url), or raise the limit with"
        if time.monotonic() >= self.deadline_at - 0.05:
            raise DownloadError(f"{url}: the download did not finish within its {self.deadline:g} s deadline ({got} "
                                f"bytes of this file received); {hint} --deadline / {DEADLINE_ENV}=SECONDS (0 = none)")
        if stalled and self.stall:
            raise DownloadError(f"{url}: stalled — no bytes in {self.stall:g} s ({got} received); the server or "
                                f"network hangs; {hint} --stall-timeout / {STALL_ENV}=SECONDS (0 = none)")

    def download(self, url: str, dest: Path, expected: str | None = None, cap: int | None = None) -> None:
        """GET ``url`` into ``dest`` (resumed unless ``cap`` bounds a list) until complete and ``expected``."""
        retry = self.retry
        while True:
            try:
                self.get(url, dest, cap)
                if expected is None or (got := sha256_file(dest)) == expected:
                    return
                dest.unlink()
                error: Exception = CorruptFileError(f"{url}: SHA256 mismatch after {len(retry.history) + 1} attempt(s) "
                                                    f"(expected {expected[:12]}…, got {got[:12]}…); {self.advice}")
            except HTTPError as exc:  # urllib3's: a dropped or timed-out body
                error = exc
            try:
                retry = retry.increment("GET", url, error=error)
            except MaxRetryError:
                raise (error if isinstance(error, LeadliftError) else DownloadError(
                    f"{url}: {_reason(error)} after {len(retry.history) + 1} attempt(s); {self.advice}")) from None
            retry.sleep()

    def get(self, url: str, dest: Path, cap: int | None) -> None:
        offset = dest.stat().st_size if cap is None and dest.exists() else 0
        read_timeout = max(0.01, min(self.timeouts[1], self.deadline_at - time.monotonic()))  # a deadline cuts it
        try:
            resp = self.session.get(url, headers={"Range": f"bytes={offset}-"} if offset else None, stream=True,
                                    timeout=(self.timeouts[0], read_timeout))
        except requests.RequestException as exc:
            self.check(url, 0)
            raise DownloadError(f"cannot reach {self.base} ({_reason(exc)}); no network? {self.advice} elsewhere, "
                                f"then point --data-dir / LEADLIFT_DATA at the folder of `{self.ds.folder}/`") from exc
        with resp:
            if (code := resp.status_code) == 416 and offset:  # the .part is complete already
                return
            if code not in (200, 206):
                raise DownloadError(f"{url} {'not found' if code in (404, 410) else 'failed'} (HTTP {code} "
                                    f"{resp.reason}); check the mirror (--base-url or {BASE_URL_ENV}), {self.advice}")
            length, got = int(resp.headers.get("Content-Length") or 0), 0
            with self.lock:
                self.bar.total = (self.bar.total or 0) + length
            with open(dest, "ab" if code == 206 else "wb") as out:
                while True:
                    try:
                        chunk = resp.raw.read1(_CHUNK)
                    except ReadTimeoutError:
                        self.check(url, got, stalled=True)
                        raise
                    if not chunk:
                        return
                    if cap and max(got := got + len(chunk), length) > cap:  # a declared size is refused at once
                        raise _too_large(url, length if length > cap else f"more than {cap}", cap)
                    out.write(chunk)
                    with self.lock:
                        self.received += len(chunk)
                        self.bar.update(len(chunk))
                    self.check(url, got)

    def fetch(self, root: Path, rel: str, remote: str, expected: str) -> bool:
        """Whether ``root/rel`` had to be downloaded (via ``<file>.part``, removed on any error)."""
        part = (final := root / rel).with_name(final.name + ".part")
        with _local_io(final):
            if not _problem(final, expected):
                return False
            try:
                final.parent.mkdir(parents=True, exist_ok=True)
                self.download(f"{self.files_url}/{urllib.parse.quote(remote)}", part, expected)
                os.replace(part, final)
            finally:
                part.unlink(missing_ok=True)  # gone after the rename; after any error nothing partial stays
            return True

    def from_archive(self, root: Path, absent: dict[str, tuple[str, str]]) -> Iterator[str]:
        """Extract the ``absent`` files, verified, from the dataset's zip (its ``.part`` resumes next time)."""
        url = f"{self.base.removesuffix('/files')}/static/published-projects/{self.ds.slug}/{self.ds.archive}"
        try:
            with _local_io(part := root / f".{self.ds.archive}.part"):
                self.download(url, part)
                zf = zipfile.ZipFile(part)
            with _local_io(part), zf:
                for info in zf.infolist():  # members sit in one top folder; PTB-XL's are < 1 MB each
                    if (rel := self.ds.local_path(info.filename.split("/", 1)[-1])) in absent:
                        if hashlib.sha256(data := zf.read(info)).hexdigest() != absent[rel][1]:
                            raise zipfile.BadZipFile(f"its {rel} does not match {CHECKSUM_FILE}")
                        with atomic_path(root / rel) as tmp:
                            tmp.write_bytes(data)
                        yield rel
        except (zipfile.BadZipFile, EOFError) as exc:
            part.unlink(missing_ok=True)
            raise CorruptFileError(f"{url} is damaged ({exc}); it was removed: run the download again, or "
                                   f"{self.advice}") from exc
        part.unlink()


def download_dataset(name: str, data_dir: str | os.PathLike[str], base_url: str | None = None,
                     files: Sequence[str] | None = None, progress: bool = True, timeout: float = 10.0,
                     retries: int = 3, *, workers: int = 4, deadline: float | None = None,
                     stall_timeout: float | None = None, max_list_bytes: int | None = None,
                     archive: bool | None = None) -> DownloadReport:
    """Download a database, or the ``files`` (paths, folders, globs; ``[]``: only the checksum list) of it, into
    ``data_dir/<folder>/``, verified; safe to repeat. ``timeout``: to connect (at most 5 s) and, without a stall
    limit, per read; ``retries``: per request and file; ``deadline``: for the call (``$LEADLIFT_DOWNLOAD_DEADLINE``,
    default none); ``stall_timeout``: without a byte (``$LEADLIFT_DOWNLOAD_STALL_TIMEOUT``, default 60; 0 = none);
    ``archive``: use the zip (default: from :data:`ARCHIVE_MIN_FILES` absent files). Errors: one-line LeadliftError."""
    dl = _Downloader(ds := get_dataset(name), resolve_base_url(base_url), timeout, max(0, retries), max(1, workers),
                     _number(deadline, DEADLINE_ENV, "deadline", 0.0),
                     _number(stall_timeout, STALL_ENV, "stall_timeout", 60.0))
    mib = _number(max_list_bytes and max_list_bytes / 2**20, MAX_LIST_ENV, "max_list_bytes", 64, "size > 0")
    root, url = Path(data_dir) / ds.folder, f"{dl.files_url}/{CHECKSUM_FILE}"
    with _local_io(root / CHECKSUM_FILE), closing(dl.session):
        with atomic_path(root / CHECKSUM_FILE) as tmp:  # published only when complete and valid
            dl.download(url, tmp, cap=int(mib * 2**20))
            with open(tmp, encoding="utf-8", errors="replace") as fh:
                selected = _select(ds, parse_sha256sums(fh, url), files)
        dl.received, dl.bar = 0, tqdm(unit="B", unit_scale=True, unit_divisor=1024, desc=ds.folder,
                                      disable=not progress, dynamic_ncols=True)
        fetched: list[str] = []
        skipped: list[str] = []
        with dl.bar:
            absent = {k: v for k, v in selected.items() if not (root / k).exists()}
            if ds.archive and absent and (len(absent) >= ARCHIVE_MIN_FILES if archive is None else archive):
                fetched += dl.from_archive(root, absent)  # what the zip lacks comes as single files below
            done = set(fetched)
            todo = [(rel, *entry) for rel, entry in selected.items() if rel not in done]
            for (rel, *_), was_fetched in zip(todo, _parallel(lambda job: dl.fetch(root, *job), todo, workers),
                                              strict=True):
                (fetched if was_fetched else skipped).append(rel)
                dl.bar.set_postfix_str(f"{len(fetched) + len(skipped)}/{len(selected)} files", refresh=False)
    return DownloadReport(ds.name, root, tuple(fetched), tuple(skipped), dl.received)


def verify_dataset(name: str, data_dir: str | os.PathLike[str], *, files: Sequence[str] | None = None,
                   require_all: bool = False, workers: int = 4) -> list[str]:
    """One line per problem (``"<path>: ..."``) of the files in ``data_dir/<folder>/`` against its
    ``SHA256SUMS.txt``, absent files only with ``require_all``; the folder is never written to."""
    root = Path(data_dir) / (ds := get_dataset(name)).folder
    if not (root / CHECKSUM_FILE).is_file():
        raise DataNotFoundError(f"{root / CHECKSUM_FILE} is missing, so {ds.title} cannot be verified: run `leadlift "
                                f"download {ds.name}` or point --data-dir / LEADLIFT_DATA at the folder that holds it")
    selected = _select(ds, read_sha256sums(root / CHECKSUM_FILE), files)
    found = _parallel(lambda item: _problem(root / item[0], item[1][1]), selected.items(), workers)
    return [f"{rel}: {p}" for rel, p in zip(selected, found, strict=True) if p and (require_all or p != "missing")]
