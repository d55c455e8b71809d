"""The streamed XLSX writer and the response that keeps a synchronous export streamed under ASGI."""

from __future__ import annotations

import asyncio
import io

import pytest

from central.core.spreadsheet import xlsx_stream
from central.core.streaming import SyncStreamingHttpResponse
from central.telephony.causes import CAUSE_LABELS, cause_label
from central.telephony.cdr import HANGUP_CAUSES

pytestmark = pytest.mark.backend_free


def test_xlsx_cells_are_text_or_numbers_never_formulas():
    from openpyxl import load_workbook

    rows = [["=HYPERLINK(\"http://x\")", "+5511987654321", 12, 1.5, "a\x00b<&>", None, True]]
    data = b"".join(xlsx_stream(["Nome", "Telefone", "n", "x", "texto", "vazio", "bool"], rows, sheet="Folha"))
    wb = load_workbook(io.BytesIO(data))  # full mode: a formula would load as data_type "f"
    sheet = wb["Folha"]
    assert [c.value for c in sheet[1]] == ["Nome", "Telefone", "n", "x", "texto", "vazio", "bool"]
    assert sheet["A1"].font.b
    cells = sheet[2]
    assert [c.value for c in cells] == ['=HYPERLINK("http://x")', "+5511987654321", 12, 1.5, "ab<&>", None, "sim"]
    assert cells[0].data_type == "s" and cells[2].data_type == "n"


def test_xlsx_memory_does_not_grow_with_the_rows():
    """Chunks leave while rows are produced: the writer holds about one flush of rows."""
    produced = []

    def rows():
        for i in range(20_000):
            produced.append(i)
            yield [i, f"linha {i}", "Atendida"]

    sizes = []
    for chunk in xlsx_stream(["n", "texto", "resultado"], rows(), flush_rows=500):
        sizes.append((len(produced), len(chunk)))
    # the compressor hands out about 24 KB at a time: chunks leave every few thousand rows
    assert len(sizes) > 5 and max(size for _, size in sizes) < 100_000
    made = [n for n, _ in sizes]
    assert max(b - a for a, b in zip(made, made[1:], strict=False)) < 6_000


def test_sync_iterator_is_streamed_chunk_by_chunk_under_asgi():
    """Django serves a plain StreamingHttpResponse's sync iterator under ASGI by building
    a list of every chunk first; this one yields each chunk as the iterator makes it."""
    made = []

    def body():
        for i in range(5):
            made.append(i)
            yield f"{i};".encode()

    async def consume():
        seen = []
        async for chunk in SyncStreamingHttpResponse(body()):
            seen.append((chunk, len(made)))
        return seen

    seen = asyncio.run(consume())
    assert seen == [(f"{i};".encode(), i + 1) for i in range(5)]


def test_every_cause_the_link_knows_has_a_portuguese_label():
    assert set(HANGUP_CAUSES) <= set(CAUSE_LABELS)
    assert cause_label(17, "User busy") == "Usuário ocupado"
    assert cause_label(999, "Strange") == "Strange" and cause_label(None) == "" and cause_label(999) == "999"
