"""Suite-wide settings."""

import os

from hypothesis import settings

# CI must be reproducible: the same examples every run (locally, random exploration finds new bugs).
settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")
