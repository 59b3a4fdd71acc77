"""``groupsup explore [RUN]``: serve the interactive explorer page of a trained run."""

from __future__ import annotations

import argparse
import sys
import time

from groupsup.cli import Command
from groupsup.hookspecs import hookimpl

DEFAULT_RUN = "runs/demo/run"  # where `groupsup demo` (and `make demo`) trains


def _configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("run", nargs="?", default=DEFAULT_RUN, metavar="RUN",
                   help=f"a run directory or checkpoint directory (default {DEFAULT_RUN})")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to bind (default 127.0.0.1: this machine only; another "
                   "address serves the model to the network, with a warning)")
    p.add_argument("--port", type=int, default=8765, help="port (default 8765; 0: a free one)")
    p.add_argument("--dataset", default=None, metavar="NAME",
                   help="a registered dataset to use instead of the one the run's config names "
                   "(its options then come from --set dataset.options.KEY=VALUE)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a key of the run's stored config before its dataset is "
                   "loaded, e.g. dataset.options.path=/data/fonts-store")
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=None,
                   help="torch threads (default: torch's choice)")
    p.add_argument("--verbose", action="store_true", help="log every request")


def _run(args: argparse.Namespace) -> int:
    from groupsup.explore import Explorer, ExploreServer
    from groupsup.explore.server import is_loopback

    started = time.perf_counter()
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    overrides = list(args.overrides)
    if args.dataset is not None:  # the stored options belong to the stored dataset
        overrides = [f"dataset.name={args.dataset}", "dataset.options={}", *overrides]
    explorer = Explorer(args.run, overrides=overrides, device=args.device)
    if not is_loopback(args.host):
        print(f"groupsup: warning: binding {args.host}: anyone who can reach this address "
              "can use the model and upload images; the explorer has no authentication",
              file=sys.stderr)
    try:
        server = ExploreServer(explorer, args.host, args.port, verbose=args.verbose)
    except OSError as err:
        from groupsup.errors import ConfigError

        raise ConfigError(f"--host {args.host} --port {args.port}: cannot listen ({err})"
                          ) from None
    print(f"groupsup explore: {explorer.run_dir} ({explorer.checkpoint.name}, "
          f"{len(explorer.dataset)} examples) ready in {time.perf_counter() - started:.1f} s",
          flush=True)
    print(f"open {server.url}  (Ctrl-C to stop)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("stopped")
    finally:
        server.server_close()
    return 0


@hookimpl
def register_commands(register):
    register("explore", Command("serve an interactive page to recombine a trained run's "
                                "attributes (compose, sweep, interpolate, upload)",
                                _configure, _run))
