"""The agent's sans-I/O cores: backoff, settle tracking, index diff and sync, upload cursor."""

from __future__ import annotations

import pytest

from central_agent import protocol as p
from central_agent.core import (
    Backoff,
    Finished,
    GiveUp,
    Retry,
    SendChunk,
    SettleTracker,
    SyncState,
    UploadCursor,
    apply_changes,
    diff,
)

pytestmark = pytest.mark.backend_free


def E(sha: str, size: int = 10, **kw) -> p.Entry:
    return p.Entry(size=size, mtime=1.0, sha256=sha * 64, **kw)


# --- backoff -------------------------------------------------------------------------------


def test_backoff_grows_exponentially_within_jitter_and_caps():
    low, high = Backoff(rand=lambda: 0.0, cap=60), Backoff(rand=lambda: 0.999999, cap=60)
    lows = [low.next_delay() for _ in range(10)]
    highs = [high.next_delay() for _ in range(10)]
    assert lows[:4] == [0.5, 1.0, 2.0, 4.0]
    assert [round(h) for h in highs[:4]] == [1, 2, 4, 8]
    assert max(highs) <= 60 and lows[-1] == 30.0  # half the cap is always waited
    low.reset()
    assert low.next_delay() == 0.5


def test_backoff_jitter_spreads_agents():
    import random

    rng = random.Random(7)
    delays = {round(Backoff(rand=rng.random).next_delay(), 3) for _ in range(50)}
    assert len(delays) > 40


# --- settle --------------------------------------------------------------------------------


def test_settle_waits_until_size_and_mtime_stay_still():
    tracker = SettleTracker(quiet=2.0)
    key = ("d", "a.pdf")
    tracker.touch(key, now=0.0)
    assert not tracker.observe(key, (10, 1), now=0.5)  # first look
    assert not tracker.observe(key, (20, 2), now=1.0)  # still growing
    assert not tracker.observe(key, (20, 2), now=2.5)  # still for 1.5 s only
    assert tracker.observe(key, (20, 2), now=3.0)  # still for 2 s: ready
    assert len(tracker) == 0
    tracker.touch(key, now=4.0)
    assert not tracker.observe(key, None, now=5.0)  # vanished: forgotten
    assert tracker.pending() == []


# --- diff ----------------------------------------------------------------------------------


def test_diff_finds_added_modified_deleted_and_renamed():
    acked = {("d", "a.pdf"): E("a"), ("d", "b.pdf"): E("b"), ("d", "c.pdf"): E("c"),
             ("e", "x.pdf"): E("x")}
    current = {("d", "a.pdf"): E("a"), ("d", "b.pdf"): E("B"), ("d", "new/c.pdf"): E("c"),
               ("d", "n.pdf"): E("n"), ("e", "y.pdf"): E("x", size=11)}
    changes = diff(acked, current)
    assert [(c.op, c.folder, c.path, c.old_path) for c in changes] == [
        ("renamed", "d", "new/c.pdf", "c.pdf"),
        ("added", "d", "n.pdf", None),
        ("added", "e", "y.pdf", None),  # other size: not the same document
        ("modified", "d", "b.pdf", None),
        ("deleted", "e", "x.pdf", None),
    ]
    state = dict(acked)
    apply_changes(state, changes)
    assert state == current


def test_diff_does_not_rename_across_folders_or_errors_without_digest():
    acked = {("d", "a.pdf"): E("a"), ("d", "u.pdf"): p.Entry(size=1, mtime=1, sha256=None, error="broken_pdf")}
    current = {("e", "a.pdf"): E("a"), ("d", "v.pdf"): p.Entry(size=1, mtime=1, sha256=None, error="broken_pdf")}
    ops = sorted(c.op for c in diff(acked, current))
    assert ops == ["added", "added", "deleted", "deleted"]


# --- sync ----------------------------------------------------------------------------------


