"""Latency and throughput of ``groupsup explore``'s ``POST /api/synthesize`` under concurrent
clients, against a baseline measured in the same run.

The server runs as ``groupsup explore RUN --port 0`` in its own process (as a user starts it;
its start-up time is reported, to the printed URL (the page is served from then on: target
< 3 s) and to the first answer of the API (the model loaded)). N client threads here each
keep one HTTP connection and send R requests, each with random providers (example ids) for
every attribute, and read the PNG. Reported: p50 and p95 latency and requests/s over all
clients; the baseline is the same synthesis called directly in this process (no HTTP, one
request at a time: encode the providers not yet cached, assemble, decode, PNG).

Target (issue 17): p95 <= 50 ms per 32 px synthesis with 8 concurrent clients on a 2-core CPU.
Only a quiet machine gives meaningful numbers.

    python benchmarks/explore.py                     # runs/demo/run, 8 clients
    python benchmarks/explore.py RUN --clients 8 --requests 200
    python benchmarks/explore.py --toy --size 32     # a 2-step toy run of the demo's network
    python benchmarks/explore.py --toy --size 16 --clients 2 --requests 3 --in-process --json
"""

from __future__ import annotations

import argparse
import http.client
import json
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np

import groupsup as gs
from groupsup.cli import main as groupsup_main
from groupsup.explore import Explorer, ExploreServer
from groupsup.plugins import reset_host

DEMO_RUN = Path("runs/demo/run")


class FontsLike(gs.Schema):
    letter = gs.Attribute(values=list("ABCDEFGHIJ"), latent=20)
    size = gs.Attribute(values=["small", "medium", "large"], latent=20)
    font_color = gs.Attribute(values=["red", "yellow", "green", "blue", "pink"], latent=20)
    back_color = gs.Attribute(values=["red", "yellow", "green", "blue", "pink"], latent=20)
    font = gs.Attribute(values=[f"f{i}" for i in range(6)], latent=20)


def toy_run(root: Path, size: int) -> Path:
    """A 2-step run of the demo's network (conv-small 32..128) on random images of *size* px
    with Fonts' five attributes: latency depends on the network and the size, not on training."""
    rng = np.random.default_rng(0)
    grids = np.meshgrid(*[range(len(a.values)) for a in FontsLike.attributes], indexing="ij")
    labels = np.stack(grids, -1).reshape(-1, len(FontsLike.attributes))
    labels = labels[rng.permutation(len(labels))[:600]]
    images = rng.integers(0, 256, (len(labels), size, size, 3), dtype=np.uint8)
    store = gs.GroupDataset.from_arrays(FontsLike, images, labels).write_store(root / "store")
    config = {"name": "explore-bench",
              "dataset": {"name": "store", "options": {"path": str(store)}},
              "model": {"backbone": "conv-small", "options": {"width": 32, "max_width": 128}},
              "train": {"steps": 2, "groups_per_step": 2, "progress": False,
                        "out": str(root / "run")}}
    (root / "bench.json").write_text(json.dumps(config))
    reset_host()
    if groupsup_main(["train", str(root / "bench.json")]) != 0:
        raise SystemExit("training the toy run failed")
    reset_host()
    return root / "run"


def percentiles(seconds: list[float]) -> dict[str, float]:
    ms = np.asarray(seconds) * 1000
    return {"p50_ms": float(np.percentile(ms, 50)), "p95_ms": float(np.percentile(ms, 95)),
            "mean_ms": float(ms.mean())}


def bodies(explorer: Explorer, count: int, seed: int) -> list[bytes]:
    rng = np.random.default_rng(seed)
    # a provider for every attribute, and for the unlabelled block where the model has one
    ids = rng.integers(0, len(explorer.dataset), (count, len(explorer.blocks)))
    return [json.dumps({"providers": dict(zip(explorer.blocks, map(int, row)))}).encode()
            for row in ids]


def baseline(explorer: Explorer, requests: int) -> dict[str, float]:
    """The direct in-process synthesis, one request at a time."""
    times = []
    for body in bodies(explorer, requests, seed=1):
        started = time.perf_counter()
        explorer.synthesize(json.loads(body))
        times.append(time.perf_counter() - started)
    return percentiles(times)


