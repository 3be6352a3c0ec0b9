"""The README's setup: installed into .venv so it works from a bare shell, and idempotent."""

from __future__ import annotations

import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
VENV_PYTHON = REPO / ".venv" / "bin" / "python"


def bare_shell(*command: str) -> subprocess.CompletedProcess:
    """Run with an empty environment: nothing sourced, no PYTHONPATH, not from the checkout."""
    return subprocess.run(list(command), env={"HOME": "/tmp"}, cwd="/", capture_output=True, text=True, timeout=120)


def test_messages_and_rt2_command_work_from_a_bare_shell():
    done = bare_shell(str(VENV_PYTHON), "-c", "from rt2_ros.msg import VLAAction; print(VLAAction().tokens)")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "array('i')"
    done = bare_shell(str(REPO / ".venv" / "bin" / "rt2"), "--help")
    assert done.returncode == 0, done.stderr
    assert "commands:" in done.stdout


def test_second_setup_run_installs_nothing():
    done = subprocess.run([str(REPO / "scripts" / "setup")], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 3 and all(line.endswith("up to date") for line in lines), done.stdout
