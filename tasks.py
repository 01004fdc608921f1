#!/usr/bin/env python3
"""Set up and run Relais from a fresh clone, with nothing but Python 3.11 and the package registries.

    python3 tasks.py demo     # virtualenv + install + demo firm on SQLite + serve (prints the panel URL)
    python3 tasks.py test     # virtualenv + install with the test extra + lint + types + layers + the whole suite

Extra arguments after ``test`` go to pytest (``python3 tasks.py test -k help``). The virtualenv
lives in ``.venv`` and is reinstalled only when ``pyproject.toml`` changes.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / "python"
# Every package is type-checked.
TYPED = ["relais", "bot", "admin", "api", "manifest", "hub", "connectors", "storage"]


def run(*cmd: str | Path, env: dict[str, str] | None = None) -> None:
    print("+", " ".join(str(c) for c in cmd), flush=True)
    result = subprocess.run([str(c) for c in cmd], cwd=ROOT, env=env)
    if result.returncode:
        raise SystemExit(result.returncode)


def ensure_venv(extra: str) -> None:
    if sys.version_info < (3, 11):  # noqa: UP036 - said to people running an older python3
        raise SystemExit(f"Relais needs Python 3.11 or newer; this is {sys.version.split()[0]}.")
    stamp = VENV / f".installed-{extra or 'runtime'}"
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if stamp.exists() and stamp.read_text() == digest and PY.exists():
        return
    if not PY.exists():
        print(f"Creating the virtual environment in {VENV}", flush=True)
        venv.create(VENV, with_pip=True)
    run(PY, "-m", "pip", "install", "--quiet", "--upgrade", "pip")
    target = f".[{extra}]" if extra else "."
    run(PY, "-m", "pip", "install", "--quiet", "-e", target)
    stamp.write_text(digest)


def demo(args: list[str]) -> None:
    ensure_venv("")
    os.execv(str(BIN / "relais"), [str(BIN / "relais"), "demo", *args])


def test(args: list[str]) -> None:
    ensure_venv("test")
    if not shutil.which("chromium") and not Path("/usr/bin/chromium").exists():
        print(
            "Note: Debian's Chromium is not installed; browser tests will be skipped "
            "(apt-get install -y chromium).",
            flush=True,
        )
    if not os.environ.get("RELAIS_TEST_DATABASE_URL"):
        print(
            "Note: RELAIS_TEST_DATABASE_URL is not set; the PostgreSQL runs will be skipped "
            "(e.g. postgresql://postgres@127.0.0.1:5432/test).",
            flush=True,
        )
    run(BIN / "ruff", "check", ".")
    run(BIN / "ruff", "format", "--check", ".")
    run(BIN / "mypy", *TYPED)
    run(BIN / "lint-imports", "--no-cache")
    run(PY, "-m", "pytest", *args)


def main() -> None:
    tasks = {"demo": demo, "test": test}
    if len(sys.argv) < 2 or sys.argv[1] not in tasks:
        raise SystemExit(__doc__)
    tasks[sys.argv[1]](sys.argv[2:])


if __name__ == "__main__":
    main()
