"""Screenshot of `groupsup explore` on a trained run (the picture docs/explore.md shows).

    python examples/explore/screenshot.py runs/demo/run docs/explore.png

Starts the explorer on RUN in this process, opens it in Debian's chromium through Playwright
(`executable_path`; no browser download), composes a synthesis from one provider per attribute
and saves a full-page screenshot.
"""

from __future__ import annotations

import argparse
import shutil
import threading
from pathlib import Path

from groupsup.explore import Explorer, ExploreServer


def chromium() -> str:
    for candidate in ("/usr/lib/chromium/chromium", shutil.which("chromium"),
                      shutil.which("chromium-browser")):
        if candidate and Path(candidate).is_file():
            return candidate
    raise SystemExit("no chromium binary: apt-get install chromium")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", help="a run directory (e.g. runs/demo/run after make demo)")
    parser.add_argument("out", help="the PNG to write")
    parser.add_argument("--providers", default="3,17,29,44,58",
                        help="example ids clicked as providers, one per attribute in turn")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    server = ExploreServer(Explorer(args.run), "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium(), headless=True)
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(server.url)
            page.wait_for_selector("body[data-ready='1']", timeout=30_000)
            targets = page.locator("#targets input")
            names = [targets.nth(i).get_attribute("value") for i in range(targets.count())]
            attributes = [n for n in names if not n.startswith("slider")]
            for attribute, provider in zip(attributes, args.providers.split(",")):
                page.check(f"#targets input[value='{attribute}']")
                with page.expect_response("**/api/synthesize"):
                    page.click(f"#thumbs img[data-provider='{provider}']")
            page.wait_for_timeout(500)
            page.screenshot(path=args.out, full_page=True)
            browser.close()
    finally:
        server.shutdown()
        server.server_close()
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
