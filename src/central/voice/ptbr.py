"""Brazilian Portuguese understanding for the concierge: numbers, blocks, names, yes/no.

Speech-to-text hands us words ("apartamento trezentos e dois, bloco B") or digits
("apto 302 bloco b"), depending on the provider.  Both must land on the same unit.  This is
the deterministic, offline part of the reply engine; it is pure and fast.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

_UNITS = {
    "zero": 0, "um": 1, "uma": 1, "dois": 2, "duas": 2, "tres": 3, "quatro": 4,
    "cinco": 5, "seis": 6, "meia": 6, "sete": 7, "oito": 8, "nove": 9,
}  # fmt: skip
_NUMBER_WORDS = {
    **_UNITS,
    "dez": 10, "onze": 11, "doze": 12, "treze": 13, "catorze": 14, "quatorze": 14,
    "quinze": 15, "dezesseis": 16, "dezessete": 17, "dezoito": 18, "dezenove": 19,
    "vinte": 20, "trinta": 30, "quarenta": 40, "cinquenta": 50, "sessenta": 60,
    "setenta": 70, "oitenta": 80, "noventa": 90, "cem": 100, "cento": 100,
    "duzentos": 200, "duzentas": 200, "trezentos": 300, "trezentas": 300,
    "quatrocentos": 400, "quinhentos": 500, "seiscentos": 600, "setecentos": 700,
    "oitocentos": 800, "novecentos": 900, "mil": 1000,
}  # fmt: skip
# Letter names as speech-to-text writes them ("bloco bê").
_LETTERS = {
    "a": "A", "be": "B", "b": "B", "ce": "C", "c": "C", "de": "D", "d": "D", "e": "E",
    "efe": "F", "f": "F", "ge": "G", "g": "G", "aga": "H", "h": "H", "i": "I", "jota": "J",
    "j": "J", "k": "K", "ka": "K", "l": "L", "ele": "L", "m": "M", "eme": "M",
}  # fmt: skip
_UNIT_KEYWORDS = {"apartamento", "apto", "ap", "apt", "unidade", "casa", "sala"}
_BLOCK_KEYWORDS = {"bloco", "torre", "bl"}


def normalize(text: str) -> str:
    """Lowercase without accents: STT providers disagree on accents ("três"/"tres")."""
    nfkd = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in nfkd if not unicodedata.combining(c))


def tokens(text: str) -> list[str]:
    return re.findall(r"[a-z]+|\d+", normalize(text))


def _digit_of(tok: str) -> int | None:
    if tok.isdigit() and len(tok) == 1:
        return int(tok)
    return _UNITS.get(tok)


@dataclass(frozen=True)
class NumberSpan:
    start: int
    end: int  # token index past the last token
    value: str


def numbers(toks: list[str]) -> list[NumberSpan]:
    """Find numbers in tokens: digits, compositional words, or digit-by-digit speech.

    "trezentos e dois" -> 302, "tres zero dois" -> "302", "302" -> 302, "mil e dez" -> 1010.
    """
    out: list[NumberSpan] = []
    i, n = 0, len(toks)
    while i < n:
        tok = toks[i]
        if tok.isdigit():
            out.append(NumberSpan(i, i + 1, str(int(tok)) if len(tok) > 1 else tok))
            i += 1
            continue
        if tok not in _NUMBER_WORDS:
            i += 1
            continue
        start = i
        # Digit by digit ("três zero dois"): two or more single digits with no "e" between.
        if _digit_of(tok) is not None and i + 1 < n and _digit_of(toks[i + 1]) is not None:
            digits = ""
            while i < n and _digit_of(toks[i]) is not None:
                digits += str(_digit_of(toks[i]))
                i += 1
            out.append(NumberSpan(start, i, digits))
            continue
        total = current = 0
        while i < n:
            tok = toks[i]
            value = _NUMBER_WORDS.get(tok)
            if value is None:
                if tok == "e" and i + 1 < n and toks[i + 1] in _NUMBER_WORDS:
                    i += 1
                    continue
                break
            if value == 1000:
                total += (current or 1) * 1000
                current = 0
            else:
                current += value
            i += 1
        out.append(NumberSpan(start, i, str(total + current)))
    return out


def parse_number(text: str) -> str | None:
    found = numbers(tokens(text))
    return found[0].value if found else None


@dataclass(frozen=True)
class UnitMention:
    number: str | None
    block: str | None


def parse_unit(text: str) -> UnitMention:
    """Unit number and block from a visitor's sentence.

    "apartamento trezentos e dois, bloco B" -> ("302", "B"); "302 b" is ambiguous and
    handled by taking the trailing single letter as the block.
    """
    toks = tokens(text)
    block: str | None = None
    used: set[int] = set()
    for i, tok in enumerate(toks):
        if tok in _BLOCK_KEYWORDS and i + 1 < len(toks):
            nxt = toks[i + 1]
            if nxt in _LETTERS and not (nxt in _NUMBER_WORDS and i + 2 < len(toks)
                                        and toks[i + 2] == "e"):
                block = _LETTERS[nxt]
                used.update({i, i + 1})
            else:
                spans = [s for s in numbers(toks[i + 1 :]) if s.start == 0]
                if spans:
                    block = spans[0].value
                    used.update(range(i, i + 1 + spans[0].end))
            break
    rest = [t if j not in used else "|" for j, t in enumerate(toks)]
    spans = numbers(rest)
    number: str | None = None
    for span in spans:
        if span.start > 0 and rest[span.start - 1] in _UNIT_KEYWORDS:
            number = span.value
            break
    if number is None and spans:
        # No keyword: prefer a multi-digit number, then anything ("sou o um" is rare).
        multi = [s for s in spans if len(s.value) > 1]
        number = (multi or spans)[0].value
        last = spans[0]
        if block is None and last.end < len(rest) and len(rest[last.end]) == 1 and rest[last.end].isalpha():
            block = rest[last.end].upper()
    return UnitMention(number, block)


_NAME_PATTERNS = [
    r"(?:meu nome e|me chamo|eu sou o|eu sou a|eu sou|sou o|sou a|sou|aqui e o|aqui e a|aqui e|quem fala e|fala o|fala a)\s+(.+)",
]
_NAME_STOP = re.compile(
    r"\b(?:e quero|quero|vim|vou|venho|estou|para|pro|pra|do apartamento|da unidade|"
    r"apartamento|apto|unidade|bloco|visitar|ver|entregar|no|na|e eu)\b|[,.;!?]"
)
_NOT_NAMES = {"entregador", "visitante", "amigo", "amiga", "parente", "tecnico", "prestador"}


def parse_name(text: str) -> str | None:
    """Visitor's name from "meu nome é João da Silva, apartamento 302" (accents kept)."""
    norm = normalize(text)
    # normalize() keeps length for letters without combining marks removed; map back by
    # position on the NFC original with accents stripped the same way, char by char.
    original = unicodedata.normalize("NFC", text)
    stripped = "".join(normalize(c) or c for c in original)
    if len(stripped) != len(original):  # pragma: no cover - exotic characters
        stripped, original = norm, norm
    for pattern in _NAME_PATTERNS:
        m = re.search(pattern, stripped.lower())
        if not m:
            continue
        start = m.start(1)
        stop = _NAME_STOP.search(stripped.lower(), start)
        end = stop.start() if stop else len(stripped)
        name = original[start:end].strip(" ,.-")
        words = name.split()
        if not words or normalize(words[0]) in _NOT_NAMES or len(words) > 5:
            return None
        if any(ch.isdigit() for ch in name):
            return None
        return " ".join(w if w.lower() in {"da", "de", "do", "dos", "das"} else w.capitalize() for w in words)
    return None


_HUMAN = re.compile(
    r"\b(?:falar com (?:o |a |um |uma )?(?:porteiro|porteira|portaria|atendente|humano|pessoa|"
    r"zelador|sindico)|atendente|porteiro|humano|operador)\b"
)
_DENY = re.compile(
    r"\b(?:nao|recuso|recusa|nega|negado|nego|nao autorizo|nao pode|proibido)\b|^\s*(?:2|dois)\s*$"
)
_ALLOW = re.compile(
    r"\b(?:autorizo|autoriza|autorizado|pode subir|pode entrar|pode passar|libera|liberado|"
    r"sim|claro|deixa entrar|deixa subir)\b|^\s*(?:1|um)\s*$"
)


def wants_human(text: str) -> bool:
    return bool(_HUMAN.search(normalize(text)))


def yes_no(text: str) -> bool | None:
    """Resident's answer: True authorizes, False denies, None when unclear."""
    norm = normalize(text)
    if _DENY.search(norm):
        return False
    if _ALLOW.search(norm):
        return True
    return None
