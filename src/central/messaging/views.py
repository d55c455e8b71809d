"""WhatsApp pages: the inbox, the test phone (simulator), the person across channels.

Access goes through :func:`_conversation_for` / :func:`_org_and_role` (the dialer pages'
shape): every object is looked up inside the request's organization, so another tenant's
conversation is a 404, never a 403 that would confirm it exists. Every change goes
through ``central.messaging.services`` (the functions the API, the webhook processor and
the assistant call), so a reply typed here obeys the same 24 h window, opt-out and "the
bot never talks over a human" rules and is audited the same way. Action endpoints answer
JSON for the page's script, with the project's error shape.

Roles: viewers read; agents (and above) reply, annotate, label, assign and resolve;
supervisors start a template to a campaign contact the dialer could not reach;
admins change the tenant's WhatsApp settings.
"""

from __future__ import annotations

import logging

from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from central.core.parsers import JSONRejected, loads
from central.core.roles import Role, at_least
from central.core.tenancy import membership_for_request, organization_zone

from . import presenters, services
from .models import Conversation, Label, Message, Template, WhatsAppNumber

log = logging.getLogger(__name__)

#: Media types the browser may show inline (everything else downloads).
INLINE_MEDIA = frozenset({"image/jpeg", "image/png", "image/webp", "image/gif"})

#: Filter key -> label of the inbox's list (the order of the tabs).
FILTERS = ("open", "mine", "unassigned", "pending", "bot", "resolved")


def _filter_labels() -> dict[str, str]:
    return {
        "open": _("Abertas"), "mine": _("Minhas"), "unassigned": _("Sem responsável"),
        "pending": _("Aguardando"), "bot": _("Assistente"), "resolved": _("Resolvidas"),
    }


def _org_and_role(request):
    membership = membership_for_request(request)  # 404 for foreign orgs
    return membership.organization, membership.role


def _conversation_for(request, pk: int) -> tuple[Conversation, str]:
    org, role = _org_and_role(request)
    conv = (Conversation.objects.for_org(org).select_related("contact", "assignee", "number")
            .prefetch_related("labels").filter(pk=pk).first())
    if conv is None:
        raise Http404
    return conv, role


def _error(code: str, message: str, status: int = 400) -> JsonResponse:
    return JsonResponse({"error": {"code": code, "message": message}}, status=status)


def filtered_conversations(org, user, *, f: str = "open", label: str = "", q: str = ""):
    """The list of one inbox filter (the page's script applies the same rules to live rows)."""
    qs = Conversation.objects.for_org(org)
    state = Conversation.State
    if f == "mine":
        qs = qs.filter(assignee=user).exclude(state=state.RESOLVED)
    elif f == "unassigned":
        qs = qs.filter(assignee__isnull=True).exclude(state=state.RESOLVED)
    elif f in ("pending", "bot", "resolved"):
        qs = qs.filter(state=f)
    else:
        qs = qs.exclude(state=state.RESOLVED)
    if label:
        qs = qs.filter(labels__name=label)
    if q:
        digits = "".join(ch for ch in q if ch.isdigit())
        cond = Q(contact__name__icontains=q)
        if digits:
            cond |= Q(contact__phone__contains=digits) | Q(contact__wa_id__contains=digits)
        qs = qs.filter(cond)
    return (qs.select_related("contact", "assignee", "number").prefetch_related("labels")
            .order_by("-last_message_at", "-id").distinct()[:presenters.LIST_LIMIT])


def _members(org) -> list[dict]:
    from central.core.models import Membership

    rows = (Membership.objects.filter(organization=org).select_related("user")
            .order_by("user__first_name", "user__username"))
    return [{"id": m.user_id, "name": presenters.user_name(m.user)} for m in rows if at_least(m.role, Role.AGENT)]


