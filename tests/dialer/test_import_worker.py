"""Imports run in a capped worker process; a killed import resumes (findings 7 and 9).

Real ``central web`` processes on a real data directory, uploads over HTTP, real
``SIGKILL``s. Bomb files are generated here (nothing large is committed). The web
process' peak RSS (``VmHWM`` in /proc) is read before and after a bomb is imported.
"""

from __future__ import annotations

import os
import signal
import time
import zipfile
from pathlib import Path

import httpx
import pytest

from central.dialer.importer import BATCH_SIZE
from tests.support import free_port, migrated_env, query_database, run_central, start_central, until

MB = 1024 * 1024
SETUP = (
    "from django.contrib.auth import get_user_model; "
    "from central.core.models import Organization, Membership; "
    "from central.dialer.models import Campaign; "
    "o = Organization.objects.create(name='A', slug='a'); "
    "u = get_user_model().objects.create_user('sup', 'sup@example.com', 'senha-forte-123'); "
    "Membership.objects.create(user=u, organization=o, role='supervisor'); "
    "print(Campaign.objects.create(organization=o, name='C', queue='q').pk)"
)


def status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


class Site:
    """A data directory with one organization, a supervisor and a campaign."""

    def __init__(self, base: Path, **env: str) -> None:
        self.base = base
        # the test polls the job API: lift the per-user API rate (100/min) for it
        self.env = migrated_env(base / "data", **{"CENTRAL_RATE_API": "100000/min", **env})
        result = run_central(["manage", "shell", "-c", SETUP], self.env)
        assert result.returncode == 0, result.stderr
        self.campaign = int(result.stdout.strip().splitlines()[-1])
        self.web = None
        self.token = ""
        self.starts = 0

    def start(self):
        self.starts += 1
        port = free_port()
        self.web = start_central(["web", "--port", str(port)], self.env, port, self.base / f"web{self.starts}.log")
        r = httpx.post(self.web.url + "/api/v1/auth/token/", json={"username": "sup", "password": "senha-forte-123"})
        assert r.status_code == 200, r.text
        self.token = r.json()["access"]
        return self.web

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.web.url, headers={"Authorization": f"Bearer {self.token}"}, timeout=60)

    def upload(self, path: Path) -> dict:
        with self.client() as c, open(path, "rb") as f:
            r = c.post(f"/api/v1/dialer/campaigns/{self.campaign}/import/", files={"file": (path.name, f)})
        assert r.status_code == 202, r.text
        return r.json()

    def job(self, job_id: int) -> dict:
        with self.client() as c:
            return c.get(f"/api/v1/dialer/imports/{job_id}/").json()

    def wait(self, job_id: int, until, timeout: float = 180) -> dict:
        """Poll the job (the API is the observable event) until ``until(job)``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job = self.job(job_id)
            if until(job):
                return job
            time.sleep(0.05)
        raise AssertionError(f"job {job_id}: condition not reached: {job}\n{self.web.log()[-3000:]}")

    def job_state(self, job_id: int) -> tuple[str, str, int, int, int]:
        """(status, worker, resume_row, imported, contacts of the campaign), read from the
        database directly: a ``manage shell`` takes seconds, the import goes on meanwhile."""
        return query_database(self.env, JOB_STATE.format(id=int(job_id)))[0]

    def first_batch(self, job_id: int) -> tuple[str, str, int]:
        """(status, worker, imported) once the job's first batch is committed (or it ended,
        which the caller's assertion then reports). Polls the job row alone: counting the
        contacts at each look would take the CPU the import runs on."""
        sql = f"SELECT status, worker, imported FROM dialer_importjob WHERE id = {int(job_id)}"
        return until(lambda: ((state := query_database(self.env, sql)[0])[2] > 0 or state[0] in ("done", "failed"))
                     and state, 180, f"job {job_id}'s first batch", interval=0.05)

    def stop(self) -> None:
        if self.web is not None:
            self.web.stop()


def finished(job: dict) -> bool:
    return job["status"] in ("done", "failed")


def big_csv(path: Path, rows: int) -> Path:
    with open(path, "w", encoding="utf-8") as f:
        f.write("nome;telefone\n")
        for i in range(rows):
            f.write(f"Cliente {i};+55119{10_000_000 + i:08d}\n")
    return path


JOB_STATE = ("SELECT j.status, j.worker, j.resume_row, j.imported, "
             "(SELECT COUNT(*) FROM dialer_contact c WHERE c.campaign_id = j.campaign_id) "
             "FROM dialer_importjob j WHERE j.id = {id}")

#: Rows of the files killed mid-import: ten batches (importer.BATCH_SIZE). The kill follows
#: the first committed batch (polled, milliseconds), so nine batches are the margin; the
#: size itself is not the point (it was 120-150k rows: 25-60 s of a CI pass).
KILLED_ROWS = 10 * BATCH_SIZE


@pytest.fixture
def site(tmp_path):
    s = Site(tmp_path)
    yield s
    s.stop()


@pytest.fixture(scope="module")
def bomb_site(tmp_path_factory):
    """One site and web process for both bombs (a site and a web start cost seconds each).
    Each bomb measures the web's peak RSS from just before its own upload; nothing but the
    bombs runs on it, so an earlier big import cannot have raised the mark to hide growth."""
    s = Site(tmp_path_factory.mktemp("bombs"))
    s.start()
    yield s
    s.stop()


def test_web_killed_mid_import_resumes_on_restart(site, tmp_path):
    """Finding 9: SIGKILL the web process while its import worker is between batches."""
    total = KILLED_ROWS
    path = big_csv(tmp_path / "grande.csv", total)
    site.start()
    job = site.upload(path)
    running = site.first_batch(job["id"])
    assert running[0] == "running", running  # at least one batch committed, not done
    os.kill(site.web.proc.pid, signal.SIGKILL)
    site.web.proc.wait(10)
    status, worker, resume_row, imported, contacts = site.job_state(job["id"])
    assert status == "running" and 0 < resume_row < total + 1
    assert imported == contacts and 0 < contacts < total  # committed batches only
    child = int(worker.rpartition(":")[2])
    deadline = time.monotonic() + 10  # PR_SET_PDEATHSIG: the kernel kills the worker with its parent
    while Path(f"/proc/{child}").exists() and "Z" not in Path(f"/proc/{child}/stat").read_text().split()[2]:
        assert time.monotonic() < deadline, "the import worker outlived its parent"
        time.sleep(0.05)

    site.start()  # "on restart"
    done = site.wait(job["id"], finished)
    assert done["status"] == "done", done
    assert (done["rows"], done["imported"], done["merged"], done["rejected"]) == (total, total, 0, 0)
    assert f"retomada da linha {resume_row + 1}" in done["message"]
    assert site.job_state(job["id"])[4] == total


def test_worker_killed_while_web_lives_is_resumed(site, tmp_path):
    total = KILLED_ROWS
    path = big_csv(tmp_path / "grande.csv", total)
    site.start()
    job = site.upload(path)
    status, worker, *_ = site.first_batch(job["id"])
    assert status == "running"
    os.kill(int(worker.rpartition(":")[2]), signal.SIGKILL)
    done = site.wait(job["id"], finished)
    assert (done["status"], done["imported"], done["merged"]) == ("done", total, 0), done
    assert "retomada da linha" in done["message"]


# --- Bombs (finding 7) -----------------------------------------------------------------


def xlsx_bomb(path: Path, inflated: int = 300 * MB) -> Path:
    """A valid XLSX whose sharedStrings.xml inflates to ``inflated`` bytes from ~300 KB."""
    sheet = ('<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/'
             'spreadsheetml/2006/main"><sheetData><row r="1"><c r="A1" t="s"><v>0</v></c></row>'
             '</sheetData></worksheet>')
    parts = {
        "[Content_Types].xml": '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
        'content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
        'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override '
        'PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.'
        'sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.'
        'openxmlformats-officedocument.spreadsheetml.worksheet+xml"/><Override PartName="/xl/sharedStrings.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>',
        "_rels/.rels": '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/'
        'relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
        'relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>',
        "xl/workbook.xml": '<?xml version="1.0"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/'
        '2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets>'
        '<sheet name="S" sheetId="1" r:id="rId1"/></sheets></workbook>',
        "xl/_rels/workbook.xml.rels": '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/'
        'package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/'
        'officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/><Relationship Id="rId2" '
        'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" '
        'Target="sharedStrings.xml"/></Relationships>',
        "xl/worksheets/sheet1.xml": sheet,
    }
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        for name, text in parts.items():
            z.writestr(name, text)
        item = "<si><t>telefone</t></si>"
        head = '<?xml version="1.0"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        count = (inflated - len(head)) // len(item)
        with z.open("xl/sharedStrings.xml", "w", force_zip64=True) as f:
            f.write(head.encode())
            block = (item * 10_000).encode()
            for _ in range(count // 10_000):
                f.write(block)
            f.write(b"</sst>")
    return path


def width_bomb(path: Path, size: int = 10 * MB) -> Path:
    path.write_bytes(b"telefone" + b";a" * (size // 2) + b"\n11987654321\n")
    return path


@pytest.mark.parametrize("kind", ["xlsx", "csv"])
def test_bombs_fail_cleanly_and_the_web_process_does_not_grow(bomb_site, tmp_path, kind):
    site = bomb_site
    bomb = xlsx_bomb(tmp_path / "bomba.xlsx") if kind == "xlsx" else width_bomb(tmp_path / "bomba.csv")
    web = site.web
    assert web.proc.poll() is None, web.log()
    before = status_kb(web.proc.pid, "VmHWM")
    job = site.wait(site.upload(bomb)["id"], finished)
    grew = status_kb(web.proc.pid, "VmHWM") - before
    assert job["status"] == "failed", job
    expected = "se expande" if kind == "xlsx" else "CENTRAL_IMPORT_MAX_LINE_CHARS"
    assert expected in job["message"], job["message"]
    assert grew < 30 * 1024, f"web peak RSS grew {grew} kB"


def test_memory_cap_is_the_backstop(tmp_path):
    """With the shape limits opened wide, the worker's memory cap still stops the file."""
    site = Site(tmp_path, CENTRAL_IMPORT_MAX_LINE_CHARS=str(1024 * MB), CENTRAL_IMPORT_MEMORY_MB="160")
    try:
        web = site.start()
        path = tmp_path / "linha.csv"
        path.write_bytes(b"telefone;obs\n11987654321;" + b"x" * (150 * MB) + b"\n")
        before = status_kb(web.proc.pid, "VmHWM")
        job = site.wait(site.upload(path)["id"], finished)
        assert job["status"] == "failed" and "CENTRAL_IMPORT_MEMORY_MB" in job["message"], job
        assert status_kb(web.proc.pid, "VmHWM") - before < 30 * 1024
    finally:
        site.stop()


