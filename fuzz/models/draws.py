"""A scripted random source: every draw is one number u in [0, 1) the harness chose, recorded.

A probabilistic decision ("abort 30% of requests") is a function of the draw it used, so a model can
predict it exactly: with u the draw, an event of probability p/100 happens iff u < p/100, whichever
of these the proxy calls (random() < p/100, randrange(100) < p, randint(1, 100) <= p all agree).
Envoy's equivalent (runtime docs, FractionalPercent): enabled iff random % denominator < numerator.

The draws are u_i = ((first + STEP * i) % 256) / 256 for the i-th draw: one input byte moves the
first draw over the whole range in steps finer than 1%, so every percentage boundary is reachable.
"""

STEP = 97


class ScriptedRandom:
    """The subset of random.Random's interface the proxy draws with; `drawn` lists (now, u) per draw."""

    def __init__(self, first: int, clock=None) -> None:
        self.first = first & 0xFF
        self.clock = clock
        self.drawn: list = []

    def seed(self, value) -> None:
        self.first = int(value) & 0xFF

    def random(self) -> float:
        u = ((self.first + STEP * len(self.drawn)) % 256) / 256
        self.drawn.append((self.clock() if self.clock else 0, u))
        return u

    def randrange(self, start: int, stop: int | None = None) -> int:
        if stop is None:
            start, stop = 0, start
        if stop <= start:
            raise ValueError(f"empty range for randrange({start}, {stop})")
        return start + int(self.random() * (stop - start))

    def randint(self, a: int, b: int) -> int:
        return self.randrange(a, b + 1)

    def choice(self, seq):
        return seq[self.randrange(len(seq))]

    def uniform(self, a: float, b: float) -> float:
        return a + (b - a) * self.random()

    def since(self, mark: int) -> list:
        """The draws made after `mark` draws had been made (their u values)."""
        return [u for _, u in self.drawn[mark:]]
