"""`make lab`'s JupyterLab on the teaching notebooks: started with the command the Makefile runs (as
root on CI), with a token of the test's own, it lists the notebooks through its REST API and serves
the lab page, and refuses a client without the token."""

from __future__ import annotations

import json
import os
import secrets
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from tests.teaching.servers import ROOT, free_port, make_command, running_server

TEACHING = ROOT / "notebooks" / "teaching"


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """JupyterLab serving notebooks/teaching; its base URL and token."""
    port, token = free_port(), secrets.token_hex(16)
    command = make_command("lab", LAB_PORT=str(port))
    assert command[1:3] == ["lab", str(TEACHING.relative_to(ROOT))]
    assert f"--port={port}" in command
    # As root (as on CI) the Makefile lets Jupyter run and opens no browser.
    assert ("--allow-root" in command) == (os.geteuid() == 0)
    command += ["--ip=127.0.0.1", "--no-browser", f"--IdentityProvider.token={token}"]
    base = f"http://127.0.0.1:{port}"
    log = tmp_path_factory.mktemp("lab") / "lab.log"
    with running_server(command, f"{base}/api/status?token={token}", log):
        yield base, token


def get(url: str, token: str | None) -> tuple[int, bytes]:
    headers = {"Authorization": f"token {token}"} if token else {}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=30) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as refused:
        return refused.code, b""


def test_the_lab_lists_the_teaching_notebooks(lab: tuple[str, str]) -> None:
    base, token = lab
    status, body = get(f"{base}/api/contents/", token)
    assert status == 200
    listed = {item["name"]: item["type"] for item in json.loads(body)["content"]}
    stored = {path.name for path in TEACHING.glob("*.ipynb")}
    assert {"01_codeset_builder.ipynb", "builder_app.ipynb"} <= stored
    assert {name: listed.get(name) for name in stored} == dict.fromkeys(stored, "notebook")


def test_the_lab_opens_a_notebook_and_serves_its_page(lab: tuple[str, str]) -> None:
    base, token = lab
    status, body = get(f"{base}/api/contents/01_codeset_builder.ipynb", token)
    assert status == 200
    notebook = json.loads(body)["content"]
    assert notebook["cells"][0]["source"].startswith("# Codeset builder")
    status, page = get(f"{base}/lab/tree/01_codeset_builder.ipynb", token)
    assert status == 200
    assert b"JupyterLab" in page


def test_the_lab_refuses_a_client_without_the_token(lab: tuple[str, str]) -> None:
    base, _ = lab
    assert get(f"{base}/api/contents/", None)[0] == 403
    assert get(f"{base}/api/contents/", "not-the-token")[0] == 403
