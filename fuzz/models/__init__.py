"""Independent reference models of the proxy's policy decisions, written from Envoy's documentation.

The contract, stated once: a model is a pure function of (configuration message, observed inputs,
virtual time) -> predicted decision. It never imports the proxy's implementation of the feature it
models; where the proxy deliberately differs from Envoy, the model follows the table in
docs/semantics.md, and each rule cites the Envoy document it comes from.

Harnesses feed a model what the peers and the filters' callers observed (a connection's source
address and time, a request's head, a random draw) and compare its prediction with what the proxy
did (closed or not, status sent, upstream reached, counters moved); a mismatch raises
fuzz.oracles.InvariantViolation named `model_<policy>_<what>`.

  rbac        RBAC policies as Envoy's Permission/Principal trees, with converters from our schema
  ratelimit   local rate limit token buckets on virtual time
  fault       HTTP fault abort/delay, network fault delay/throttle
  timeouts    connect, idle, request, route timeouts: when each fires
  draws       a scripted random source, so a model knows the draw a probabilistic decision used
  routing     the route table (fuzz.targets.route_reference), applied to requests seen in sessions
  stats       counters a user reads, from what the peers saw
  access_log  the access log's statuses against the response heads clients read
"""
