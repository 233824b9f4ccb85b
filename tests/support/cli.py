"""The `pipeline` CLI, in-process or as a real process.

Most CLI tests call ``pipeline.cli.main([...])`` in the test process (``InProcessCli``):
the environment is set with monkeypatch exactly as a subprocess would get it, output is
captured with capsys, and nothing is imported twice. A few keep a real process
(``subprocess_cli``) for what only a process shows: its exit code and that no
traceback reaches the operator.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@dataclass
class CliResult:
    """What a `pipeline` command left: exit code, stdout and stderr (like CompletedProcess)."""

    returncode: int
    stdout: str
    stderr: str


class InProcessCli:
    """``cli(args, env, cwd)`` runs ``pipeline.cli.main(args)`` in this process with the
    environment ``env`` (variables not in it are unset for the call, as in a subprocess)
    and ``cwd`` as the working directory; everything is restored afterwards."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
        self.monkeypatch, self.capsys = monkeypatch, capsys

    def __call__(self, args: Sequence[str], env: Mapping[str, str], cwd: Path | None = None) -> CliResult:
        from pipeline.cli import main

        with self.monkeypatch.context() as mp:
            for name in [k for k in os.environ if k not in env]:
                mp.delenv(name)
            for name, value in env.items():
                if os.environ.get(name) != value:
                    mp.setenv(name, value)
            if cwd is not None:
                mp.chdir(cwd)
            self.capsys.readouterr()  # what the test printed before is not the command's
            try:
                code = main(list(args))
            except SystemExit as exc:  # argparse
                code = exc.code if isinstance(exc.code, int) else 1
            out, err = self.capsys.readouterr()
        return CliResult(code, out, err)


def subprocess_cli(
    args: Sequence[str], env: Mapping[str, str], cwd: Path | None = None, timeout: float = 600
) -> subprocess.CompletedProcess:
    """`python -m pipeline.cli ARGS` as an operator's shell runs it."""
    return subprocess.run(
        [sys.executable, "-m", "pipeline.cli", *args],
        env=dict(env),
        cwd=cwd or REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
