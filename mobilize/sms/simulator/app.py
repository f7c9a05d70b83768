"""The simulator's HTTP face: Twilio's Messages REST API, the `/_sim/` control API, the /phones page."""
from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone
from urllib.parse import urlencode

from flask import Blueprint, Flask, Response, current_app, redirect, render_template, request

from mobilize.sms.simulator import page_text
from mobilize.sms.simulator.configuration import SimulatorConfig
from mobilize.sms.simulator.engine import Simulator
from mobilize.sms.simulator.faults import FaultConfig
from mobilize.sms.simulator.phones import PhoneProfile, resolve_responder
from mobilize.sms.simulator.validation import ApiError

EXTENSION = "sms_simulator"
ACCOUNT_PREFIX = "/2010-04-01/Accounts/<account_sid>"
MAX_PAGE_SIZE = 1000
DEFAULT_PAGE_SIZE = 50


def create_simulator_app(config: SimulatorConfig, simulator: Simulator | None = None) -> Flask:
    """A Flask app serving the simulator; its state is `app.extensions["sms_simulator"]` (a Simulator)."""
    app = Flask(__name__)
    app.json.ensure_ascii = False  # Chinese text as text in JSON
    app.extensions[EXTENSION] = simulator or Simulator(config)
    app.register_blueprint(twilio_api)
    app.register_blueprint(control_api)
    app.register_blueprint(pages)
    app.register_error_handler(404, _not_found)
    app.register_error_handler(405, _not_allowed)
    return app


def _not_found(error) -> Response:
    if request.path.startswith("/2010-04-01/"):
        error = ApiError(404, 20404, f"The requested resource {request.path} was not found")
        return _json(error.to_json(), 404)
    if request.path.startswith("/_sim/"):
        return _json({"error": {"code": "not_found", "message": f"no such endpoint {request.path}"}}, 404)
    return error


def _not_allowed(error) -> Response:
    if request.path.startswith("/2010-04-01/"):
        return _json(ApiError(405, 20004, "Method not allowed").to_json(), 405)
    if request.path.startswith("/_sim/"):
        message = f"{request.method} {request.path}"
        return _json({"error": {"code": "method_not_allowed", "message": message}}, 405)
    return error


def get_simulator(app: Flask | None = None) -> Simulator:
    return (app or current_app).extensions[EXTENSION]


def _json(data, status: int = 200, headers: dict | None = None) -> Response:
    return Response(json.dumps(data, ensure_ascii=False, separators=(",", ":")), status=status,
                    headers=headers, content_type="application/json; charset=utf-8")


# -- Twilio's REST API ---------------------------------------------------------------------------------------

twilio_api = Blueprint("twilio_api", __name__)


@twilio_api.errorhandler(ApiError)
def _api_error(error: ApiError) -> Response:
    sim = get_simulator()
    sim._count("api_errors")
    headers = {"WWW-Authenticate": 'Basic realm="Twilio API"'} if error.status == 401 else None
    return _json(error.to_json(), error.status, headers)


@twilio_api.before_request
def _authenticate_and_inject_faults() -> None:
    sim = get_simulator()
    sim._count("api_requests")
    auth = request.authorization
    account_sid = (request.view_args or {}).get("account_sid", "")
    sim.check_account(account_sid, auth.username if auth else None, auth.password if auth else None)
    latency = sim.faults.latency_seconds()
    if latency > 0:
        time.sleep(latency)
    fault = sim.faults.request_fault()
    if fault is not None:
        status, code, message = fault
        sim._count("throttled" if status == 429 else "server_errors")
        raise ApiError(status, code, message)


@twilio_api.post(f"{ACCOUNT_PREFIX}/Messages.json")
def create_message(account_sid: str) -> Response:
    form = request.form
    sim = get_simulator()
    message = sim.create_message(form, media=form.getlist("MediaUrl"))
    accept_latency = sim.faults.config.accept_latency_ms
    if accept_latency > 0:  # accepted, and the answer is late (the client may time out not knowing)
        time.sleep(accept_latency / 1000.0)
    return _json(message, 201)


@twilio_api.get(f"{ACCOUNT_PREFIX}/Messages/<sid>.json")
def fetch_message(account_sid: str, sid: str) -> Response:
    return _json(get_simulator().fetch_message(sid))


