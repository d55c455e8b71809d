"""The virtual concierge ("portaria virtual") as two pure state machines.

``VisitorFlow`` talks to the visitor on the AI extension: greeting, who are you, which
unit (speech or DTMF), call the resident, report the answer, or transfer to a human.
``ResidentFlow`` talks to the resident on the return extension: briefing, "1 autoriza /
2 recusa" by DTMF or speech.

Inputs are method calls with the time passed in; outputs are lists of actions the
session executes in order.  No I/O, no asyncio: every path is tested in microseconds.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from central.voice.config import ExtensionConfig, ResidentConfig, UnitConfig
from central.voice.providers.base import Interpretation

MAX_ATTEMPTS = 3
MAX_DTMF_DIGITS = 8

# Fixed phrases: pre-synthesized into the phrase cache at start and on refresh, so the
# common answers start playing within one frame of the decision.
PHRASES = {
    "ask_unit": "Por favor, diga seu nome e o número do apartamento, ou digite o número do "
    "apartamento e tecle jogo da velha.",
    "ask_name": "Qual é o seu nome, por favor?",
    "ask_block": "Qual é o bloco? Diga o bloco do apartamento.",
    "not_found": "Não encontrei esse apartamento. Por favor, diga ou digite o número de novo "
    "e tecle jogo da velha.",
    "not_understood": "Desculpe, não entendi. Digite o número do apartamento e tecle jogo da velha.",
    "apology": "Desculpe, estou com dificuldade para entender agora. Por favor, digite o número "
    "do apartamento e tecle jogo da velha.",
    "calling": "Um momento, por favor. Estou chamando o morador.",
    "authorized": "O morador autorizou a sua entrada. Pode entrar. Obrigado!",
    "denied": "Desculpe, o morador não autorizou a entrada. Obrigado.",
    "no_answer": "O morador não atendeu.",
    "call_failed": "Não consegui ligar para o morador agora.",
    "transfer": "Vou transferir você para a portaria. Aguarde um momento.",
    "goodbye": "Não foi possível completar o atendimento. Obrigado e até logo.",
    "resident_options": "Tecle 1 para autorizar ou 2 para recusar.",
    "resident_authorized": "Entrada autorizada. Obrigado!",
    "resident_denied": "Entrada recusada. Obrigado!",
    "no_visit": "Não há nenhuma visita aguardando. Até logo.",
    "visitor_left": "O visitante desligou. Obrigado e até logo.",
}


class Outcome(enum.StrEnum):
    AUTHORIZED = "authorized"
    DENIED = "denied"
    NO_ANSWER = "no_answer"
    TRANSFERRED = "transferred"
    ABANDONED = "abandoned"  # visitor hung up before the end
    FAILED = "failed"  # system failure: the resident could not be called, nothing to say


# -- actions ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Say:
    text: str
    key: str | None = None  # phrase-cache key for fixed phrases


@dataclass(frozen=True)
class CallResident:
    visit_id: str
    unit: UnitConfig
    residents: tuple[ResidentConfig, ...]
    visitor_name: str


@dataclass(frozen=True)
class Transfer:
    extension: str
    reason: str


@dataclass(frozen=True)
class EndCall:
    """Hang up after the audio queued before it has played."""


@dataclass(frozen=True)
class Finish:
    """The visit has an outcome: log it (with the audit trail)."""

    outcome: Outcome


@dataclass(frozen=True)
class Resolve:
    """Resident leg decided: report ``outcome`` to the visitor's session."""

    visit_id: str
    outcome: Outcome


Action = Say | CallResident | Transfer | EndCall | Finish | Resolve


def say(key: str) -> Say:
    return Say(PHRASES[key], key)


class State(enum.StrEnum):
    NEW = "new"
    COLLECT = "collect"
    ASK_NAME = "ask_name"
    ASK_BLOCK = "ask_block"
    CALLING = "calling"
    DONE = "done"