def _js_strings() -> dict[str, str]:
    return {
        "window_closed": _("janela fechada"),
        "window_left": _("janela: %(tempo)s"),
        "handoff": _("Pediu atendente"),
        "nobody": _("ninguém"),
        "note": _("Nota interna"),
        "template": _("Modelo"),
        "failed": _("Falhou"),
        "failed_request": _("Não foi possível concluir a ação. Tente de novo."),
        "open_media": _("Abrir arquivo"),
        "loading": _("Carregando…"),
        "media_failed": _("Não foi possível obter o arquivo do WhatsApp."),
        "download": _("Baixar"),
        "remove_label": _("Remover etiqueta"),
        "param": _("Parâmetro {{%(n)s}}"),
        "you": _("Você"),
        "clinic": _("Empresa"),
        "location": _("Localização"),
        "first_response": _("1ª resposta em %(tempo)s"),
        "resolution": _("resolvida em %(tempo)s"),
    }


def _simulator_number(org) -> WhatsAppNumber | None:
    return WhatsAppNumber.objects.for_org(org).filter(use_simulator=True, is_active=True).first()


def _simulator_elsewhere(request, org):
    """Another organization of this user whose number the simulator serves (the demo clinic),
    so a page of an organization without WhatsApp can point a new user to it."""
    from central.core.models import Membership

    ids = Membership.objects.filter(user=request.user).exclude(organization=org).values_list("organization_id",
                                                                                            flat=True)
    found = (WhatsAppNumber.objects.filter(organization_id__in=list(ids), use_simulator=True, is_active=True)
             .select_related("organization").first())
    return found.organization if found else None


@login_required
def inbox(request, pk: int | None = None):
    org, role = _org_and_role(request)
    f = request.GET.get("f", "open")
    f = f if f in FILTERS else "open"
    label = request.GET.get("label", "")[:60]
    q = request.GET.get("q", "").strip()[:80]
    current = None
    thread: list[dict] = []
    templates: list[dict] = []
    if pk is not None:
        conv, role = _conversation_for(request, pk)
        current = presenters.conversation_json(conv)
        rows = (Message.objects.filter(conversation=conv).select_related("sender_user", "conversation")
                .order_by("-created_at", "-id")[:presenters.THREAD_LIMIT])
        thread = [presenters.message_json(m) for m in reversed(rows)]
        templates = [{"id": t.pk, "name": t.name, "language": t.language, "body": t.body,
                      "param_count": t.parameter_count}
                     for t in Template.objects.filter(number=conv.number, status=Template.Status.APPROVED)]
    can_write = at_least(role, Role.AGENT)
    canned = [{"shortcut": r.shortcut, "text": r.body} for r in services.canned_responses(org)[:100]]
    conversations = [presenters.conversation_json(c) for c in filtered_conversations(org, request.user, f=f,
                                                                                      label=label, q=q)]
    page_data = {
        "me": {"id": request.user.pk, "name": presenters.user_name(request.user)},
        "can_write": can_write,
        "tz": organization_zone(org).key,
        "filter": {"f": f, "label": label, "q": q},
        "conversations": conversations,
        "current": current,
        "messages": thread,
        "templates": templates,
        "canned": canned,
        "strings": _js_strings(),
        "urls": {
            "conversation": reverse("messaging:conversation", args=[0]).replace("/0/", "/{id}/"),
            "action": reverse("messaging:action", args=[0, "reply"]).replace("/0/", "/{id}/").replace(
                "/reply/", "/{action}/"),
            "media": reverse("messaging:media", args=[0]).replace("/0/", "/{id}/"),
        },
    }
    labels = list(Label.objects.for_org(org).order_by("name").values_list("name", flat=True))
    query = request.GET.urlencode()
    return render(request, "messaging/inbox.html", {
        "page_data": page_data, "current": current, "can_write": can_write, "filters": [
            (k, _filter_labels()[k]) for k in FILTERS], "filter": page_data["filter"], "all_labels": labels,
        "members": _members(org) if can_write else [], "templates": templates, "canned": canned,
        "query": query, "simulator": _running_simulator(_simulator_number(org)) is not None,
        "has_numbers": WhatsAppNumber.objects.for_org(org).filter(is_active=True).exists(),
        "simulator_elsewhere": _simulator_elsewhere(request, org),
    })


