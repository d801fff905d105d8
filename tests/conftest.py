"""Suite-wide settings.

Hypothesis explores new examples on every developer run, but under ``CI=true`` it is
derandomized (the same examples each run, no example database): a clean-clone run
must pass or fail for what the commit did, not for the draw. A failure found locally
prints its reproduction blob.
"""

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
settings.register_profile("dev", print_blob=True)
settings.load_profile("ci" if os.environ.get("CI", "").lower() in ("1", "true", "yes")
                      else os.environ.get("HYPOTHESIS_PROFILE", "dev"))