@twilio_api.delete(f"{ACCOUNT_PREFIX}/Messages/<sid>.json")
def delete_message(account_sid: str, sid: str) -> Response:
    get_simulator().delete_message(sid)
    return Response(status=204)


@twilio_api.get(f"{ACCOUNT_PREFIX}/Messages.json")
def list_messages(account_sid: str) -> Response:
    sim = get_simulator()
    args = request.args
    page_size = _int_arg(args, "PageSize", DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE)
    page = _int_arg(args, "Page", 0, 0, None)
    to = args.get("To") or None
    from_ = args.get("From") or None
    date_filter = _date_filter(args)
    token = args.get("PageToken") or None
    before_seq = after_seq = None
    if token:
        seq = sim.store.seq_of(token[2:]) if token[:2] in ("PA", "PB") else None
        if seq is None:
            raise ApiError(400, 20001, f"Invalid PageToken: {token}")
        if token.startswith("PA"):
            before_seq = seq
        else:
            after_seq = seq

    if after_seq is not None:  # a previous page: the page_size oldest of the newer messages, newest first
        rows = sim.store.select(date_filter, newest_first=False, to=to, from_=from_, after_seq=after_seq,
                                limit=page_size + 1, render=_with_seq)
        rows = rows[:page_size]
        rows.reverse()
        has_more_after = True
    else:
        rows = sim.store.select(date_filter, to=to, from_=from_, before_seq=before_seq, limit=page_size + 1,
                                render=_with_seq)
        has_more_after = len(rows) > page_size
        rows = rows[:page_size]
    messages = [row for _seq, row in rows]
    base = f"/2010-04-01/Accounts/{account_sid}/Messages.json"
    filters = [(name, args[name]) for name in ("To", "From", "DateSent", "DateSent<", "DateSent>")
               if args.get(name)]

    def page_uri(page_number: int, page_token: str | None = None) -> str:
        params = filters + [("PageSize", str(page_size)), ("Page", str(page_number))]
        if page_token:
            params.append(("PageToken", page_token))
        return f"{base}?{urlencode(params)}"

    next_uri = page_uri(page + 1, "PA" + messages[-1]["sid"]) if messages and has_more_after else None
    previous_uri = page_uri(page - 1, "PB" + messages[0]["sid"]) if messages and page > 0 else None
    start = page * page_size
    return _json({
        "end": start + len(messages) - 1 if messages else start,
        "first_page_uri": page_uri(0),
        "messages": messages,
        "next_page_uri": next_uri,
        "page": page,
        "page_size": page_size,
        "previous_page_uri": previous_uri,
        "start": start,
        "uri": page_uri(page, token),
    })


def _with_seq(message) -> tuple[int, dict]:
    return (message.seq, message.to_twilio())


def _int_arg(args, name: str, default: int, low: int, high: int | None) -> int:
    raw = args.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, 20001, f"Invalid {name}: {raw}") from None
    if value < low or (high is not None and value > high):
        raise ApiError(400, 20001, f"Invalid {name}: {raw} (must be between {low} and {high or 'any'})")
    return value


