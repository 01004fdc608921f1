"""The app menu Teams shows is the bot's own command table, in English and in French."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from bot.commands import default_commands
from relais.cli import main

BOT_ID = "3f2a8c1e-1b2c-4d5e-8f90-0123456789ab"


def test_relais_manifest_build_menu_matches_the_bot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("RELAIS_BOT_APP_ID", BOT_ID)
    monkeypatch.setenv("RELAIS_BASE_URL", "https://relais.cabinet-durand.fr")
    monkeypatch.chdir(tmp_path)
    main(["manifest", "build", "--out", "relais.zip", "--version", "1.2.3"])
    assert "relais.zip" in capsys.readouterr().out

    with zipfile.ZipFile(tmp_path / "relais.zip") as package:
        manifest = json.loads(package.read("manifest.json"))
        french = json.loads(package.read("fr-fr.json"))
    menu = manifest["bots"][0]["commandLists"][0]["commands"]
    table = default_commands().commands
    assert [c["title"] for c in menu] == [c.word("en") for c in table]
    assert [french[f"bots[0].commandLists[0].commands[{i}].title"] for i in range(len(table))] == [
        c.word("fr") for c in table
    ]
    assert menu[0] == {"title": "help", "description": "Show this list of commands"}
    assert manifest["version"] == "1.2.3"


def test_relais_manifest_build_refuses_without_bot_id(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("RELAIS_BOT_APP_ID", raising=False)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as stopped:
        main(["manifest", "build", "--out", "relais.zip"])
    assert stopped.value.code == 2
    assert "RELAIS_BOT_APP_ID" in capsys.readouterr().err
    assert not (tmp_path / "relais.zip").exists()
