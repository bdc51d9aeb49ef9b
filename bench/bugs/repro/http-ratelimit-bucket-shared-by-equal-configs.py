"""Each HTTP local_ratelimit filter has its own token bucket, shared by the requests of its listener's
chain and no other (Envoy: "each filter and filter chain has an independent rate limit"; here one
bucket per filter instance, docs/semantics.md "local rate limit scope"). Two listeners configured
with the same limits (2 requests a minute each) must each serve their own 2 requests: spending one
listener's tokens must not rate-limit the other."""

import json

from _live import Proxy, Upstream, check, http1_app, http1_request, http_config, ok

LIMIT = {"local_ratelimit": {"max_tokens": 2, "tokens_per_fill": 2, "fill_interval_ms": 60000}}
config = json.loads(http_config(0, filters=[LIMIT]))
api = json.loads(json.dumps(config["listeners"][0]))
api["name"] = "api"
config["listeners"].append(api)

with Upstream(http1_app(lambda request: (200, [], b"hi"))) as up:
    config["clusters"][0]["endpoints"][0]["port"] = up.port
    with Proxy(json.dumps(config)) as proxy:
        web = [http1_request(proxy.port("web"), "GET", "/")[0] for _ in range(2)]
        other = [http1_request(proxy.port("api"), "GET", "/")[0] for _ in range(2)]
        third = http1_request(proxy.port("web"), "GET", "/")[0]
check(web == [200, 200], f"the first two requests on listener web got {web}")
check(
    other == [200, 200],
    f"listener api (its own local_ratelimit, 2 tokens) answered {other} after listener web spent its 2 tokens",
)
check(third == 429, f"a third request on listener web got {third}, not 429")
ok("each listener's local_ratelimit kept its own 2 tokens (web 200 200 then 429, api 200 200)")
