"""PNG charts of fuzzing runs and benchmarks (matplotlib, no display needed).

run_chart(samples, path, title)        coverage (cov, ft) and exec/s of one run against time
curves(path, title, xlabel, ylabel, series, step=False)
                                       several labelled lines on one chart (mutator
                                       coverage curves, survival curves)
"""

from pathlib import Path

COLOURS = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown")


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def run_chart(rows: list[dict], path: Path, title: str) -> Path:
    """rows: dicts with seconds, cov, ft, exec_per_sec (fuzz/campaign.Samples)."""
    plt = _pyplot()
    fig, left = plt.subplots(figsize=(7.0, 4.2))
    t = [r["seconds"] for r in rows]
    left.plot(t, [r["ft"] for r in rows], color=COLOURS[0], label="ft (features)")
    left.plot(t, [r["cov"] for r in rows], color=COLOURS[2], label="cov (edges)")
    left.set_xlabel("seconds")
    left.set_ylabel("coverage")
    right = left.twinx()
    right.plot(t, [r["exec_per_sec"] for r in rows], color=COLOURS[1], linestyle="--", label="exec/s")
    right.set_ylabel("exec/s")
    right.set_ylim(bottom=0)
    lines = left.get_lines() + right.get_lines()
    left.legend(lines, [line.get_label() for line in lines], loc="lower right", fontsize="small")
    left.set_title(title)
    left.grid(True, alpha=0.3)
    return _save(fig, plt, path)


def curves(
    path: Path, title: str, xlabel: str, ylabel: str, series: list, step: bool = False, ylim: tuple | None = None
) -> Path:
    """series: (label, xs, ys, colour index) tuples; lines with the same label share one legend entry."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7.0, 4.2))
    labelled = set()
    for label, xs, ys, colour in series:
        draw = ax.step if step else ax.plot
        kwargs = {"where": "post"} if step else {}
        draw(
            xs,
            ys,
            color=COLOURS[colour % len(COLOURS)],
            label=None if label in labelled else label,
            linewidth=1.6,
            **kwargs,
        )
        labelled.add(label)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if ylim:
        ax.set_ylim(*ylim)
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small", loc="lower right")
    return _save(fig, plt, path)


def _save(fig, plt, path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
