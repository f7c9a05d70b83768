"""The JSON API under /api/v1 (bearer tokens; OpenAPI at /api/v1/openapi.json)."""
from apiflask import APIBlueprint

api = APIBlueprint("api", __name__, url_prefix="/api/v1", tag="mobilize")

from mobilize.web.api import registry  # noqa: E402,F401  (registers the routes on the blueprint)
from mobilize.web.api import orders  # noqa: E402,F401
from mobilize.web.api import roster  # noqa: E402,F401
from mobilize.web.api import notices, open_call  # noqa: E402,F401
from mobilize.web.api import inbound  # noqa: E402,F401
from mobilize.web.api import viewer_masking  # noqa: E402

api.after_request(viewer_masking.mask_for_viewers)  # a viewer reads no phone number in clear, in any field
