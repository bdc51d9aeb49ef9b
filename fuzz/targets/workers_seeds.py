"""Seeds of the workers harness (fuzz/targets/workers.py), written as readable scripts:
`python -m fuzz.targets.workers_seeds [corpus/workers]`.

Each is (workers, which of them answer at once, actions); an action's operand names the worker
(operand % workers), the exit (operand // 4, EXITS; +128: SIGCHLD later), the parent's signal
(PARENT_SIGNALS), the time step (TIME_STEPS_S) or the admin path (ADMIN_PATHS)."""

import sys
from pathlib import Path

from fuzz.targets.workers import encode_input

TERM, INT, USR1, HUP, CHLD = range(5)
STATS, STATS_JSON, READY, CLUSTERS, CONFIG_DUMP, INDEX, NOWHERE, BAD_AUTHORITY, DOUBLE_SLASH = range(9)
EXIT0, EXIT1, KILLED, SEGV, TORN = (4 * i for i in range(5))
LATER = 128


def _ready(n: int) -> list:
    return [("ready", i) for i in range(n)]


def _stop(n: int) -> list:
    return [("signal", TERM)] + [("finish", i) for i in range(n)] + [("exit", EXIT0 + i) for i in range(n)]


def scripts() -> dict:
    return {
        "clean_stop": (2, 3, _ready(2) + [("admin", STATS)] + _stop(2)),
        "admin_every_path": (2, 3, _ready(2) + [("admin", p) for p in range(9)] + _stop(2)),
        "admin_before_ready": (
            3,
            7,
            [("admin", STATS), ("admin", READY), ("ready", 0)] + _ready(3) + [("admin", READY)],
        ),
        # /ready while one of two workers serves and the other is still starting, then once both serve.
        "ready_while_one_worker_starts": (
            2,
            3,
            [("ready", 0), ("admin", READY), ("admin", STATS), ("ready", 1), ("admin", READY)] + _stop(2),
        ),
        "admin_during_drain": (
            2,
            3,
            _ready(2) + [("signal", TERM), ("admin", STATS_JSON), ("admin", READY), ("finish", 0), ("admin", STATS)],
        ),
        "slow_worker_503": (2, 1, _ready(2) + [("admin", STATS), ("advance", 1), ("admin", CLUSTERS), ("advance", 6)]),
        "late_answer": (
            2,
            0,
            _ready(2)
            + [
                ("admin", STATS),
                ("advance", 3),
                ("answer", 0),
                ("advance", 1),
                ("answer_all", 1),
                ("admin", STATS_JSON),
                ("answer_all", 0),
                ("answer_all", 1),
            ],
        ),
        "dropped_request": (
            1,
            0,
            _ready(1) + [("admin", STATS), ("drop", 0), ("advance", 6), ("admin", STATS), ("answer", 0)],
        ),
        "killed_mid_message": (2, 3, _ready(2) + [("exit", TORN), ("admin", STATS), ("admin", STATS_JSON)]),
        "exit_during_request": (
            2,
            0,
            _ready(2) + [("admin", STATS), ("exit", KILLED + 1), ("answer", 0), ("advance", 2)],
        ),
        "worker_exits_1": (
            3,
            7,
            _ready(3) + [("exit", EXIT1 + 2), ("admin", STATS)] + [("finish", i) for i in range(2)],
        ),
        "worker_segfaults_sigchld_late": (
            2,
            3,
            _ready(2) + [("exit", SEGV + LATER), ("admin", STATS), ("signal", CHLD), ("admin", STATS)],
        ),
        "group_signal_one_stops": (2, 3, _ready(2) + [("finish", 0), ("exit", EXIT0 + 1), ("admin", STATS)]),
        "second_signal_ends_drain": (
            3,
            7,
            _ready(3) + [("signal", TERM), ("admin", STATS), ("signal", INT), ("finish", 1)],
        ),
        "signals_before_ready": (
            2,
            3,
            [("signal", TERM), ("signal", USR1), ("ready", 0), ("admin", STATS), ("ready", 1)],
        ),
        "reopen_and_hup": (
            2,
            3,
            _ready(2) + [("signal", USR1), ("signal", HUP), ("signal", TERM), ("finish", 0), ("signal", USR1)],
        ),
        "exit_before_supervision": (2, 3, [("exit", EXIT0 + LATER), ("ready", 1), ("admin", STATS)]),
        "spurious_sigchld": (4, 15, _ready(4) + [("signal", CHLD), ("admin", STATS)] + _stop(4)),
        # Channels of 40 bytes: every message and request arrives in pieces.
        "small_channels": (
            3,
            7 + 16,
            _ready(3) + [("admin", STATS), ("admin", STATS_JSON), ("exit", TORN + 1)] + _stop(3),
        ),
        "garbled_line_then_no_answer": (
            2,
            1,
            _ready(2) + [("garble", 1), ("admin", STATS), ("garble", 1), ("advance", 6)],
        ),
    }


def write(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    out = []
    for name, (count, prompt, actions) in scripts().items():
        path = directory / name
        path.write_bytes(encode_input(count, prompt, actions))
        out.append(path)
    return out


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "corpus/workers")
    print(f"{len(write(target))} seeds in {target}")
