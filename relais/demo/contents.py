"""The files of the demo's documents: small valid PDFs, JPEG receipts and CSV ledgers.

Each is made from the document's name, its dossier and its version number, and only from them: a
second seed makes the same bytes and so recognises what is already there.
"""

from __future__ import annotations

import base64
import unicodedata

from relais.demo.dataset import DemoDocument

# A 16×16 JPEG (a receipt's outline); each demo picture gets its own comment segment, so that
# each is a different file.
_JPEG = base64.b64decode(
    "/9j/4AAQSkZJRgABAQAAAQABAAD/4gHYSUNDX1BST0ZJTEUAAQEAAAHIAAAAAAQwAABtbnRyUkdCIFhZWiAH4AABAAEAAAAA"
    "AABhY3NwAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAQAA9tYAAQAAAADTLQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAlkZXNjAAAA8AAAACRyWFlaAAABFAAAABRnWFlaAAABKAAAABRiWFlaAAABPAAA"
    "ABR3dHB0AAABUAAAABRyVFJDAAABZAAAAChnVFJDAAABZAAAAChiVFJDAAABZAAAAChjcHJ0AAABjAAAADxtbHVjAAAAAAAA"
    "AAEAAAAMZW5VUwAAAAgAAAAcAHMAUgBHAEJYWVogAAAAAAAAb6IAADj1AAADkFhZWiAAAAAAAABimQAAt4UAABjaWFlaIAAA"
    "AAAAACSgAAAPhAAAts9YWVogAAAAAAAA9tYAAQAAAADTLXBhcmEAAAAAAAQAAAACZmYAAPKnAAANWQAAE9AAAApbAAAAAAAA"
    "AABtbHVjAAAAAAAAAAEAAAAMZW5VUwAAACAAAAAcAEcAbwBvAGcAbABlACAASQBuAGMALgAgADIAMAAxADb/2wBDABALDA4M"
    "ChAODQ4SERATGCgaGBYWGDEjJR0oOjM9PDkzODdASFxOQERXRTc4UG1RV19iZ2hnPk1xeXBkeFxlZ2P/2wBDARESEhgVGC8a"
    "Gi9jQjhCY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2P/wAARCAAQABADASIAAhEB"
    "AxEB/8QAFgABAQEAAAAAAAAAAAAAAAAAAgMG/8QAJRAAAQQBAwIHAAAAAAAAAAAAAwECBBESABMhImEFFDEyQXGx/8QAFQEB"
    "AQAAAAAAAAAAAAAAAAAAAQL/xAAUEQEAAAAAAAAAAAAAAAAAAAAA/9oADAMBAAIRAxEAPwDVTvEPKGQecJttyo8rbd6r8Yrx"
    "304Msku3VEcJOMwSFJ1cce1P3VDxylejmTDhSqxGjFRe/U1V0o4SBy3JJT3VbiMSvrFqakv/2Q=="
)


def _pdf(title: str, lines: list[str]) -> bytes:
    """A small valid one-page PDF showing ``lines`` (readers open it, partners would parse it)."""

    def escape(text: str) -> str:
        ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
        return ascii_text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")

    body = "BT /F1 16 Tf 56 780 Td (" + escape(title) + ") Tj /F1 11 Tf"
    for line in lines:
        body += " 0 -22 Td (" + escape(line) + ") Tj"
    stream = (body + " ET").encode("ascii")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, obj in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + obj + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    out += (
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    )
    return bytes(out)


def content(doc: DemoDocument, dossier_code: str, dossier_name: str, version: int) -> bytes:
    """The file of ``doc``'s ``version`` in the dossier."""
    label = f"{dossier_name} ({dossier_code}) — {doc.name} — version {version}"
    if doc.name.endswith(".csv"):
        rows = ["compte;libelle;debit;credit", "401000;Fournisseurs divers;0,00;1250,40"]
        return ("\n".join([f"# {label}", *rows]) + "\n").encode()
    if doc.name.endswith(".jpg"):
        comment = label.encode()
        segment = b"\xff\xfe" + (len(comment) + 2).to_bytes(2, "big") + comment
        data = _JPEG[:2] + segment + _JPEG[2:]
        # A phone's full-resolution scan: past the end of the picture, readers ignore the rest.
        return data + b"\x00" * max(0, doc.size - len(data))
    amount = 80 + (sum(map(ord, doc.name)) % 2400) + version
    return _pdf(
        doc.name.removesuffix(".pdf").replace("-", " ").capitalize(),
        [
            dossier_name,
            f"Dossier {dossier_code} - version {version}",
            f"Montant TTC : {amount},{version * 7 % 100:02d} EUR",
            "Document de demonstration Relais",
        ],
    )
