"""Row factories for the dialer models served by the API (tenant isolation test) and tests."""

from __future__ import annotations

import itertools
from datetime import timedelta

from django.utils import timezone

from tests.factories import factory, unique

_numbers = itertools.count(10_000_000)


def phone() -> str:
    """A fresh valid São Paulo mobile in E.164."""
    return f"+55119{next(_numbers):08d}"


@factory("dialer.campaign")
def campaign(org, **kw):
    from central.dialer.models import Campaign

    return Campaign.objects.create(organization=org, **{"name": unique("campanha"), "queue": "vendas", **kw})


@factory("dialer.contact")
def contact(org, campaign_obj=None, **kw):
    from central.dialer.models import Contact

    c = campaign_obj or campaign(org)
    return Contact.objects.create(organization=org, campaign=c, **{"name": "Cliente", "phone": phone(), **kw})


@factory("dialer.donotcall")
def donotcall(org, **kw):
    from central.dialer.models import DoNotCall

    return DoNotCall.objects.create(organization=org, **{"phone": phone(), **kw})


@factory("dialer.attempt")
def attempt(org, contact_obj=None, **kw):
    from central.dialer.models import Attempt

    c = contact_obj or contact(org)
    return Attempt.objects.create(organization=org, campaign=c.campaign, contact=c, phone=c.phone, **kw)


@factory("dialer.callback")
def callback(org, contact_obj=None, **kw):
    from central.dialer.models import Callback

    c = contact_obj or contact(org)
    return Callback.objects.create(organization=org, campaign=c.campaign, contact=c,
                                   scheduled_for=timezone.now() + timedelta(hours=1), **kw)


@factory("dialer.importjob")
def importjob(org, **kw):
    from central.dialer.models import ImportJob

    return ImportJob.objects.create(organization=org, campaign=campaign(org), filename="lista.csv", **kw)
