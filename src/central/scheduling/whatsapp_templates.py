"""The WhatsApp templates the agenda sends outside the 24 h window: one definition.

``notify`` sends them by these names with these parameters, ``reminders`` reads a quick
reply by these labels, and the Cloud API simulator offers exactly these (it collects every
app's ``whatsapp_templates.TEMPLATES``), so the demo and the tests exercise what a clinic
must register at Meta (docs/scheduling.md). Plain data: no Django needed to import it.
"""

from __future__ import annotations

#: Quick replies of the reminder template, in order: confirm, reschedule, cancel.
REMINDER_QUICK_REPLIES = ("Confirmar", "Remarcar", "Cancelar")

#: Body parameters: patient, service, professional, date and time.
REMINDER = {
    "name": "lembrete_consulta", "language": "pt_BR", "category": "UTILITY", "status": "APPROVED",
    "body": "Olá, {{1}}! Lembrete da sua consulta de {{2}} com {{3}} em {{4}}. Você confirma?",
    "buttons": [{"type": "QUICK_REPLY", "text": text} for text in REMINDER_QUICK_REPLIES],
}

#: Body parameters: patient, service, professional, date and time. The patient answers in
#: text (a template's quick reply would carry no offer id).
WAITLIST = {
    "name": "oferta_lista_espera", "language": "pt_BR", "category": "UTILITY", "status": "APPROVED",
    "body": "Olá, {{1}}! Abriu um horário mais cedo: {{2}} com {{3}} em {{4}}. Quer ficar com ele?",
    "buttons": [],
}

TEMPLATES = [REMINDER, WAITLIST]