@pytest.mark.django_db
def test_orphan_that_cannot_resume_is_failed_with_the_reason(tenants, tmp_path):
    """Past MAX_RESUMES, or with the upload gone, the sweep fails the job and says why."""
    from central.dialer import importworker
    from central.dialer.models import ImportJob
    from tests.dialer import factories

    upload = tmp_path / "l.csv"
    upload.write_text("telefone\n11987654321\n")
    dead = f"{os.uname().nodename}:{2**22 + 1}"  # above pid_max: no such process
    tired = factories.importjob(tenants["a"], status="running", worker=dead, resume_row=5001,
                                resumes=importworker.MAX_RESUMES, stored_path=str(upload))
    gone = factories.importjob(tenants["a"], status="running", worker=dead, resume_row=10001,
                               stored_path=str(tmp_path / "apagado.csv"))
    alive = factories.importjob(tenants["a"], status="running", worker=importworker.owner_name(),
                                resume_row=1, stored_path=str(upload))
    started = []
    assert importworker.recover_orphans(lambda job_id, token: started.append(job_id)) == []
    tired.refresh_from_db()
    gone.refresh_from_db()
    assert tired.status == "failed" and "interrompido na linha 5002" in tired.message and "4ª vez" in tired.message
    assert gone.status == "failed" and "não existe mais" in gone.message
    assert ImportJob.objects.get(pk=alive.pk).status == "running"  # its owner (this process) lives
