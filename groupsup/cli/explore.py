"""``groupsup explore [RUN]``: serve the interactive explorer page of a trained run."""

from __future__ import annotations

import argparse
import sys
import time

from groupsup.cli import Command, add_run_dataset, run_overrides
from groupsup.hookspecs import hookimpl

DEFAULT_RUN = "runs/demo/run"  # where `groupsup demo` (and `make demo`) trains


def _configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("run", nargs="?", default=DEFAULT_RUN, metavar="RUN",
                   help=f"a run directory or checkpoint directory (default {DEFAULT_RUN})")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to bind (default 127.0.0.1: this machine only; another "
                   "address serves the model to the network, with a warning)")
    p.add_argument("--port", type=int, default=8765, help="port (default 8765; 0: a free one)")
    add_run_dataset(p, "use", "dataset.options.path=/data/fonts-store")
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=None,
                   help="torch threads (default: torch's choice)")
    p.add_argument("--verbose", action="store_true", help="log every request")


def _run(args: argparse.Namespace) -> int:
    """Validate the run, listen, print the URL, then load the model on a thread: the page is
    up while the dataset and checkpoint are read (API requests wait for them)."""
    import threading
    from pathlib import Path

    from groupsup.explore import Explorer, ExploreServer
    from groupsup.explore.loaded import find_run_dir
    from groupsup.explore.server import is_loopback
    from groupsup.persistence import find_checkpoint
    from groupsup.train.config import load_config

    started = time.perf_counter()
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    overrides = run_overrides(args)
    # what a user can get wrong, refused before anything listens (cheap: no data, no model)
    checkpoint, run_dir = find_checkpoint(Path(args.run)), find_run_dir(Path(args.run))
    load_config(run_dir / "config.json", overrides)
    if not is_loopback(args.host):
        print(f"groupsup: warning: binding {args.host}: anyone who can reach this address "
              "can use the model and upload images; the explorer has no authentication",
              file=sys.stderr)
    try:
        server = ExploreServer(lambda: Explorer(args.run, overrides=overrides,
                                                device=args.device),
                               args.host, args.port, verbose=args.verbose)
    except OSError as err:
        from groupsup.errors import ConfigError

        raise ConfigError(f"--host {args.host} --port {args.port}: cannot listen ({err})"
                          ) from None
    server.start_loading()
    serving = threading.Thread(target=server.serve_forever, name="explore-serve", daemon=True)
    serving.start()
    print(f"open {server.url}  (Ctrl-C to stop; loading {checkpoint.name} of {run_dir})",
          flush=True)
    try:
        explorer = server.wait_loaded()
        print(f"groupsup explore: {explorer.run_dir} ({explorer.checkpoint.name}, "
              f"{len(explorer.dataset)} examples) ready in "
              f"{time.perf_counter() - started:.1f} s", flush=True)
        while serving.is_alive():
            serving.join(0.5)
    except KeyboardInterrupt:
        print("stopped")
    finally:
        if serving.is_alive():
            server.shutdown()
        server.server_close()
    return 0


@hookimpl
def register_commands(register):
    register("explore", Command("serve an interactive page to recombine a trained run's "
                                "attributes (compose, sweep, interpolate, upload)",
                                _configure, _run))
