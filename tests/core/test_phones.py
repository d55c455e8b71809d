"""Phone normalization: Brazilian formats in, E.164 out, a pt-BR reason for the rest."""

from __future__ import annotations

import pytest

from central.core.phones import (
    DDD_TIMEZONES,
    InvalidPhone,
    normalize,
    timezone_for,
    try_normalize,
)

# Touches neither the database nor Redis (checked: passes with neither reachable),
# so it runs only in the SQLite pass.
pytestmark = pytest.mark.backend_free

VALID = [
    ("(11) 98765-4321", "+5511987654321", "mobile"),
    ("11987654321", "+5511987654321", "mobile"),
    ("011987654321", "+5511987654321", "mobile"),
    ("0 15 11 98765-4321", "+5511987654321", "mobile"),  # carrier selection code 15
    ("015 11 98765 4321", "+5511987654321", "mobile"),
    ("0xx11 98765-4321", "+5511987654321", "mobile"),
    ("0XX11987654321", "+5511987654321", "mobile"),
    ("+55 11 9 8765-4321", "+5511987654321", "mobile"),
    ("+55 (11) 98765-4321", "+5511987654321", "mobile"),
    ("5511987654321", "+5511987654321", "mobile"),
    ("0055 11 98765 4321", "+5511987654321", "mobile"),
    ("11987654321.0", "+5511987654321", "mobile"),  # spreadsheet float
    (11987654321, "+5511987654321", "mobile"),
    ("(11) 3265-4321", "+551132654321", "landline"),
    ("1132654321", "+551132654321", "landline"),
    ("(68) 3223-1234", "+556832231234", "landline"),
    ("+1 212 555 0100", "+12125550100", "other"),
]


@pytest.mark.parametrize("raw,e164,kind", VALID)
def test_valid_formats(raw, e164, kind):
    phone = normalize(raw)
    assert (phone.e164, phone.kind) == (e164, kind)


def test_old_eight_digit_mobile_gets_its_ninth_digit():
    phone = normalize("11 8765-4321")
    assert phone.e164 == "+5511987654321"
    assert phone.note == "nono dígito adicionado"
    with pytest.raises(InvalidPhone):
        normalize("11 8765-4321", fix_ninth_digit=False)


INVALID = [
    ("", "telefone vazio"),
    (None, "telefone vazio"),
    ("   ", "telefone vazio"),
    ("abc", "telefone contém letras ou símbolos"),
    ("11 9876#4321", "telefone contém letras ou símbolos"),
    ("190", "telefone curto demais"),
    ("98765-4321", "telefone sem DDD"),
    ("0800 123 4567", "número não geográfico (0800/0300/4004...) não é discado"),
    ("4004-1234", "telefone sem DDD"),
    ("(20) 98765-4321", "DDD 20 não existe"),
    ("(11) 1765-4321", "número inexistente no plano de numeração (confira os dígitos)"),
    ("1234567890123456", "telefone longo demais"),
]


@pytest.mark.parametrize("raw,reason", INVALID)
def test_invalid_numbers_have_reasons(raw, reason):
    phone, why = try_normalize(raw)
    assert phone is None
    assert why == reason


@pytest.mark.parametrize("raw,zone", [
    ("(11) 98765-4321", "America/Sao_Paulo"),
    ("(68) 99999-1234", "America/Rio_Branco"),  # Acre, UTC-5
    ("(69) 99999-1234", "America/Porto_Velho"),  # Rondônia, UTC-4
    ("(65) 99999-1234", "America/Cuiaba"),  # Mato Grosso
    ("(67) 99999-1234", "America/Campo_Grande"),
    ("(92) 99999-1234", "America/Manaus"),
    ("(95) 99999-1234", "America/Boa_Vista"),
    ("(81) 3222-1234", "America/Recife"),  # phonenumbers alone says Noronha here
    ("(81) 3619-1234", "America/Noronha"),  # Fernando de Noronha, UTC-2
    ("+44 20 7946 0958", "Europe/London"),
])
def test_timezone_by_ddd(raw, zone):
    assert normalize(raw).timezone == zone


def test_every_ddd_has_a_real_zone():
    from zoneinfo import ZoneInfo

    assert len(DDD_TIMEZONES) == 67
    for zone in set(DDD_TIMEZONES.values()):
        ZoneInfo(zone)
    assert timezone_for("+552098765432") == ""  # unknown DDD: no guess


def test_fast_path_agrees_with_phonenumbers():
    import random

    from central.core.phones import normalize_slow

    rng = random.Random(4)
    shapes = ["{d}{n}", "({d}) {a}-{b}", "0{d}{n}", "0{d} {a} {b}"]
    for _ in range(20000):
        ddd = str(rng.randint(10, 99))
        n = "".join(rng.choice("0123456789") for _ in range(rng.choice((8, 9))))
        text = rng.choice(shapes).format(d=ddd, n=n, a=n[:-4], b=n[-4:])
        fast, fast_err = try_normalize(text)
        try:
            slow, slow_err = normalize_slow(text), ""
        except InvalidPhone as exc:
            slow, slow_err = None, exc.reason
        assert (fast, fast_err) == (slow, slow_err), text
