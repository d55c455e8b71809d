"""Import jobs run in a child process with a memory cap; a job whose worker died resumes.

Why a child process: parsing an uploaded file is where hostile input meets memory (zip
bombs, million-column headers). The importer bounds what it can (``importer.Limits``);
the child's address-space cap (``CENTRAL_IMPORT_MEMORY_MB``, ``RLIMIT_AS``) bounds the rest,
so the worst a file can do is fail its own import with a pt-BR message, never grow the
web process. The child dies with its parent (``PR_SET_PDEATHSIG``), so a job never runs
unsupervised.

Ownership and recovery: the process running a job writes ``host:pid`` into
``ImportJob.worker`` (a compare-and-set *claim*) and refreshes ``heartbeat_at`` every
:data:`HEARTBEAT_SECONDS`. Each batch is committed together with the job's counters and
``resume_row`` (``importer._commit``). A job is orphaned when its owner is gone: a pid of
this host that no longer runs, or a heartbeat older than :data:`STALE_SECONDS`. Processes
that run imports (``central web``/``up`` with the process or thread runner) look for
orphans when they start and every :data:`SWEEP_SECONDS`; a Celery redelivery (``acks_late``)
does the same check. An orphan is taken over with a compare-and-set on its old owner (two
sweepers cannot both win) and resumed after ``resume_row``, at most :data:`MAX_RESUMES`
times; then, or when the uploaded file is gone, it is marked failed. Either way the job's
message says so.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from datetime import timedelta

log = logging.getLogger("central.dialer.importworker")

__all__ = ["HEARTBEAT_SECONDS", "MAX_RESUMES", "STALE_SECONDS", "execute", "recover_orphans", "run_isolated"]

HEARTBEAT_SECONDS = 5.0
#: A heartbeat older than this means the owner is gone (several missed beats).
STALE_SECONDS = 30.0
SWEEP_SECONDS = 30.0
MAX_RESUMES = 3
_HANDOFF = "handoff:"


def owner_name(pid: int | None = None) -> str:
    return f"{socket.gethostname()}:{pid or os.getpid()}"


def _active():
    from .models import ImportJob

    return [ImportJob.Status.QUEUED, ImportJob.Status.RUNNING]


def _pid_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    try:  # a killed child nobody reaped yet is a zombie: gone for our purpose
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except OSError:
        return False


def owner_gone(job, now=None) -> bool:
    """Whether the process that owns ``job`` no longer runs it."""
    from django.utils import timezone

    now = now or timezone.now()
    host, _, pid = job.worker.rpartition(":")
    if job.worker and host == socket.gethostname() and pid.isdigit() and _pid_gone(int(pid)):
        return True
    last = job.heartbeat_at or job.created_at
    return last < now - timedelta(seconds=STALE_SECONDS)


def claim(job_id: int, expected: str) -> bool:
    """Make this process the job's owner if it still belongs to ``expected``."""
    from django.utils import timezone

    from .models import ImportJob

    return ImportJob.objects.filter(pk=job_id, worker=expected, status__in=_active()).update(
        worker=owner_name(), heartbeat_at=timezone.now()) == 1


def _fail(job, message: str) -> None:
    from django.utils import timezone

    from .importer import _discard_upload, _publish
    from .models import ImportJob

    job.status, job.message, job.finished_at = ImportJob.Status.FAILED, message[:300], timezone.now()
    job.save(update_fields=["status", "message", "finished_at"])
    _discard_upload(job)
    _publish(job)


def take_over(job, reason: str) -> str | None:
    """Take an orphaned job from its dead owner; the handoff token to claim it with.

    ``None`` when someone else took it first or it cannot be resumed (then it is marked
    failed with the reason in pt-BR).
    """
    from django.db.models import F
    from django.utils import timezone

    from .models import ImportJob

    where = f"na linha {job.resume_row + 1}" if job.resume_row else "antes do primeiro lote"
    if job.resumes >= MAX_RESUMES:
        _fail(job, f"falhou: o processo da importação foi interrompido {where} ({reason}) pela "
                   f"{job.resumes + 1}ª vez; envie o arquivo de novo")
        return None
    if not job.stored_path or not os.path.exists(job.stored_path):
        _fail(job, f"falhou: o processo da importação foi interrompido {where} ({reason}) e o arquivo "
                   "enviado não existe mais; envie o arquivo de novo")
        return None
    token = _HANDOFF + uuid.uuid4().hex
    taken = ImportJob.objects.filter(pk=job.pk, worker=job.worker, heartbeat_at=job.heartbeat_at,
                                     status__in=_active()).update(
        worker=token, heartbeat_at=timezone.now(), resumes=F("resumes") + 1)
    if taken:
        log.warning("import %s: worker %r gone (%s); resuming after row %s", job.pk, job.worker, reason,
                    job.resume_row)
        return token
    return None


# --- Running ----------------------------------------------------------------------------


