"""Screenshots of a study's HTML report in headless Chromium, at laptop and desktop sizes, to
look at what a reader sees (Debian: apt-get install chromium).

    .venv/bin/python scripts/screenshot_report.py results/report.html [out_dir]

Writes report-1280x720.png and report-1920x1080.png (default: next to the report) and the
rendered page's text (report-dom.html), and prints their paths.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

SIZES = ((1280, 720), (1920, 1080))
# no background traffic: this machine (and many clusters) has no open internet
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--virtual-time-budget=8000",
]


def chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if path := shutil.which(name):
            return path
    return None


def screenshots(report: Path, out_dir: Path) -> list[Path]:
    browser = chromium()
    if browser is None:
        raise RuntimeError("no Chromium found; on Debian: apt-get install chromium")
    out_dir.mkdir(parents=True, exist_ok=True)
    url = report.resolve().as_uri()
    made = []
    with tempfile.TemporaryDirectory() as profile:
        base = [browser, *FLAGS, f"--user-data-dir={profile}"]
        for width, height in SIZES:
            png = out_dir / f"report-{width}x{height}.png"
            subprocess.run(
                [*base, f"--window-size={width},{height}", f"--screenshot={png}", url],
                check=True,
                capture_output=True,
                timeout=120,
            )
            made.append(png)
        dom = subprocess.run(
            [*base, "--dump-dom", url], check=True, capture_output=True, text=True, timeout=120
        ).stdout
    (out_dir / "report-dom.html").write_text(dom)
    return [*made, out_dir / "report-dom.html"]


if __name__ == "__main__":
    report = Path(sys.argv[1] if len(sys.argv) > 1 else "results/report.html")
    for path in screenshots(report, Path(sys.argv[2]) if len(sys.argv) > 2 else report.parent):
        print(path)
