"""Script harness for L4 tests (no tests of its own): a configuration from a dict, built once,
instantiated on a SimulatedDispatcher + SimNetwork; downstream peers are SimSockets."""

from google.protobuf.json_format import ParseDict

from proxy.build import build, instantiate
from proxy.config import schema
from proxy.event import SimulatedDispatcher
from proxy.network.sim import SimNetwork, SimSocket


def bootstrap(config: dict):
    return ParseDict(config, schema.Bootstrap())


def tcp_config(*filters, cluster=None, listener=None, chains=None):
    """A one-listener configuration; `filters` precede a tcp_proxy to cluster "echo"."""
    cluster = {"name": "echo", "endpoints": [{"host": "127.0.0.1", "port": 9000}], **(cluster or {})}
    if chains is None:
        chains = [{"filters": [*filters, {"tcp_proxy": {"cluster": "echo"}}]}]
    listener = {
        "name": "tcp_in",
        "address": {"host": "127.0.0.1", "port": 10000},
        "filter_chains": chains,
        **(listener or {}),
    }
    return {"listeners": [listener], "clusters": [cluster]}


class L4:
    def __init__(self, config, *, built=None, seed=0, auto_connect=False):
        self.built = built or build(bootstrap(config))
        self.d = SimulatedDispatcher()
        self.net = SimNetwork(self.d, auto_connect=auto_connect)
        self.ctx = instantiate(self.built, self.d, self.net, seed=seed)

    def accept(self, *, listener=0, remote=("10.0.0.1", 50000), local_port=None, server_name="", read_size=None):
        """A downstream connection: (Connection or None, its SimSocket)."""
        built_listener = self.built.listeners[listener]
        sock = SimSocket() if read_size is None else SimSocket(read_size=read_size)
        local = ("127.0.0.1", built_listener.address[1] if local_port is None else local_port)
        conn = built_listener.create_connection(self.ctx, sock, local, remote, server_name)
        self.d.run_posted()
        return conn, sock

    def upstream(self, i=-1):
        conn = self.net.opened[i]
        return conn, conn.io

    def connect_upstream(self, i=-1):
        self.net.complete_connect(self.net.opened[i])
        self.d.run_posted()
        return self.upstream(i)

    def run(self):
        self.d.run_posted()

    def advance(self, ms):
        self.d.advance(ms)

    def counter(self, name):
        return self.ctx.stats.counter(name)
