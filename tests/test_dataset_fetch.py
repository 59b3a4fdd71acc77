"""``groupsup datasets fetch``: downloads against a local HTTP server on 127.0.0.1 (no network):
a fresh download verified, a resume by Range, a server that ignores Range, a checksum mismatch
refused, a present file skipped, a refused connection and a cut transfer reported in one line.
"""

from __future__ import annotations

import hashlib
import http.server
import os
import re
import socket
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

import groupsup as gs
from groupsup.cli import main
from groupsup.data.download import PARTIAL_SUFFIX, fetch
from groupsup.plugins import PLUGINS_ENV, reset_host

PAYLOAD = bytes(range(256)) * 1200 + b"tail"  # ~300 KB: several chunks, still instant
SHA256 = hashlib.sha256(PAYLOAD).hexdigest()
MD5 = hashlib.md5(PAYLOAD).hexdigest()


@dataclass
class Server:
    """What the handler serves and what it saw."""

    url: str = ""
    honour_range: bool = True
    cut_after: int | None = None  # send only this many body bytes, then close
    ranges: list[str] = field(default_factory=list)
    requests: int = 0


def _handler(state: Server) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.requests += 1
            if self.path != "/data/file.bin":
                self.send_error(404)
                return
            asked = self.headers.get("Range")
            start = 0
            if asked:
                state.ranges.append(asked)
            if asked and state.honour_range:
                start = int(re.fullmatch(r"bytes=(\d+)-", asked).group(1))
                if start >= len(PAYLOAD):
                    self.send_response(416)
                    self.end_headers()
                    return
                self.send_response(206)
                self.send_header("Content-Range",
                                 f"bytes {start}-{len(PAYLOAD) - 1}/{len(PAYLOAD)}")
            else:
                self.send_response(200)
            body = PAYLOAD[start:]
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body if state.cut_after is None else body[:state.cut_after])

        def log_message(self, *args) -> None:
            pass

    return Handler


@pytest.fixture
def server() -> Iterator[Server]:
    state = Server()
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}/data/file.bin"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield state
    httpd.shutdown()
    httpd.server_close()


def declared(url: str, /, **overrides) -> gs.Download:
    return gs.Download(**{"path": "sub/file.bin", "url": url, "size": len(PAYLOAD),
                          "sha256": SHA256, **overrides})


def test_a_fresh_download_is_verified_and_put_in_place(server, tmp_path):
    done = fetch(declared(server.url, md5=MD5), tmp_path, progress=False)
    target = tmp_path / "sub" / "file.bin"
    assert done.path == target and done.status == "downloaded" and done.resumed_from == 0
    assert done.digests == {"sha256": SHA256, "md5": MD5}
    assert target.read_bytes() == PAYLOAD
    assert not target.with_name("file.bin" + PARTIAL_SUFFIX).exists()
    assert server.ranges == []


def test_a_partial_download_resumes_with_a_range_request(server, tmp_path):
    partial = tmp_path / "sub" / ("file.bin" + PARTIAL_SUFFIX)
    partial.parent.mkdir()
    partial.write_bytes(PAYLOAD[:100_000])
    done = fetch(declared(server.url), tmp_path, progress=False)
    assert server.ranges == ["bytes=100000-"]
    assert done.resumed_from == 100_000
    assert (tmp_path / "sub" / "file.bin").read_bytes() == PAYLOAD
    assert not partial.exists()


def test_a_server_that_ignores_range_starts_over_cleanly(server, tmp_path):
    server.honour_range = False
    partial = tmp_path / "sub" / ("file.bin" + PARTIAL_SUFFIX)
    partial.parent.mkdir()
    partial.write_bytes(b"x" * 5000)  # would corrupt the file if appended to
    done = fetch(declared(server.url), tmp_path, progress=False)
    assert server.ranges == ["bytes=5000-"] and done.resumed_from == 0
    assert (tmp_path / "sub" / "file.bin").read_bytes() == PAYLOAD


