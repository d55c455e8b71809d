"""One row per call recording Central holds.

The file is Asterisk's MixMonitor output, named by the dialer's attempt id
(:func:`central.recordings.policy.recording_filename`), moved by the indexer from the
spool into Central's store under ``<organization id>/<yyyy>/<mm>/``. ``path`` is relative
to the store and is always built by the indexer from ids, never from a request.

Order of arrival: Asterisk creates the file when the call is answered and closes it at
the hangup; the call record (CDR) is written by the PBX link at the hangup too. The
indexer takes a file only once its call record exists (the call is over, the file is
complete), so ``call_record`` is normally set at creation; a file whose call record never
comes is indexed after a grace period against its attempt (its tenant is the attempt's)
and linked later if the record shows up. ``SET_NULL``: the call record's own retention may
delete it first; the recording then follows its own retention.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone as dj_timezone
from django.utils.translation import gettext_lazy as _

from central.core.tenancy import TenantOwned


class Recording(TenantOwned):
    attempt_uid = models.CharField(_("tentativa"), max_length=64, unique=True)
    call_record = models.ForeignKey("telephony.CallRecord", verbose_name=_("registro de chamada"), null=True,
                                    blank=True, on_delete=models.SET_NULL, related_name="recordings")
    campaign_id = models.CharField(_("campanha"), max_length=64, blank=True, db_index=True)
    #: The interface that took the call (``PJSIP/2001``): what an agent's own recordings
    #: are matched by (central.agents identity).
    agent = models.CharField(_("interface do agente"), max_length=120, blank=True, db_index=True)
    path = models.CharField(max_length=300, editable=False, verbose_name=_("caminho"))
    size = models.BigIntegerField(_("tamanho (bytes)"), default=0)
    duration = models.FloatField(_("duração (s)"), null=True, blank=True)
    content_type = models.CharField(max_length=40, default="audio/wav", verbose_name=_("tipo de conteúdo"))
    started_at = models.DateTimeField(_("início da chamada"), db_index=True)
    created_at = models.DateTimeField(_("indexada em"), default=dj_timezone.now)

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["organization", "-started_at"], name="recording_org_started")]
        verbose_name = _("gravação")
        verbose_name_plural = _("gravações")

    def __str__(self) -> str:
        return self.attempt_uid
