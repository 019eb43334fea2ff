"""A real browser for the tests: headless Chromium from the system's packages.

:func:`chromium` finds ``chromium``, ``chromium-browser`` or ``google-chrome`` (or ``$RSCLIP_CHROMIUM``); when none
is there and the tests run as root on a machine with ``apt-get`` (the CI machines: Debian, registries reachable),
it installs Debian's ``chromium`` package once (about 45 s; ``apt-get update`` first only when the package is not
known), and otherwise skips the calling test with the reason. Present, it costs a ``which``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
APT_PACKAGE = "chromium"


def find_chromium() -> str | None:
    given = os.environ.get("RSCLIP_CHROMIUM")
    if given:
        return shutil.which(given) or (given if Path(given).is_file() else None)
    return next((path for path in map(shutil.which, NAMES) if path), None)


def install_chromium() -> str:
    """Install Debian's chromium with apt-get; returns the reason when that cannot be done (skips then)."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return "not root, so apt-get cannot install it (apt-get install chromium, or set RSCLIP_CHROMIUM)"
    if not shutil.which("apt-get"):
        return "no apt-get on this machine (install Chromium, or set RSCLIP_CHROMIUM to a Chrome binary)"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-qq", APT_PACKAGE]
    try:
        if subprocess.run(install, env=env, capture_output=True, timeout=900).returncode != 0:
            subprocess.run(["apt-get", "update", "-qq"], env=env, capture_output=True, timeout=600, check=True)
            subprocess.run(install, env=env, capture_output=True, timeout=900, check=True)
    except (subprocess.SubprocessError, OSError) as error:
        detail = getattr(error, "stderr", b"") or b""
        return f"apt-get install {APT_PACKAGE} failed: {error} {detail.decode(errors='replace')[-500:]}"
    return ""


def chromium() -> str:
    """The Chromium binary, installed when absent (see the module docstring); skips the test when impossible."""
    found = find_chromium()
    if found:
        return found
    reason = install_chromium()
    found = find_chromium()
    if not found:
        pytest.skip(f"headless Chromium is not available: {reason or 'installed, but not found on PATH'}")
    return found


class Browser:
    """Headless Chromium runs against local files, each with a throwaway profile in ``profile``."""

    def __init__(self, binary: str, profile: Path):
        self.binary, self.profile = binary, profile

    def _run(self, *args: str, timeout: int = 120) -> subprocess.CompletedProcess:
        command = [self.binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                   "--no-first-run", "--hide-scrollbars", f"--user-data-dir={self.profile}", *args]
        return subprocess.run(command, capture_output=True, text=True, timeout=timeout)

    def dump_dom(self, page: Path) -> str:
        """The DOM after the page loaded and its scripts ran, serialised."""
        done = self._run("--virtual-time-budget=5000", "--dump-dom", Path(page).resolve().as_uri())
        assert done.returncode == 0, done.stderr[-2000:]
        return done.stdout

    def screenshot(self, page: Path, png: Path, size: tuple[int, int] = (1280, 1600)) -> Path:
        done = self._run(f"--screenshot={png}", f"--window-size={size[0]},{size[1]}", Path(page).resolve().as_uri())
        assert done.returncode == 0 and Path(png).is_file(), done.stderr[-2000:]
        return Path(png)
