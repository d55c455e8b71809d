"""Bench: serving a large call recording vs plain static-file serving, same file, same run.

A real ``central web`` (uvicorn, SQLite, as ``make run`` serves) holds a recording of
``--mb`` MB in its store; the same bytes are also served as a static file:

* ``recording``: ``GET /recordings/<id>/audio`` with a session (tenant lookup, permission
  query, audit row, then the body streamed 256 KiB per read through
  ``core.streaming.SyncStreamingHttpResponse``);
* ``whitenoise``: the same ``central web`` serving the file from its static root
  (WhiteNoise, what ``make run`` uses for static files);
* ``nginx``: nginx serving the file (sendfile), what production puts in front.

Each is downloaded ``--runs`` times, interleaved, over loopback with httpx streaming;
throughput is bytes / wall time (median). The web process's resident memory is sampled
every 20 ms during each download: the peak above the process's RSS before the downloads is
reported per kind ("memory flat" means it does not grow with the file). Then 200 range
requests at random offsets (the browser seeking) are timed.

    .venv/bin/python bench/recordings_serve.py [--mb 200] [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support import free_port, migrated_env, run_central, start_central  # noqa: E402

SETUP = """
import os, uuid
from django.contrib.auth import get_user_model
from django.utils import timezone
from central.core.models import Membership, Organization
from central.recordings import storage
from central.recordings.models import Recording
org = Organization.objects.create(name="Bench", slug="bench")
user = get_user_model().objects.create_user("bench", password="senha-forte-123")
Membership.objects.create(user=user, organization=org, role="supervisor")
uid = str(uuid.uuid4()); now = timezone.now()
rel = storage.relative_path(org.id, now, uid + ".wav")
path = storage.resolve(rel); path.parent.mkdir(parents=True, exist_ok=True)
os.link(os.environ["BENCH_FILE"], path)
rec = Recording.objects.create(organization=org, attempt_uid=uid, path=rel, size=path.stat().st_size, started_at=now)
print("RESULT", rec.pk)
"""

NGINX_CONF = """
worker_processes 1;
pid {work}/nginx.pid;
error_log {work}/nginx-error.log;
daemon off;
events {{ worker_connections 64; }}
http {{
  access_log off;
  sendfile on;
  client_body_temp_path {work}/nginx-tmp;
  proxy_temp_path {work}/nginx-tmp;
  fastcgi_temp_path {work}/nginx-tmp;
  uwsgi_temp_path {work}/nginx-tmp;
  scgi_temp_path {work}/nginx-tmp;
  server {{ listen 127.0.0.1:{port}; location / {{ root {root}; }} }}
}}
"""


def rss_kb(pid: int) -> int:
    total = 0
    for p in [pid, *children(pid)]:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except FileNotFoundError:
            pass
    return total


def children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except FileNotFoundError:
        return []


def download(client: httpx.Client, url: str, pid: int, **headers: str) -> tuple[float, int, int]:
    """(seconds, bytes, peak RSS growth in kB over the RSS just before) of one streamed GET."""
    before = rss_kb(pid)
    peak = [before]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], rss_kb(pid))
            done.wait(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started = time.perf_counter()
    got = 0
    with client.stream("GET", url, headers=headers) as response:
        assert response.status_code in (200, 206), (url, response.status_code, response.read()[:300])
        for chunk in response.iter_raw(1 << 20):
            got += len(chunk)
    elapsed = time.perf_counter() - started
    done.set()
    sampler.join()
    return elapsed, got, peak[0] - before


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mb", type=int, default=200)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-recordings-"))
    procs: list[subprocess.Popen] = []
    cleanup: list[Path] = []
    web = None
    try:
        static = work / "data" / "static"
        static.mkdir(parents=True)
        big = static / "bench-recording.wav"
        with open(big, "wb") as fh:
            block = os.urandom(1 << 20)
            for _ in range(args.mb):
                fh.write(block)
        size = big.stat().st_size
        env = migrated_env(work / "data", BENCH_FILE=str(big), CENTRAL_RATE_API="100000/min,1000000/hour")
        setup = run_central(["manage", "shell", "-c", SETUP], env)
        assert setup.returncode == 0, setup.stderr
        pk = setup.stdout.split("RESULT", 1)[1].split()[0]
        port = free_port()
        web = start_central(["web", "--port", str(port)], env, port, work / "web.log")
        nginx_port = free_port()
        (work / "nginx-tmp").mkdir()
        # nginx's workers run as nobody: they get a world-readable directory of their own
        # holding the same file (a hard link: the same bytes on disk).
        public = Path(tempfile.mkdtemp(prefix="bench-recordings-public-"))
        public.chmod(0o755)
        os.link(big, public / big.name)
        (public / big.name).chmod(0o644)
        cleanup.append(public)
        (work / "nginx.conf").write_text(NGINX_CONF.format(work=work, port=nginx_port, root=public))
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        procs.append(subprocess.Popen([nginx, "-c", str(work / "nginx.conf"), "-p", str(work)],
                                      stderr=subprocess.DEVNULL))
        targets = {
            "recording": f"{web.url}/recordings/{pk}/audio",
            "whitenoise": f"{web.url}/static/bench-recording.wav",
            "nginx": f"http://127.0.0.1:{nginx_port}/bench-recording.wav",
        }
        client = httpx.Client(timeout=120)
        page = client.get(f"{web.url}/login/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
        done = client.post(f"{web.url}/login/", data={"username": "bench", "password": "senha-forte-123",
                                                      "csrfmiddlewaretoken": token},
                           headers={"Referer": f"{web.url}/login/", "Origin": web.url})
        assert done.status_code == 302, done.status_code
        for _ in range(100):  # nginx up
            try:
                if client.head(targets["nginx"]).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.05)
        pid = web.proc.pid
        for name, url in targets.items():  # warm-up (page cache, first import paths)
            assert download(client, url, pid, Range="bytes=0-1023")[1] == 1024, name
        base_rss = rss_kb(pid)
        # Memory first, each kind once on a process that has not served the file yet
        # (memory a download takes is kept by the allocator, so after one kind grew the
        # process the next would look flat).
        growth = {name: download(client, url, pid)[2] for name, url in targets.items() if name != "nginx"}
        results: dict[str, list[tuple[float, int, int]]] = {k: [] for k in targets}
        for _ in range(args.runs):
            for name, url in targets.items():
                results[name].append(download(client, url, pid))
        load = os.getloadavg()[0]
        print(f"file {size / 1e6:.0f} MB, {args.runs} runs each, interleaved; web RSS before {base_rss / 1024:.0f} MiB; "
              f"load average {load:.1f} on {os.cpu_count()} CPUs")
        print(f"{'server':<12} {'median MB/s':>12} {'runs (MB/s)':<36} {'RSS growth, first download (MiB)':>32}")
        for name, rows in results.items():
            for _secs, got, _peak in rows:
                assert got == size, (name, got, size)
            rates = [got / secs / 1e6 for secs, got, _ in rows]
            extra = f"{growth[name] / 1024:.0f}" if name in growth else "(another process)"
            print(f"{name:<12} {statistics.median(rates):>12.0f} {', '.join(f'{r:.0f}' for r in rates):<36} {extra:>32}")
        rng = random.Random(7)
        times = []
        for _ in range(200):
            start = rng.randrange(0, size - 65536)
            t0 = time.perf_counter()
            r = client.get(targets["recording"], headers={"Range": f"bytes={start}-{start + 65535}"})
            times.append(time.perf_counter() - t0)
            assert r.status_code == 206 and len(r.content) == 65536
        times.sort()
        print(f"range requests (64 KiB at random offsets, the player seeking): p50 {times[100] * 1000:.1f} ms, "
              f"p95 {times[190] * 1000:.1f} ms")
    finally:
        if web is not None:
            web.stop()
        for proc in procs:
            proc.terminate()
            proc.wait(10)
        for path in [work, *cleanup]:
            shutil.rmtree(path, ignore_errors=True)


if __name__ == "__main__":
    main()
