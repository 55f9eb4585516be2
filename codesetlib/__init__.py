"""codesetlib: clinical codesets as governed, tested and reproducible artefacts."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("codesetlib")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0+unknown"
