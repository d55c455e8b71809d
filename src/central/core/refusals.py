"""The one base class for "a business rule refused this action".

Services in every app (messaging's 24 h window, scheduling's taken slot, the agent desk's
queue login...) raise a subclass; the API's exception handler (``central.core.errors``)
turns any of them into the project's error shape with the subclass's HTTP status, and the
dashboard views show ``message``. Keeping it free of DRF means a worker process that only
calls services does not import the API stack to raise one.
"""

from __future__ import annotations


class Refusal(Exception):
    """A refusal with a message for the person who asked (already in their language).

    ``code`` is stable for clients; ``status`` is what the API answers (409 when the
    request was fine but the state forbids it, 400 when the request itself is wrong);
    ``extra`` carries what the client needs to act on it (e.g. the templates offered
    when the WhatsApp window is closed), answered as the error's ``fields``.
    """

    code = "refused"
    status = 409

    def __init__(self, message: str, **extra) -> None:
        super().__init__(message)
        self.message = message
        self.extra = extra
