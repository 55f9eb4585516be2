"""The `codeset` command; every argument parser lives in this folder."""

from codesetlib.cli.main import main

__all__ = ["main"]
