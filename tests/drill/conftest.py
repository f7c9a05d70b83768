"""The wartime fixtures (a runtime per database, a small district)."""
from tests.wartime.conftest import rt, srt  # noqa: F401
