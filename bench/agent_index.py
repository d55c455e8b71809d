"""Bench: the site agent indexing 10,000 generated PDFs, and its idle cost.

1. Generates FILES PDFs with pypdf (distinct titles, content padded to 10-90 KB).
2. Cold index: a fresh agent cache, the real scan path (walk, streamed SHA-256, pypdf
   metadata, SQLite cache) in a child process: time, files/s, the child's peak RSS.
3. Warm index: the same scan again (an agent restart): the cache keyed by path + size +
   mtime means no file is read again.
4. SHA-256 alone: the agent's ``sha256_file`` over every file vs ``sha256sum`` over the same
   files, in this run, both with the files in the page cache (read once before).
5. Idle cost: a real ``central-agent run`` process connected to a small in-process fake of
   Central, watching the FILES files, idle for IDLE seconds: CPU seconds used and RSS.

    .venv/bin/python bench/agent_index.py [--files 10000] [--idle 60]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CHILD = r"""
import asyncio, json, sys, time, resource
from pathlib import Path
from central_agent import config
from central_agent.runtime import Agent

home, docs = Path(sys.argv[1]), sys.argv[2]
cfg = config.Config(home=home, server="http://127.0.0.1:9", token="x",
                    folders=(config.Folder("docs", docs),), rescan=0)

async def main():
    agent = Agent(cfg)
    t0 = time.perf_counter()
    await agent.full_scan()
    elapsed = time.perf_counter() - t0
    files = len(agent.state.current)
    errors = sum(1 for e in agent.state.current.values() if e.error)
    agent.pool.shutdown()
    agent.store.close()
    return elapsed, files, errors

elapsed, files, errors = asyncio.run(main())
print(json.dumps({"elapsed": elapsed, "files": files, "errors": errors,
                  "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""


def generate(docs: Path, count: int, seed: int = 11) -> int:
    from tests.agent.pdfs import pdf_bytes

    rng = random.Random(seed)
    total = 0
    for n in range(count):
        data = pdf_bytes(title=f"Relatório {n}", author=f"Filial {n % 37}", pages=1 + n % 3,
                         padding=rng.randint(10_000, 90_000))
        sub = docs / f"{n // 1000:02d}"
        sub.mkdir(parents=True, exist_ok=True)
        (sub / f"documento-{n:05d}.pdf").write_bytes(data)
        total += len(data)
    return total


def scan(home: Path, docs: Path) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, str(home), str(docs)], check=True,
                         capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def sha_compare(docs: Path) -> tuple[float, float, int]:
    from central_agent.indexer import sha256_file

    files = sorted(str(p) for p in docs.rglob("*.pdf"))
    size = sum(os.path.getsize(f) for f in files)
    for f in files:  # page cache warm for both
        with open(f, "rb") as fh:
            while fh.read(1 << 20):
                pass
    t0 = time.perf_counter()
    for f in files:
        sha256_file(f)
    agent_s = time.perf_counter() - t0
    with tempfile.NamedTemporaryFile("w", delete=False) as listing:
        listing.write("\0".join(files))
    t0 = time.perf_counter()
    subprocess.run(f"xargs -0 -a {listing.name} sha256sum > /dev/null", shell=True, check=True)
    tool_s = time.perf_counter() - t0
    os.unlink(listing.name)
    return agent_s, tool_s, size


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


async def idle_cost(docs: Path, home: Path, count: int, idle: float) -> dict:
    from tests.agent.fake_central import FakeCentral

    from central_agent import config

    central = FakeCentral()
    await central.start()
    record = central.add_agent()
    cfg = config.Config(home=home, server=central.url, folders=(config.Folder("docs", str(docs)),))
    config.write_config(cfg)
    config.write_token(cfg, record.token)
    env = {**os.environ, "CENTRAL_AGENT_HOME": str(home)}
    proc = subprocess.Popen([sys.executable, "-m", "central_agent", "run", "--quiet"], env=env)
    try:
        t0 = time.perf_counter()
        await central.wait_for(lambda: len(record.entries) == count, timeout=600)
        ready = time.perf_counter() - t0
        await central.wait_for(lambda: record.hellos, timeout=30)
        cpu0, wall0 = cpu_seconds(proc.pid), time.perf_counter()
        await asyncio.sleep(idle)  # the measurement window itself, not a synchronisation
        cpu1, wall1 = cpu_seconds(proc.pid), time.perf_counter()
        return {"ready_s": ready, "cpu_s": cpu1 - cpu0, "window_s": wall1 - wall0,
                "rss_mb": rss_kb(proc.pid) / 1024, "heartbeats": record.heartbeats,
                "watch": record.hellos[-1].folders[0].watch}
    finally:
        proc.terminate()
        proc.wait(30)
        await central.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--idle", type=float, default=60.0)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-agent-index-"))
    try:
        docs = work / "docs"
        t0 = time.perf_counter()
        total = generate(docs, args.files)
        print(f"generated {args.files} PDFs, {total / 1e6:.1f} MB in {time.perf_counter() - t0:.1f} s")
        print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")

        cold = scan(work / "home-cold", docs)
        print(f"cold index: {cold['files']} files in {cold['elapsed']:.1f} s = "
              f"{cold['files'] / cold['elapsed']:.0f} files/s, {total / 1e6 / cold['elapsed']:.0f} MB/s, "
              f"peak RSS {cold['maxrss_kb'] / 1024:.0f} MB, {cold['errors']} with errors")
        warm = scan(work / "home-cold", docs)
        print(f"warm index (restart, cache hit): {warm['files']} files in {warm['elapsed']:.2f} s = "
              f"{warm['files'] / warm['elapsed']:.0f} files/s, peak RSS {warm['maxrss_kb'] / 1024:.0f} MB")

        agent_s, tool_s, size = sha_compare(docs)
        print(f"SHA-256 over the same {size / 1e6:.0f} MB (page cache warm): agent sha256_file "
              f"{size / 1e6 / agent_s:.0f} MB/s, sha256sum {size / 1e6 / tool_s:.0f} MB/s "
              f"({agent_s / tool_s:.2f}x the time)")

        if args.idle > 0:
            idle = asyncio.run(idle_cost(docs, work / "home-idle", args.files, args.idle))
            print(f"idle agent process watching {args.files} files ({idle['watch']} watcher): "
                  f"connected and indexed after {idle['ready_s']:.1f} s; over {idle['window_s']:.0f} s idle "
                  f"it used {idle['cpu_s']:.2f} CPU s ({100 * idle['cpu_s'] / idle['window_s']:.2f} % of a core), "
                  f"RSS {idle['rss_mb']:.0f} MB, {idle['heartbeats']} heartbeats")
        print(f"load average after: {os.getloadavg()[0]:.2f}; "
              f"bench process peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
