"""ruff keeps the tree clean (part of the one test command)."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parent.parent


def test_ruff_check_and_format():
    for args in (["check", "."], ["format", "--check", "."]):
        p = subprocess.run(
            [sys.executable, "-m", "ruff", *args], cwd=ROOT, capture_output=True, text=True
        )
        assert p.returncode == 0, p.stdout + p.stderr