def _parse_date(name: str, raw: str):
    """YYYY-MM-DD (a whole day) or an ISO 8601 date-time -> (start, end, whole_day), epoch seconds."""
    text = raw.strip()
    try:
        if len(text) == 10:
            day = datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=timezone.utc)
            return day.timestamp(), (day + timedelta(days=1)).timestamp(), True
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ApiError(400, 20001, f"Invalid {name}: {raw}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    if (moment.hour, moment.minute, moment.second, moment.microsecond) == (0, 0, 0, 0):
        # the twilio client sends a date as YYYY-MM-DDT00:00:00Z: treat it as that whole day
        return moment.timestamp(), (moment + timedelta(days=1)).timestamp(), True
    return moment.timestamp(), moment.timestamp(), False


def _date_filter(args):
    checks = []
    if args.get("DateSent"):
        start, end, whole_day = _parse_date("DateSent", args["DateSent"])
        if whole_day:
            checks.append(lambda sent: start <= sent < end)
        else:  # a date-time: the same UTC day, as Twilio filters by sent date
            day = start - start % 86400
            checks.append(lambda sent: day <= sent < day + 86400)
    if args.get("DateSent<"):
        _start, end, whole_day = _parse_date("DateSent<", args["DateSent<"])
        checks.append((lambda sent: sent < end) if whole_day else (lambda sent: sent <= end))
    if args.get("DateSent>"):
        start, _end, _whole = _parse_date("DateSent>", args["DateSent>"])
        checks.append(lambda sent: sent >= start)
    if not checks:
        return None

    def matches(message) -> bool:
        sent = message.date_sent
        return sent is not None and all(check(sent) for check in checks)

    return matches


# -- the control API -----------------------------------------------------------------------------------------

control_api = Blueprint("control_api", __name__, url_prefix="/_sim")


class ControlError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@control_api.errorhandler(ControlError)
def _control_error(error: ControlError) -> Response:
    return _json({"error": {"code": error.code, "message": error.message}}, error.status)


@control_api.errorhandler(ValueError)  # ProfileError, FaultError, a number that is not one
def _bad_value(error: ValueError) -> Response:
    return _json({"error": {"code": "invalid", "message": str(error)}}, 400)


def _body() -> dict:
    if not request.data:
        return {}
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ControlError(400, "invalid_json", "the request body must be a JSON object")
    return data


@control_api.get("/health")
def health() -> Response:
    sim = get_simulator()
    return _json({"ok": True, "account_sid": sim.config.account_sid, "webhook_url": sim.webhook_url,
                  "version": sim.store.version})


@control_api.get("/config")
def show_config() -> Response:
    sim = get_simulator()
    data = sim.config.to_dict()
    data["webhook_url"] = sim.webhook_url
    return _json(data)


@control_api.post("/webhook")
def set_webhook() -> Response:
    sim = get_simulator()
    url = _body().get("url")
    if url is not None and not (isinstance(url, str) and url.startswith(("http://", "https://"))):
        raise ControlError(400, "invalid", f"webhook url must be an http(s) URL or null, not {url!r}")
    sim.webhook_url = url or None
    return _json({"webhook_url": sim.webhook_url})


@control_api.post("/reset")
def reset() -> Response:
    get_simulator().reset(keep_phones=bool(_body().get("keep_phones")))
    return _json({"ok": True})


@control_api.get("/faults")
def get_faults() -> Response:
    return _json(get_simulator().faults.config.to_dict())


@control_api.post("/faults")
def set_faults() -> Response:
    """Change some fault settings (the others stay); `{"reset": true}` first goes back to no faults."""
    sim = get_simulator()
    changes = _body()
    if changes.pop("reset", False):
        sim.faults.configure(FaultConfig())
    return _json(sim.faults.update(changes).to_dict())


@control_api.delete("/faults")
def clear_faults() -> Response:
    return _json(get_simulator().faults.configure(FaultConfig()).to_dict())


@control_api.get("/phones")
def list_phones() -> Response:
    sim = get_simulator()
    since = request.args.get("since", type=int)
    version = sim.store.version
    if since is not None and since == version:
        return _json({"version": version, "changed": False})
    limit = min(request.args.get("limit", 200, type=int), 10000)
    offset = request.args.get("offset", 0, type=int)
    total, phones = sim.store.phone_summaries(request.args.get("q") or None, limit=limit, offset=offset,
                                              registered_only=request.args.get("registered") == "1")
    return _json({"version": version, "changed": True, "total": total, "phones": phones})


@control_api.post("/phones")
def register_phones() -> Response:
    """{"phones": ["+86...", {"number": "+86...", "profile": {...}, "responder": "default"}],
    "profile": {...} (for entries without one), "responder": name}"""
    sim = get_simulator()
    data = _body()
    phones = data.get("phones")
    if phones is None and data.get("number"):
        phones = [data]
    if not isinstance(phones, list):
        raise ControlError(400, "invalid", "give `phones`: a list of numbers or {number, profile, responder}")
    count = sim.register_phones(phones, profile=data.get("profile"), responder=data.get("responder"))
    return _json({"registered": count, "phones": sim.store.stats()["phones"]}, 201)


@control_api.get("/phones/<number>")
def show_phone(number: str) -> Response:
    detail = get_simulator().store.phone_detail(number)
    if detail is None:
        raise ControlError(404, "not_found", f"no phone {number}")
    return _json(detail)


@control_api.patch("/phones/<number>")
def update_phone(number: str) -> Response:
    sim = get_simulator()
    data = _body()
    phone = sim.store.phone(number)
    if phone is None:
        raise ControlError(404, "not_found", f"no phone {number}")
    if "profile" in data or "responder" in data:
        base = phone.profile or sim.config.default_profile
        profile = PhoneProfile.from_dict(data.get("profile") or {}, base=base)
        responder = data.get("responder", phone.responder if isinstance(phone.responder, str) else None)
        resolve_responder(responder)
        sim.store.register_phones([(number, profile, responder)])
    if "opted_out" in data:
        sim.store.set_opted_out(number, bool(data["opted_out"]))
    return _json(sim.store.phone_detail(number)["phone"])


@control_api.delete("/phones/<number>")
def remove_phone(number: str) -> Response:
    if not get_simulator().store.remove_phone(number):
        raise ControlError(404, "not_found", f"no phone {number}")
    return Response(status=204)


@control_api.post("/phones/<number>/messages")
def phone_texts(number: str) -> Response:
    """The phone texts the service: {"body": "Y27", "to": optional, "wait": false}."""
    data = _body()
    body = data.get("body")
    if not isinstance(body, str) or not body.strip():
        raise ControlError(400, "invalid", "`body` (the text the phone sends) is required")
    to = data.get("to") or None
    wait = bool(data.get("wait"))
    result = get_simulator().phone_texts(number, body, to=to, origin="manual", wait=wait,
                                         timeout=float(data.get("timeout", 30)))
    return _json(result, 201)


@control_api.get("/messages")
def all_messages() -> Response:
    """Every message, newest first: filters to, from, direction, status, origin; after=<seq>; limit."""
    sim = get_simulator()
    args = request.args
    direction, status, origin = args.get("direction"), args.get("status"), args.get("origin")
    after = args.get("after", type=int)
    limit = min(args.get("limit", 1000, type=int), 100000)

    def wanted(message) -> bool:
        return ((direction is None or message.direction == direction)
                and (status is None or message.status == status)
                and (origin is None or message.origin == origin))

    rows = sim.store.select(wanted, to=args.get("to") or None, from_=args.get("from") or None,
                            after_seq=after, limit=limit,
                            render=lambda message: dict(message.to_sim(), seq=message.seq))
    return _json({"messages": rows, "count": len(rows), "version": sim.store.version})


@control_api.get("/stats")
def stats() -> Response:
    return _json(get_simulator().stats())


@control_api.post("/wait-idle")
def wait_idle() -> Response:
    """Block until no status change, callback or phone reply is pending (or `timeout` seconds pass)."""
    timeout = float(_body().get("timeout", 10.0))
    idle = get_simulator().dispatcher.wait_idle(min(timeout, 300.0))
    return _json({"idle": idle, "pending": get_simulator().dispatcher.pending()})


# -- the /phones page ----------------------------------------------------------------------------------------

pages = Blueprint("sim_pages", __name__, template_folder="templates")


@pages.get("/")
def index():
    return redirect("/phones")


@pages.get("/phones")
def phones_page() -> Response:
    """The phones, in Chinese or English (`?lang=`, remembered in the service's language cookie), with times in
    the district's zone."""
    sim = get_simulator()
    chosen = request.args.get("lang")
    language = page_text.choose_language(chosen, request.cookies.get(page_text.COOKIE))
    words = page_text.page_words(language)
    page = render_template("phones.html", sender_number=sim.config.sender_number,
                           webhook_url=sim.webhook_url or "", language=language, zone=page_text.district_zone(),
                           t=words["texts"], words=words)
    response = Response(page, mimetype="text/html")
    if chosen == language:
        response.set_cookie(page_text.COOKIE, language, max_age=page_text.COOKIE_MAX_AGE, httponly=True,
                            samesite="Lax")
    return response


@pages.get("/healthz")
def healthz() -> Response:
    return _json({"ok": True})