@dataclass
class VisitorFlow:
    extension: ExtensionConfig
    visit_id: str
    state: State = State.NEW
    visitor_name: str | None = None
    unit_number: str | None = None
    block: str | None = None
    unit: UnitConfig | None = None
    attempts: int = 0
    digits: str = ""
    via_dtmf: bool = False
    outcome: Outcome | None = None
    audit: list[tuple[float, str, str]] = field(default_factory=list)

    def _log(self, now: float, event: str, detail: str = "") -> None:
        self.audit.append((round(now, 3), event, detail))

    @property
    def barge_in_allowed(self) -> bool:
        return self.state not in (State.CALLING, State.DONE)

    def context(self) -> dict:
        return {"state": self.state.value, "instructions": self.extension.instructions}

    def start(self, now: float) -> list[Action]:
        self.state = State.COLLECT
        self._log(now, "call_started", self.extension.number)
        return [Say(self.extension.greeting, "greeting"), say("ask_unit")]

    # -- inputs ---------------------------------------------------------------------------
    def on_dtmf(self, digit: str, now: float) -> list[Action]:
        if self.state not in (State.COLLECT, State.ASK_BLOCK, State.ASK_NAME):
            return []
        if digit == "*":
            self.digits = ""
            return []
        if digit != "#":
            if len(self.digits) < MAX_DTMF_DIGITS:
                self.digits += digit
            return []
        entered, self.digits = self.digits, ""
        self._log(now, "dtmf", entered)
        self.via_dtmf = True
        if entered == "0" or entered == "":
            return self._transfer(now, "visitor asked for a human (0#)")
        if self.state is State.ASK_BLOCK:
            blocks = self._blocks_for(self.unit_number or "")
            index = int(entered) - 1 if entered.isdigit() else -1
            if 0 <= index < len(blocks):
                self.block = blocks[index]
                return self._try_unit(now)
            return self._retry(now, "not_found")
        self.unit_number, self.block = str(int(entered)), None
        return self._try_unit(now)

    def is_complete(self, interp: Interpretation) -> bool:
        """Early end of turn: the words so far already answer what we asked."""
        if interp.wants_human:
            return True
        if self.state is State.ASK_NAME:
            return bool(interp.visitor_name)
        if self.state is State.ASK_BLOCK:
            return bool(interp.block)
        return bool(interp.unit and interp.visitor_name)

    def on_utterance(self, text: str, interp: Interpretation, now: float) -> list[Action]:
        if self.state not in (State.COLLECT, State.ASK_BLOCK, State.ASK_NAME):
            return []
        self._log(now, "heard", text)
        if interp.wants_human:
            return self._transfer(now, "visitor asked for a human")
        if interp.visitor_name:
            self.visitor_name = interp.visitor_name
        if self.state is State.ASK_NAME:
            if not self.visitor_name and text.strip():
                self.visitor_name = text.strip()[:40]
            return self._call(now)
        if self.state is State.ASK_BLOCK:
            if interp.block:
                self.block = interp.block
                return self._try_unit(now)
            return self._retry(now, "ask_block")
        if interp.unit:
            self.unit_number, self.block = interp.unit, interp.block
            return self._try_unit(now)
        if not text.strip():
            return self._retry(now, "not_understood")
        return self._retry(now, "not_understood", reply=interp.reply)

    def on_provider_failure(self, error: str, now: float) -> list[Action]:
        """STT or reply engine down: apologize from the cache and offer the DTMF path."""
        self._log(now, "provider_failure", error)
        if self.state not in (State.COLLECT, State.ASK_BLOCK, State.ASK_NAME):
            return []
        self.attempts += 1
        if self.attempts >= MAX_ATTEMPTS + 1:
            return self._transfer(now, "providers failing")
        return [say("apology")]

    def on_no_input(self, now: float) -> list[Action]:
        if self.state not in (State.COLLECT, State.ASK_BLOCK, State.ASK_NAME):
            return []
        self._log(now, "no_input")
        return self._retry(now, "ask_unit" if self.state is State.COLLECT else self.state.value)

    def on_resident_answer(self, outcome: Outcome, now: float) -> list[Action]:
        if self.state is not State.CALLING:
            return []
        self._log(now, "resident_answer", outcome.value)
        if outcome is Outcome.AUTHORIZED:
            return self._finish(now, Outcome.AUTHORIZED, [say("authorized"), EndCall()])
        if outcome is Outcome.DENIED:
            return self._finish(now, Outcome.DENIED, [say("denied"), EndCall()])
        # Anything else is "did not answer" or a system failure; never mix the two up: the
        # visit log is what the building's staff reads after an incident.
        final = Outcome.FAILED if outcome is Outcome.FAILED else Outcome.NO_ANSWER
        actions: list[Action] = [say("call_failed" if final is Outcome.FAILED else "no_answer")]
        if self.extension.concierge_extension:
            actions += [say("transfer"), Transfer(self.extension.concierge_extension, final.value)]
        else:
            actions += [say("goodbye")]
        return self._finish(now, final, [*actions, EndCall()])

    def on_hangup(self, now: float) -> list[Action]:
        if self.state is State.DONE:
            return []
        self._log(now, "visitor_hung_up", self.state.value)
        return self._finish(now, Outcome.ABANDONED, [])

    # -- helpers --------------------------------------------------------------------------
    def _blocks_for(self, number: str) -> list[str]:
        return sorted({u.block for u in self.extension.units if u.number == number})

    def _try_unit(self, now: float) -> list[Action]:
        number = self.unit_number or ""
        matches = [u for u in self.extension.units if u.number == number]
        if self.block:
            matches = [u for u in matches if u.block.upper() == self.block.upper()]
        if not matches:
            self._log(now, "unit_not_found", f"{number} {self.block or ''}".strip())
            return self._retry(now, "not_found")
        if len(matches) > 1:
            self.state = State.ASK_BLOCK
            blocks = self._blocks_for(number)
            options = ", ".join(f"{i + 1} para bloco {b}" for i, b in enumerate(blocks))
            return [Say(f"Qual é o bloco? Diga o bloco, ou tecle {options}, e depois jogo da velha.")]
        self.unit = matches[0]
        self._log(now, "unit_identified", self.unit.label)
        if not self.visitor_name and not self.via_dtmf:
            self.state = State.ASK_NAME
            return [say("ask_name")]
        return self._call(now)

    def _call(self, now: float) -> list[Action]:
        assert self.unit is not None
        if not self.unit.residents:
            self._log(now, "no_resident", self.unit.label)
            return self._transfer(now, f"unit {self.unit.label} has no resident")
        self.state = State.CALLING
        name = self.visitor_name or "Um visitante"
        self._log(now, "calling_resident", f"{self.unit.label} for {name}")
        return [say("calling"), CallResident(self.visit_id, self.unit, self.unit.residents, name)]

    def _retry(self, now: float, key: str, reply: str | None = None) -> list[Action]:
        self.attempts += 1
        if self.attempts >= MAX_ATTEMPTS:
            return self._transfer(now, f"{self.attempts} failed attempts")
        if key == "ask_block":
            self.state = State.ASK_BLOCK
        elif key == "not_found":
            self.state = State.COLLECT
        return [Say(reply)] if reply else [say(key)]

    def _transfer(self, now: float, reason: str) -> list[Action]:
        ext = self.extension.concierge_extension
        if not ext:
            return self._finish(now, Outcome.FAILED, [say("goodbye"), EndCall()], reason)
        self._log(now, "transfer", f"{ext}: {reason}")
        return self._finish(
            now, Outcome.TRANSFERRED, [say("transfer"), Transfer(ext, reason), EndCall()], reason
        )

    def _finish(self, now: float, outcome: Outcome, actions: list[Action], detail: str = "") -> list[Action]:
        self.state = State.DONE
        self.outcome = outcome
        self._log(now, "outcome", f"{outcome.value} {detail}".strip())
        return [*actions[:-1], Finish(outcome), *actions[-1:]] if actions else [Finish(outcome)]


