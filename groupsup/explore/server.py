"""The HTTP server of ``groupsup explore``: the page's three static files and the JSON API.

Built on the standard library's ``ThreadingHTTPServer`` (one thread per connection; the model
is shared, torch releases the GIL inside its kernels). Routes are a fixed table: a static file
is looked up by its exact URL in :data:`STATIC`, never by joining a client's path, and no
request names a file or a checkpoint. Bodies need a ``Content-Length`` within the limits;
every refusal is a 4xx JSON ``{"error": ..., "field": ...}``. Bound to a loopback address, the
server answers only requests whose ``Host`` is a loopback name (a page on another site cannot
reach it through DNS rebinding). See docs/explore.md for the API.

The server can listen before its model is loaded (``ExploreServer(loader, ...)``: the page
comes at once, API requests wait for the load, up to :data:`LOAD_WAIT` seconds, then get 503).
"""

from __future__ import annotations

import base64
import ipaddress
import json
import re
import sys
import threading
import time
import traceback
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from groupsup.explore.explorer import Explorer, RequestError

# URL -> (file under groupsup/explore/static, content type)
STATIC = {"/": ("index.html", "text/html; charset=utf-8"),
          "/app.js": ("app.js", "text/javascript; charset=utf-8"),
          "/style.css": ("style.css", "text/css; charset=utf-8")}
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]", "::1")
EXAMPLE_PNG = re.compile(r"/api/examples/([0-9]{1,12})\.png")
UPLOAD_PNG = re.compile(r"/api/uploads/(u[0-9]{1,9})\.png")
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
                               "object-src 'none'; frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
}


LOAD_WAIT = 300.0  # seconds an API request waits for a model still loading
IDLE_TIMEOUT = 30.0  # seconds a connection may stay silent


def is_loopback(host: str) -> bool:
    """Whether a ``Host`` name (port removed) is ``localhost`` or a literal loopback address
    (127.0.0.0/8, ``[::1]``). Only literals: a name that merely starts with ``127.``
    (``127.0.0.1.nip.io``) resolves wherever its owner says, and a page whose domain rebinds
    to 127.0.0.1 would send exactly such a header."""
    host = host.lower()
    if host in LOOPBACK_NAMES:
        return True
    if not host.isascii() or not all(part.isdigit() for part in host.split(".")):
        return False
    try:
        return ipaddress.IPv4Address(host).is_loopback
    except ipaddress.AddressValueError:
        return False


def host_name(header: str) -> str:
    """The name part of a ``Host`` header (``127.0.0.1:8765`` -> ``127.0.0.1``, ``[::1]:80``
    -> ``[::1]``)."""
    if header.startswith("["):
        end = header.find("]") + 1
        rest = header[end:]
        # anything after the bracket but a port leaves the whole header, which no check accepts
        return header[:end] if end and (not rest or (rest[1:].isdigit() and rest[0] == ":")) \
            else header
    return header.rsplit(":", 1)[0]


