"""The concierge state machines, pure: every path in microseconds."""

import pytest

from central.voice.flows.concierge import (
    PHRASES,
    CallResident,
    EndCall,
    Finish,
    Outcome,
    ResidentFlow,
    Resolve,
    Say,
    State,
    Transfer,
    VisitorFlow,
)
from central.voice.providers.base import Interpretation
from central.voice.providers.reply import RuleEngine
from tests.voice.helpers import extension

# Touches neither the database nor Redis (checked: passes with neither reachable),
# so it runs only in the SQLite pass.
pytestmark = pytest.mark.backend_free


def flow(**kw) -> VisitorFlow:
    f = VisitorFlow(extension(**kw), "visit-1")
    f.start(0.0)
    return f


def dtmf(f, digits, t=1.0):
    out = []
    for d in digits:
        out += f.on_dtmf(d, t)
    return out


def hear(f, text, t=1.0):
    return f.on_utterance(text, RuleEngine.interpret_now(text), t)


def test_start_greets_then_asks_for_unit():
    f = VisitorFlow(extension(), "v")
    actions = f.start(0.0)
    assert actions == [Say(extension().greeting, "greeting"), Say(PHRASES["ask_unit"], "ask_unit")]
    assert "tecle jogo da velha" in PHRASES["ask_unit"]


def test_dtmf_unit_calls_its_resident():
    f = flow()
    actions = dtmf(f, "302#")
    assert actions[0] == Say(PHRASES["calling"], "calling")
    call = actions[1]
    assert isinstance(call, CallResident) and call.unit.label == "302 bloco B"
    assert call.residents[0].extension == "PJSIP/1101" and call.visit_id == "visit-1"
    assert f.state is State.CALLING


def test_star_clears_digits():
    f = flow()
    assert dtmf(f, "99*302#")[1].unit.number == "302"


def test_ambiguous_number_asks_block_by_dtmf_index():
    f = flow()
    actions = dtmf(f, "101#")
    assert f.state is State.ASK_BLOCK and "1 para bloco A, 2 para bloco B" in actions[0].text
    actions = dtmf(f, "2#")
    assert isinstance(actions[1], CallResident) and actions[1].residents[0].name == "Carla Dias"


def test_speech_with_name_and_unit():
    f = flow()
    actions = hear(f, "meu nome é João Pereira, apartamento trezentos e dois bloco B")
    assert isinstance(actions[1], CallResident) and actions[1].visitor_name == "João Pereira"


def test_speech_without_name_asks_for_it_once():
    f = flow()
    assert hear(f, "apartamento cento e um bloco A") == [Say(PHRASES["ask_name"], "ask_name")]
    actions = hear(f, "Roberto")
    assert isinstance(actions[1], CallResident) and actions[1].visitor_name == "Roberto"


def test_unknown_unit_three_times_transfers_to_human():
    f = flow()
    assert dtmf(f, "999#") == [Say(PHRASES["not_found"], "not_found")]
    dtmf(f, "998#")
    actions = dtmf(f, "997#")
    assert Transfer("1000", "3 failed attempts") in actions and actions[-1] == EndCall()
    assert Finish(Outcome.TRANSFERRED) in actions and f.outcome is Outcome.TRANSFERRED
    assert [e for _, e, _ in f.audit].count("unit_not_found") == 3


def test_visitor_asks_for_human():
    f = flow()
    actions = hear(f, "quero falar com o porteiro")
    assert any(isinstance(a, Transfer) for a in actions)
    f2 = flow()
    assert any(isinstance(a, Transfer) for a in dtmf(f2, "0#"))


def test_no_concierge_extension_ends_politely():
    f = flow(concierge_extension="")
    actions = hear(f, "quero falar com um atendente")
    assert actions == [Say(PHRASES["goodbye"], "goodbye"), Finish(Outcome.FAILED), EndCall()]


def test_unit_without_residents_transfers():
    f = flow()
    actions = dtmf(f, "404#")
    assert any(isinstance(a, Transfer) for a in actions)


def test_resident_answers_reach_visitor():
    for outcome, key in [(Outcome.AUTHORIZED, "authorized"), (Outcome.DENIED, "denied")]:
        f = flow()
        dtmf(f, "302#")
        actions = f.on_resident_answer(outcome, 5.0)
        assert actions == [Say(PHRASES[key], key), Finish(outcome), EndCall()]
    f = flow()
    dtmf(f, "302#")
    actions = f.on_resident_answer(Outcome.NO_ANSWER, 5.0)
    assert Say(PHRASES["no_answer"], "no_answer") in actions and any(isinstance(a, Transfer) for a in actions)
    assert f.outcome is Outcome.NO_ANSWER


def test_provider_failure_apologizes_and_offers_dtmf():
    f = flow()
    assert f.on_provider_failure("stt down", 1.0) == [Say(PHRASES["apology"], "apology")]
    assert "digite" in PHRASES["apology"]


def test_hangup_mid_call_is_abandoned():
    f = flow()
    assert f.on_hangup(2.0) == [Finish(Outcome.ABANDONED)]
    assert f.on_hangup(3.0) == []


def test_early_end_of_turn_needs_a_complete_answer():
    f = flow()
    assert not f.is_complete(Interpretation(unit="302"))
    assert f.is_complete(Interpretation(unit="302", visitor_name="Ana"))
    assert f.is_complete(Interpretation(wants_human=True))


def test_resident_flow_dtmf_and_speech():
    r = ResidentFlow("visit-1", "João", "302 bloco B", "Condomínio Jardim")
    briefing = r.start(0.0)
    assert "João está na portaria para o apartamento 302 bloco B" in briefing[0].text
    assert briefing[1].text == PHRASES["resident_options"]
    assert r.on_dtmf("1", 1.0)[0] == Resolve("visit-1", Outcome.AUTHORIZED)
    assert r.on_dtmf("2", 1.0) == []  # decided once
    r2 = ResidentFlow("v", "João", "302")
    r2.start(0.0)
    assert r2.on_utterance("não, pode mandar embora", RuleEngine.interpret_now("não"), 1.0)[0] == Resolve(
        "v", Outcome.DENIED
    )


def test_resident_flow_unclear_three_times_is_no_answer():
    r = ResidentFlow("v", "João", "302")
    r.start(0.0)
    again = r.on_utterance("alô?", RuleEngine.interpret_now("alô?"), 0.5)  # barged in: repeat
    assert again[0].text == r.briefing and again[1].key == "resident_options"
    assert r.on_dtmf("5", 1.0) == [Say(PHRASES["resident_options"], "resident_options")]
    actions = r.on_no_input(3.0)
    assert Resolve("v", Outcome.NO_ANSWER) in actions and actions[-1] == EndCall()
