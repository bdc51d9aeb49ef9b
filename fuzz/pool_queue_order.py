"""Requests waiting for an upstream connection are served in the order they came, judged after every
action: Envoy's connection pools keep their pending streams in a queue and attach the oldest one a
ready connection can take (ConnPoolImplBase::onUpstreamReady), so the request that has waited longest,
the closest to its route timeout, is never passed over for a newer one. A pool that serves the newest
first starves its oldest waiters under load. `pool_queue_served_out_of_order`.

Between two checks a pool's queue can only lose requests: served (the router got a stream), failed
(a 503) or cancelled (its stream ended). A request served while one queued before it, for the same
host, is still waiting is out of order. Host by host, since only a connection to the load balancer's
pick serves a request (a request re-homed to another host's connection, proxy/upstream/pool.py
_rehome_stranded, is compared under the host it waits for now)."""

from weakref import WeakKeyDictionary

from .oracles import InvariantViolation

_LAST_SEEN: WeakKeyDictionary = WeakKeyDictionary()  # pool -> [(request, host)] in queue order


def _served(req) -> bool:
    """The router of `req` holds an upstream stream: the pool attached it (not failed, not cancelled)."""
    return getattr(req.user, "upstream", None) is not None


def check(pools) -> None:
    for pool in pools:
        before = _LAST_SEEN.get(pool, [])
        now = list(pool.pending)
        waiting = {id(r) for r in now}
        for i, (req, host) in enumerate(before):
            if id(req) in waiting or not _served(req):
                continue
            older = [r for r, h in before[:i] if id(r) in waiting and h == host and r.host == host]
            if older:
                raise InvariantViolation(
                    "pool_queue_served_out_of_order",
                    f"{pool.prefix[:-1]}: a request queued for {host} was given a connection while "
                    f"{len(older)} request(s) queued before it for the same host still wait",
                )
        _LAST_SEEN[pool] = [(r, r.host) for r in now]
