"""The `rt2` command as a user meets it."""

from __future__ import annotations

import subprocess
import sys

from rt2_ros import cli


def test_help_lists_every_command(capsys):
    assert cli.main(["--help"]) == 0
    out = capsys.readouterr().out
    for name in cli.COMMANDS:
        assert f"  {name}" in out


def test_unknown_command_fails_with_usage(capsys):
    assert cli.main(["fly"]) == 2
    assert "unknown command 'fly'" in capsys.readouterr().err


def test_every_command_module_imports_and_answers_help():
    for name in cli.COMMANDS:
        done = subprocess.run([sys.executable, "-m", "rt2_ros.cli", name, "--help"], capture_output=True, text=True)
        assert done.returncode == 0, f"rt2 {name} --help failed: {done.stderr}"
        assert "usage" in done.stdout.lower()
