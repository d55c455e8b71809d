"""The agent's page rules (central.dialer.desk) and real wrap-up in the agent board and the
planner: pure, no database."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from central.dialer import desk
from central.dialer.core import AgentBoard, agent_first_request
from central.dialer.desk import DispositionError, plan_disposition
from central.dialer.planner import PlanScenario, agent_views, simulate
from central.simulator.world import World, WorldConfig

pytestmark = pytest.mark.backend_free

NOW = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)
DEFAULTS = desk.dispositions_of(None)


class Msg(dict):
    def __init__(self, name, **fields):
        super().__init__(fields)
        self.name = name


# --- dispositions --------------------------------------------------------------------------

def test_defaults_are_the_issue_list():
    assert [d["label"] for d in DEFAULTS] == ["Venda", "Sem interesse", "Agendar retorno", "Número errado",
                                              "Não ligar mais"]
    assert desk.validate_dispositions(DEFAULTS) == []


@pytest.mark.parametrize("code,status,dnc", [
    ("venda", "done", False), ("sem_interesse", "done", False), ("numero_errado", "invalid", False),
    ("nao_ligar_mais", "dnc", True)])
def test_plain_dispositions(code, status, dnc):
    plan = plan_disposition(DEFAULTS, code, callback_at=None, now=NOW)
    assert (plan.contact_status, plan.dnc, plan.callback_at) == (status, dnc, None)


def test_callback_disposition_needs_a_future_time():
    with pytest.raises(DispositionError) as e:
        plan_disposition(DEFAULTS, "agendar_retorno", callback_at=None, now=NOW)
    assert e.value.code == "callback_required"
    with pytest.raises(DispositionError) as e:
        plan_disposition(DEFAULTS, "agendar_retorno", callback_at=NOW - timedelta(minutes=1), now=NOW)
    assert e.value.code == "callback_past"
    with pytest.raises(DispositionError) as e:
        plan_disposition(DEFAULTS, "agendar_retorno", callback_at=NOW + timedelta(days=400), now=NOW)
    assert e.value.code == "callback_far"
    plan = plan_disposition(DEFAULTS, "agendar_retorno", callback_at=NOW + timedelta(hours=2), now=NOW)
    assert plan.contact_status == "pending" and plan.callback_at == NOW + timedelta(hours=2)


def test_optional_callback_keeps_the_contact_but_not_for_dnc_or_wrong_number():
    plan = plan_disposition(DEFAULTS, "sem_interesse", callback_at=NOW + timedelta(days=30), now=NOW)
    assert plan.contact_status == "pending"
    for code in ("nao_ligar_mais", "numero_errado"):
        with pytest.raises(DispositionError) as e:
            plan_disposition(DEFAULTS, code, callback_at=NOW + timedelta(days=1), now=NOW)
        assert e.value.code == "callback_forbidden"


def test_unknown_code_is_refused():
    with pytest.raises(DispositionError) as e:
        plan_disposition(DEFAULTS, "venda'; drop", callback_at=None, now=NOW)
    assert (e.value.code, e.value.field) == ("unknown", "code")


def test_settings_text_round_trip_and_errors():
    items = desk.parse_dispositions("Venda\nLigar amanhã = retorno\n\nCliente já tem = nao ligar\n")
    assert items == [{"code": "venda", "label": "Venda", "effect": "done"},
                     {"code": "ligar_amanha", "label": "Ligar amanhã", "effect": "callback"},
                     {"code": "cliente_ja_tem", "label": "Cliente já tem", "effect": "dnc"}]
    assert desk.parse_dispositions(desk.format_dispositions(DEFAULTS)) == DEFAULTS
    for text, code in (("Venda = voar", "bad_effect"), ("Venda\nvenda", "duplicate"), ("", "empty"),
                       ("!!!", "label")):
        with pytest.raises(DispositionError) as e:
            desk.parse_dispositions(text)
        assert e.value.code == code


def test_broken_stored_list_falls_back_to_defaults():
    assert desk.dispositions_of([{"code": "x", "label": "X", "effect": "explode"}]) == DEFAULTS
    custom = [{"code": "ok", "label": "Ok", "effect": "done"}]
    assert desk.dispositions_of(custom) == custom


# --- callback time -----------------------------------------------------------------------------

def test_callback_time_is_read_in_the_contact_zone():
    # 10:00 in Manaus (UTC-4) and in São Paulo (UTC-3) are different instants.
    assert desk.callback_instant("2026-03-11", "10:00", "America/Manaus") == datetime(2026, 3, 11, 14, 0, tzinfo=UTC)
    assert desk.callback_instant("2026-03-11", "10:00", "America/Sao_Paulo") == datetime(2026, 3, 11, 13, 0, tzinfo=UTC)
    for day, hhmm, zone, code in (("11/03/2026", "10:00", "America/Sao_Paulo", "callback_format"),
                                  ("2026-03-11", "25:00", "America/Sao_Paulo", "callback_format"),
                                  ("2026-03-11", "10:00", "Mars/Olympus", "callback_zone")):
        with pytest.raises(DispositionError) as e:
            desk.callback_instant(day, hhmm, zone)
        assert e.value.code == code


def test_wrapup_seconds():
    assert desk.wrapup_seconds(100.0, 130.0, 0) == 30.0
    assert desk.wrapup_seconds(100.0, 130.0, 20) == 20.0
    assert desk.wrapup_seconds(100.0, 90.0, 20) == 0.0  # saved during the call
    assert desk.wrapup_seconds(None, 90.0, 20) == 0.0


# --- scripts -------------------------------------------------------------------------------------

def test_script_substitutes_escapes_and_keeps_unknown_fields():
    fields = desk.contact_fields("Ana <b>", "+5511987654321", {"Cidade": "São Paulo", "Plano": "<script>x</script>"},
                                 {"campanha": "Vendas"})
    segs = desk.script_segments("Olá {nome}, de {cidade}? {Plano} {cpf} {{literal}}\n{campanha}", fields)
    assert segs == [("text", "Olá "), ("field", "Ana <b>"), ("text", ", de "), ("field", "São Paulo"),
                    ("text", "? "), ("field", "<script>x</script>"), ("text", " "), ("unknown", "{cpf}"),
                    ("text", " {literal}\n"), ("field", "Vendas")]
    out = desk.render_script_html("Oi {nome} {Plano} {cpf}\nfim", fields)
    assert "<script>" not in out and "&lt;script&gt;" in out and "&lt;b&gt;" in out
    assert '<code class="script-unknown">{cpf}</code>' in out and "<br>fim" in out


def test_script_field_names_ignore_accents_and_case():
    fields = desk.contact_fields("Ana", "+55", {"Endereço Residencial": "Rua A"})
    assert desk.script_segments("{endereco_residencial}", fields) == [("field", "Rua A")]
    assert desk.script_segments("", fields) == []
    assert desk.script_segments("{ nome }", fields) == [("text", "{ nome }")]


# --- real wrap-up in the agent board ---------------------------------------------------------------

def _board(limit: float) -> AgentBoard:
    board = AgentBoard()
    if limit:
        board.real_wrapup["sales"] = limit
    board.on_event(Msg("QueueMemberAdded", Queue="sales", Interface="PJSIP/2001", Status="1", Paused="0",
                       Wrapuptime="5"), 0.0)
    board.on_event(Msg("QueueMemberStatus", Queue="sales", Interface="PJSIP/2001", Status="2", Paused="0"), 10.0)
    board.on_event(Msg("AgentComplete", Queue="sales", Interface="PJSIP/2001"), 100.0)
    board.on_event(Msg("QueueMemberStatus", Queue="sales", Interface="PJSIP/2001", Status="1", Paused="0"), 100.0)
    return board


def test_fixed_wrapup_frees_the_agent_after_the_queue_wrapuptime():
    board = _board(0)
    assert board.views("sales", 104.0) == [("wrapup", 100.0)]
    assert board.views("sales", 106.0)[0][0] == "free"


def test_real_wrapup_lasts_until_the_disposition():
    board = _board(120)
    assert board.views("sales", 130.0) == [("wrapup", 100.0)]  # still typing, past the queue's 5 s
    assert board.disposition_saved("PJSIP/2001", 131.0) == pytest.approx(31.0)
    assert board.views("sales", 131.0)[0][0] == "free"
    assert board.disposition_saved("PJSIP/2001", 140.0) is None  # nothing pending


def test_real_wrapup_ends_at_the_campaign_limit_and_never_before_the_queue_one():
    board = _board(20)
    assert board.views("sales", 119.0)[0][0] == "wrapup"
    assert board.views("sales", 121.0)[0][0] == "free"
    board = _board(120)
    assert board.disposition_saved("PJSIP/2001", 101.0) == pytest.approx(1.0)
    assert board.views("sales", 103.0)[0][0] == "wrapup"  # app_queue's Wrapuptime still runs
    assert board.views("sales", 105.5)[0][0] == "free"


def test_disposition_saved_during_the_call_means_no_wrapup_after_it():
    board = AgentBoard()
    board.real_wrapup["sales"] = 120
    board.on_event(Msg("QueueMemberAdded", Queue="sales", Interface="PJSIP/2001", Status="1", Paused="0"), 0.0)
    board.on_event(Msg("QueueMemberStatus", Queue="sales", Interface="PJSIP/2001", Status="2", Paused="0"), 10.0)
    assert board.disposition_saved("PJSIP/2001", 50.0) is None
    board.on_event(Msg("AgentComplete", Queue="sales", Interface="PJSIP/2001"), 100.0)
    board.on_event(Msg("QueueMemberStatus", Queue="sales", Interface="PJSIP/2001", Status="1", Paused="0"), 100.0)
    assert board.views("sales", 100.5)[0][0] == "free"


# --- the planner's two views of wrap-up ---------------------------------------------------------------

def test_planner_fixed_view_shows_typing_agents_as_free():
    world = World(WorldConfig(agents=1, wrapup_time=30.0, wrapup_sigma=0.0))
    world._agents["agent1"].state, world._agents["agent1"].since = "wrapup", 100.0
    assert agent_views(world, 110.0) == [("wrapup", 100.0)]
    assert agent_views(world, 110.0, queue_wrapup=5.0) == [("free", 105.0)]


def test_real_wrapup_seen_by_the_pacing_beats_the_fixed_view():
    """Predictive pacing that sees the agents' real wrap-up (their dispositions) against
    the same pacing seeing only the queue's fixed 5 s, same seed: agents still typing look
    free to the latter, so it strands callers, and its abandonment controller then dials
    less. Measured at length in bench/pacing.py (docs/agents.md)."""
    base = PlanScenario(agents=10, hours=1.0, wrapup_time=20.0, wrapup_sigma=0.6, seed=2)
    real = simulate(base, base.params("predictive"))
    fixed = simulate(replace(base, queue_wrapup=5.0), base.params("predictive"))
    assert real.abandon_rate <= 0.03 < fixed.abandon_rate
    assert real.occupancy > fixed.occupancy + 0.05


def test_agent_first_originate_rings_the_agent_then_dials_the_number():
    req = agent_first_request(uid="u1", interface="PJSIP/2001", phone="+5511987654321", dial_context="discador-out",
                              queue="vendas", caller_id="1133334444", use_0303=False, ring_timeout_s=30, campaign_id=7)
    assert (req["channel"], req["context"], req["exten"], req["channel_id"]) == (
        "PJSIP/2001", "discador-out", "+5511987654321", "u1")
    assert req["variables"]["CENTRAL_ATTEMPT_ID"] == "u1"
