"""bench harnesses names the seed that costs the most of a replay cycle and the median seed's rate."""

from fuzz.bench.harness_speed import seed_costs, spread


def _work(data: bytes) -> None:
    if data == b"boom":
        raise ValueError("a crash input still costs its time")
    for _ in range(len(data) * 20_000):
        pass


def test_the_costliest_seed_and_the_median_are_named():
    named = [("slow", b"x" * 20), ("a", b"x"), ("b", b"x"), ("crash", b"boom")]
    costs = seed_costs(_work, named)
    assert [name for _, name in costs][0] == "slow"
    share, costliest, median = spread(costs)
    assert costliest == "slow" and share > 0.5
    assert median > 1 / costs[0][0]  # the median seed is one of the cheap ones
