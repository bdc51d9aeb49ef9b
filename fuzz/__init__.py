"""proxyfuzz's fuzzing engine: `python -m fuzz` (fuzz.cli) and what harnesses call (fuzz.harness)."""
