"""How many configurations of the session pool route a session's request to an upstream.

    python -m fuzz bench pool-reach [--probes N] [DIR...]

For each configuration (the session pool: corpus/session_configs/ and examples/, or the YAML files
of each DIR) it runs N probes (fuzz/pool_reach.py: a connect, one templated request, the upstream
connects and reads) and prints how many an upstream saw as a request (http), how many relayed any
client byte to an upstream (relayed, tcp_proxy included) and how many raised a finding.
Last line: RESULT pool_reach_http_share <share of configurations with http >= 1/8 of the probes>.
"""

import argparse
from pathlib import Path

from fuzz.pool_reach import USEFUL_SHARE, probe


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fuzz bench pool-reach", description=__doc__.split("\n\n")[0])
    parser.add_argument("--probes", type=int, default=48, help="probes per configuration (default 48)")
    parser.add_argument("dirs", nargs="*", metavar="DIR", help="directories of YAML configurations")
    args = parser.parse_args(argv)
    from proxy.build import build
    from proxy.config import load_file

    from fuzz.session import ConfigPool
    from fuzz.test_pki import ensure

    ensure()  # TLS configurations name the test PKI's files
    paths = (
        sorted(p for d in args.dirs for p in Path(d).glob("*.yaml"))
        if args.dirs
        else [Path(n) for n in ConfigPool.default().names]
    )
    useful = 0
    for path in paths:
        reach = probe(build(load_file(path)), n=args.probes)
        useful += reach.share >= USEFUL_SHARE
        print(
            f"{path.name:32} http {reach.http:3}/{reach.tried}  relayed {reach.relayed:3}  "
            f"findings {len(reach.findings)}{'  ' + reach.findings[0][:80] if reach.findings else ''}"
        )
    print(f"{useful} of {len(paths)} configurations: a request reaches an upstream in >= 1/8 of the probes")
    print(f"RESULT pool_reach_http_share {useful / len(paths) if paths else 0:.3f}")
    return 0
