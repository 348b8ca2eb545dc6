"""``archgen keys create|list|revoke``."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from archgen.api.keys import KeyStore
from archgen.cli.main import app


def test_keys_cli_round_trip(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'k.db'}"
    run = CliRunner().invoke
    r = run(app, ["keys", "create", "--name", "ci", "--database-url", url, "--json"])
    assert r.exit_code == 0, r.output
    created = json.loads(r.output)
    assert KeyStore(url).verify(created["key"]).name == "ci"
    listed = json.loads(run(app, ["keys", "list", "--database-url", url, "--json"]).output)["keys"]
    assert listed == [{"id": created["id"], "name": "ci", "created": listed[0]["created"], "revoked": None}]
    assert "key" not in listed[0]
    assert run(app, ["keys", "revoke", created["id"], "--database-url", url]).exit_code == 0
    assert KeyStore(url).verify(created["key"]) is None
    r = run(app, ["keys", "revoke", "nobody", "--database-url", url])
    assert r.exit_code != 0