def test_a_partial_file_the_server_cannot_continue_starts_over(server, tmp_path):
    partial = tmp_path / "sub" / ("file.bin" + PARTIAL_SUFFIX)
    partial.parent.mkdir()
    partial.write_bytes(b"y" * (len(PAYLOAD) + 10))  # longer than the file: a 416
    done = fetch(declared(server.url, size=None), tmp_path, progress=False)
    assert server.ranges == [f"bytes={len(PAYLOAD) + 10}-"] and server.requests == 2
    assert done.resumed_from == 0 and done.path.read_bytes() == PAYLOAD


def test_a_checksum_mismatch_is_refused_naming_the_file(server, tmp_path):
    wrong = "0" * 64
    with pytest.raises(gs.DataError) as err:
        fetch(declared(server.url, sha256=wrong), tmp_path, progress=False)
    message = str(err.value)
    target = tmp_path / "sub" / "file.bin"
    assert message.startswith(f"{target}: sha256 {SHA256}, expected {wrong}")
    assert "\n" not in message and "removed" in message
    assert not target.exists()
    assert not target.with_name("file.bin" + PARTIAL_SUFFIX).exists()


def test_a_size_mismatch_is_refused_before_hashing(server, tmp_path):
    with pytest.raises(gs.DataError, match=r"file.bin: size 307204 bytes, expected 307205"):
        fetch(declared(server.url, size=len(PAYLOAD) + 1), tmp_path, progress=False)
    assert not (tmp_path / "sub" / "file.bin").exists()


def test_a_verified_file_is_not_downloaded_again(server, tmp_path):
    fetch(declared(server.url), tmp_path, progress=False)
    done = fetch(declared(server.url), tmp_path, progress=False)
    assert done.status == "present" and server.requests == 1


def test_a_different_file_at_the_target_is_left_alone(server, tmp_path):
    target = tmp_path / "sub" / "file.bin"
    target.parent.mkdir()
    target.write_bytes(b"mine")
    with pytest.raises(gs.DataError, match="already there but size 4 bytes"):
        fetch(declared(server.url), tmp_path, progress=False)
    assert target.read_bytes() == b"mine" and server.requests == 0


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_refused_connection_is_one_line_naming_the_url(tmp_path):
    url = f"http://127.0.0.1:{_closed_port()}/file.bin"
    with pytest.raises(gs.DataError) as err:
        fetch(declared(url), tmp_path, progress=False)
    assert str(err.value) == f"{url}: Connection refused"


def test_an_http_error_is_one_line_with_its_status(server, tmp_path):
    url = server.url.replace("/data/file.bin", "/missing")
    with pytest.raises(gs.DataError) as err:
        fetch(declared(url), tmp_path, progress=False)
    assert str(err.value) == f"{url}: HTTP 404 Not Found"


def test_a_cut_transfer_keeps_the_partial_file_and_the_next_run_resumes_it(server, tmp_path):
    server.cut_after = 70_000
    with pytest.raises(gs.DataError) as err:
        fetch(declared(server.url), tmp_path, progress=False)
    partial = tmp_path / "sub" / ("file.bin" + PARTIAL_SUFFIX)
    assert str(err.value).startswith(f"{server.url}: ")
    assert f"{partial} is kept" in str(err.value) and "\n" not in str(err.value)
    assert partial.read_bytes() == PAYLOAD[:70_000]
    assert not (tmp_path / "sub" / "file.bin").exists()
    server.cut_after = None
    done = fetch(declared(server.url), tmp_path, progress=False)
    assert done.resumed_from == 70_000 and server.ranges == ["bytes=70000-"]
    assert done.path.read_bytes() == PAYLOAD


