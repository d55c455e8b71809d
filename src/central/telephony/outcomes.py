"""How an Originate ended: ONE rule for the dialer and the concierge.

Asterisk reports an ``Async: true`` Originate's end three ways, none complete alone:

* ``OriginateResponse`` ``Reason``: the last ``AST_CONTROL_*`` frame the dial saw
  (Asterisk 22.10.1 include/asterisk/frame.h; main/pbx.c ``pbx_dial_reason()``):
  4 answer, 5 busy, 8 congestion, 3 ringing until the Originate's own ``Timeout``
  (ami-event-stream-noanswer-timeout.txt: Reason 3 and *no* DialEnd), 1 hangup
  (``AST_DIAL_RESULT_HANGUP``: the far end released while ringing), 0 failure.
* Reason 0 is ambiguous. A channel that could not be created at all gives Reason 0 with
  ``Uniqueid: <unknown>`` and no channel event ever (ami-login-and-actions.txt,
  ``orig-fail-async``); but a carrier releasing an unanswered call with Q.850 cause 19
  *also* gives Reason 0, followed by ``DialEnd DialStatus: NOANSWER`` and ``Hangup
  Cause: 19`` of the dialled channel (ami-event-stream-noanswer-cause19.txt). So a
  Reason 0 (or 1) is read through the dialled channel's ``DialEnd`` status, then its
  hangup causes.
* ``DialEnd`` ``DialStatus`` (ami-event-stream-busy.txt ``BUSY``,
  ami-event-stream-congestion.txt ``CONGESTION``, ami-event-stream-noanswer-cause19.txt
  ``NOANSWER``, ami-event-stream-ami-hangup.txt ``ANSWER``; ``CHANUNAVAIL`` / ``CANCEL``
  are the other values of main/dial.c / app_dial's DIALSTATUS).
* ``Hangup`` ``Cause`` (Q.850; the names main/causes.h gives them): 17 busy, 18 no user
  responding, 19 no answer (cause19 fixture), 34/38 congestion (congestion fixture: 34),
  1 unallocated number, 21 call rejected, 27 destination out of order.

The dialer (``central.dialer.core``) and the concierge's return leg
(``central.voice.telephony``) both call :func:`originate_outcome`: a carrier's no-answer
is "no answer" for a campaign and "the resident did not answer" for a visit alike.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = [
    "ANSWERED",
    "BUSY",
    "CAUSE_OUTCOME",
    "CONGESTION",
    "DIALSTATUS_OUTCOME",
    "FAILED",
    "NO_ANSWER",
    "NOT_ANSWERED",
    "OUTCOMES",
    "REASON_OUTCOME",
    "originate_outcome",
]

ANSWERED, BUSY, NO_ANSWER, CONGESTION, FAILED = "answered", "busy", "no_answer", "congestion", "failed"
OUTCOMES = (ANSWERED, BUSY, NO_ANSWER, CONGESTION, FAILED)
#: The outcomes where the phone was reached and nobody took the call: for the concierge,
#: "the resident did not answer"; everything else but ``answered`` is a system failure.
NOT_ANSWERED = frozenset({BUSY, NO_ANSWER})

#: OriginateResponse Reason -> outcome, for the unambiguous reasons (module docstring).
REASON_OUTCOME: dict[int, str] = {3: NO_ANSWER, 4: ANSWERED, 5: BUSY, 8: CONGESTION}
#: Reason 1: the far end released while ringing. Without a DialEnd status or a cause that
#: says more, that is a call nobody took (main/pbx.c pbx_dial_reason, AST_DIAL_RESULT_HANGUP).
_REASON_HANGUP = 1
#: DialEnd DialStatus of the dialled channel -> outcome.
DIALSTATUS_OUTCOME: dict[str, str] = {
    "ANSWER": ANSWERED, "BUSY": BUSY, "NOANSWER": NO_ANSWER, "CONGESTION": CONGESTION,
    "CHANUNAVAIL": FAILED, "CANCEL": NO_ANSWER,
}
#: Q.850 hangup cause -> outcome.
CAUSE_OUTCOME: dict[int, str] = {
    17: BUSY, 18: NO_ANSWER, 19: NO_ANSWER, 34: CONGESTION, 38: CONGESTION,
    1: FAILED, 21: FAILED, 27: FAILED,
}


def originate_outcome(reason: int | None, dial_status: str = "",
                      causes: Iterable[int | None] = ()) -> str:
    """The outcome of one Originate, from what Asterisk said about it.

    ``reason``: the OriginateResponse Reason (None when the action itself was refused,
    ``Response: Error``); ``dial_status``: the dialled channel's ``DialEnd`` DialStatus
    ("" if none came); ``causes``: its ``Hangup`` causes, most telling first (the dialer
    passes the ``;2`` half's before the ``;1``'s). The first source that knows wins, in
    the order of the module docstring; nothing known is :data:`FAILED`.
    """
    known = REASON_OUTCOME.get(reason) if reason is not None else None
    if known is not None:
        return known
    known = DIALSTATUS_OUTCOME.get((dial_status or "").upper())
    if known is not None:
        return known
    for cause in causes:
        if cause is not None and cause in CAUSE_OUTCOME:
            return CAUSE_OUTCOME[cause]
    return NO_ANSWER if reason == _REASON_HANGUP else FAILED
