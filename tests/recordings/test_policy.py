"""The pure rules: which attempts are recorded, the file name, the Range header."""

from __future__ import annotations

import uuid

import pytest

from central.recordings.policy import (
    ByteRange,
    Unsatisfiable,
    attempt_uid_of,
    parse_range,
    recording_filename,
    should_record,
)

pytestmark = pytest.mark.backend_free


def test_all_none_and_a_percentage_of_attempts() -> None:
    uids = [str(uuid.UUID(int=n)) for n in range(4000)]
    assert all(should_record("all", 0, u) for u in uids)
    assert not any(should_record("none", 100, u) for u in uids)
    assert not any(should_record("percent", 0, u) for u in uids)
    share = sum(should_record("percent", 25, u) for u in uids) / len(uids)
    assert 0.22 < share < 0.28
    # the same answer every time it is asked (a restarted dialer, a retry)
    assert [should_record("percent", 25, u) for u in uids[:50]] == [should_record("percent", 25, u)
                                                                      for u in uids[:50]]


def test_file_name_round_trip_and_refusals() -> None:
    uid = str(uuid.uuid4())
    assert attempt_uid_of(recording_filename(uid)) == uid
    for bad in ("../x", "a/b", ".hidden", "", "x" * 65):
        with pytest.raises(ValueError):
            recording_filename(bad)
    for name in (".abc.wav.part", "abc.mp3", "../abc.wav", "a b.wav", ".wav"):
        assert attempt_uid_of(name) is None


@pytest.mark.parametrize(("header", "expected"), [
    ("bytes=0-99", ByteRange(0, 99)),
    ("bytes=100-", ByteRange(100, 999)),
    ("bytes=500-599", ByteRange(500, 599)),
    ("bytes=-500", ByteRange(500, 999)),
    ("bytes=-5000", ByteRange(0, 999)),
    ("bytes=990-5000", ByteRange(990, 999)),
    (None, None),
    ("", None),
    ("bytes=5-2", None),          # last < first: invalid, ignored (whole file)
    ("items=0-1", None),          # not bytes
    ("bytes=0-1,5-6", None),      # several ranges: whole file
    ("bytes=abc", None),
])
def test_parse_range(header, expected) -> None:
    assert parse_range(header, 1000) == expected


@pytest.mark.parametrize("header", ["bytes=1000-", "bytes=5000-6000", "bytes=-0"])
def test_unsatisfiable_ranges(header) -> None:
    with pytest.raises(Unsatisfiable):
        parse_range(header, 1000)
