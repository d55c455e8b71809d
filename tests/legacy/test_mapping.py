"""The pure mapping of legacy rows (central.legacy.mapping): no database."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from central.legacy import mapping

# Touches neither the database nor Redis (checked: passes with neither reachable),
# so it runs only in the SQLite pass.
pytestmark = pytest.mark.backend_free

SP = ZoneInfo("America/Sao_Paulo")


def test_repairs_utf8_written_through_latin1_once_and_twice():
    assert mapping.repair_text("JoÃ£o GonÃ§alves") == ("João Gonçalves", "UTF-8 gravado como latin1")
    fixed, how = mapping.repair_text("ConceiÃƒÂ§ÃƒÂ£o")
    assert fixed == "Conceição" and "2 vezes" in how


def test_leaves_right_text_alone():
    for name in ("José Araújo", "Ângela Simões", "Maria", "D'Ávila & Cia", "“Loja” ﬁna", ""):
        assert mapping.repair_text(name) == (name, "")
    assert mapping.repair_text(None) == ("", "")
    assert mapping.repair_text(b"Jo\xe3o") == ("João", "")  # latin1 bytes from a BLOB column


def _contact(**kw):
    row = {"id": 5, "campaign_id": 1, "name": "Ana", "phone_number": "(11) 98765-4321", "alternate_phone": None,
           "attempts": 0, "max_attempts": 3, "last_attempt": None, "next_attempt": None, "status": "pending",
           "result": None, "created_at": None}
    row.update(kw)
    return mapping.map_contact(row, SP)


def test_phones_in_legacy_shapes():
    m = _contact(phone_number="(11) 9999-9999")
    assert m.values["phone"] == "+5511999999999"
    assert {n.kind for n in m.notes} == {"phone_ninth_digit", "phone_normalised"}
    assert _contact(phone_number="011999999999").values["phone"] == "+5511999999999"
    assert _contact(phone_number="+5511987654321").notes == []


def test_invalid_phone_rejects_the_row_with_the_dialer_reason():
    m = _contact(phone_number="0800 123 4567")
    assert m.rejected
    assert m.notes[0].kind == "phone_rejected" and "não geográfico" in m.notes[0].detail
    assert _contact(phone_number=None).notes[0].detail == "telefone vazio"


def test_alternate_phone_blank_invalid_and_same():
    assert _contact(alternate_phone="   ").values["alt_phones"] == []
    m = _contact(alternate_phone="12")
    assert m.values["alt_phones"] == [] and "alt_phone_rejected" in {n.kind for n in m.notes}
    assert _contact(alternate_phone="11987654321").values["alt_phones"] == []
    assert _contact(alternate_phone="(21) 3234-5678").values["alt_phones"] == ["+552132345678"]


def test_attempt_history_and_next_attempt_kept_in_the_site_zone():
    last = dt.datetime(2024, 3, 1, 10, 0)
    m = _contact(attempts=2, last_attempt=last, next_attempt=last + dt.timedelta(hours=2), result="busy")
    v = m.values
    assert v["attempts"] == 2 and v["last_result"] == "busy"
    assert v["last_attempt_at"] == dt.datetime(2024, 3, 1, 13, 0, tzinfo=dt.UTC)
    assert v["next_attempt_at"] == dt.datetime(2024, 3, 1, 15, 0, tzinfo=dt.UTC)
    # A finished contact has no next attempt; zero dates are no dates.
    done = _contact(status="completed", next_attempt=last, last_attempt="0000-00-00 00:00:00").values
    assert done["status"] == "done" and done["next_attempt_at"] is None and done["last_attempt_at"] is None


def _campaign(**kw):
    row = {"id": 3, "name": "Cobrança", "status": "active", "max_channels": 20, "impulse_factor": 2.5,
           "max_multiplier": 3.0, "start_time": dt.timedelta(hours=8, minutes=30), "end_time": dt.timedelta(hours=18),
           "created_at": dt.datetime(2024, 1, 2, 8, 0), "updated_at": None}
    row.update(kw)
    return mapping.map_campaign(row, SP)


def test_campaign_ratio_pacing_and_hours():
    v = _campaign().values
    assert v["pacing_mode"] == "ratio" and v["dial_ratio"] == 2.5 and v["max_channels"] == 20
    assert v["working_hours"]["mon"] == [["08:30", "18:00"]]
    assert v["working_hours"]["sat"] == [["10:00", "16:00"]] and v["working_hours"]["sun"] == []
    assert v["status"] == "paused"  # never dials on import
    assert _campaign(impulse_factor=5.0).values["dial_ratio"] == 3.0  # capped by max_multiplier


def test_campaign_null_or_overnight_times_keep_the_defaults():
    m = _campaign(start_time=None, end_time=None)
    assert "working_hours" not in m.values and any(n.field == "start_time" for n in m.notes)
    assert "working_hours" not in _campaign(start_time=dt.timedelta(hours=22), end_time=dt.timedelta(hours=2)).values
    assert _campaign(end_time=dt.timedelta(0)).values["working_hours"]["mon"] == [["08:30", "24:00"]]


def test_ai_extension_char_padding_and_text_ports():
    row = {"extension_ia_id": 1, "extension_ia_number": "1901" + " " * 46, "extension_ia_return": "1902   ",
           "extension_ia_ip": "0.0.0.0  ", "extension_ia_number_port": "8080  ", "condominium_id": 7,
           "extension_ia_return_port": " 8081 "}
    v = mapping.map_ai_extension(row).values
    assert v == {"number": "1901", "return_number": "1902", "bind_ip": "0.0.0.0", "port": 8080, "return_port": 8081,
                 "condominium_id": 7}
    assert mapping.map_ai_extension({**row, "extension_ia_number_port": "80a"}).rejected
    assert mapping.map_ai_extension({**row, "extension_ia_ip": "example.com"}).rejected


def test_every_utf8_letter_read_as_cp1252_or_latin1_is_caught_by_the_prefilter():
    """The cheap filter in front of ftfy must never hide real mojibake: every Portuguese
    (and Latin-1) letter written as UTF-8 and read back as cp1252 or latin1 passes it."""
    import string

    letters = [chr(c) for c in range(0xC0, 0x100) if chr(c).isalpha()] + list("€ŒœŠšŸŽžƒ")
    def mariadb_latin1(data: bytes) -> str:
        # MariaDB's latin1 is cp1252 with its 5 undefined bytes kept as U+0081...
        out = []
        for b in data:
            try:
                out.append(bytes([b]).decode("cp1252"))
            except UnicodeDecodeError:
                out.append(chr(b))
        return "".join(out)

    for ch in letters:
        for broken in (ch.encode("utf-8").decode("latin-1"), mariadb_latin1(ch.encode("utf-8"))):
            assert broken != ch and mapping._MAYBE_MOJIBAKE.search(broken), (ch, broken)
            if ch in "áàâãéêíóôõúüçÁÀÂÃÉÊÍÓÔÕÚÜÇ":  # ftfy's own judgement decides the rarer ones
                assert mapping.repair_text(f"Jo{broken}o")[0] == f"Jo{ch}o"
    assert not mapping._MAYBE_MOJIBAKE.search("João Conceição Ângela Íris Úrsula " + string.ascii_letters)
    assert mapping.repair_text("Jose\u0301") == ("José", "normalização Unicode")
