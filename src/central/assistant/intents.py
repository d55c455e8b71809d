"""Keyword intents of the offline engine (pure): what a patient's free text asks for.

Compared on folded text (lower case, no accents, see :func:`dateparse.fold`), word by
word, with one-typo tolerance for the longer keywords ("remarcr", "cancelra"). The order
of :data:`ORDER` matters: "desmarcar" and "remarcar" contain "marcar", and anything
clinical wins over everything else (a patient who writes "estou com dor no peito, quero
marcar" gets the emergency guidance and a human, not a slot list).
"""

from __future__ import annotations

import difflib
import re

from .dateparse import fold

CLINICAL = "clinical"
HANDOFF = "handoff"
OPT_OUT = "opt_out"
CANCEL = "cancel"
RESCHEDULE = "reschedule"
CONFIRM = "confirm"
BOOK = "book"
ADDRESS = "address"
HOURS = "hours"
PRICE = "price"
WAITLIST = "waitlist"
MINE = "mine"
GREETING = "greeting"
THANKS = "thanks"
YES = "yes"
NO = "no"

#: Word prefixes per intent (a word of the message starting with one of them).
_PREFIXES: dict[str, tuple[str, ...]] = {
    CANCEL: ("desmarc", "cancel", "desagend"),
    RESCHEDULE: ("remarc", "reagend", "adiar", "transferir"),
    CONFIRM: ("confirm",),
    BOOK: ("marc", "agend", "consult", "horario", "vaga"),
    ADDRESS: ("endereco", "localizacao", "onde", "chegar", "rua", "estacionamento"),
    PRICE: ("preco", "valor", "custa", "quanto"),
    WAITLIST: ("encaixe", "antecip", "espera"),
    MINE: ("minhas", "meus", "meu"),
    GREETING: ("oi", "ola", "bom", "boa", "menu", "inicio", "ajuda"),
    THANKS: ("obrigad", "valeu", "grato", "grata"),
}
#: Phrases (folded) per intent.
_PHRASES: dict[str, tuple[str, ...]] = {
    HANDOFF: ("atendente", "humano", "falar com alguem", "falar com uma pessoa", "recepcao", "recepcionista",
              "pessoa de verdade"),
    OPT_OUT: ("sair", "parar de receber", "nao quero mais receber", "descadastr"),
    HOURS: ("horario de funcionamento", "que horas abre", "que horas fecha", "abre que horas",
            "fecha que horas", "funciona", "abre sabado", "abre domingo", "expediente"),
    WAITLIST: ("mais cedo", "lista de espera", "antes disso"),
    MINE: ("minha consulta", "meu agendamento", "meus agendamentos", "minhas consultas"),
}
#: Anything clinical: the assistant gives the clinic's emergency guidance and a human.
_CLINICAL_WORDS = ("dor", "dores", "doendo", "doi", "febre", "sangue", "sangrando", "sangramento", "sintoma",
                   "sintomas", "emergencia", "urgencia", "urgente", "desmaio", "desmaiei", "desmaiou", "infarto",
                   "avc", "convulsao", "vomito", "vomitando", "tontura", "tonto", "tonta", "alergia",
                   "inchaco", "inchado", "inchada", "machuquei", "fratura", "quebrei", "remedio",
                   "medicamento", "dosagem", "diagnostico", "receita", "intoxicacao", "falta")
_CLINICAL_PHRASES = ("falta de ar", "nao consigo respirar", "dor no peito", "passando mal", "pressao alta",
                     "pressao baixa", "muito mal")
_TYPO_TARGETS = {"desmarcar": CANCEL, "cancelar": CANCEL, "remarcar": RESCHEDULE, "confirmar": CONFIRM,
                 "agendar": BOOK, "endereco": ADDRESS, "atendente": HANDOFF, "consulta": BOOK}
_YES = {"sim", "s", "isso", "pode", "ok", "claro", "quero", "aceito", "certo", "beleza", "yes"}
_NO = {"nao", "n", "nope", "negativo"}

ORDER = (CLINICAL, HANDOFF, OPT_OUT, CANCEL, RESCHEDULE, WAITLIST, CONFIRM, HOURS, ADDRESS, PRICE, MINE, BOOK,
         THANKS, GREETING)


def _tokens(folded: str) -> list[str]:
    return re.findall(r"[a-z]+", folded)


def is_clinical(text: str) -> bool:
    folded = fold(text)
    toks = set(_tokens(folded))
    if any(p in folded for p in _CLINICAL_PHRASES):
        return True
    return bool(toks & (set(_CLINICAL_WORDS) - {"falta", "receita"}))


def detect(text: str) -> list[str]:
    """Every intent the text mentions, in :data:`ORDER` (first = the one to act on)."""
    folded = fold(text)
    toks = _tokens(folded)
    found: set[str] = set()
    if is_clinical(text):
        found.add(CLINICAL)
    for intent, phrases in _PHRASES.items():
        if any(re.search(r"\b" + re.escape(p), folded) for p in phrases):
            found.add(intent)
    for tok in toks:
        for intent, prefixes in _PREFIXES.items():
            if intent == BOOK and tok.startswith(("desmarc", "remarc")):
                continue
            if intent == GREETING and tok not in prefixes:
                continue  # "oi"/"bom" as whole words only ("oito", "bomba")
            if intent == MINE and tok not in prefixes:
                continue
            if tok.startswith(prefixes):
                found.add(intent)
        if len(tok) >= 6 and not any(tok.startswith(p) for ps in _PREFIXES.values() for p in ps):
            close = difflib.get_close_matches(tok, list(_TYPO_TARGETS), n=1, cutoff=0.8)
            if close:
                found.add(_TYPO_TARGETS[close[0]])
    if HOURS in found and BOOK in found and "funciona" not in folded and "abre" not in folded:
        found.discard(HOURS)
    if "onde" in toks and not ({"fica", "ficam", "e", "voces", "clinica", "estao"} & set(toks)):
        found.discard(ADDRESS)  # "onde" alone is too weak ("não sei onde...")
    return [i for i in ORDER if i in found]


def primary(text: str) -> str | None:
    found = detect(text)
    return found[0] if found else None


def yes_no(text: str) -> bool | None:
    toks = _tokens(fold(text))
    if not toks:
        return None
    if toks[0] in _NO or "nao" in toks[:2]:
        return False
    if toks[0] in _YES:
        return True
    return None


_TITLES = {"dr", "dra", "doutor", "doutora", "doc", "prof"}


def match_names(text: str, names: dict[int, str]) -> list[int]:
    """Ids whose name a message mentions ("com a dra. Ana" -> Ana's id); typo-tolerant."""
    toks = [t for t in _tokens(fold(text)) if len(t) >= 3 and t not in _TITLES]
    scores: dict[int, int] = {}
    for key, name in names.items():
        parts = [p for p in _tokens(fold(name)) if len(p) >= 3 and p not in _TITLES]
        score = sum(1 for p in parts if any(t == p or (len(p) >= 5 and difflib.SequenceMatcher(None, t, p).ratio()
                                                        >= 0.85) for t in toks))
        if score:
            scores[key] = score
    # "consulta pediátrica" names one service even though "consulta" names them all
    best = max(scores.values(), default=0)
    return [k for k, v in scores.items() if v == best]