@pytest.mark.parametrize(("overrides", "message"), [
    ({"path": "/abs/file"}, "must be a relative path"),
    ({"path": "../up"}, "must be a relative path"),
    ({"url": "ftp://host/file"}, "must start with http"),
    ({"size": 0}, "size must be a positive number"),
    ({"sha256": "ABC"}, "sha256 must be 64 lowercase hex digits"),
    ({"sha256": None}, "give its sha256"),
])
def test_a_bad_declaration_is_refused_naming_the_field(overrides, message):
    with pytest.raises(gs.PluginError, match=message):
        declared("http://127.0.0.1/file.bin", **overrides)


# ------------------------------------------------------------ the command line


@pytest.fixture
def plugin(tmp_path, monkeypatch, server) -> Server:
    """A plugin declaring the local server's file as dataset ``local``, root ``<tmp>/data``."""
    path = tmp_path / "local_data_plugin.py"
    path.write_text(textwrap.dedent(f"""
        from pathlib import Path

        from pydantic import BaseModel

        import groupsup as gs

        class Options(BaseModel):
            root: Path = Path({str(tmp_path / "data")!r})

        @gs.hookimpl
        def register_datasets(register):
            register("local", gs.DatasetSpec(
                schema=None, load=lambda o: None, options_model=Options, expects="<root>/f",
                downloads=(gs.Download(path="file.bin", url={server.url!r},
                                       size={len(PAYLOAD)}, sha256={SHA256!r}),)))
    """))
    monkeypatch.setenv(PLUGINS_ENV, str(path))
    reset_host()
    yield server
    reset_host()


def test_the_command_downloads_into_the_default_root_then_skips(plugin, tmp_path, capsys):
    assert main(["datasets", "fetch", "local"]) == 0
    target = tmp_path / "data" / "file.bin"
    assert target.read_bytes() == PAYLOAD
    assert f"{target}: downloaded from {plugin.url}; verified (sha256 {SHA256})" in (
        capsys.readouterr().out)
    assert main(["datasets", "fetch", "local"]) == 0
    assert "already present and verified" in capsys.readouterr().out
    assert plugin.requests == 1


def test_the_command_downloads_into_out_and_says_how_to_use_it(plugin, tmp_path, capsys):
    out = tmp_path / "elsewhere"
    assert main(["datasets", "fetch", "local", "--out", str(out)]) == 0
    assert (out / "file.bin").read_bytes() == PAYLOAD
    assert f'dataset.options.root = "{out}"' in capsys.readouterr().out


def test_the_command_reports_a_network_error_in_one_line(plugin, tmp_path, capsys):
    plugin.cut_after = 1000
    assert main(["datasets", "fetch", "local"]) == 1
    err = capsys.readouterr().err.strip().splitlines()  # the progress bar, then the error
    assert err[-1].startswith(f"groupsup: error: {plugin.url}: ") and "is kept" in err[-1]
    assert (tmp_path / "data" / ("file.bin" + PARTIAL_SUFFIX)).exists()


def test_listing_still_works_beside_fetch(plugin, capsys):
    assert main(["datasets", "local"]) == 0
    assert "    download: groupsup datasets fetch local\n" in capsys.readouterr().out
    assert main(["datasets", "local", "extra"]) == 1
    assert "go with fetch only" in capsys.readouterr().err


@pytest.mark.parametrize(("name", "where"), [("ilab", "ilab.usc.edu"),
                                             ("rafd", "rafd.socsci.ru.nl")])
def test_registration_datasets_say_where_to_request_them(name, where, tmp_path, capsys,
                                                         monkeypatch):
    pytest.importorskip(f"groupsup_{name}")
    monkeypatch.chdir(tmp_path)
    reset_host()
    assert main(["datasets", "fetch", name]) == 1
    err = capsys.readouterr().err
    assert where in err and f"data/{name}/" in err and "The loader expects: <root>/" in err
    assert os.listdir(tmp_path) == []


def test_import_groupsup_does_not_load_the_downloader():
    code = "import sys, groupsup; assert 'groupsup.data.download' not in sys.modules"
    assert subprocess.run([sys.executable, "-c", code], timeout=120).returncode == 0
