"""Every page shows times in the organization's zone and says which (issue 12, "Times").

The telephony pages used to format times with the browser's zone while the others used
the server's: a UTC browser read 09:33 on one page and 06:29 on another. Now the server
formats with ``{{ value|when }}`` in the tenant's zone, JavaScript formats with
``Central.time`` from the same zone (``<html data-tz>``), and the footer names the zone.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.utils import timezone

INSTANT = datetime(2026, 11, 24, 15, 30, 5, tzinfo=UTC)  # 12:30 in São Paulo, 11:30 in Manaus


@pytest.mark.backend_free
def test_when_filter_formats_in_the_active_zone():
    from zoneinfo import ZoneInfo

    from central.dashboard.templatetags.central_time import tz_label, when

    with timezone.override(ZoneInfo("America/Manaus")):
        assert when(INSTANT) == "24/11/2026 11:30"
        assert when(INSTANT, "short") == "24/11 11:30"
        assert when(INSTANT, "clock") == "11:30:05"
        assert tz_label() == "America/Manaus (UTC-04:00)"
    assert when(None) == ""


@pytest.mark.django_db
def test_pages_name_the_tenants_zone(tenants, client):
    org = tenants["a"]
    org.timezone = "America/Manaus"
    org.save(update_fields=["timezone"])
    client.force_login(tenants["alice"])
    for url in ("/dialer/", "/voice/", "/telephony/extensions/"):
        page = client.get(url).content.decode()
        assert 'data-tz="America/Manaus"' in page, url
        assert "Horários em America/Manaus (UTC-04:00)" in page, url
    client.force_login(tenants["bob"])  # the other tenant keeps São Paulo
    page = client.get("/dialer/").content.decode()
    assert 'data-tz="America/Sao_Paulo"' in page and "America/Sao_Paulo (UTC-03:00)" in page


@pytest.mark.django_db
def test_login_page_does_not_say_disconnected(client):
    page = client.get("/login/").content.decode()
    assert "desconectado" not in page and 'id="ws-state"' not in page  # nothing to connect yet
