"""Broken requests to the REST API, written by hand from what the generated cases and a few
clients get wrong: every one is a 4xx problem document naming the trouble, and nothing is
stored."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from hub.identity import Actor
from hub.services import Hub
from hub.tokens import create_token
from storage.db import Sessions
from storage.models import Document, DocumentVersion
from tests import scenes
from tests.api.test_rest import PDF, Client, _problem, client
from tests.scenes import Office

__all__ = ["client"]  # the REST tests' client fixture

B = "relais-boundary-0412"


@pytest.fixture
async def token(hub: Hub, sessions: Sessions, office: Office) -> str:
    actor: Actor = await scenes.actor(sessions, office.firm, office.admin)
    return (await create_token(hub, actor, "Scanner")).secret


def _part(headers: str, body: bytes) -> bytes:
    return f"--{B}\r\n{headers}\r\n\r\n".encode() + body + b"\r\n"


def _file_part(filename: bytes = b"a.pdf", name: bytes = b"file", extra: str = "") -> bytes:
    header = b'Content-Disposition: form-data; name="' + name + b'"; filename="' + filename + b'"'
    header += b"\r\nContent-Type: application/pdf" + extra.encode()
    return b"--" + B.encode() + b"\r\n" + header + b"\r\n\r\n" + PDF + b"\r\n"


FOLDER = _part('Content-Disposition: form-data; name="folder"', b"Achats")
END = f"--{B}--\r\n".encode()
MULTIPART = f"multipart/form-data; boundary={B}"

# (what is wrong, Content-Type, body, status, problem code)
MALFORMED: list[tuple[str, str, bytes, int, str]] = [
    ("no boundary", "multipart/form-data", FOLDER + _file_part() + END, 400, "api.bad_multipart"),
    (
        "a boundary over 70 characters",
        "multipart/form-data; boundary=" + "x" * 71,
        b"--" + b"x" * 71 + b"\r\n",
        400,
        "api.bad_multipart",
    ),
    (
        "a body that does not start with its boundary",
        MULTIPART,
        b"this is not multipart at all\r\n",
        400,
        "api.bad_multipart",
    ),
    ("a body cut short", MULTIPART, FOLDER + _file_part()[:-20], 400, "api.bad_multipart"),
    ("a body with no part at all", MULTIPART, END, 422, "api.no_file"),
    (
        "the file under another part name",
        MULTIPART,
        FOLDER + _file_part(name=b"upload") + END,
        422,
        "api.no_file",
    ),
    (
        "a file name that is not UTF-8",
        MULTIPART,
        FOLDER + _file_part(filename=b"facture \xe9t\xe9.pdf") + END,
        400,
        "api.bad_multipart",
    ),
    # A raw NUL in a part's header breaks the header itself; an encoded one reaches the name.
    (
        "a NUL in the file name",
        MULTIPART,
        FOLDER + _file_part(filename=b"facture\x00.pdf") + END,
        400,
        "api.bad_multipart",
    ),
    (
        "an encoded NUL in the file name",
        MULTIPART,
        FOLDER
        + _part(
            "Content-Disposition: form-data; name=\"file\"; filename*=UTF-8''fac%00ture.pdf",
            PDF,
        )
        + END,
        400,
        "error.control_character",
    ),
    (
        "a NUL in a part name",
        MULTIPART,
        FOLDER + _file_part(name=b"fi\x00le") + END,
        400,
        "api.bad_multipart",
    ),
    (
        "an encoded control character in a part name",
        MULTIPART,
        FOLDER + _part("Content-Disposition: form-data; name*=UTF-8''fi%07le", PDF) + END,
        400,
        "error.control_character",
    ),
    (
        "a NUL in the folder field",
        MULTIPART,
        _part('Content-Disposition: form-data; name="folder"', b"Ach\x00ats") + _file_part() + END,
        400,
        "error.control_character",
    ),
    (
        "a huge part header",
        MULTIPART,
        FOLDER + _file_part(extra="\r\nX-Padding: " + "p" * 70_000) + END,
        400,
        "api.bad_multipart",
    ),
    (
        "thousands of part headers",
        MULTIPART,
        FOLDER + _file_part(extra="".join(f"\r\nX-{i}: y" for i in range(200))) + END,
        400,
        "api.bad_multipart",
    ),
    (
        "an unknown charset on the folder field",
        MULTIPART,
        _part(
            'Content-Disposition: form-data; name="folder"\r\n'
            "Content-Type: text/plain; charset=no-such-charset",
            b"Achats",
        )
        + _file_part()
        + END,
        400,
        "api.bad_multipart",
    ),
    (
        "a nested multipart part",
        MULTIPART,
        FOLDER
        + _part(
            'Content-Disposition: form-data; name="file"\r\n'
            "Content-Type: multipart/mixed; boundary=inner",
            b"--inner\r\nContent-Type: text/plain\r\n\r\nhello\r\n--inner--",
        )
        + END,
        400,
        "api.bad_multipart",
    ),
]


@pytest.mark.parametrize(
    ("content_type", "body", "status", "code"),
    [case[1:] for case in MALFORMED],
    ids=[case[0] for case in MALFORMED],
)
async def test_a_malformed_multipart_body_is_a_4xx_problem_and_nothing_is_stored(
    client: Client,
    token: str,
    office: Office,
    sessions: Sessions,
    content_type: str,
    body: bytes,
    status: int,
    code: str,
) -> None:
    response = await client.post(
        f"/api/v1/dossiers/{office.dossier.code}/documents",
        data=body,
        headers={"Authorization": f"Bearer {token}", "Content-Type": content_type},
    )
    problem = await _problem(response, status)
    assert problem["code"] == code
    if code == "error.control_character":
        assert "invisible control character" in problem["detail"]
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Document)) == 0
        assert await session.scalar(select(func.count()).select_from(DocumentVersion)) == 0


@pytest.mark.parametrize(
    ("where", "label"),
    [
        ("/api/v1/dossiers/DOS%00001/documents", "code"),
        ("/api/v1/dossiers/DOS001/documents?folder=Achats%00", "folder"),
        ("/api/v1/dossiers/DOS001/documents?page=%01", "page"),
        ("/api/v1/dossiers/DOS001/documents?fol%1Fder=Achats", "fol"),
    ],
)
async def test_a_control_character_in_the_path_or_query_is_a_400_naming_it(
    client: Client, token: str, office: Office, where: str, label: str
) -> None:
    for method in ("GET", "POST"):
        response = await client.request(
            method,
            where + ("&" if "?" in where else "?") + "filename=a.pdf",
            data=PDF,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/pdf"},
        )
        problem = await _problem(response, 400)
        assert problem["code"] == "error.control_character"
        assert f"“{label}" in problem["detail"]


async def test_a_raw_upload_whose_file_name_holds_a_nul_is_refused(
    client: Client, token: str, office: Office, sessions: Sessions
) -> None:
    for headers in (
        {"Content-Disposition": "attachment; filename*=UTF-8''fac%00ture.pdf"},
        {},
    ):
        query = "?folder=Achats" + ("" if headers else "&filename=fac%00ture.pdf")
        response = await client.post(
            f"/api/v1/dossiers/{office.dossier.code}/documents{query}",
            data=PDF,
            headers={
                "Authorization": f"Bearer {token}",
                "Content-Type": "application/pdf",
                **headers,
            },
        )
        problem: dict[str, Any] = await _problem(response, 400)
        assert problem["code"] == "error.control_character"
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(DocumentVersion)) == 0
