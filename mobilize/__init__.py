"""mobilize: emergency volunteer mobilization over SMS (wartime orders beside peacetime duty rosters)."""

__version__ = "0.1.0"


def create_app(settings=None):
    """The Flask app factory (imported lazily so that `import mobilize` has no side effects)."""
    from mobilize.app import create_app as _create_app

    return _create_app(settings)
