"""Settings for every tier: the Hypothesis profiles.

`ci` (the default, so `make test` and CI run it) is derandomized: the same bounded examples on
every run, no example database. `explore` searches afresh with more examples and keeps failures
in `.hypothesis/`: `HYPOTHESIS_PROFILE=explore .venv/bin/pytest tests/component/test_fuzz.py`.
"""

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, database=None, max_examples=200)
settings.register_profile("explore", max_examples=2000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