def _central():
    """Central's rules from docs/site-agent.md, as a tiny model."""
    return {"index_id": None, "last_seq": 0, "entries": {}}


def _central_apply(central, batch: p.IndexBatch):
    if batch.reset:
        central["entries"] = {}
    elif batch.index_id != central["index_id"] or batch.seq > central["last_seq"] + 1:
        return p.Resync(reason="seq_gap")
    elif batch.seq <= central["last_seq"]:
        return p.IndexAck(index_id=batch.index_id, seq=batch.seq)
    apply_changes(central["entries"], batch.changes)
    central["index_id"], central["last_seq"] = batch.index_id, batch.seq
    return p.IndexAck(index_id=batch.index_id, seq=batch.seq)


def _welcome(central):
    return p.Welcome(agent_id="a", name="n", index_id=central["index_id"], last_seq=central["last_seq"])


def _drain(state: SyncState, central) -> list[p.IndexBatch]:
    sent = []
    while (batch := state.next_batch()) is not None:
        sent.append(batch)
        answer = _central_apply(central, batch)
        if isinstance(answer, p.IndexAck):
            state.on_ack(answer)
        else:
            state.on_resync()
    return sent


def test_first_sync_is_a_reset_then_only_differences():
    state, central = SyncState(index_id="i1"), _central()
    for n in range(1200):
        state.set_entry(("d", f"{n}.pdf"), E(f"{n % 16:x}", size=n))
    assert state.on_welcome(_welcome(central)) == "reset"
    sent = _drain(state, central)
    assert [b.seq for b in sent] == [1, 2, 3] and sent[0].reset and not sent[1].reset
    assert central["entries"] == state.current and state.pending == 0
    state.set_entry(("d", "0.pdf"), None)
    state.set_entry(("d", "x.pdf"), E("f", size=5))
    sent = _drain(state, central)
    assert len(sent) == 1 and sent[0].seq == 4
    assert sorted(c.op for c in sent[0].changes) == ["added", "deleted"]


def test_reconnect_resumes_from_the_difference():
    state, central = SyncState(index_id="i1"), _central()
    state.set_entry(("d", "a.pdf"), E("a"))
    state.on_welcome(_welcome(central))
    _drain(state, central)
    state.on_disconnect()
    state.set_entry(("d", "b.pdf"), E("b"))  # while offline
    assert state.next_batch() is None  # nothing goes out while disconnected
    assert state.on_welcome(_welcome(central)) == "resume"
    sent = _drain(state, central)
    assert [(c.op, c.path) for b in sent for c in b.changes] == [("added", "b.pdf")]
    assert not sent[0].reset


def test_lost_ack_is_recovered_from_welcome_without_resending():
    state, central = SyncState(index_id="i1"), _central()
    state.set_entry(("d", "a.pdf"), E("a"))
    state.on_welcome(_welcome(central))
    _drain(state, central)
    state.set_entry(("d", "b.pdf"), E("b"))
    batch = state.next_batch()
    _central_apply(central, batch)  # applied, but the ack is lost with the connection
    state.on_disconnect()
    assert state.on_welcome(_welcome(central)) == "resume"
    assert state.acked_seq == 2 and state.next_batch() is None


def test_unapplied_inflight_batch_is_recomputed_not_replayed():
    state, central = SyncState(index_id="i1"), _central()
    state.set_entry(("d", "a.pdf"), E("a"))
    state.on_welcome(_welcome(central))
    _drain(state, central)
    state.set_entry(("d", "b.pdf"), E("b"))
    state.next_batch()  # lost before Central got it
    state.on_disconnect()
    state.set_entry(("d", "b.pdf"), None)  # and the file went away meanwhile
    assert state.on_welcome(_welcome(central)) == "resume"
    assert _drain(state, central) == []
    assert central["entries"] == state.current


