"""Consumer status over a window of polls (Burrow's way), and the payload profile."""

from __future__ import annotations

from tidegauge.streams.profile import profile_payloads
from tidegauge.streams.status import ConsumerStatus, Observation, evaluate


def obs(*pairs: tuple[float, float]) -> list[Observation]:
    return [Observation(c, lag) for c, lag in pairs]


def test_a_group_that_keeps_up_is_ok_even_with_some_lag() -> None:
    assert evaluate(obs((10, 5), (20, 3), (30, 6), (40, 2)), members=1) is ConsumerStatus.OK


def test_no_commits_while_lag_appears_is_stopped_or_stalled_by_members() -> None:
    w = obs((10, 0), (10, 5), (10, 9))
    assert evaluate(w, members=0) is ConsumerStatus.STOPPED
    assert evaluate(w, members=3) is ConsumerStatus.STALLED
    # one poll of lag is not yet a stop
    assert evaluate(obs((10, 0), (10, 0), (10, 5)), members=0) is ConsumerStatus.OK


def test_lag_growing_at_every_poll_while_committing_is_falling_behind() -> None:
    w = obs((10, 5), (20, 9), (30, 14), (40, 20))
    assert evaluate(w, members=1) is ConsumerStatus.FALLING_BEHIND
    assert evaluate(obs((10, 5), (20, 9), (30, 8), (40, 20)), members=1) is ConsumerStatus.OK


def test_an_offset_going_backwards_is_a_rewind() -> None:
    assert evaluate(obs((100, 0), (40, 60)), members=1) is ConsumerStatus.REWOUND


def test_status_codes_round_trip() -> None:
    for s in ConsumerStatus:
        assert ConsumerStatus.from_code(float(s.code)) is s


def test_profile_flattens_types_nulls_numbers_and_keeps_no_pii_values() -> None:
    prof = profile_payloads(
        [
            b'{"user": {"email": "a@x.io", "tier": "gold"}, "amount": 3, "tags": ["a", "b"]}',
            b'{"user": {"email": "b@x.io", "tier": null}, "amount": 4.5}',
            b"\xff\xfe",
            b"[1, 2]",
            b'{"big": "' + b"x" * 500 + b'"}',
        ],
        pii=["email"],
        timestamps=[1000, 2000, 3000, 4000, 5000],
        max_bytes=200,
    )
    assert (prof.messages, prof.parsed, prof.failures, prof.oversized) == (5, 2, 3, 1)
    schema = prof.schema()
    assert schema == {
        "amount": "number",
        "tags[]": "string",
        "user.email": "string",
        "user.tier": "string",
    }
    assert prof.null_rate("user.tier") == 0.5
    assert prof.fields["amount"].mean == 3.75
    assert not prof.fields["user.email"].values  # PII: counted, never kept
    assert "user.email" not in prof.categorical(50)
    assert prof.fields["user.tier"].first_seen == {"gold": 1000}


def test_a_stop_is_judged_against_the_groups_own_commit_cadence_over_the_window() -> None:
    # commits every fourth poll: three quiet polls are its habit, not a stop
    every_4 = obs(*[(float(c), 6.0) for c in (10, 10, 10, 10, 20, 20, 20, 20, 30, 30)])
    assert evaluate([*every_4, (Observation(30, 8))], members=1) is ConsumerStatus.OK
    assert evaluate([*every_4, *obs((30, 8), (30, 9), (30, 12))], members=1) is (
        ConsumerStatus.STALLED
    )
    # a group that commits at every poll is stopped after two quiet polls
    steady = obs((10, 2), (20, 2), (30, 3), (40, 2), (40, 6), (40, 9))
    assert evaluate(steady, members=0) is ConsumerStatus.STOPPED
    # lag shrinking while the offset stands (retention deleted messages): not a stop
    assert evaluate(obs((40, 2), (40, 9), (40, 4)), members=0) is ConsumerStatus.OK