@dataclass
class ResidentFlow:
    """The return leg: the resident hears the briefing and answers 1/2 or by voice."""

    visit_id: str
    visitor_name: str
    unit_label: str
    organization: str = ""
    done: bool = False
    unclear: int = 0
    audit: list[tuple[float, str, str]] = field(default_factory=list)

    @property
    def barge_in_allowed(self) -> bool:
        return not self.done

    def context(self) -> dict:
        return {"state": "resident", "instructions": ""}

    @property
    def briefing(self) -> str:
        where = f" no {self.organization}" if self.organization else ""
        return (
            f"Olá, aqui é a portaria virtual{where}. {self.visitor_name} está na portaria "
            f"para o apartamento {self.unit_label}."
        )

    def start(self, now: float) -> list[Action]:
        self.audit.append((round(now, 3), "resident_answered", self.unit_label))
        return [Say(self.briefing), say("resident_options")]

    def is_complete(self, interp: Interpretation) -> bool:
        return interp.answer is not None

    def on_dtmf(self, digit: str, now: float) -> list[Action]:
        if digit == "1":
            return self._decide(now, Outcome.AUTHORIZED, f"dtmf {digit}")
        if digit == "2":
            return self._decide(now, Outcome.DENIED, f"dtmf {digit}")
        return self._unclear(now) if not self.done else []

    def on_utterance(self, text: str, interp: Interpretation, now: float) -> list[Action]:
        if interp.answer is True:
            return self._decide(now, Outcome.AUTHORIZED, f"speech {text!r}")
        if interp.answer is False:
            return self._decide(now, Outcome.DENIED, f"speech {text!r}")
        return self._unclear(now)

    def on_provider_failure(self, error: str, now: float) -> list[Action]:
        return self._unclear(now)

    def on_no_input(self, now: float) -> list[Action]:
        return self._unclear(now)

    def on_hangup(self, now: float) -> list[Action]:
        if self.done:
            return []
        self.done = True
        self.audit.append((round(now, 3), "resident_hung_up", ""))
        return [Resolve(self.visit_id, Outcome.NO_ANSWER)]

    def on_visitor_left(self, now: float) -> list[Action]:
        """The visitor hung up while the resident was deciding: say so and end."""
        if self.done:
            return []
        self.done = True
        self.audit.append((round(now, 3), "visitor_left", ""))
        return [say("visitor_left"), EndCall()]

    def _unclear(self, now: float) -> list[Action]:
        if self.done:
            return []
        self.unclear += 1
        if self.unclear >= MAX_ATTEMPTS:
            self.done = True
            return [say("goodbye"), Resolve(self.visit_id, Outcome.NO_ANSWER), EndCall()]
        if self.unclear == 1:
            # Residents often answer "alô?", which barges into the briefing: say it again.
            return [Say(self.briefing), say("resident_options")]
        return [say("resident_options")]

    def _decide(self, now: float, outcome: Outcome, how: str) -> list[Action]:
        if self.done:
            return []
        self.done = True
        self.audit.append((round(now, 3), "resident_decided", f"{outcome.value} by {how}"))
        key = "resident_authorized" if outcome is Outcome.AUTHORIZED else "resident_denied"
        return [Resolve(self.visit_id, outcome), say(key), EndCall()]


@dataclass
class UnknownVisitFlow:
    """A return-leg call whose UUID matches no waiting visitor."""

    done: bool = False
    barge_in_allowed: bool = False
    audit: list = field(default_factory=list)

    def context(self) -> dict:
        return {}

    def start(self, now: float) -> list[Action]:
        self.done = True
        return [say("no_visit"), EndCall()]

    def is_complete(self, interp: Interpretation) -> bool:
        return False

    def on_dtmf(self, digit, now):
        return []

    def on_utterance(self, text, interp, now):
        return []

    def on_provider_failure(self, error, now):
        return []

    def on_no_input(self, now):
        return []

    def on_hangup(self, now):
        return []
