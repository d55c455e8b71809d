"""The campaign settings form of the dashboard.

Validation is not here: the ModelForm runs ``Campaign.clean()``, which calls
:func:`central.dialer.rules.campaign_settings_errors`, the function the API serializer
calls too. This module only converts between what a supervisor types and what is stored:
the abandonment cap in % (stored as a fraction), working hours as a weekday grid with
pt-BR day names (stored as ``{"mon": [["09:00", "20:00"]], ...}``) and retry delays in
minutes per result (stored in seconds).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from .hours import DAY_NAMES_PT, DAYS
from .models import Attempt, Campaign, default_retry_policy
from .rules import NUMERIC_BOUNDS

#: Time ranges shown per weekday (a stored day with more shows them all).
SPANS_PER_DAY = 2

_HHMM = r"([01]\d|2[0-3]):[0-5]\d|24:00"


class WorkingHoursWidget(forms.Widget):
    """A grid: one row per weekday (pt-BR names), start/end inputs per range."""

    template_name = "dialer/widgets/working_hours.html"

    def format_value(self, value):
        return value if isinstance(value, dict) else {}

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        value = self.format_value(value)
        days = []
        for key, label in zip(DAYS, DAY_NAMES_PT, strict=True):
            spans = [list(s) + ["", ""][len(s):] for s in (value.get(key) or []) if isinstance(s, list | tuple)]
            spans += [["", ""]] * max(0, SPANS_PER_DAY - len(spans))
            days.append({"key": key, "label": label,
                         "spans": [{"index": i, "start": s[0], "end": s[1]} for i, s in enumerate(spans)]})
        context["widget"].update(days=days, pattern=_HHMM)
        return context

    def value_from_datadict(self, data, files, name):
        out: dict[str, list[list[str]]] = {}
        for key in DAYS:
            spans, i = [], 0
            while f"{name}_{key}_{i}_start" in data or f"{name}_{key}_{i}_end" in data:
                start = (data.get(f"{name}_{key}_{i}_start") or "").strip()
                end = (data.get(f"{name}_{key}_{i}_end") or "").strip()
                if start or end:
                    spans.append([start, end])
                i += 1
            out[key] = spans
        return out

    def value_omitted_from_data(self, data, files, name):
        return not any(k.startswith(f"{name}_") for k in data)


class WorkingHoursField(forms.Field):
    widget = WorkingHoursWidget

    def to_python(self, value):
        return value if isinstance(value, dict) else {}


class RetryPolicyWidget(forms.Widget):
    """Minutes until the next try, one input per call result."""

    template_name = "dialer/widgets/retry_policy.html"

    def format_value(self, value):
        return value if isinstance(value, dict) else {}

    @staticmethod
    def results(value: dict) -> list[str]:
        keys = list(default_retry_policy())
        return keys + [k for k in value if k not in keys]

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        value = self.format_value(value)
        labels = dict(Attempt.Result.choices)
        rows = []
        for key in self.results(value):
            raw = value.get(key, "")
            shown = raw
            if isinstance(raw, int | float) and not isinstance(raw, bool):
                minutes = raw / 60
                shown = f"{minutes:g}"
            rows.append({"key": key, "label": labels.get(key, key), "value": shown})
        context["widget"].update(rows=rows)
        return context

    def value_from_datadict(self, data, files, name):
        out: dict[str, Any] = {}
        for key in [*default_retry_policy(), *Attempt.Result.values]:
            raw = (data.get(f"{name}_{key}") or "").strip().replace(",", ".")
            if not raw:
                continue
            try:
                seconds = float(raw) * 60
            except ValueError:
                out[key] = raw  # the rule reports it
                continue
            out[key] = int(seconds) if seconds.is_integer() else seconds
        return out

    def value_omitted_from_data(self, data, files, name):
        return not any(k.startswith(f"{name}_") for k in data)


class RetryPolicyField(forms.Field):
    widget = RetryPolicyWidget

    def to_python(self, value):
        return value if isinstance(value, dict) else {}


class DispositionsField(forms.Field):
    """The campaign's disposition list as text: one per line, ``Nome`` or ``Nome = efeito``
    (``central.dialer.desk.parse_dispositions``); stored as ``[{code, label, effect}]``."""

    widget = forms.Textarea(attrs={"rows": 6})

    def prepare_value(self, value):
        from .desk import format_dispositions

        return format_dispositions(value) if isinstance(value, list) else value

    def to_python(self, value):
        from .desk import DispositionError, parse_dispositions
        from .rules import disposition_list_message

        if isinstance(value, list):
            return value
        if not (value or "").strip():  # blank: the default list
            from .models import default_dispositions

            return default_dispositions()
        try:
            return parse_dispositions(value or "")
        except DispositionError as exc:
            raise forms.ValidationError(disposition_list_message(exc)) from None


class CampaignForm(forms.ModelForm):
    """Every setting a supervisor changes; ``organization`` scopes the PBX choices."""

    max_abandon_rate = forms.FloatField(
        label=_("Abandono máximo (%)"), help_text=_("Ex.: 3 para 3%. Acima disso o discador reduz o ritmo."),
        widget=forms.NumberInput(attrs={"min": 0, "max": 50, "step": "0.1"}))
    working_hours = WorkingHoursField(
        label=_("Horário de discagem"),
        help_text=_("Hora local (HH:MM, 24:00 para meia-noite). Deixe o dia em branco para não discar nele. "
                    "Vale no fuso da campanha e no do contato (pelo DDD)."),
        required=False)
    retry_policy = RetryPolicyField(
        label=_("Nova tentativa após (minutos)"),
        help_text=_("Por resultado da tentativa anterior. Em branco: não tenta de novo por esse resultado."),
        required=False)
    dispositions = DispositionsField(
        label=_("Resultados do atendimento"),
        help_text=_("Um por linha: nome, ou nome = efeito (concluir, retorno, nova tentativa, numero invalido, "
                    "nao ligar). Sem efeito: concluir. Em branco: a lista padrão."), required=False)

    class Meta:
        model = Campaign
        fields = ["name", "queue", "asterisk_server", "pacing_mode", "dial_ratio", "max_channels", "max_cps",
                  "max_abandon_rate", "abandon_after_s", "ring_timeout_s", "max_attempts", "max_attempts_per_day",
                  "retry_policy", "caller_id", "use_0303_prefix", "trunk", "dial_context", "dial_exten",
                  "timezone", "working_hours", "respect_holidays", "holiday_subdivision", "short_call_message",
                  "short_call_alarm", "dispositions", "script", "wrapup_limit_s", "record", "record_percent"]
        widgets = {"script": forms.Textarea(attrs={"rows": 8})}

    def __init__(self, *args, organization, queues: dict[str, dict[str, int]] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        from central.telephony.models import AsteriskServer

        self.instance.organization = organization
        if "asterisk_server" in self.fields:
            self.fields["asterisk_server"].queryset = AsteriskServer.objects.for_org(organization).order_by("name")
            self.fields["asterisk_server"].empty_label = _("Servidor padrão")
        for name in ("working_hours", "retry_policy"):  # a new campaign starts from the model's defaults
            if name in self.fields and self.initial.get(name) is None:
                self.initial[name] = getattr(self.instance, name)
        if "max_abandon_rate" in self.fields and not self.is_bound:
            self.initial["max_abandon_rate"] = round((self.instance.max_abandon_rate or 0) * 100, 4)
        self.fields["queue"].widget.attrs.update(list="pbx-queues", autocomplete="off")
        for name, (low, high, _exclusive) in NUMERIC_BOUNDS.items():
            if name in self.fields:
                self.fields[name].widget.attrs.update(min=low, max=high)
                self.fields[name].widget.attrs.setdefault("step", "any")
        if "holiday_subdivision" in self.fields:
            self.fields["holiday_subdivision"].widget.attrs.update(size=2, placeholder="SP")
        if "wrapup_limit_s" in self.fields:
            self.fields["wrapup_limit_s"].required = False
        self.queues = queues or {}

    def clean_max_abandon_rate(self):
        value = self.cleaned_data["max_abandon_rate"]
        return None if value is None else round(value / 100, 6)

    def clean_wrapup_limit_s(self):
        return self.cleaned_data.get("wrapup_limit_s") or 0

    def clean_holiday_subdivision(self):
        return (self.cleaned_data.get("holiday_subdivision") or "").upper()

    def queue_warning(self) -> str | None:
        """pt-BR warning when the chosen queue is unknown to the PBX or has no agents."""
        return queue_warning(self.cleaned_data.get("queue") or self.instance.queue, self.queues)


class CampaignQuickForm(CampaignForm):
    """The list page's "new campaign" box: a name and a queue, defaults for the rest."""

    max_abandon_rate = None
    working_hours = None
    retry_policy = None
    dispositions = None

    class Meta(CampaignForm.Meta):
        fields = ["name", "queue"]


def queue_warning(queue: str, queues: dict[str, dict[str, int]]) -> str | None:
    """Why a campaign on ``queue`` would reach nobody, from what the PBX reports."""
    from django.utils.translation import gettext

    if not queue:
        return None
    info = queues.get(queue)
    if info is None:
        known = ", ".join(sorted(queues)) or gettext("nenhuma")
        return gettext("A fila %(fila)s não foi informada pelo PBX: confira o nome (filas conhecidas: %(filas)s). "
                       "Sem membros na fila, a campanha não tem agentes.") % {"fila": queue, "filas": known}
    if not info["members"]:
        return gettext("A fila %(fila)s não tem nenhum agente.") % {"fila": queue}
    return None
