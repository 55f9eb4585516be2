"""codesetlib: clinical codesets as governed, tested and reproducible artefacts."""


def __getattr__(name: str) -> str:
    # The version is read from the installed metadata when first asked for: importlib.metadata
    # costs every command a noticeable part of its start.
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version("codesetlib")
        except PackageNotFoundError:  # running from a source tree that is not installed
            return "0+unknown"
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
