"""Central speaks pt-BR by default and English on request (Accept-Language or /i18n/setlang/).

msgids are written in pt-BR, so only the English catalog exists
(src/central/locale/en/LC_MESSAGES/django.po). After adding or changing user-facing text:

    cd src/central
    CENTRAL_DATA_DIR=/tmp/i18n ../../.venv/bin/central manage makemessages -l en --no-obsolete --ignore "tests/*"
    # fill every new msgstr in locale/en/LC_MESSAGES/django.po, then
    CENTRAL_DATA_DIR=/tmp/i18n ../../.venv/bin/central manage compilemessages -l en

``test_every_msgid_is_translated`` fails while any msgstr is empty or fuzzy, and
``test_compiled_catalog_matches_po`` while the committed .mo disagrees with the .po.
"""

from __future__ import annotations

import ast
import gettext
import shutil
from pathlib import Path

import pytest
from django.test import Client, override_settings
from django.utils import translation

import central

pytestmark = pytest.mark.django_db

LOCALE = Path(central.__file__).parent / "locale"
PO = LOCALE / "en" / "LC_MESSAGES" / "django.po"
MO = PO.with_suffix(".mo")


# --- pages ---------------------------------------------------------------------------------


def test_login_page_is_pt_br_by_default(client):
    body = client.get("/login/").content.decode()
    assert "Entrar no Central" in body
    assert "Sign in to Central" not in body


