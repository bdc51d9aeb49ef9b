"""The L4 layer: connections, network filters and their iteration rules, listeners."""
