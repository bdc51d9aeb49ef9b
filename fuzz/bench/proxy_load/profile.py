"""Where the proxy's time goes: a summary of py-spy's raw (collapsed-stack) output, one
`frame;frame;...;leaf COUNT` line per distinct stack, root first."""

import collections
import re
from dataclasses import dataclass


_LINE = re.compile(r":\d+\)$")


@dataclass(frozen=True)
class ProfileSummary:
    samples: int
    self_top: list[tuple[str, float]]  # (frame, share of samples spent in it, not its callees)
    inclusive_top: list[tuple[str, float]]  # (frame, share of samples with it anywhere on the stack)


def summarize(raw: str, top: int = 20, root_prefix: str = "", inclusive_only: str = "") -> ProfileSummary:
    """Shares of the samples per frame. Frames are shown as py-spy names them, with `root_prefix`
    (e.g. the repository path) cut off; recursion counts a frame once per sample. The inclusive
    list keeps only frames containing `inclusive_only` (e.g. "proxy/": not asyncio's loop). Line
    numbers are dropped: a function's lines count as one frame."""
    self_n: collections.Counter = collections.Counter()
    incl_n: collections.Counter = collections.Counter()
    total = 0
    for line in raw.splitlines():
        stack, _, count = line.rstrip().rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = [_LINE.sub(")", f.replace(root_prefix, "") if root_prefix else f) for f in stack.split(";")]
        total += n
        self_n[frames[-1]] += n
        for frame in set(frames):
            if inclusive_only in frame:
                incl_n[frame] += n
    if total == 0:
        return ProfileSummary(0, [], [])
    return ProfileSummary(
        total,
        [(f, c / total) for f, c in self_n.most_common(top)],
        [(f, c / total) for f, c in incl_n.most_common(top)],
    )


def render(summary: ProfileSummary) -> str:
    if not summary.samples:
        return "profile: no samples"
    lines = [f"profile: {summary.samples} samples", "  self (time in the function itself):"]
    lines += [f"    {share:6.1%}  {frame}" for frame, share in summary.self_top]
    lines.append("  inclusive (time in the function and what it calls):")
    lines += [f"    {share:6.1%}  {frame}" for frame, share in summary.inclusive_top]
    return "\n".join(lines)
