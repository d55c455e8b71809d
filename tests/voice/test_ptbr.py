"""pt-BR understanding: numbers said as words or digits, blocks, names, yes/no."""

import pytest

from central.voice import ptbr

# Touches neither the database nor Redis (checked: passes with neither reachable),
# so it runs only in the SQLite pass.
pytestmark = pytest.mark.backend_free


@pytest.mark.parametrize(
    "text, number, block",
    [
        ("apartamento trezentos e dois, bloco B", "302", "B"),
        ("Apartamento 302 bloco bê", "302", "B"),
        ("três zero dois", "302", None),
        ("quero ir no apto cento e um da torre A", "101", "A"),
        ("unidade mil e duzentos e quatro bloco dois", "1204", "2"),
        ("vinte e dois", "22", None),
        ("apartamento 1502", "1502", None),
        ("não sei", None, None),
    ],
)
def test_units(text, number, block):
    assert ptbr.parse_unit(text) == ptbr.UnitMention(number, block)


@pytest.mark.parametrize(
    "text, name",
    [
        ("Meu nome é João da Silva, apartamento 302", "João da Silva"),
        ("sou a Maria e quero ir no 101", "Maria"),
        ("aqui é o josé antônio do apartamento cinco", "José Antônio"),
        ("sou entregador", None),
        ("apartamento 302", None),
    ],
)
def test_names(text, name):
    assert ptbr.parse_name(text) == name


@pytest.mark.parametrize(
    "text, answer",
    [("1", True), ("um", True), ("pode subir", True), ("sim, autorizo", True),
     ("2", False), ("dois", False), ("não autorizo", False), ("recuso", False), ("hã?", None)],
)
def test_resident_answers(text, answer):
    assert ptbr.yes_no(text) is answer


def test_wants_human():
    assert ptbr.wants_human("quero falar com o porteiro")
    assert ptbr.wants_human("me passa pra um atendente")
    assert not ptbr.wants_human("apartamento trezentos")
