"""`relais upload DOSSIER_CODE FOLDER_PATH FILE...`: one line per file, as the system for the firm."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import select

from hub.settings import Settings
from storage.db import Sessions
from storage.models import Document, DocumentVersion
from tests.scenes import Office

RELAIS = Path(sys.executable).with_name("relais")


def _relais(settings: Settings, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "RELAIS_DATABASE_URL": settings.database_url,
        "RELAIS_DATA_DIR": str(settings.data_dir),
        "RELAIS_ENCRYPTION_KEY": settings.encryption_key.get_secret_value(),
    }
    return subprocess.run(
        [str(RELAIS), *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=60
    )


async def test_upload_prints_one_line_per_file_and_stores_the_versions(
    settings: Settings, sessions: Sessions, office: Office, tmp_path: Path
) -> None:
    code = office.dossier.code
    (tmp_path / "facture.pdf").write_bytes(b"%PDF-1.4 facture\n")
    (tmp_path / "notes.txt").write_text("Loyer\n")
    (tmp_path / "vide.pdf").write_bytes(b"")

    done = _relais(
        settings, tmp_path, "upload", code, "Achats/2025",
        "facture.pdf", "notes.txt", "vide.pdf", "absent.pdf",
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert done.stdout.splitlines() == [
        f"facture.pdf: stored as version 1 of {code}/Achats/2025/facture.pdf, "
        "to be sent to 0 application(s)",
        f"notes.txt: stored as version 1 of {code}/Achats/2025/notes.txt, "
        "to be sent to 0 application(s)",
        "vide.pdf: refused: empty file",
        "absent.pdf: refused: No such file or directory",
    ]
    again = _relais(settings, tmp_path, "upload", code, "Achats/2025", "facture.pdf")
    assert again.returncode == 0
    assert again.stdout.strip() == (
        f"facture.pdf: identical to version 1 of {code}/Achats/2025/facture.pdf; "
        "nothing stored or sent"
    )
    async with sessions() as session:
        rows = (
            await session.execute(
                select(Document.name, DocumentVersion.source, DocumentVersion.uploaded_by).join(
                    Document, Document.id == DocumentVersion.document_id
                )
            )
        ).all()
    assert sorted(rows) == [("facture.pdf", "cli", "system:0"), ("notes.txt", "cli", "system:0")]


async def test_upload_to_an_unknown_folder_or_dossier_says_so(
    settings: Settings, office: Office, tmp_path: Path
) -> None:
    (tmp_path / "a.pdf").write_bytes(b"%PDF-1.4 a\n")
    done = _relais(settings, tmp_path, "upload", "NOPE", "Achats", "a.pdf")
    assert done.returncode == 1
    assert done.stdout.strip() == "a.pdf: refused: no dossier NOPE"


async def test_upload_says_when_the_document_folder_cannot_be_written(
    settings: Settings, sessions: Sessions, office: Office, tmp_path: Path
) -> None:
    (tmp_path / "facture.pdf").write_bytes(b"%PDF-1.4 facture\n")
    # The data folder's path is a file: no write under it can succeed, even as root.
    blocked = settings.model_copy(update={"data_dir": tmp_path / "data-is-a-file"})
    blocked.data_dir.write_text("not a folder")
    done = _relais(blocked, tmp_path, "upload", office.dossier.code, "Achats", "facture.pdf")
    assert done.returncode == 1, done.stderr
    assert done.stdout.startswith(
        "facture.pdf: refused: the document folder cannot be written (Not a directory at "
    )
    assert done.stdout.rstrip().endswith("nothing was stored")
    assert "Traceback" not in done.stderr
    async with sessions() as session:
        assert (await session.scalars(select(DocumentVersion))).all() == []
        assert (await session.scalars(select(Document))).all() == []
