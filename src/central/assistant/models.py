"""The assistant's own table: where a conversation's flow state lives between messages.

The assistant writes no other app's table (the agenda through
``central.scheduling.services``, the channel through ``central.messaging.services``);
its memory of a conversation (the flow's step, the opaque slot ids it issued, the summary
awaiting the *Confirmar* button, the LLM's recent messages) is one row per conversation.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from central.core.tenancy import TenantOwned


class AssistantSession(TenantOwned):
    """One conversation's assistant memory (``conversation`` is messaging's, read-only)."""

    conversation = models.OneToOneField("messaging.Conversation", on_delete=models.CASCADE, related_name="+", verbose_name=_("conversa"))
    engine = models.CharField(_("motor"), max_length=20, default="offline")
    state = models.JSONField(default=dict, blank=True, verbose_name=_("estado"))
    fallbacks = models.PositiveIntegerField(default=0, verbose_name=_("alternativas"))
    last_error = models.CharField(max_length=300, blank=True, verbose_name=_("último erro"))
    updated_at = models.DateTimeField(default=timezone.now, verbose_name=_("atualizado em"))

    class Meta:
        ordering = ["id"]
        verbose_name = _("sessão do assistente")
        verbose_name_plural = _("sessões do assistente")

    def __str__(self) -> str:
        return f"assistant session of conversation {self.conversation_id}"
