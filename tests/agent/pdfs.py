"""Generated PDFs for the agent's tests and benches (made with pypdf, nothing shipped)."""

from __future__ import annotations

import io
from pathlib import Path

from pypdf import PdfWriter
from pypdf.generic import DecodedStreamObject, NameObject


def pdf_bytes(title: str = "Relatório", author: str = "Central", pages: int = 1,
              padding: int = 0, password: str | None = None) -> bytes:
    """A valid PDF with metadata; ``padding`` bytes of content stream make it bigger."""
    writer = PdfWriter()
    for _ in range(pages):
        page = writer.add_blank_page(width=595, height=842)
    if padding:
        stream = DecodedStreamObject()
        stream.set_data(b"% " + b"x" * padding + b"\n")
        page[NameObject("/Contents")] = writer._add_object(stream)
    writer.add_metadata({"/Title": title, "/Author": author, "/CreationDate": "D:20240315103000Z"})
    if password:
        writer.encrypt(user_password=password, owner_password=password, algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def write_pdf(path: Path, **kwargs) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pdf_bytes(**kwargs))
    return path
