"""The methods record: generated pages, the Jupyter Book build, and the checks on what it shows."""

from codesetlib.record.book.build import build_book, copy_vendor_assets

__all__ = ["build_book", "copy_vendor_assets"]
