"""Brazilian phone numbers: E.164 normalization with reasons, and DDD -> time zone.

Shared by every channel (the dialer's contact lists, WhatsApp contacts): one rule for what
a Brazilian number is, so a person is the same E.164 string across channels.

Pure (no Django). :func:`normalize` turns what people type into contact lists
("(11) 98765-4321", "011987654321", "0 15 11 98765-4321", "0xx11 98765-4321",
"+55 11 9 8765-4321", "1132654321") into ``+5511987654321`` using ``phonenumbers`` with
region BR, which already understands the national trunk prefix 0 and the two-digit
carrier selection code ("0 15 11 ..."). What ``phonenumbers`` rejects gets a reason in
pt-BR that an operator can act on, because an import error list saying only "inválido"
for 30,000 rows helps nobody.

Time zones: Brazil has four (UTC-2 Fernando de Noronha, -3 Brasília, -4 Amazon, -5
Acre). ``phonenumbers.timezone`` answers per number prefix but is wrong where it matters
for telemarketing: it maps the whole DDD 81 to ``America/Noronha`` (UTC-2), which would
let a campaign call Recife an hour early. So the DDD table below is the source, with one
refinement that is precise: Noronha's landlines are the 81 3619 range. Mobile numbers
keep their DDD when people move, so a contact's zone is an estimate; calling only when
both the campaign's and the contact's hours allow it keeps the estimate safe.
Known approximation: western Amazonas towns on DDD 97 (Eirunepé, Envira) are UTC-5,
the rest of 97 is UTC-4; the table says ``America/Manaus`` for all of 97.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberType
from phonenumbers import timezone as pn_timezone

__all__ = [
    "DDD_TIMEZONES",
    "InvalidPhone",
    "Phone",
    "normalize",
    "try_normalize",
    "timezone_for",
    "ddd_of",
]

SAO_PAULO = "America/Sao_Paulo"

# Every Brazilian area code (DDD) and the IANA zone of its state. Anatel's numbering plan
# lists 67 DDDs; states with more than one zone are noted.
DDD_TIMEZONES: dict[str, str] = {
    # São Paulo
    **{d: SAO_PAULO for d in ("11", "12", "13", "14", "15", "16", "17", "18", "19")},
    # Rio de Janeiro, Espírito Santo, Minas Gerais
    **{d: SAO_PAULO for d in ("21", "22", "24", "27", "28", "31", "32", "33", "34", "35", "37", "38")},
    # Paraná, Santa Catarina, Rio Grande do Sul
    **{d: SAO_PAULO for d in ("41", "42", "43", "44", "45", "46", "47", "48", "49", "51", "53", "54", "55")},
    # Distrito Federal, Goiás (UTC-3)
    **{d: SAO_PAULO for d in ("61", "62", "64")},
    "63": "America/Araguaina",  # Tocantins, UTC-3
    "65": "America/Cuiaba", "66": "America/Cuiaba",  # Mato Grosso, UTC-4
    "67": "America/Campo_Grande",  # Mato Grosso do Sul, UTC-4
    "68": "America/Rio_Branco",  # Acre, UTC-5
    "69": "America/Porto_Velho",  # Rondônia, UTC-4
    "71": "America/Bahia", "73": "America/Bahia", "74": "America/Bahia",
    "75": "America/Bahia", "77": "America/Bahia",  # Bahia, UTC-3
    "79": "America/Maceio",  # Sergipe, UTC-3
    "81": "America/Recife", "87": "America/Recife",  # Pernambuco, UTC-3 (Noronha: see above)
    "82": "America/Maceio",  # Alagoas
    "83": "America/Fortaleza", "84": "America/Fortaleza",  # Paraíba, Rio Grande do Norte
    "85": "America/Fortaleza", "88": "America/Fortaleza",  # Ceará
    "86": "America/Fortaleza", "89": "America/Fortaleza",  # Piauí
    "91": "America/Belem", "93": "America/Santarem", "94": "America/Belem",  # Pará, UTC-3
    "92": "America/Manaus", "97": "America/Manaus",  # Amazonas, UTC-4
    "95": "America/Boa_Vista",  # Roraima, UTC-4
    "96": "America/Belem",  # Amapá, UTC-3
    "98": "America/Fortaleza", "99": "America/Fortaleza",  # Maranhão, UTC-3
}

#: Fernando de Noronha's fixed lines (UTC-2) share DDD 81 with Recife.
NORONHA_PREFIX = "+55813619"

_NON_GEOGRAPHIC = {"300", "303", "400", "500", "800", "900"}
_TYPES_OK = {
    PhoneNumberType.MOBILE,
    PhoneNumberType.FIXED_LINE,
    PhoneNumberType.FIXED_LINE_OR_MOBILE,
}
_LETTERS = re.compile(r"[A-WYZa-wyzÀ-ÿ]")  # 'x' is allowed: "0xx11"
_ALLOWED = re.compile(r"^[\d\s().+\-/xX]*$")


class InvalidPhone(ValueError):
    """A number that cannot be dialed; ``reason`` is pt-BR text for the operator."""

    def __init__(self, raw: str, reason: str) -> None:
        super().__init__(f"{reason}: {raw!r}")
        self.raw = raw
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Phone:
    e164: str  # "+5511987654321"
    kind: str  # "mobile" | "landline" | "other"
    timezone: str  # IANA zone, "" when unknown (foreign numbers)
    note: str = ""  # what normalization changed, e.g. the ninth digit added


def ddd_of(e164: str) -> str:
    """The area code of a Brazilian E.164 number, "" otherwise."""
    return e164[3:5] if e164.startswith("+55") and len(e164) >= 5 else ""


def timezone_for(e164: str) -> str:
    """IANA zone of a number: DDD table (precise per state), phonenumbers for foreign ones."""
    if e164.startswith("+55"):
        if e164.startswith(NORONHA_PREFIX):
            return "America/Noronha"
        return DDD_TIMEZONES.get(ddd_of(e164), "")
    try:
        zones = pn_timezone.time_zones_for_number(phonenumbers.parse(e164))
    except NumberParseException:
        return ""
    # One zone is an answer; several (the whole of the US) is a guess we do not make.
    return zones[0] if len(zones) == 1 and zones[0] != "Etc/Unknown" else ""


# Fast path: the shapes 95% of list rows have ("(11) 98765-4321", "1132654321") are
# checked against phonenumbers' own BR metadata patterns (the same regexes its
# ``number_type`` uses; none of the toll-free/premium/shared-cost patterns can match these
# DDD-first shapes) without building a PhoneNumber object: an import of 1,000,000 rows
# spends ~20 s less. tests/dialer/test_phones.py checks it agrees with the full path.
_BR = phonenumbers.PhoneMetadata.metadata_for_region("BR")
_MOBILE_RE = re.compile(_BR.mobile.national_number_pattern)
_FIXED_RE = re.compile(_BR.fixed_line.national_number_pattern)
_STRIP = str.maketrans("", "", " ()-.")


def _fast(text: str) -> Phone | None:
    d = text.translate(_STRIP)
    if not d.isdigit() or not d.isascii():
        return None
    if d[0] == "0" and len(d) in (11, 12) and d[1] != "0":
        d = d[1:]  # trunk prefix without carrier code
    if len(d) == 11 and d[2] == "9" and _MOBILE_RE.fullmatch(d):
        kind = "mobile"
    elif len(d) == 10 and d[2] in "2345" and _FIXED_RE.fullmatch(d):
        kind = "landline"
    else:
        return None
    e164 = "+55" + d
    return Phone(e164=e164, kind=kind, timezone=timezone_for(e164))


def _digits(raw: str) -> str:
    return "".join(ch for ch in raw if ch.isdigit())


def normalize(raw: str | int | None, *, region: str = "BR", fix_ninth_digit: bool = True,
              fast: bool = True) -> Phone:
    """Normalize one number or raise :class:`InvalidPhone` with a pt-BR reason.

    ``fix_ninth_digit``: since 2016 every Brazilian mobile has 9 digits after the DDD;
    old lists still carry 8 ("11 8765-4321"). Such a number starting with 6-9 is a
    mobile without its 9, so the 9 is added (and noted) rather than rejecting the row.
    """
    if raw is None:
        raise InvalidPhone("", "telefone vazio")
    text = str(raw).strip()
    if isinstance(raw, float) or re.fullmatch(r"\d+\.0", text):
        text = text[:-2]  # spreadsheets turn 11987654321 into 11987654321.0
    if not text:
        raise InvalidPhone(text, "telefone vazio")
    if fast and region == "BR" and (quick := _fast(text)) is not None:
        return quick
    if _LETTERS.search(text) or not _ALLOWED.match(text):
        raise InvalidPhone(text, "telefone contém letras ou símbolos")
    digits = _digits(text)
    if len(digits) < 8:
        raise InvalidPhone(text, "telefone curto demais")
    if len(digits) > (17 if digits.startswith("00") else 15):
        raise InvalidPhone(text, "telefone longo demais")
    note = ""
    candidate = text
    if digits.startswith("00"):
        # International call prefix "00" (+ a two-digit carrier code in Brazil: "0021 1 ...").
        rest = digits[2:]
        candidate = "+" + (rest if rest.startswith("55") and len(rest) in (12, 13) else rest[2:])
    elif text.startswith("+"):
        candidate = "+" + digits
    else:
        national = digits.lstrip("0")
        if national.startswith("55") and len(national) in (12, 13):
            national = national[2:]
        if len(national) in (8, 9):
            raise InvalidPhone(text, "telefone sem DDD")
        if national[:3] in _NON_GEOGRAPHIC:
            raise InvalidPhone(text, "número não geográfico (0800/0300/4004...) não é discado")
        if (fix_ninth_digit and len(national) == 10 and national[2] in "6789"
                and national[:2] in DDD_TIMEZONES):
            candidate = national[:2] + "9" + national[2:]
            note = "nono dígito adicionado"
    try:
        number = phonenumbers.parse(candidate, region)
    except NumberParseException as exc:
        raise InvalidPhone(text, "telefone em formato não reconhecido") from exc
    if not phonenumbers.is_valid_number(number):
        if number.country_code == 55:
            nsn = phonenumbers.national_significant_number(number)
            if nsn[:2] not in DDD_TIMEZONES:
                raise InvalidPhone(text, f"DDD {nsn[:2]} não existe")
            raise InvalidPhone(text, "número inexistente no plano de numeração (confira os dígitos)")
        raise InvalidPhone(text, "telefone inválido")
    ntype = phonenumbers.number_type(number)
    if ntype not in _TYPES_OK:
        raise InvalidPhone(text, "número não geográfico (0800/0300/4004...) não é discado")
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    kind = {PhoneNumberType.MOBILE: "mobile", PhoneNumberType.FIXED_LINE: "landline"}.get(ntype, "other")
    return Phone(e164=e164, kind=kind, timezone=timezone_for(e164), note=note)


def normalize_slow(raw, **kwargs) -> Phone:
    """:func:`normalize` without the fast path (tests compare the two)."""
    return normalize(raw, fast=False, **kwargs)


def try_normalize(raw) -> tuple[Phone | None, str]:
    """``(phone, "")`` or ``(None, reason)``: for loops that collect errors."""
    try:
        return normalize(raw), ""
    except InvalidPhone as exc:
        return None, exc.reason