@pytest.mark.parametrize("server", [
    {"index_id": None, "last_seq": 0},  # Central lost everything (new database)
    {"index_id": "other", "last_seq": 5},  # the agent's cache was recreated
    {"index_id": "i1", "last_seq": 9},  # Central ahead of the agent: restored agent cache
    {"index_id": "i1", "last_seq": 0},  # Central restored from an older backup
])
def test_disagreement_forces_a_full_reset(server):
    state, central = SyncState(index_id="i1"), _central()
    state.set_entry(("d", "a.pdf"), E("a"))
    state.on_welcome(_welcome(central))
    _drain(state, central)
    state.set_entry(("d", "b.pdf"), E("b"))
    _drain(state, central)
    central.update(server)
    central["entries"] = {("d", "stale.pdf"): E("s")}
    state.on_disconnect()
    assert state.on_welcome(_welcome(central)) == "reset"
    sent = _drain(state, central)
    assert sent[0].reset and sent[0].seq == 1
    assert central["entries"] == state.current


def test_resync_from_central_resends_everything():
    state, central = SyncState(index_id="i1"), _central()
    state.set_entry(("d", "a.pdf"), E("a"))
    state.on_welcome(_welcome(central))
    _drain(state, central)
    central["last_seq"] = 0  # Central lost a batch: the next one leaves a gap
    state.set_entry(("d", "b.pdf"), E("b"))
    _drain(state, central)
    assert central["entries"] == state.current and central["last_seq"] == 1


def test_empty_index_still_resets_central():
    state, central = SyncState(index_id="i1"), _central()
    central["entries"] = {("d", "old.pdf"): E("o")}
    state.on_welcome(_welcome(central))
    sent = _drain(state, central)
    assert len(sent) == 1 and sent[0].reset and sent[0].changes == []
    assert central["entries"] == {}


# --- upload cursor -------------------------------------------------------------------------


def S(offset, size=100, state="receiving"):
    return p.UploadStatus(offset=offset, size=size, state=state)


def test_upload_cursor_streams_the_rest_and_finishes():
    cur = UploadCursor(size=100, chunk_size=40)
    assert cur.start() == SendChunk(0, 100)  # one request: the whole rest, framed in chunks
    assert cur.on_status(200, S(80)) == SendChunk(80, 20)  # Central stopped early: go on from its offset
    assert cur.on_status(200, S(100, state="complete")) == Finished("complete")


def test_upload_cursor_resumes_from_centrals_offset_and_spends_attempts():
    cur = UploadCursor(size=100, chunk_size=40, backoff=Backoff(rand=lambda: 0.0))
    cur.start()
    action = cur.on_failure("connection reset")
    assert isinstance(action, Retry) and action.attempt == 2
    assert cur.on_status(409, S(60)) == SendChunk(60, 40)  # Central had more than we thought
    assert isinstance(cur.on_failure("reset"), Retry)
    assert cur.on_failure("reset") == GiveUp("attempts_exhausted", "reset")


def test_upload_cursor_corrupt_chunk_resent_from_centrals_offset_then_gives_up():
    cur = UploadCursor(size=100, chunk_size=50)
    cur.start()
    assert cur.on_status(422, S(50)) == SendChunk(50, 50)  # the chunks before the bad one are kept
    assert cur.on_status(422, None) == SendChunk(50, 50)
    assert isinstance(cur.on_status(422, None), GiveUp)


@pytest.mark.parametrize("code,expected", [(401, "unauthorized"), (410, "gone"), (404, "gone")])
def test_upload_cursor_stops_on_final_answers(code, expected):
    cur = UploadCursor(size=10)
    cur.start()
    action = cur.on_status(code, None)
    assert isinstance(action, GiveUp) and action.code == expected


def test_upload_cursor_rejected_and_size_mismatch():
    cur = UploadCursor(size=100)
    cur.start()
    assert cur.on_status(200, S(100, state="rejected")) == Finished("rejected")
    cur = UploadCursor(size=100)
    assert cur.on_status(200, S(0, size=99)).code == "gone"