def _body(request) -> dict:
    try:
        data = loads(request.body or b"{}")
    except (JSONRejected, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _labels_named(org, names) -> list[Label]:
    clean = []
    for name in names if isinstance(names, list) else []:
        name = str(name).strip()[:60]
        if name and name not in clean:
            clean.append(name)
    return services.labels_named(org, clean)


@login_required
@require_POST
def action(request, pk: int, action: str):
    """One inbox action on a conversation: reply, template, note, assign, resolve, labels, read."""
    conv, role = _conversation_for(request, pk)
    if not at_least(role, Role.AGENT):
        return _error("permission_denied", _("Seu papel só permite ler as conversas."), 403)
    data = _body(request)
    user = request.user
    message = None
    try:
        if action == "reply":
            text = str(data.get("text") or "").strip()
            if not text:
                return _error("invalid", _("Escreva a mensagem."))
            message = services.send_text(conv, text, user=user)
        elif action == "template":
            template = Template.objects.filter(organization_id=conv.organization_id, number=conv.number,
                                               pk=_int(data.get("template"))).first()
            if template is None:
                return _error("invalid", _("Escolha um modelo deste número."))
            params = data.get("params") if isinstance(data.get("params"), list) else []
            message = services.send_template(conv, template, [str(p)[:1000] for p in params], user=user)
        elif action == "note":
            message = services.add_note(conv, str(data.get("text") or "").strip(), user=user)
        elif action == "assign":
            target = data.get("user")
            if target in (None, ""):
                services.hand_off(conv, _("Devolvida à fila por %(nome)s") % {"nome": presenters.user_name(user)},
                                  by=user)
            else:
                assignee = get_user_model().objects.filter(pk=_int(target)).first()
                if assignee is None:
                    return _error("invalid", _("Escolha um atendente desta organização."))
                services.assign(conv, assignee, by=user, request=request)
        elif action == "resolve":
            services.resolve(conv, by=user, request=request)
        elif action == "labels":
            services.set_labels(conv, _labels_named(conv.organization, data.get("labels")))
        elif action == "read":
            services.mark_read(conv, user=user)
        else:
            raise Http404
    except services.MessagingError as exc:
        return _error(exc.code, str(exc.message))
    conv, _role = _conversation_for(request, pk)
    out = {"conversation": presenters.conversation_json(conv)}
    if message is not None:
        message = Message.objects.select_related("sender_user", "conversation").get(pk=message.pk)
        out["message"] = presenters.message_json(message)
    return JsonResponse(out)


def _int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


@login_required
def media(request, pk: int):
    """An inbound file, fetched on demand from the Cloud API through the backend."""
    org, _role = _org_and_role(request)
    message = Message.objects.for_org(org).filter(pk=pk).first()
    if message is None or not (message.media or {}).get("id"):
        raise Http404
    try:
        content, mime_type = services.fetch_media(message)  # the Cloud API's media URL flow
    except services.MessagingError as exc:
        return _error(exc.code, str(exc.message), 502)
    except Exception:  # the Graph API (or the simulator) failed: say so, never a 500 page
        log.warning("media %s of message %s could not be fetched", message.media.get("id"), message.pk, exc_info=True)
        return _error("media_unavailable", _("Não foi possível obter o arquivo do WhatsApp."), 502)
    mime_type = (mime_type or "").split(";")[0].strip().lower()
    inline = mime_type in INLINE_MEDIA or mime_type.startswith(("audio/", "video/"))
    # Whatever a customer sends is untrusted: only plain pictures, audio and video open in
    # the page; anything else (an HTML "document", an SVG) is a download, in a sandbox.
    response = HttpResponse(content, content_type=mime_type if inline else "application/octet-stream")
    filename = (message.media or {}).get("filename") or f"whatsapp-{message.pk}"
    response["Content-Disposition"] = f"{'inline' if inline else 'attachment'}; filename*=UTF-8''{_quote(filename)}"
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "sandbox; default-src 'none'"
    response["Cache-Control"] = "private, no-store"
    return response


def _quote(name: str) -> str:
    from urllib.parse import quote

    return quote(name, safe="")


# --- one person across channels ---------------------------------------------------------------


def _e164_from(digits: str) -> str:
    if not digits.isdigit() or not 8 <= len(digits) <= 15:
        raise Http404
    return "+" + digits


def fallback_decision(wa_contact, history: dict) -> tuple[bool, str, dict | None]:
    """May a supervisor start a WhatsApp template to this person after the dialer failed?

    ``(allowed, reason, basis)``: the dialer must have failed to reach them in some campaign
    (``unreached``), the number must not be on the do-not-call list nor opted out of
    WhatsApp, and consent must be recorded: WhatsApp opt-in, or a campaign contact whose
    LGPD legal basis is consent (that campaign contact is ``basis``; the opt-in is then
    recorded with it as the source before sending).
    """
    unreached = [c for c in history["contacts"] if c["unreached"]]
    if not unreached:
        return False, _("O discador não deixou de alcançar este número em nenhuma campanha."), None
    if history["do_not_call"]:
        return False, _("O número está na lista de não ligar da organização."), None
    if wa_contact is not None and wa_contact.opted_out:
        return False, _("O cliente pediu para não receber mensagens no WhatsApp."), None
    if wa_contact is not None and wa_contact.opted_in_at is not None:
        return True, "", unreached[0]
    consented = [c for c in unreached if c["legal_basis"] == "consent"]
    if consented:
        return True, "", consented[0]
    return False, _("Sem consentimento registrado: nem opt-in no WhatsApp nem base legal de consentimento "
                    "na campanha."), None


def _person_context(request, digits: str) -> dict:
    from central.dialer.services import history_for_number
    from central.telephony.store import records_for_number

    from .models import ChannelSettings, Contact

    org, role = _org_and_role(request)
    e164 = _e164_from(digits)
    wa_contact = Contact.objects.for_org(org).filter(phone=e164).prefetch_related("labels").first()
    conversations = list(services.conversations_for_phone(org, e164).prefetch_related("labels")[:50])
    history = history_for_number(org.pk, e164)
    appointments = _appointments(org.pk, e164)
    directions, dispositions = _direction_labels(), _disposition_labels()
    records = records_for_number(org.pk, e164)
    for r in records:
        r["direction_label"] = directions.get(r["direction"], r["direction"])
        r["disposition_label"] = dispositions.get(r["disposition"], r["disposition"])
    settings = ChannelSettings.for_org(org)
    allowed, reason, basis = fallback_decision(wa_contact, history)
    numbers = list(WhatsAppNumber.objects.for_org(org).filter(is_active=True))
    templates = list(Template.objects.for_org(org).filter(status=Template.Status.APPROVED, number__in=numbers)
                     .select_related("number"))
    names = [n for n in dict.fromkeys([wa_contact.name if wa_contact else ""] +
                                      [c["name"] for c in history["contacts"]]) if n]
    return {
        "org": org, "e164": e164, "digits": digits, "phone_display": presenters.phone_display(e164),
        "names": names, "wa_contact": wa_contact,
        "conversations": conversations, "dialer": history, "records": records, "appointments": appointments,
        "state_labels": dict(Conversation.State.choices),
        "fallback_enabled": settings.dialer_fallback, "can_supervise": at_least(role, Role.SUPERVISOR),
        "fallback_allowed": allowed, "fallback_reason": reason, "fallback_basis": basis,
        "numbers": numbers, "templates": templates,
    }


def _appointments(org_id: int, e164: str) -> list[dict] | None:
    """The clinic agenda's appointments of this number (None where scheduling is not installed)."""
    from django.apps import apps

    if not apps.is_installed("central.scheduling"):
        return None
    from central.scheduling.services import appointments_for_number

    return appointments_for_number(org_id, e164)


def _direction_labels() -> dict:
    from central.telephony.models import Direction

    return dict(Direction.choices)


def _disposition_labels() -> dict:
    from central.telephony.models import CallRecord

    return dict(CallRecord.Disposition.choices)


@login_required
def person(request, digits: str):
    """Everything the tenant knows about one E.164 number: WhatsApp, dialer, calls."""
    return render(request, "messaging/person.html", _person_context(request, digits))


@login_required
@require_POST
def person_start(request, digits: str):
    """A supervisor starts a WhatsApp template to a campaign contact the dialer did not reach."""
    from django.contrib import messages as flash

    ctx = _person_context(request, digits)
    if not ctx["can_supervise"]:
        raise PermissionDenied
    back = redirect("messaging:person", digits=digits)
    if not ctx["fallback_enabled"]:
        flash.error(request, _("Ative o envio de modelos para contatos não alcançados nas configurações do WhatsApp."))
        return back
    if not ctx["fallback_allowed"]:
        flash.error(request, ctx["fallback_reason"])
        return back
    template = next((t for t in ctx["templates"] if t.pk == _int(request.POST.get("template"))), None)
    if template is None:
        flash.error(request, _("Escolha um modelo aprovado."))
        return back
    params = [request.POST.get(f"p{i}", "").strip()[:1000] for i in range(1, template.parameter_count + 1)]
    basis = ctx["fallback_basis"]
    wa_contact = ctx["wa_contact"]
    try:
        if wa_contact is None or wa_contact.opted_in_at is None:
            wa_contact = wa_contact or services.contact_for(template.number, ctx["e164"].lstrip("+"), basis["name"])
            services.record_opt_in(wa_contact, source=_("campanha %(nome)s (base legal: consentimento)")
                                   % {"nome": basis["campaign"]}, request=request)
        message = services.start_with_template(template.number, ctx["e164"], template, params, user=request.user,
                                               name=basis["name"], request=request)
    except services.MessagingError as exc:
        flash.error(request, str(exc.message))
        return back
    flash.success(request, _("Modelo enviado para a fila do WhatsApp."))
    return redirect("messaging:conversation", pk=message.conversation_id)


@login_required
def settings_page(request):
    """The tenant's WhatsApp choices (admins change them; everyone may read them)."""
    from django.contrib import messages as flash

    from central.core import audit

    from .models import ChannelSettings

    org, role = _org_and_role(request)
    can_change = at_least(role, Role.ADMIN)
    current = ChannelSettings.for_org(org)
    if request.method == "POST":
        if not can_change:
            raise PermissionDenied
        previous = current.dialer_fallback
        current.dialer_fallback = request.POST.get("dialer_fallback") == "on"
        current.save()
        audit.record("messaging.settings", request=request, target=current, dialer_fallback=current.dialer_fallback,
                     previous=previous)
        flash.success(request, _("Configurações salvas."))
        return redirect("messaging:settings")
    return render(request, "messaging/settings.html", {"settings": current, "can_change": can_change})


# --- test phone (the Cloud API simulator) -------------------------------------------------------

#: Session key of the test phone's customer identity (``{"wa_id", "name"}``).
PHONE_SESSION_KEY = "messaging_test_phone"


def _running_simulator(number: WhatsAppNumber | None):
    """The simulator ``central up`` runs in this process, when it serves ``number``."""
    if number is None:
        return None
    from . import simulator

    sim = simulator.current()
    return sim if sim is not None and number.phone_number_id in sim.numbers else None


def _phone_identity(request) -> dict:
    """Who the user is on the test phone: a number of their own, unless they chose another."""
    chosen = request.session.get(PHONE_SESSION_KEY) or {}
    if isinstance(chosen, dict) and str(chosen.get("wa_id", "")).isdigit():
        return {"wa_id": str(chosen["wa_id"]), "name": str(chosen.get("name") or "")[:60]}
    # 55 11 99xxx-xxxx: a São Paulo mobile per user (no two users of one installation share it).
    return {"wa_id": f"551199{request.user.pk % 10_000_000:07d}",
            "name": (request.user.get_full_name() or request.user.get_username())[:60]}


def _phone_thread(org, number, wa_id: str) -> tuple[list[dict], list[int]]:
    from .models import Contact

    contact = Contact.objects.for_org(org).filter(wa_id=wa_id).first()
    if contact is None or number is None:
        return [], []
    conv_ids = list(Conversation.objects.filter(number=number, contact=contact).values_list("pk", flat=True))
    rows = (Message.objects.filter(conversation_id__in=conv_ids).exclude(kind=Message.Kind.NOTE)
            .select_related("sender_user", "conversation").order_by("-created_at", "-id")[:presenters.THREAD_LIMIT])
    return [presenters.message_json(m) for m in reversed(rows)], conv_ids


@login_required
def phone(request):
    """A customer's phone talking to the tenant's simulated WhatsApp number."""
    org, role = _org_and_role(request)
    if not at_least(role, Role.AGENT):
        raise PermissionDenied
    number = _simulator_number(org)
    sim = _running_simulator(number)
    if request.method == "POST":
        wa_id = "".join(ch for ch in request.POST.get("wa_id", "") if ch.isdigit())
        if 10 <= len(wa_id) <= 15:
            request.session[PHONE_SESSION_KEY] = {"wa_id": wa_id, "name": request.POST.get("name", "").strip()[:60]}
        return redirect("messaging:phone")
    me = _phone_identity(request)
    thread, conv_ids = _phone_thread(org, number, me["wa_id"])
    page_data = {
        "me": me, "tz": organization_zone(org).key, "messages": thread, "conversations": conv_ids,
        "running": sim is not None, "send_url": reverse("messaging:phone_send"),
        "strings": {**_js_strings(), "choose": _("Escolha uma opção")},
    }
    latest = conv_ids[-1] if conv_ids else None
    return render(request, "messaging/phone.html", {
        "page_data": page_data, "number": number, "running": sim is not None, "me": me,
        "simulator_elsewhere": _simulator_elsewhere(request, org) if number is None else None,
        "number_display": presenters.phone_display(number.display_number) if number else "",
        "me_display": presenters.phone_display("+" + me["wa_id"]),
        "inbox_url": reverse("messaging:conversation", args=[latest]) if latest else reverse("messaging:inbox"),
    })


def sample_picture(width: int = 160, height: int = 100) -> bytes:
    """A small PNG drawn here (a card-like picture), what the test phone sends as a photo:
    enough to watch the media flow (metadata in the inbox, bytes fetched on demand)."""
    import struct
    import zlib

    rows = []
    for y in range(height):
        row = bytearray([0])  # filter: none
        for x in range(width):
            border = x < 6 or y < 6 or x >= width - 6 or y >= height - 6
            stripe = 20 <= y < 34 and 14 <= x < width - 14
            row += bytes((11, 110, 79) if border or stripe else (236, 253, 245))
        rows.append(bytes(row))

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"".join(rows)))
            + chunk(b"IEND", b""))