def data_url(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


class ExploreServer(ThreadingHTTPServer):
    """Serves one :class:`Explorer`. ``port`` 0 takes a free port (see :attr:`url`).

    *explorer*: a loaded :class:`Explorer`, or a function returning one: then the server
    listens at once and :meth:`start_loading` loads it on a thread while the page is already
    served (the command prints its URL before the model is read; API requests wait for it).
    """

    daemon_threads = True  # a hung client never keeps the process alive
    # connections the kernel queues while every thread is busy accepting (socketserver's 5
    # reset 15-68% of 20-50 simultaneous clients)
    request_queue_size = 128

    def __init__(self, explorer: Explorer | Callable[[], Explorer], host: str = "127.0.0.1",
                 port: int = 0, verbose: bool = False):
        self.verbose = verbose
        self._loaded = threading.Event()
        self._explorer: Explorer | None = None
        self._loader: Callable[[], Explorer] | None = None
        self.load_error: BaseException | None = None
        self.load_seconds: float | None = None
        if isinstance(explorer, Explorer):
            self._explorer = explorer
            self._loaded.set()
        else:
            self._loader = explorer
        self.static = {url: resources.files("groupsup.explore").joinpath("static", name)
                       .read_bytes() for url, (name, _) in STATIC.items()}
        super().__init__((host, port), Handler)
        self.loopback = is_loopback(host)

    def start_loading(self) -> threading.Thread | None:
        """Load the explorer on a daemon thread (nothing to do when it was given loaded)."""
        if self._loaded.is_set() or self._loader is None:
            return None
        thread = threading.Thread(target=self._load, name="explore-load", daemon=True)
        thread.start()
        return thread

    def _load(self) -> None:
        started = time.perf_counter()
        try:
            self._explorer = self._loader()
        except BaseException as err:  # reported by wait_loaded and to clients
            self.load_error = err
        self.load_seconds = time.perf_counter() - started
        self._loaded.set()

    def wait_loaded(self, timeout: float | None = None) -> Explorer:
        """The explorer once loaded; re-raises the load's error; ``TimeoutError`` after
        *timeout* seconds."""
        if not self._loaded.wait(timeout):
            raise TimeoutError(f"the model is still loading after {timeout:g} s")
        if self.load_error is not None:
            raise self.load_error
        assert self._explorer is not None
        return self._explorer

    @property
    def explorer(self) -> Explorer:
        """The loaded explorer; a request that needs it waits for the load (503 when it
        failed or takes longer than :data:`LOAD_WAIT`)."""
        if self._explorer is not None:
            return self._explorer
        try:
            return self.wait_loaded(LOAD_WAIT)
        except TimeoutError as err:
            raise RequestError("model", str(err), HTTPStatus.SERVICE_UNAVAILABLE) from None
        except BaseException as err:  # the load failed: say why, 503
            raise RequestError("model", f"the model could not be loaded: {err}",
                               HTTPStatus.SERVICE_UNAVAILABLE) from None

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hung up (closed tab, a script's keep-alive connection dropped) is not
        the server's error: no traceback for it; anything else is printed as the standard
        library does."""
        if isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            return
        super().handle_error(request, client_address)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{'[' + host + ']' if ':' in host else host}:{port}/"


class Handler(BaseHTTPRequestHandler):
    server: ExploreServer
    protocol_version = "HTTP/1.1"  # keep-alive: scripts and the page reuse connections
    server_version = "groupsup-explore"
    # headers and body go out as two writes: with Nagle's algorithm the second waits for the
    # client's delayed ACK (~40 ms per request on Linux)
    disable_nagle_algorithm = True
    # an idle keep-alive connection (or a client that sends nothing) is closed after this many
    # seconds, so silent connections do not each hold a thread for ever
    timeout = IDLE_TIMEOUT

    # ------------------------------------------------------------------ plumbing
    def log_message(self, format: str, *args: Any) -> None:
        if self.server.verbose:
            super().log_message(format, *args)

    def _send(self, status: int, body: bytes, content_type: str,
              headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in {**SECURITY_HEADERS, **(headers or {})}.items():
            self.send_header(key, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, value: Any, status: int = 200) -> None:
        self._send(status, json.dumps(value).encode(), "application/json",
                   {"Cache-Control": "no-store"})

    def _png(self, png: bytes, cache: bool = False) -> None:
        self._send(200, png, "image/png",
                   {"Cache-Control": "max-age=3600" if cache else "no-store"})

    def _error(self, err: RequestError) -> None:
        self._json({"error": err.message, "field": err.field}, err.status)

    def _body(self, limit: int) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self.close_connection = True
            raise RequestError("Content-Length", "chunked bodies are not accepted; send "
                               "Content-Length", HTTPStatus.LENGTH_REQUIRED)
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            self.close_connection = True
            raise RequestError("Content-Length", "missing or not an integer",
                               HTTPStatus.LENGTH_REQUIRED) from None
        if length < 0 or length > limit:
            self.close_connection = True  # the body stays unread: the connection cannot go on
            raise RequestError("body", f"{length} bytes exceeds the limit of {limit}",
                               HTTPStatus.REQUEST_ENTITY_TOO_LARGE)
        return self.rfile.read(length)

    def _json_body(self) -> dict[str, Any]:
        raw = self._body(self.server.explorer.limits.json_bytes)
        try:
            value = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            raise RequestError("body", f"not valid JSON ({err})") from None
        if not isinstance(value, dict):
            raise RequestError("body", f"expected a JSON object, got {type(value).__name__}")
        return value

    def _dispatch(self, routes: dict[str, Any]) -> None:
        host = host_name(self.headers.get("Host", ""))
        try:
            if self.server.loopback and not is_loopback(host):
                raise RequestError("Host", f"{host!r} is not a loopback name; the server is "
                                   "bound to a loopback address", HTTPStatus.FORBIDDEN)
            url = urlsplit(self.path)
            handler = routes.get(url.path)
            if handler is None:
                handler = self._pattern_route(url.path) if self.command in ("GET", "HEAD") \
                    else None
            if handler is None:
                raise RequestError("path", f"no such {self.command} endpoint {url.path!r}",
                                   HTTPStatus.NOT_FOUND)
            handler(url)
        except RequestError as err:
            self._error(err)
        except Exception as err:  # a bug: the client gets a 500, the console the traceback
            traceback.print_exc(file=sys.stderr)
            self.close_connection = True
            self._json({"error": f"internal error: {type(err).__name__}: {err}",
                        "field": None}, 500)

    def _pattern_route(self, path: str):
        server = self.server  # its explorer is read inside a route: static files never wait
        if match := EXAMPLE_PNG.fullmatch(path):
            return lambda url: self._png(server.explorer.thumbnail(int(match[1])), cache=True)
        if match := UPLOAD_PNG.fullmatch(path):
            return lambda url: self._png(server.explorer.upload_png(match[1]), cache=True)
        if path in self.server.static:
            content_type = STATIC[path][1]
            return lambda url: self._send(200, self.server.static[path], content_type,
                                          {"Cache-Control": "no-cache"})
        return None

    # ------------------------------------------------------------------ methods
    def do_GET(self) -> None:
        server = self.server
        self._dispatch({
            "/api/info": lambda url: self._json(server.explorer.info()),
            "/api/examples": lambda url: self._json(server.explorer.examples(
                _query(url.query))),
            "/api/run": lambda url: self._json(server.explorer.run_info()),
        })

    do_HEAD = do_GET

    def do_POST(self) -> None:
        self._dispatch({"/api/synthesize": self._synthesize, "/api/sweep": self._sweep,
                        "/api/interpolate": self._interpolate, "/api/upload": self._upload})

    def _synthesize(self, url) -> None:
        request = self._json_body()
        fmt = _format(request)
        png, about = self.server.explorer.synthesize(request)
        if fmt == "png":
            self._png(png)
        else:
            self._json({"image": data_url(png), **about})

    def _sweep(self, url) -> None:
        result = self.server.explorer.sweep(self._json_body())
        for item in result["items"]:
            item["image"] = data_url(item["image"])
        self._json(result)

    def _interpolate(self, url) -> None:
        request = self._json_body()
        fmt = _format(request)
        png = self.server.explorer.interpolate(request)
        if fmt == "png":
            self._png(png)
        else:
            self._json({"image": data_url(png)})

    def _upload(self, url) -> None:
        self._json(self.server.explorer.upload(
            self._body(self.server.explorer.limits.upload_bytes)), 201)

    def _refuse(self) -> None:
        self._dispatch({})

    do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _refuse


def _format(request: dict[str, Any]) -> str:
    fmt = request.get("format", "png")
    if fmt not in ("png", "json"):
        raise RequestError("format", f"expected 'png' or 'json', got {fmt!r}")
    return fmt


def _query(text: str) -> dict[str, str]:
    try:
        pairs = parse_qsl(text, keep_blank_values=True, max_num_fields=64)
    except ValueError as err:
        raise RequestError("query", str(err)) from None
    query = dict(pairs)
    if len(query) != len(pairs):
        raise RequestError("query", "a parameter is given twice")
    return query
