"""Peacetime rosters over HTTP: thin views over `mobilize.peacetime` (rules, capacity and overlaps live there).

Admins and commanders manage every street; a street officer reads and changes only their own street's posts,
shifts, sign-ups and service records (403 elsewhere); viewers read, with phone numbers masked. Only commanders
mark a post protected (never stripped by a wartime order) or enter a district-wide holiday. Times without an
offset are the district's local time.

One module per resource, all on the `api` blueprint; importing this package registers them, in this order
(the order of the OpenAPI document's paths):

- `errors`: peacetime refusals as the API's error body;
- `posts`: posts, their weekly patterns and one-off extra shifts;
- `shifts`: shifts, their places and cancellation;
- `holidays`: dates without shifts;
- `signups`: booking, cancelling, check-in, check-out, late and no-show;
- `swaps`: shift swaps between two volunteers;
- `service_records`: service records and their certification;
- `hours`: a volunteer's hours, standing and certificate;
- `planning`: the roster as a whole (gaps, gap reports, the shift generator).

`context` (the acting user, the roster settings, local times, the commit), `access` (who may change what, rows
loaded by id within the caller's streets) and `views` (the JSON shape of each row) serve them all.
"""
# The order of registration is the order of the OpenAPI document's paths.
# isort: off
from mobilize.web.api.roster import errors  # noqa: F401
from mobilize.web.api.roster import posts  # noqa: F401
from mobilize.web.api.roster import shifts  # noqa: F401
from mobilize.web.api.roster import holidays  # noqa: F401
from mobilize.web.api.roster import signups  # noqa: F401
from mobilize.web.api.roster import swaps  # noqa: F401
from mobilize.web.api.roster import service_records  # noqa: F401
from mobilize.web.api.roster import hours  # noqa: F401
from mobilize.web.api.roster import planning  # noqa: F401
# isort: on