def drive(url: str, explorer: Explorer, clients: int, requests: int) -> dict[str, float]:
    """*clients* threads, each with one keep-alive connection, *requests* each."""
    host, port = urlsplit(url).hostname, urlsplit(url).port
    times: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()

    def client(k: int) -> None:
        conn = http.client.HTTPConnection(host, port, timeout=60)
        conn.connect()  # as browsers do: no Nagle delay between a request's header and body
        conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        mine = []
        for body in bodies(explorer, requests, seed=100 + k):
            started = time.perf_counter()
            conn.request("POST", "/api/synthesize", body=body,
                         headers={"Content-Type": "application/json"})
            response = conn.getresponse()
            data = response.read()
            mine.append(time.perf_counter() - started)
            if response.status != 200:
                with lock:
                    errors.append(f"{response.status}: {data[:200]!r}")
        conn.close()
        with lock:
            times.extend(mine)

    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    if errors:
        raise SystemExit(f"{len(errors)} requests failed, e.g. {errors[0]}")
    return {**percentiles(times), "requests_per_s": len(times) / wall, "requests": len(times)}


def start_server(run: Path, threads: int | None = None
                 ) -> tuple[subprocess.Popen, str, float, float]:
    """``groupsup explore RUN --port 0`` in a child process: (process, URL, seconds to the
    printed URL, seconds to the API's first answer)."""
    started = time.perf_counter()
    command = [sys.executable, "-m", "groupsup", "explore", str(run), "--port", "0"]
    if threads:
        command += ["--threads", str(threads)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    for line in process.stdout:
        if line.startswith("open "):
            url = line.split()[1]
            listening = time.perf_counter() - started
            parts = urlsplit(url)
            connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=300)
            connection.request("GET", "/api/info")  # waits for the model to load
            status = connection.getresponse().status
            connection.close()
            if status != 200:
                raise SystemExit(f"GET /api/info answered {status}")
            return process, url, listening, time.perf_counter() - started
    process.wait()
    raise SystemExit(f"groupsup explore exited with {process.returncode} before serving")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", nargs="?", default=None,
                        help=f"run to serve (default {DEMO_RUN} if present, else --toy)")
    parser.add_argument("--toy", action="store_true", help="a 2-step toy run of the demo's "
                        "network on random images (no training data needed)")
    parser.add_argument("--size", type=int, default=32, help="image size of --toy (default 32)")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--requests", type=int, default=100, help="requests per client")
    parser.add_argument("--in-process", action="store_true",
                        help="serve from a thread of this process (a quick smoke run; the "
                        "clients then share the server's interpreter)")
    parser.add_argument("--server-threads", type=int, default=None, metavar="N",
                        help="torch threads of the server (`groupsup explore --threads`; "
                        "default torch's choice)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(args.run) if args.run else None
        if run is None and not args.toy and DEMO_RUN.is_dir():
            run = DEMO_RUN
        if run is None:
            run = toy_run(Path(tmp), args.size)
        explorer = Explorer(run)
        base = baseline(explorer, max(args.requests, 20))
        if args.in_process:
            server = ExploreServer(explorer, "127.0.0.1", 0)
            thread = threading.Thread(target=server.serve_forever, daemon=True)
            thread.start()
            process, url, startup, ready = None, server.url, None, None
        else:
            process, url, startup, ready = start_server(run, args.server_threads)
        try:
            drive(url, explorer, args.clients, 5)  # warm-up: connections, caches
            loaded = drive(url, explorer, args.clients, args.requests)
        finally:
            if process is None:
                server.shutdown()
                server.server_close()
            else:
                process.terminate()
                process.wait()
    c, h, w = explorer.model.image_shape
    report = {"run": str(run), "image": [c, h, w], "clients": args.clients,
              "requests_per_client": args.requests, "startup_s": startup, "ready_s": ready,
              "server_threads": args.server_threads,
              "in_process": args.in_process, "baseline": base, "served": loaded,
              "target_p95_ms": 50.0,
              "meets_target": loaded["p95_ms"] <= 50.0 and args.clients >= 8 and h <= 32}
    if args.json:
        print(json.dumps(report, indent=2))
        return report
    print(f"run {run}: {w}x{h} px images; server start-up "
          + ("(in process)" if startup is None else
             f"{startup:.2f} s to the URL (target < 3 s), {ready:.2f} s to the API's first "
             "answer (model loaded)"))
    print(f"{'':<34}{'p50 ms':>9}{'p95 ms':>9}{'req/s':>9}")
    print(f"{'baseline: direct call, 1 at a time':<34}{base['p50_ms']:>9.1f}"
          f"{base['p95_ms']:>9.1f}{1000 / base['mean_ms']:>9.1f}")
    print(f"{f'HTTP, {args.clients} concurrent clients':<34}{loaded['p50_ms']:>9.1f}"
          f"{loaded['p95_ms']:>9.1f}{loaded['requests_per_s']:>9.1f}")
    print(f"target p95 <= 50 ms with 8 clients at 32 px: "
          f"{'met' if report['meets_target'] else 'NOT met (or not measured at 8 / 32 px)'}")
    return report


if __name__ == "__main__":
    main()