def _heartbeat(job_id: int, owner: str, stop: threading.Event) -> None:
    from django.db import connections
    from django.utils import timezone

    from .models import ImportJob

    try:
        while not stop.wait(HEARTBEAT_SECONDS):
            ImportJob.objects.filter(pk=job_id, worker=owner).update(heartbeat_at=timezone.now())
    except Exception:
        log.warning("import %s: heartbeat failed", job_id, exc_info=True)
    finally:
        connections.close_all()


@contextlib.contextmanager
def owned(job_id: int, expected: str = "") -> Iterator[bool]:
    """Claim the job from ``expected`` and keep its heartbeat while the block runs.

    Yields whether the claim succeeded. Every process that runs an import holds it this
    way (worker child, thread runner, ``central import-contacts``), so the recovery sweep
    never takes a job from a live process.
    """
    if not claim(job_id, expected):
        log.info("import %s: already taken by another worker", job_id)
        yield False
        return
    stop = threading.Event()
    beat = threading.Thread(target=_heartbeat, args=(job_id, owner_name(), stop), name=f"import-beat-{job_id}",
                            daemon=True)
    beat.start()
    try:
        yield True
    finally:
        stop.set()
        beat.join(HEARTBEAT_SECONDS + 1)


def run_claimed(job_id: int, expected: str) -> None:
    """Claim the job from ``expected`` and run it here, beating while it runs."""
    from .importer import run_job

    with owned(job_id, expected) as mine:
        if mine:
            run_job(job_id)


def run_isolated(job_id: int, expected: str) -> int:
    """Run the job in a child process (memory cap, dies with us); its exit code.

    When the child dies without finishing the job (killed: OOM killer, SIGKILL), the job is
    taken over and resumed in a new child, up to :data:`MAX_RESUMES`; when it exits with an
    error, the job is marked failed.
    """
    from django.conf import settings

    from .models import ImportJob

    while True:
        cmd = [sys.executable, "-m", "central.dialer.importworker", str(job_id), expected, str(os.getpid()),
               str(settings.IMPORT_MEMORY_MB)]
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL)
        code = proc.wait()
        job = ImportJob.objects.filter(pk=job_id).first()
        if job is None or job.status not in _active() or job.worker not in (owner_name(proc.pid), expected):
            return code  # finished (or another worker has it)
        if code < 0:
            expected = take_over(job, f"sinal {-code}")
            if expected is None:
                return code
            continue
        _fail(job, f"falhou: o processo da importação terminou com erro (código {code}); veja o log do servidor")
        return code


def execute(job_id: int, isolated: bool = True) -> None:
    """Run a job (new or orphaned) to its end: the one entry of every runner.

    A new job (no owner) is run directly; an orphan is taken over first; a job whose owner
    is alive is left to it (a Celery redelivery while the first worker still runs).
    """
    from .models import ImportJob

    job = ImportJob.objects.filter(pk=job_id).first()
    if job is None or job.status not in _active():
        return
    expected = job.worker
    if expected:
        if not owner_gone(job):
            return
        expected = take_over(job, "processo ausente")
        if expected is None:
            return
    if isolated:
        run_isolated(job_id, expected)
    else:
        run_claimed(job_id, expected)


def recover_orphans(start) -> list[int]:
    """Take over every orphaned job; ``start(job_id, token)`` runs each. Ids resumed."""
    from django.db.models import Q
    from django.utils import timezone

    from .models import ImportJob

    now = timezone.now()
    resumed = []
    # A queued job nobody claimed within STALE_SECONDS lost the process that accepted it.
    candidates = ImportJob.objects.filter(status__in=_active()).filter(
        ~Q(worker="") | Q(created_at__lt=now - timedelta(seconds=STALE_SECONDS)))
    for job in candidates:
        if not owner_gone(job, now):
            continue
        token = take_over(job, "processo ausente na reinicialização")
        if token is not None:
            start(job.pk, token)
            resumed.append(job.pk)
    return resumed


async def recovery_forever(interval: float = SWEEP_SECONDS) -> None:
    """Sweep for orphaned imports now and every ``interval`` s (web / up processes)."""
    import asyncio

    from channels.db import database_sync_to_async

    from .services import import_runner, start_claimed

    while True:
        try:
            if import_runner() != "celery":
                await database_sync_to_async(recover_orphans)(start_claimed)
        except Exception:
            log.warning("import recovery sweep failed", exc_info=True)
        await asyncio.sleep(interval)


def _child_main(argv: list[str]) -> int:
    """``python -m central.dialer.importworker JOB_ID EXPECTED PARENT_PID MEMORY_MB``."""
    job_id, expected, parent, memory_mb = int(argv[0]), argv[1], int(argv[2]), int(argv[3])
    import ctypes
    import resource
    import signal

    with_libc = ctypes.CDLL(None, use_errno=True)
    pr_set_pdeathsig = 1
    with_libc.prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # the parent died before prctl: nobody supervises us
        return 3
    cap = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "central.settings")
    import django

    django.setup()
    run_claimed(job_id, expected)
    return 0


if __name__ == "__main__":  # pragma: no cover - run by run_isolated
    sys.exit(_child_main(sys.argv[1:]))
