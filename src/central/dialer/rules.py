"""Campaign settings: the one validation the API, the dashboard form and the admin share.

``Campaign.clean()`` (ModelForm and admin) and ``CampaignSerializer.validate()`` (API) both
call :func:`campaign_settings_errors` with the campaign's values after the change, so a
value refused in one place is refused everywhere with the same pt-BR message (English
through the catalog). Bounds are what the engine can act on: a negative rate or timer
makes the pacing arithmetic meaningless, zero attempts means a contact is never dialed,
and a caller ID without digits is sent verbatim in the Originate's ``CallerID``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.utils.translation import gettext as _

from . import hours

#: Numeric settings: field -> (lowest, highest, lowest is exclusive). The form's inputs
#: take their min/max from here too.
NUMERIC_BOUNDS: dict[str, tuple[float, float, bool]] = {
    "dial_ratio": (1.0, 10.0, False),
    "max_channels": (1, 1000, False),
    "max_cps": (0.0, 100.0, True),
    "abandon_after_s": (0.0, 60.0, False),
    "ring_timeout_s": (5, 300, False),
    "max_attempts": (1, 100, False),
    "max_attempts_per_day": (1, 100, False),
    "short_call_alarm": (0, 100000, False),
    "wrapup_limit_s": (0, 3600, False),
    "record_percent": (0, 100, False),
}

#: Abandonment cap as a fraction (the form shows it in %): at most 50 %.
MAX_ABANDON_RATE = 0.5

#: Longest retry delay per result (seconds): 30 days.
MAX_RETRY_DELAY_S = 30 * 86400

#: Caller ID: digits (optional leading +, spaces, dashes, parentheses), optionally with a
#: quoted or bare name before it in angle brackets: ``1133334444``, ``"Loja" <1133334444>``.
_CALLER_ID_RE = re.compile(r'^\s*(?:"?[^"<>]{0,40}"?\s*<\s*(?P<a>\+?[\d\s().-]+)\s*>|(?P<b>\+?[\d\s().-]+))\s*$')


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def caller_id_error(value: str) -> str | None:
    """pt-BR message when ``value`` is not a usable caller ID (empty is allowed)."""
    if not value:
        return None
    match = _CALLER_ID_RE.match(value)
    digits = "".join(ch for ch in (match and (match["a"] or match["b"]) or "") if ch.isdigit())
    if not match or not 2 <= len(digits) <= 20:
        return _('Identificador de chamada inválido: use só o número (ex.: 1133334444) ou "Nome" <1133334444>.')
    return None


def _range_error(field: str, value: float) -> str | None:
    low, high, exclusive = NUMERIC_BOUNDS[field]
    if (value <= low if exclusive else value < low) or value > high:
        if exclusive:
            return _("Informe um valor maior que %(min)s e até %(max)s.") % {"min": _fmt(low), "max": _fmt(high)}
        return _("Informe um valor entre %(min)s e %(max)s.") % {"min": _fmt(low), "max": _fmt(high)}
    return None


def _fmt(n: float) -> str:
    """pt-BR number for messages (``0,5``, ``100``)."""
    return (f"{n:g}").replace(".", ",")


def campaign_settings_errors(values: Mapping[str, Any]) -> dict[str, str]:
    """``{field: pt-BR message}`` for every setting in ``values`` outside the rules.

    ``values`` holds the campaign's settings after the change (fields absent are not
    checked); the dial-string rules are :mod:`central.core.outbound`'s.
    """
    from central.core.outbound import CAMPAIGN_DIAL_FIELDS, OutboundRefused

    from .models import Attempt

    errors: dict[str, str] = {}
    for field in NUMERIC_BOUNDS:
        if field not in values or values[field] is None:
            continue
        n = _number(values[field])
        message = _("Informe um número.") if n is None else _range_error(field, n)
        if message:
            errors[field] = message
    if "max_abandon_rate" in values:
        n = _number(values["max_abandon_rate"])
        if n is None or not 0 <= n <= MAX_ABANDON_RATE:
            errors["max_abandon_rate"] = (_("O abandono máximo fica entre 0 e %(max)s%% (ex.: 3%% é 0,03 na API).")
                                          % {"max": _fmt(MAX_ABANDON_RATE * 100)})
    if "caller_id" in values:
        message = caller_id_error(values["caller_id"] or "")
        if message:
            errors["caller_id"] = message
    if values.get("use_0303_prefix") and not any(ch.isdigit() for ch in values.get("caller_id") or ""):
        errors.setdefault("caller_id", _("O prefixo 0303 exige um identificador de chamada (bina)."))
    if "queue" in values and not (values["queue"] or "").strip():
        errors["queue"] = _("Informe a fila do Asterisk (os membros da fila são os agentes).")
    if "working_hours" in values:
        try:
            hours.parse_working_hours(values["working_hours"])
        except hours.HoursError as exc:
            message = str(exc)
            for key, day in zip(hours.DAYS, hours.DAY_NAMES_PT, strict=True):
                if message.startswith(f"{key}:"):  # "mon: a faixa ..." -> "segunda: a faixa ..."
                    message = day + message[len(key):]
            errors["working_hours"] = message
    if "timezone" in values:
        try:
            ZoneInfo(values["timezone"] or "")
        except (ZoneInfoNotFoundError, ValueError):
            errors["timezone"] = _("fuso horário desconhecido: %(fuso)s") % {"fuso": values["timezone"]}
    if values.get("holiday_subdivision"):
        from central.core.holidays import SUBDIVISIONS

        if str(values["holiday_subdivision"]).upper() not in SUBDIVISIONS:
            errors["holiday_subdivision"] = _("UF desconhecida (use a sigla: SP, RJ, MG...).")
    if "retry_policy" in values:
        policy = values["retry_policy"]
        if not isinstance(policy, dict) or not all(
                _number(v) is not None and 0 <= v <= MAX_RETRY_DELAY_S for v in policy.values()):
            errors["retry_policy"] = _('use {resultado: segundos} de 0 a 30 dias, ex. {"busy": 600}.')
        else:
            unknown = set(policy) - set(Attempt.Result.values)
            if unknown:
                errors["retry_policy"] = (_("resultados desconhecidos: %(resultados)s")
                                          % {"resultados": ", ".join(sorted(unknown))})
    if "dispositions" in values:
        from .desk import DispositionError, validate_dispositions

        problems = validate_dispositions(values["dispositions"])
        if problems:
            errors["dispositions"] = disposition_list_message(DispositionError(problems[0]))
    if "record" in values:
        from central.recordings.policy import RECORD_MODES, RECORD_PERCENT

        if values["record"] not in RECORD_MODES:
            errors["record"] = _("Escolha: nenhuma, todas ou uma porcentagem.")
        elif values["record"] == RECORD_PERCENT and "record_percent" not in errors and not (
                _number(values.get("record_percent")) or 0) > 0:
            errors["record_percent"] = _("Informe a porcentagem de chamadas gravadas (1 a 100).")
    for field, validate in CAMPAIGN_DIAL_FIELDS.items():
        if field in values:
            try:
                validate(values[field] or "")
            except OutboundRefused as exc:
                errors[field] = str(exc)
    return errors


def disposition_list_message(exc) -> str:
    """pt-BR message for a problem of a campaign's disposition list (``desk.DispositionError``)."""
    return {
        "empty": _("Informe ao menos um resultado de atendimento."),
        "too_many": _("No máximo 30 resultados de atendimento."),
        "bad_effect": _("Efeito desconhecido: use concluir, retorno, nova tentativa, numero invalido ou nao ligar."),
        "duplicate": _("Dois resultados de atendimento com o mesmo nome."),
        "label": _("Cada resultado precisa de um nome com letras ou números, até 60 caracteres."),
    }.get(exc.code, _("Lista de resultados de atendimento inválida."))


#: Every Campaign field :func:`campaign_settings_errors` looks at.
SETTINGS_FIELDS = (*NUMERIC_BOUNDS, "max_abandon_rate", "caller_id", "use_0303_prefix", "queue", "working_hours",
                   "timezone", "holiday_subdivision", "retry_policy", "trunk", "dial_context", "dial_exten",
                   "dispositions", "record")
