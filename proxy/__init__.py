"""proxyfuzz's proxy core: an Envoy-style L4/L7 proxy whose protocol units are sans-IO.

Run it with `python -m proxy -c CONFIG`; check a configuration with `python -m proxy --validate CONFIG`.
"""
