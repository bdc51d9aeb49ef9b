"""The live regression catalog of hostile traffic (catalog.py) and what it needs to run against
`python -m proxy`: a recording upstream (recorder.py) and wire builders and readers (wire.py).
tests/e2e/test_e2e_catalog.py runs every entry."""