def test_login_page_in_english_with_accept_language(client):
    body = client.get("/login/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Sign in to Central" in body
    assert "Entrar no Central" not in body
    assert 'lang="en"' in body


def test_setlang_switches_login_and_dashboard_to_english(tenants):
    client = Client()
    response = client.post("/i18n/setlang/", {"language": "en", "next": "/login/"})
    assert response.status_code == 302
    assert "Sign in to Central" in client.get("/login/").content.decode()

    client.force_login(tenants["alice"])
    home = client.get("/").content.decode()
    assert "Overview" in home and "Recent activity" in home
    assert "Visão geral" not in home
    # The menu's "Home" (context "menu") and a table's "Start" share the pt-BR msgid "Início".
    assert ">Home<" in home

    # Back to pt-BR through the same selector.
    client.post("/i18n/setlang/", {"language": "pt-br", "next": "/"})
    home = client.get("/").content.decode()
    assert "Visão geral" in home and ">Início<" in home


def test_dashboard_home_in_pt_br_by_default(tenants):
    client = Client()
    client.force_login(tenants["alice"])
    home = client.get("/").content.decode()
    assert "Visão geral" in home and "Atividade recente" in home


# --- API error messages ----------------------------------------------------------------------


def test_api_permission_error_follows_accept_language(tenants, api_as):
    client = api_as(tenants["vera"])  # viewer: may not create servers
    pt = client.post("/api/v1/telephony/servers/", {"name": "pbx"}, format="json")
    en = client.post("/api/v1/telephony/servers/", {"name": "pbx"}, format="json", HTTP_ACCEPT_LANGUAGE="en")
    assert pt.status_code == en.status_code == 403
    assert pt.json()["error"]["message"] == "Seu papel nesta organização não permite esta ação."
    assert en.json()["error"]["message"] == "Your role in this organization does not allow this action."


def test_api_validation_error_in_english(tenants, api_as):
    client = api_as(tenants["alice"])
    response = client.post("/api/v1/dialer/campaigns/", {"name": "x", "timezone": "Mars/Olympus"},
                           format="json", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["message"] == "Invalid data."
    assert error["fields"]["timezone"] == ["unknown time zone: Mars/Olympus"]


@override_settings(MAX_BODY_BYTES=1000)
def test_body_size_refusal_in_english_before_locale_middleware(tenants, api_as):
    client = api_as(tenants["alice"])
    url = f"/api/v1/organizations/{tenants['a'].pk}/"
    en = client.patch(url, data={"name": "x" * 5000}, format="json", HTTP_ACCEPT_LANGUAGE="en")
    pt = client.patch(url, data={"name": "x" * 5000}, format="json")
    assert en.status_code == pt.status_code == 413
    assert en.json()["error"]["message"].startswith("The request body is ")
    assert pt.json()["error"]["message"].startswith("O corpo da requisição tem ")


def test_campaign_action_refusal_is_translated(tenants):
    from central.dialer import services
    from central.dialer.models import Campaign

    camp = Campaign.objects.create(organization=tenants["a"], name="c", queue="q", status=Campaign.Status.DRAFT)
    with translation.override("en"), pytest.raises(services.CampaignActionError) as exc:
        services.resume(camp)
    assert str(exc.value) == "Cannot resume a campaign that is draft."
    with translation.override("pt-br"), pytest.raises(services.CampaignActionError) as exc:
        services.resume(camp)
    assert str(exc.value) == "Não é possível retomar uma campanha rascunho."


# --- the catalog itself ----------------------------------------------------------------------


def _po_entries(text: str) -> list[dict]:
    """Minimal .po reader: entries as {"flags", "msgctxt", "msgid", "msgid_plural", "msgstr[...]"}."""
    entries, current, key = [], None, None
    for raw in text.splitlines() + [""]:
        line = raw.strip()
        if not line:
            if current is not None:
                entries.append(current)
            current, key = None, None
            continue
        if current is None:
            current = {"flags": set()}
        if line.startswith("#,"):
            current["flags"].update(f.strip() for f in line[2:].split(","))
        elif line.startswith("#"):
            continue
        elif line.startswith('"'):
            current[key] += ast.literal_eval(line)
        else:
            key, _, value = line.partition(" ")
            current[key] = ast.literal_eval(value)
    return entries


def test_every_msgid_is_translated():
    entries = [e for e in _po_entries(PO.read_text(encoding="utf-8")) if e.get("msgid")]
    assert len(entries) > 300
    untranslated = [e["msgid"] for e in entries
                    if not all(v for k, v in e.items() if k.startswith("msgstr"))]
    fuzzy = [e["msgid"] for e in entries if "fuzzy" in e["flags"]]
    assert untranslated == [], f"untranslated msgids: {untranslated}"
    assert fuzzy == [], f"fuzzy msgids: {fuzzy}"


def test_compiled_catalog_matches_po():
    """The committed .mo says exactly what the .po says (someone ran compilemessages)."""
    with MO.open("rb") as f:
        mo = gettext.GNUTranslations(f)
    stale = []
    for e in _po_entries(PO.read_text(encoding="utf-8")):
        if not e.get("msgid"):
            continue
        ctx = e.get("msgctxt")
        if "msgid_plural" in e:
            got = [mo.ngettext(e["msgid"], e["msgid_plural"], n) for n in (1, 2)]
            want = [e["msgstr[0]"], e["msgstr[1]"]]
        else:
            got = mo.pgettext(ctx, e["msgid"]) if ctx else mo.gettext(e["msgid"])
            want = e["msgstr"]
        if got != want:
            stale.append(e["msgid"])
    assert stale == [], f"django.mo is stale, run compilemessages: {stale[:5]}"
    with translation.override("en"):
        assert translation.gettext("Entrar no Central") == "Sign in to Central"
        assert translation.pgettext("menu", "Início") == "Home"
        assert translation.gettext("Início") == "Start"
        assert translation.ngettext("%(n)s número bloqueado.", "%(n)s números bloqueados.", 2) % {"n": 2} \
            == "2 blocked numbers."


def test_catalog_covers_every_source_string(tmp_path, settings, monkeypatch):
    """makemessages over a copy of the sources finds no msgid that the committed catalog lacks."""
    from django.core.management import call_command

    copy = tmp_path / "central"
    shutil.copytree(LOCALE.parent, copy, ignore=shutil.ignore_patterns("__pycache__", "locale", "static"))
    (copy / "locale" / "en" / "LC_MESSAGES").mkdir(parents=True)
    settings.LOCALE_PATHS = [copy / "locale"]
    monkeypatch.chdir(copy)
    call_command("makemessages", locale=["en"], no_obsolete=True, ignore_patterns=["tests/*"], verbosity=0)

    def keys(path: Path) -> set[tuple]:
        return {(e.get("msgctxt"), e["msgid"]) for e in _po_entries(path.read_text(encoding="utf-8"))
                if e.get("msgid")}

    missing = keys(copy / "locale" / "en" / "LC_MESSAGES" / "django.po") - keys(PO)
    assert missing == set(), f"new strings not in the English catalog (see module docstring): {sorted(missing)}"


def test_only_english_catalog_and_third_party_overrides_exist():
    # msgids are pt-BR already: the pt_BR catalog only overrides third-party translations
    # (DRF's "diponível" typo, the admin's "O campanha ... foi alterado"), never ours.
    assert sorted(p.name for p in LOCALE.iterdir() if p.is_dir()) == ["en", "pt_BR"]
    pt = LOCALE / "pt_BR" / "LC_MESSAGES" / "django.po"
    ours = {e["msgid"] for e in _po_entries(PO.read_text(encoding="utf-8")) if e.get("msgid")}
    overrides = {e["msgid"] for e in _po_entries(pt.read_text(encoding="utf-8")) if e.get("msgid")}
    assert overrides and not overrides & ours
    with MO.with_name("django.mo").open("rb"), (pt.with_suffix(".mo")).open("rb") as f:
        compiled = gettext.GNUTranslations(f)
    assert all(compiled.gettext(m) != m for m in overrides), "run msgfmt on locale/pt_BR (stale .mo)"