@login_required
@require_POST
def phone_send(request):
    """The customer does something on the test phone: the simulator turns it into a signed
    webhook delivery to this installation, exactly as Meta would."""
    org, role = _org_and_role(request)
    if not at_least(role, Role.AGENT):
        return _error("permission_denied", _("Seu papel não permite usar o telefone de teste."), 403)
    number = _simulator_number(org)
    sim = _running_simulator(number)
    if sim is None:
        return _error("unavailable", _("O simulador do WhatsApp não está em execução neste processo."), 503)
    me = _phone_identity(request)
    data = _body(request)
    kind = data.get("type")
    common = {"name": me["name"], "pnid": number.phone_number_id}
    context = str(data.get("context") or "")[:200]
    title = str(data.get("title") or "")[:200]
    if kind == "text":
        text = str(data.get("text") or "").strip()[:4096]
        if not text:
            return _error("invalid", _("Escreva a mensagem."))
        call = (sim.customer_text, me["wa_id"], text)
    elif kind == "button":
        call = (sim.customer_button, me["wa_id"], str(data.get("id") or "")[:256], title)
        common["context"] = context
    elif kind == "list":
        call = (sim.customer_list_reply, me["wa_id"], str(data.get("id") or "")[:200], title,
                str(data.get("description") or "")[:72])
        common["context"] = context
    elif kind == "image":
        call = (sim.customer_image, me["wa_id"], sample_picture(), "image/png", _("Foto de teste do simulador"))
    elif kind == "quick_reply":
        call = (sim.customer_quick_reply, me["wa_id"], str(data.get("id") or title)[:256], title)
        common["context"] = context
    else:
        return _error("invalid", _("Ação desconhecida do telefone de teste."))
    try:
        wamid = sim.call(*call, timeout=15, **common)
    except Exception:  # the simulator's loop stopped or the delivery could not be made
        return _error("unavailable", _("O simulador não conseguiu entregar a mensagem."), 503)
    return JsonResponse({"wamid": wamid})
