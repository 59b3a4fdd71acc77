"""Fetching the public files a dataset declares (:class:`~groupsup.data.spec.Download`).

A file is streamed into ``<target>.partial`` beside its target, with a progress bar. A partial
file left by an interrupted run is resumed with an HTTP ``Range`` request; a server that
ignores ``Range`` (answers 200) sends the whole file, which then overwrites the partial one.
Size and digests are checked before the file is renamed into place, so the target path only
ever holds a complete, verified file. A mismatch removes the partial file (resuming a corrupt
prefix would fail again) and names the file, the expected and the actual digest. A network
failure keeps the partial file for the next run to resume.

The command line imports this module when ``groupsup datasets fetch`` runs; ``import
groupsup`` does not, so no networking module is loaded at import time.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import re
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from tqdm.auto import tqdm

from groupsup.data.spec import DatasetSpec, Download
from groupsup.errors import DataError
from groupsup.fileio import replace_file, write_error
from groupsup.version import __version__

PARTIAL_SUFFIX = ".partial"
CHUNK_BYTES = 1 << 20
TIMEOUT_S = 30.0


@dataclass(frozen=True)
class Fetched:
    """What :func:`fetch` did with one file: ``status`` is ``"present"`` (already there and
    verified; not downloaded again) or ``"downloaded"``; ``resumed_from`` is the byte offset a
    resumed download started at (0: from the start)."""

    path: Path
    status: Literal["present", "downloaded"]
    digests: dict[str, str]
    resumed_from: int = 0


def default_folder(spec: DatasetSpec) -> Path | None:
    """The folder a dataset reads by default: the default of its ``root`` option, or None."""
    field = spec.options_model.model_fields.get("root")
    if field is None or field.is_required() or field.default is None:
        return None
    return Path(field.default)


def file_digests(path: Path, names: list[str]) -> dict[str, str]:
    """The hex digests *names* (e.g. ``["sha256"]``) of the file at *path*, read once."""
    hashes = {name: hashlib.new(name) for name in names}
    with open(path, "rb") as handle:
        while block := handle.read(CHUNK_BYTES):
            for h in hashes.values():
                h.update(block)
    return {name: h.hexdigest() for name, h in hashes.items()}


def mismatch(download: Download, path: Path) -> tuple[str | None, dict[str, str]]:
    """``(problem, digests)``: what about the file at *path* differs from the declaration (its
    size, else each digest: ``sha256 <actual>, expected <declared>``), or None; and its
    digests (empty when the size already differs)."""
    size = path.stat().st_size
    if download.size is not None and size != download.size:
        return f"size {size} bytes, expected {download.size}", {}
    expected = download.digests()
    actual = file_digests(path, list(expected))
    wrong = [f"{name} {actual[name]}, expected {value}" for name, value in expected.items()
             if actual[name] != value]
    return ("; ".join(wrong) or None), actual


def _reason(err: BaseException) -> str:
    if isinstance(err, urllib.error.HTTPError):
        return f"HTTP {err.code} {err.reason}"
    if isinstance(err, urllib.error.URLError):
        if not isinstance(err.reason, BaseException):
            return str(err.reason)
        err = err.reason
    if isinstance(err, OSError) and err.strerror:
        return err.strerror
    return str(err) or type(err).__name__


def _network_error(download: Download, err: BaseException, partial: Path) -> DataError:
    kept = (f"; the partial download {partial} is kept, and the next run resumes it"
            if partial.exists() and partial.stat().st_size else "")
    return DataError(f"{download.url}: {_reason(err)}{kept}")


def _content_start(response: http.client.HTTPResponse, offset: int) -> int | None:
    """Where the response's body starts in the file: *offset* for a 206 whose Content-Range
    starts there, 0 for a 200 (the server ignored ``Range``), None for a 206 elsewhere."""
    if response.status != 206:
        return 0
    found = re.match(r"bytes (\d+)-", response.headers.get("Content-Range", ""))
    return offset if found and int(found.group(1)) == offset else None


def _open(download: Download, offset: int, partial: Path) -> http.client.HTTPResponse | None:
    """The server's response for the bytes from *offset*; None for a 416 (Range Not
    Satisfiable: the partial file is no prefix of what the server has)."""
    headers = {"User-Agent": f"groupsup/{__version__}"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    request = urllib.request.Request(download.url, headers=headers)
    try:
        return urllib.request.urlopen(request, timeout=TIMEOUT_S)
    except urllib.error.HTTPError as err:
        err.close()
        if err.code == 416 and offset:
            return None
        raise _network_error(download, err, partial) from None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as err:
        raise _network_error(download, err, partial) from None


def _stream(download: Download, response: http.client.HTTPResponse, partial: Path,
            start: int, progress: bool) -> None:
    """Write the body of *response* to *partial* from byte *start* (appending, or afresh)."""
    length = response.headers.get("Content-Length")
    total = start + int(length) if length and length.isdigit() else download.size
    with open(partial, "ab" if start else "wb") as out, tqdm(
            total=total, initial=start, unit="B", unit_scale=True, unit_divisor=1024,
            desc=partial.name.removesuffix(PARTIAL_SUFFIX), disable=not progress) as bar:
        while True:
            try:
                block = response.read(CHUNK_BYTES)
            except (OSError, http.client.HTTPException) as err:
                out.flush()
                raise _network_error(download, err, partial) from None
            if not block:
                break
            try:
                out.write(block)
            except OSError as err:
                raise (write_error(err, partial) or err) from None
            bar.update(len(block))
    received = partial.stat().st_size
    if total is not None and received < total:
        raise _network_error(download, ConnectionError(
            f"the connection closed after {received} of {total} bytes"), partial)


def _transfer(download: Download, partial: Path, progress: bool) -> int:
    """Download into *partial*, resuming what is there; the offset it resumed from."""
    offset = partial.stat().st_size if partial.exists() else 0
    if download.size is not None and offset > download.size:
        partial.unlink()
        offset = 0
    if download.size is not None and offset == download.size:
        return offset  # complete already: only the checks are left
    response = _open(download, offset, partial)
    if response is None:  # the server cannot continue from there: start over
        partial.unlink()
        return _transfer(download, partial, progress)
    with response:
        start = _content_start(response, offset)
        if start is None:
            raise DataError(f"{download.url}: asked for bytes from {offset}, the server sent "
                            f"Content-Range {response.headers.get('Content-Range')!r}; "
                            f"delete {partial} to start over")
        _stream(download, response, partial, start, progress)
    return start


def fetch(download: Download, folder: str | os.PathLike, progress: bool = True) -> Fetched:
    """Put the file *download* declares at ``folder / download.path``, verified.

    Already there with the declared size and digests: nothing is downloaded (``"present"``).
    Otherwise it is downloaded (or resumed) into ``<target>.partial`` and renamed into place
    once checked. Raises :class:`DataError` naming the URL and the reason for a network failure
    (the partial file is kept), and naming the file with the expected and actual digest for a
    mismatch (the partial file is removed; nothing is put at the target). A file already at the
    target that does not match is left alone and refused.
    """
    target = Path(folder) / download.path
    if target.is_file():
        problem, digests = mismatch(download, target)
        if problem is None:
            return Fetched(target, "present", digests)
        raise DataError(f"{target}: already there but {problem}; move it away to download "
                        "it again")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + PARTIAL_SUFFIX)
    resumed_from = _transfer(download, partial, progress)
    problem, digests = mismatch(download, partial)
    if problem is not None:
        partial.unlink()
        raise DataError(f"{target}: {problem} (downloaded from {download.url}); the download "
                        "was removed and nothing was put in place, so the next run starts over")
    replace_file(partial, target)
    return Fetched(target, "downloaded", digests, resumed_from)
