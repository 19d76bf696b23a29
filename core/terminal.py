"""The CLI's console: rich output that keeps its tables readable in CI logs and pipes."""

from __future__ import annotations

import sys

from rich.console import Console

#: Columns for output that is not a terminal (rich would otherwise squeeze tables to 80).
PIPE_WIDTH = 140


def cli_console(*, stderr: bool = False) -> Console:
    """A console for a verb's output; wide enough for its tables when not on a terminal."""
    stream = sys.stderr if stderr else sys.stdout
    return Console(stderr=stderr, soft_wrap=True, width=None if stream.isatty() else PIPE_WIDTH)
