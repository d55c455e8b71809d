"""The audit log: one call records a critical action with who, what, when and from where."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy

from .clientaddr import client_ip
from .logging import current_request_id
from .models import AuditLog, Organization


def record(
    action: str,
    *,
    request=None,
    actor=None,
    organization: Organization | None = None,
    target: Any = None,
    **details: Any,
) -> AuditLog:
    """Insert an audit row. ``target`` may be a model instance (its type and pk are kept)."""
    if actor is None and request is not None and getattr(request, "user", None) is not None:
        actor = request.user if request.user.is_authenticated else None
    if organization is None and request is not None:
        organization = getattr(request, "organization", None)
    if organization is None and actor is not None:
        # Sign-ins have no tenant in the request; file them under the user's default one.
        from .tenancy import default_membership

        default = default_membership(actor)
        organization = default.organization if default else None
    target_type = target_id = ""
    if target is not None:
        target_type = target._meta.label_lower if hasattr(target, "_meta") else type(target).__name__
        target_id = str(getattr(target, "pk", "") or "")
    entry = AuditLog.objects.create(
        organization=organization,
        actor=actor,
        actor_name=getattr(actor, "username", "") or "",
        action=action,
        target_type=target_type,
        target_id=target_id,
        details=details,
        ip=client_ip(request),
        user_agent=(request.META.get("HTTP_USER_AGENT", "")[:300] if request is not None else ""),
        request_id=current_request_id() or "",
    )
    from .live import publish_org_event

    publish_org_event(
        entry.organization_id,
        {"type": "audit", "action": action, "actor": entry.actor_name, "at": entry.created_at.isoformat(),
         "texts": texts_by_language(action, target_type, target_id, target)},
    )
    return entry


# --- the activity feed's sentences ---------------------------------------------------------

#: What the actor did, as the sentence after their name in the activity feed; ``%(alvo)s``
#: is the target's name when it still exists. Codes not listed are described by
#: :data:`VERBS` and the target model's verbose name, and only then shown raw.
ACTION_TEXT = {
    "auth.login": gettext_lazy("entrou no Central"),
    "auth.login_failed": gettext_lazy("errou a senha ao entrar"),
    "auth.token": gettext_lazy("obteve um token de acesso à API"),
    "auth.refresh_reuse": gettext_lazy("tentou reutilizar um token de renovação já usado (bloqueado)"),
    "campaign.create": gettext_lazy("criou a campanha %(alvo)s"),
    "campaign.update": gettext_lazy("alterou a configuração da campanha %(alvo)s"),
    "campaign.delete": gettext_lazy("excluiu uma campanha"),
    "campaign.start": gettext_lazy("iniciou a campanha %(alvo)s"),
    "campaign.pause": gettext_lazy("pausou a campanha %(alvo)s"),
    "campaign.resume": gettext_lazy("retomou a campanha %(alvo)s"),
    "campaign.finish": gettext_lazy("encerrou a campanha %(alvo)s"),
    "campaign.alarm": gettext_lazy("alarme na campanha %(alvo)s: discagem interrompida"),
    "dialer.import.contacts": gettext_lazy("importou contatos"),
    "dialer.import.dnc": gettext_lazy("importou uma lista de não ligar"),
    "dialer.dnc.create": gettext_lazy("bloqueou um número (não ligar)"),
    "dialer.export": gettext_lazy("exportou resultados de campanha"),
    "dialer.callback.create": gettext_lazy("agendou um retorno"),
    "dialer.callback.update": gettext_lazy("alterou um retorno agendado"),
    "dialer.disposition.create": gettext_lazy("registrou o resultado de um atendimento"),
    "dialer.desk.dial": gettext_lazy("ligou para um contato pela tela do agente"),
    "dialer.desk.skip": gettext_lazy("pulou um contato da prévia"),
    "organization.switch": gettext_lazy("trocou de organização"),
    "organization.update": gettext_lazy("alterou os dados da organização"),
    "invitation.create": gettext_lazy("convidou um usuário"),
    "invitation.accept": gettext_lazy("aceitou um convite"),
    "invitation.revoke": gettext_lazy("revogou um convite"),
    "membership.update": gettext_lazy("alterou o papel de um membro"),
    "membership.delete": gettext_lazy("removeu um membro"),
    "membership.default": gettext_lazy("escolheu a organização padrão"),
    "installation.init": gettext_lazy("instalou o Central"),
    "voice.test_call": gettext_lazy("fez uma chamada de teste na portaria virtual"),
    "agents.queue_login": gettext_lazy("entrou na fila de atendimento"),
    "agents.queue_logout": gettext_lazy("saiu da fila de atendimento"),
    "agents.pause": gettext_lazy("entrou em pausa"),
    "agents.unpause": gettext_lazy("saiu da pausa"),
    "agents.force_pause": gettext_lazy("pausou um agente"),
    "agents.force_unpause": gettext_lazy("tirou um agente da pausa"),
    "agents.force_logout": gettext_lazy("tirou um agente da fila"),
    "documents.agent.enroll": gettext_lazy("cadastrou um agente local"),
    "documents.agent.revoke": gettext_lazy("revogou um agente local"),
    "documents.download": gettext_lazy("baixou um documento"),
    "documents.request": gettext_lazy("pediu o PDF de um documento"),
    "legacy.import": gettext_lazy("importou dados do sistema antigo"),
    "maintenance.retention": gettext_lazy("apagou dados antigos (retenção)"),
    "messaging.assign": gettext_lazy("atribuiu uma conversa do WhatsApp"),
    "messaging.opt_in": gettext_lazy("registrou o consentimento de um contato no WhatsApp"),
    "messaging.opt_out": gettext_lazy("registrou o descadastro de um contato no WhatsApp"),
    "messaging.resolve": gettext_lazy("encerrou uma conversa do WhatsApp"),
    "messaging.template_start": gettext_lazy("iniciou uma conversa com um modelo do WhatsApp"),
    "messaging.template_sync": gettext_lazy("sincronizou os modelos do WhatsApp"),
    "messaging.settings": gettext_lazy("alterou as configurações do WhatsApp"),
    "recording.listen": gettext_lazy("ouviu uma gravação"),
    "recordings.retention": gettext_lazy("apagou gravações antigas (retenção)"),
}

#: Generic verbs by the code's last part (``<thing>.create``), with the model's name.
VERBS = {
    "create": gettext_lazy("criou: %(coisa)s %(alvo)s"),
    "update": gettext_lazy("alterou: %(coisa)s %(alvo)s"),
    "delete": gettext_lazy("excluiu: %(coisa)s"),
}


def _target_label(target_type: str, target_id: str, target: Any = None) -> tuple[str, str]:
    """(model verbose name, “object name”) of an audit target, empty when unknown or gone."""
    from django.apps import apps

    if not target_type:
        return "", ""
    try:
        model = apps.get_model(target_type)
    except (LookupError, ValueError):
        return "", ""
    if target is None and target_id:
        target = model._default_manager.filter(pk=target_id).first()
    return str(model._meta.verbose_name), (f"“{target}”" if target is not None else "")


def describe(action: str, target_type: str = "", target_id: str = "", target: Any = None) -> str:
    """The feed's sentence for one audit row, in the active language (see ACTION_TEXT)."""
    thing, name = _target_label(target_type, target_id, target)
    text = ACTION_TEXT.get(action)
    if text is None:
        text = VERBS.get(action.rpartition(".")[2]) if thing else None
    if text is None:
        return action
    return (str(text) % {"alvo": name, "coisa": thing}).strip()


def texts_by_language(action: str, target_type: str = "", target_id: str = "", target: Any = None) -> dict[str, str]:
    """The sentence in every language of the installation (a live push reaches members
    reading in different languages; each page picks its own)."""
    from django.conf import settings
    from django.utils import translation

    out = {}
    for code, _name in settings.LANGUAGES:
        with translation.override(code):
            out[code] = describe(action, target_type, target_id, target)
    return out
