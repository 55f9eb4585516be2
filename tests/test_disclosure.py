import pandas as pd
import pytest

from codesetlib.disclosure import DisclosureSettings, protect_counts


def test_small_counts_are_suppressed_and_the_rest_rounded():
    table = pd.DataFrame({"code": list("abcdef"), "patients": [0, 1, 7, 8, 12, 13]})
    shown = protect_counts(table, ["patients"])
    assert shown["patients"].tolist() == ["0", "≤7", "≤7", "10", "10", "15"]
    assert table["patients"].tolist() == [0, 1, 7, 8, 12, 13], "the input is left alone"


def test_the_threshold_and_rounding_are_configurable():
    table = pd.DataFrame({"n": [3, 4, 11]})
    shown = protect_counts(table, ["n"], DisclosureSettings(threshold=3, rounding=10))
    assert shown["n"].tolist() == ["≤3", "0", "10"]


def test_switching_it_off_is_stated():
    settings = DisclosureSettings(enabled=False)
    table = pd.DataFrame({"n": [1, 2]})
    assert protect_counts(table, ["n"], settings)["n"].tolist() == [1, 2]
    assert "OFF" in settings.describe()


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="rounding"):
        DisclosureSettings(rounding=0)
