"""Every malformed release of the corpus is refused with its file, line, field and exact message, and
leaves nothing in the cache."""

from pathlib import Path

import pytest

from codesetlib.core.errors import CodesetError, TerminologyError
from codesetlib.terminology.snomedct import SnomedCT
from tests.fixtures.malformed_rf2 import MUTATIONS, expected_path, write_malformed


@pytest.mark.parametrize("mutation", MUTATIONS, ids=lambda m: m.name)
def test_a_malformed_release_is_refused_with_where_and_what(tmp_path: Path, monkeypatch, mutation):
    cache = tmp_path / "cache"
    monkeypatch.setenv("CODESET_CACHE_DIR", str(cache))
    folder = write_malformed(tmp_path / "releases", mutation)
    with pytest.raises(mutation.error) as raised:
        SnomedCT(folder)
    error = raised.value
    assert isinstance(error, TerminologyError) and isinstance(error, CodesetError)
    assert error.path == str(expected_path(folder, mutation))
    assert (error.line, error.field, error.message) == (
        mutation.line,
        mutation.field,
        mutation.message,
    )
    assert not cache.exists() or list(cache.iterdir()) == []
