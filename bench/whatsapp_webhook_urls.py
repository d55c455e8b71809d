"""URLs for bench/whatsapp_webhook.py's server: Central's, plus the naive view.

``/bench/naive-webhook`` is the naive view the issue asks to compare with: verify the
signature, parse, and process every event fully (ORM writes, the reply decided and
queued) *before* answering, with the same processing code as the background job.
"""

from django.db import transaction
from django.http import HttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from central.core.parsers import loads
from central.messaging import cloudapi, inbound
from central.messaging.models import WebhookEvent
from central.messaging.numbers import app_secrets, directory
from central.urls import urlpatterns as central_urlpatterns


@csrf_exempt
def naive_webhook(request):
    body = request.body
    header = request.META.get(cloudapi.SIGNATURE_HEADER)
    secret = next((s for s in app_secrets() if cloudapi.signature_valid(s, body, header)), None)
    if secret is None:
        return HttpResponse(status=403)
    numbers = directory()
    for event in cloudapi.split_delivery(loads(body)):
        info = numbers[event.phone_number_id]
        with transaction.atomic():
            row, created = WebhookEvent.objects.get_or_create(
                key=event.key, defaults={"organization_id": info.organization_id, "number_id": info.id,
                                         "kind": event.kind, "payload": event.payload})
        if created:
            inbound.process_event(row.pk)  # effects and the reply, before the 200
    return HttpResponse("ok")


urlpatterns = [path("bench/naive-webhook", naive_webhook), *central_urlpatterns]
