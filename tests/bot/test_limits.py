import math

from bot.limits import Limiter


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_burst_then_refill_at_the_configured_rate():
    clock = Clock()
    limiter = Limiter(requests_per_minute=6, burst=3, daily_audio_seconds=0, clock=clock)
    assert [True, True, True, False] == [limiter.take("u").allowed for _ in range(4)]
    refused = limiter.take("u")
    assert 10.0 == round(refused.retry_after_s, 6)  # one token every 10 s at 6/min
    clock.t = 10.0
    assert True is limiter.take("u").allowed
    assert False is limiter.take("u").allowed


def test_users_do_not_share_a_bucket():
    limiter = Limiter(requests_per_minute=1, burst=1, daily_audio_seconds=0, clock=Clock())
    assert True is limiter.take("telegram:1").allowed
    assert False is limiter.take("telegram:1").allowed
    assert True is limiter.take("telegram:2").allowed


def test_daily_quota_counts_audio_seconds_and_resets_each_day():
    day = ["2026-11-24"]
    limiter = Limiter(requests_per_minute=0, burst=1, daily_audio_seconds=60,
                      clock=Clock(), today=lambda: day[0])
    assert 60.0 == limiter.take("u").quota_left_s
    limiter.spend_audio("u", 45)
    assert (True, 15.0) == (limiter.take("u").allowed, limiter.take("u").quota_left_s)
    limiter.spend_audio("u", 20)
    refused = limiter.take("u")
    assert (False, 0.0) == (refused.allowed, refused.quota_left_s)
    day[0] = "2026-11-25"
    assert True is limiter.take("u").allowed


def test_zero_disables_both_limits():
    limiter = Limiter(requests_per_minute=0, burst=1, daily_audio_seconds=0, clock=Clock())
    decisions = [limiter.take("u") for _ in range(100)]
    assert all(d.allowed for d in decisions)
    assert math.inf == decisions[-1].quota_left_s
