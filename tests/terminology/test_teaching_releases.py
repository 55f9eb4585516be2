"""The shipped teaching releases load by id through the same index as users' releases."""

import pytest

from codesetlib.terminology import available_releases, open_release


@pytest.mark.parametrize("release_id", ["snomedct-teaching-20240401", "snomedct-teaching-20250401"])
def test_the_teaching_snomed_releases_load(release_id):
    if release_id not in available_releases():
        pytest.skip("the teaching release is not shipped yet")
    terminology = open_release(release_id)
    assert terminology.release.id == release_id
    root = terminology.concept("138875005")
    assert root.active
    assert len(terminology.descendants_of("138875005")) > 100
    assert all(terminology.lookup(code) for code in terminology.descendants_of("404684003"))
