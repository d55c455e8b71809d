"""Q.850 hangup causes in the user's language: ONE table for every page and export.

Asterisk reports a channel's end as a Q.850 cause code with an English text
(``Hangup`` ``Cause``/``Cause-txt``; the names are main/causes.c and
include/asterisk/causes.h of Asterisk 22.10.1). A call record keeps both as Asterisk
sent them (``CallRecord.hangup_cause`` / ``hangup_cause_text``); what a supervisor reads
is :func:`cause_label`: the code's pt-BR wording (English in the catalog), or Asterisk's
own text for a code this table does not know, never a bare number.

The English texts the PBX link knows are in :data:`central.telephony.cdr.HANGUP_CAUSES`;
``tests/telephony/test_calls_page.py`` checks every one of them has a label here.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

__all__ = ["CAUSE_LABELS", "cause_label"]

#: Q.850 cause code -> label (include/asterisk/causes.h, every code Asterisk names).
CAUSE_LABELS = {
    0: _("Desconhecida"),
    1: _("Número inexistente"),
    2: _("Sem rota para a rede indicada"),
    3: _("Sem rota para o destino"),
    5: _("Prefixo de tronco incorreto"),
    6: _("Canal inaceitável"),
    7: _("Chamada entregue em canal já estabelecido"),
    8: _("Preempção"),
    14: _("Número portado: consulta necessária"),
    16: _("Desligamento normal"),
    17: _("Usuário ocupado"),
    18: _("Usuário não responde"),
    19: _("Tocou e não atendeu"),
    20: _("Assinante ausente"),
    21: _("Chamada rejeitada"),
    22: _("Número mudou"),
    23: _("Redirecionada para novo destino"),
    26: _("Liberação de usuário não selecionado"),
    27: _("Destino fora de serviço"),
    28: _("Número em formato inválido (incompleto)"),
    29: _("Facilidade rejeitada"),
    30: _("Resposta a consulta de estado"),
    31: _("Normal, não especificada"),
    34: _("Nenhum circuito disponível (congestionamento)"),
    38: _("Rede fora de serviço"),
    41: _("Falha temporária"),
    42: _("Congestionamento no equipamento de comutação"),
    43: _("Informação de acesso descartada"),
    44: _("Canal solicitado indisponível"),
    47: _("Recurso indisponível, não especificado"),
    49: _("Qualidade de serviço indisponível"),
    50: _("Facilidade solicitada não contratada"),
    53: _("Chamadas de saída bloqueadas no grupo fechado"),
    55: _("Chamadas de entrada bloqueadas no grupo fechado"),
    57: _("Capacidade do portador não autorizada"),
    58: _("Capacidade do portador indisponível no momento"),
    65: _("Capacidade do portador não implementada"),
    66: _("Tipo de canal não implementado"),
    69: _("Facilidade solicitada não implementada"),
    81: _("Referência de chamada inválida"),
    88: _("Destino incompatível"),
    95: _("Mensagem inválida, não especificada"),
    96: _("Elemento de informação obrigatório ausente"),
    97: _("Tipo de mensagem inexistente ou não implementado"),
    98: _("Mensagem inexistente ou incompatível com o estado da chamada"),
    99: _("Elemento de informação inexistente"),
    100: _("Conteúdo de elemento de informação inválido"),
    101: _("Mensagem incompatível com o estado da chamada"),
    102: _("Tempo esgotado na recuperação"),
    111: _("Erro de protocolo, não especificado"),
    127: _("Erro de interconexão, não especificado"),
}


def cause_label(code: int | None, text: str = "") -> str:
    """What to show for a hangup cause: the code's label, Asterisk's text, or ""."""
    if code is not None and code in CAUSE_LABELS:
        return str(CAUSE_LABELS[code])
    if text:
        return text
    return "" if code is None else str(code)
