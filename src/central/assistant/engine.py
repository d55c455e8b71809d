"""The assistant's engine interface (like the voice attendant's ``ReplyEngine``).

An engine reads one inbound message of a conversation and acts **only** through the
:class:`~central.assistant.rails.Rails` it is given: the server-side tool layer that
validates every action (slot really free, patient identified, clinic policy), keeps slot
ids opaque and books only after the patient pressed the summary's *Confirmar* button.
An engine returns the messages to send; the rails send their own summaries and results.

Two engines: :class:`~central.assistant.offline.OfflineEngine` (the default, no model: a
deterministic flow of buttons and lists, keyword intents and a pt-BR date parser) and
:class:`~central.assistant.llm.LLMEngine` (an OpenAI-compatible chat API with tool calls).
If the LLM engine raises :class:`EngineError` (HTTP error, bad answer, timeout), the
responder switches the conversation to the offline engine and replays the message.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


class EngineError(Exception):
    """The engine could not produce a turn (the offline flow takes over)."""


@dataclass(frozen=True)
class Inbound:
    """What the engines see of a patient's message."""

    text: str
    reply_id: str = ""  # id of the button / list row pressed, if any
    kind: str = "text"


@dataclass(frozen=True)
class Reply:
    """One message to send: text, or text with up to 3 buttons, or a list of rows."""

    text: str
    buttons: tuple[tuple[str, str], ...] = ()
    rows: tuple[tuple[str, str, str], ...] = ()  # (id, title, description)
    list_button: str = ""

    def __post_init__(self) -> None:
        if self.buttons and self.rows:
            raise ValueError("a reply has buttons or rows, not both")


@dataclass
class Turn:
    """An engine's answer to one inbound message."""

    replies: list[Reply] = field(default_factory=list)
    understood: bool = True


class Engine(Protocol):
    name: str

    def turn(self, session: dict, inbound: Inbound, rails) -> Turn: ...
