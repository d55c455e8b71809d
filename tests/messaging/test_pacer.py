"""The sans-I/O pacer on a fake clock: limits held in every window, nothing lost, order kept."""

from __future__ import annotations

import pytest

from central.messaging.pacer import Pacer

pytestmark = pytest.mark.backend_free


def drain(pacer: Pacer, start: float = 0.0, limit: int = 100_000):
    """Run the pacer like the sender does: send what is ready, else jump the clock by the wait."""
    now, sent, wakeups = start, [], 0
    for _ in range(limit):
        item, recipient, wait = pacer.next_ready(now)
        if item is not None:
            sent.append((now, item, recipient))
            pacer.succeeded(recipient, now)  # the API answered at once
            continue
        if wait == float("inf"):
            break
        assert wait > 0  # never a busy loop: a wait of 0 with nothing to send would spin
        wakeups += 1
        now += wait
    return sent, wakeups


def max_in_window(times: list[float], window: float) -> int:
    best, j = 0, 0
    for i, t in enumerate(times):
        while t - times[j] >= window:
            j += 1
        best = max(best, i - j + 1)
    return best


def test_200_to_one_number_and_10_to_one_recipient_paced_none_lost():
    pacer = Pacer()
    items = [(f"m{i}", f"5511900{i:06d}") for i in range(200)] + [(f"r{i}", "5511999990000") for i in range(10)]
    for item, recipient in items:
        pacer.submit(item, recipient, 0.0)
    sent, wakeups = drain(pacer)
    assert sorted(i for _t, i, _r in sent) == sorted(i for i, _r in items)  # each exactly once
    times = [t for t, _i, _r in sent]
    assert max_in_window(times, 1.0) <= 80  # per number, any 1 s window
    one = [t for t, i, _r in sent if i.startswith("r")]
    assert [i for _t, i, _r in sent if i.startswith("r")] == [f"r{i}" for i in range(10)]  # order kept
    # Token bucket: 3 at once, then one per 6 s; in any span T at most 3 + T/6 messages.
    for a in range(len(one)):
        for b in range(a, len(one)):
            assert b - a + 1 <= 3 + (one[b] - one[a]) / 6.0 + 1e-9
    assert one[-1] - one[0] == pytest.approx(42.0)  # 7 waits of 6 s after the burst of 3
    others = [t for t, i, _r in sent if i.startswith("m")]
    assert others[-1] == pytest.approx(2 * 1.05)  # 80 + 80 + 40 (1 s windows + guard): not held up by r
    assert wakeups < 20


def test_recipient_pause_and_retry_keep_order():
    pacer = Pacer(recipient_burst=1, recipient_interval=6.0)
    for i in range(3):
        pacer.submit(f"a{i}", "A", 0.0)
    item, rec, _ = pacer.next_ready(0.0)
    assert item == "a0"
    # The API answered 131056 for a0: pause A, retry a0 first.
    pause = pacer.pause_recipient("A", 0.1)
    pacer.retry("a0", "A", 0.1, delay=pause)
    assert pacer.next_ready(0.2)[0] is None
    sent, _ = drain(pacer, start=0.2)
    assert [i for _t, i, _r in sent] == ["a0", "a1", "a2"]
    assert sent[0][0] >= 6.1 and sent[1][0] - sent[0][0] >= 6.0 - 1e-9


def test_number_pause_backs_off_exponentially_and_resets():
    pacer = Pacer()
    assert [pacer.pause_number(0.0) for _ in range(4)] == [1.0, 2.0, 4.0, 8.0]
    pacer.submit("x", "B", 0.0)
    item, _r, wait = pacer.next_ready(0.0)
    assert item is None and wait == pytest.approx(8.0)
    assert pacer.next_ready(8.0)[0] == "x"
    pacer.succeeded("B", 8.0)
    assert pacer.pause_number(9.0) == 1.0


def test_memory_is_bounded_after_traffic():
    pacer = Pacer()
    for i in range(10_000):
        pacer.submit(i, f"r{i}", 0.0)
    sent, _ = drain(pacer)
    assert len(sent) == 10_000 and len(pacer) == 0
    pacer.prune(sent[-1][0] + 100)
    assert not pacer._buckets and not pacer._recipients


def test_pacer_costs_microseconds_per_message():
    import time

    pacer = Pacer()
    t0 = time.perf_counter()
    for i in range(20_000):
        pacer.submit(i, f"r{i % 500}", 0.0)
    sent, _ = drain(pacer)
    per = (time.perf_counter() - t0) / len(sent)
    assert len(sent) == 20_000
    assert per < 200e-6, f"{per * 1e6:.1f} us per message"


def test_one_message_in_flight_per_recipient_keeps_order_through_retries():
    """Found by test_e2e_simulator on PostgreSQL: the burst let three messages to one customer
    be in flight at once; they could arrive out of order, and three 131056 answers put them
    back reversed (b2, b1, b0). A recipient's next message waits for the previous answer."""
    pacer = Pacer(recipient_burst=3)
    for i in range(3):
        pacer.submit(f"b{i}", "A", 0.0)
    first = pacer.next_ready(0.0)[0]
    assert first == "b0"
    assert pacer.next_ready(0.0)[0] is None  # b1 waits for b0's answer, burst or not
    pacer.retry("b0", "A", 0.01, delay=pacer.pause_recipient("A", 0.01))
    sent, _ = drain_with_answers(pacer, start=0.01)
    assert sent == ["b0", "b1", "b2"]


def drain_with_answers(pacer: Pacer, start: float) -> tuple[list, float]:
    """Like drain, but each send is answered (succeeded) before the clock moves on."""
    now, sent = start, []
    for _ in range(10_000):
        item, recipient, wait = pacer.next_ready(now)
        if item is not None:
            sent.append(item)
            pacer.succeeded(recipient, now)
            continue
        if wait == float("inf"):
            break
        now += wait
    return sent, now
