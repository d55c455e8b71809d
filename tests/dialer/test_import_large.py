"""A large import end to end: 200,000 rows generated on the fly into a temp file.

The test uses 200k rows to keep the dialer test directory fast on SQLite; the full
1,000,000-row run (SQLite and PostgreSQL, rows/s and peak memory) is
``bench/dialer_import.py``. Both stream the same way: nothing here depends on the size.
"""

from __future__ import annotations

import pytest

from central.dialer import importer
from central.dialer.models import Contact
from tests.dialer import factories

pytestmark = pytest.mark.django_db

ROWS = 200_000


def test_200k_rows_stream_with_errors_and_duplicates(tenants, tmp_path):
    camp = factories.campaign(tenants["a"])
    path = tmp_path / "grande.csv"
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write("nome;telefone;telefone2;cidade\n")
        for i in range(ROWS):
            if i % 1000 == 999:
                f.write(f"Inválido {i};(11) 1234-5678;;X\n")  # rejected: landline starting with 1
            elif i % 500 == 499:
                f.write(f"Repetido {i};(11) 9{61000000 + i - 250};(11) 3{2000000 + i};Y\n")  # merged
            else:
                f.write(f"Cliente {i};(11) 9{61000000 + i};;São Paulo\n")
    seen = []
    job = importer.new_job(camp.organization, kind="contacts", filename="grande.csv", stored_path=path, campaign=camp)
    job = importer.import_contacts(job, progress=lambda j: seen.append(j.processed_bytes))

    rejected = ROWS // 1000
    merged = ROWS // 500 - ROWS // 1000
    assert job.status == "done", job.message
    assert (job.rows, job.rejected, job.merged) == (ROWS, rejected, merged)
    assert job.imported == ROWS - rejected - merged == Contact.objects.filter(campaign=camp).count()
    assert len(seen) >= ROWS // importer.BATCH_SIZE  # progress every batch, growing to the end
    assert seen == sorted(seen) and seen[-1] == job.total_bytes  # (the upload itself is deleted)
    assert len(job.errors) == importer.KEEP_ERRORS
    with open(job.errors_path, encoding="utf-8-sig") as f:
        # every merged row names its person differently: a note each (the first name is kept)
        assert sum(1 for _ in f) == rejected + merged + 1
    dup = Contact.objects.get(campaign=camp, phone=f"+55119{61000000 + 499 - 250}")
    assert dup.name == "Cliente 249" and dup.alt_phones == [f"+55113{2000000 + 499}"]
