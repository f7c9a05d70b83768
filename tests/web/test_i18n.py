"""Chinese by default, English on request; the catalog covers every message and is compiled and packaged."""
from __future__ import annotations

import configparser
import fnmatch
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from tests.web.conftest import csrf_token

ROOT = Path(__file__).resolve().parents[2]
CATALOG = ROOT / "mobilize" / "translations" / "zh" / "LC_MESSAGES"


def switch(client, language: str, next_path: str = "/command"):
    form = {"lang": language, "next": next_path, "csrf_token": csrf_token(client)}
    return client.post("/language", data=form)


def test_pages_are_chinese_by_default(clients):
    page = clients["commander"].get("/command").get_data(as_text=True)
    assert '<html lang="zh-CN">' in page and "<h1>指挥中心</h1>" in page and "指挥员" in page
    assert "登录" in clients["anonymous"].get("/login").get_data(as_text=True)


def test_switching_to_english_and_back(clients):
    commander = clients["commander"]
    response = switch(commander, "en")
    assert response.status_code == 302 and response.headers["Location"] == "/command"
    page = commander.get("/command").get_data(as_text=True)
    assert '<html lang="en">' in page and "<h1>Command center</h1>" in page and "Commander" in page
    assert "Badaguan" in page  # street names in English too
    board = commander.get("/board/badaguan").get_data(as_text=True)
    assert "Registration" in board and "capacity 2" in board
    switch(commander, "zh")
    assert "<h1>指挥中心</h1>" in commander.get("/command").get_data(as_text=True)


def test_the_language_outlives_the_login(app, registry):
    client = app.test_client()
    switch(client, "en", "/login")
    assert "Log in" in client.get("/login").get_data(as_text=True)
    from tests.web.conftest import login

    login(client, "officer")
    assert "Street officer" in client.get("/board/badaguan").get_data(as_text=True)


def test_an_unknown_language_changes_nothing(clients):
    switch(clients["commander"], "fr")
    assert "指挥中心" in clients["commander"].get("/command").get_data(as_text=True)


def _extracted_ids() -> set[str]:
    with open(ROOT / "babel.cfg") as handle:
        method_map, options_map = parse_mapping_cfg(handle)
    keywords = {"_": None, "gettext": None, "_l": None, "lazy_gettext": None, "ngettext": (1, 2)}
    found = extract_from_dir(str(ROOT), method_map, options_map, keywords=keywords)
    return {message if isinstance(message, str) else message[0] for _, _, message, _, _ in found}


def _plain(value):
    """Plural entries have tuples (or lists) of ids and strings; singular ones plain strings."""
    return value if isinstance(value, str) else tuple(value)


def _translated(message) -> bool:
    strings = [message.string] if isinstance(message.string, str) else list(message.string)
    return all(strings) and not message.fuzzy


def test_every_message_has_its_chinese():
    with open(CATALOG / "messages.po", "rb") as handle:
        catalog = read_po(handle)
    translated = {(message.id if isinstance(message.id, str) else message.id[0]): message
                  for message in catalog if message.id}
    missing = sorted(message for message in _extracted_ids()
                     if message not in translated or not _translated(translated[message]))
    assert not missing, f"no Chinese for {missing}: run scripts/i18n update, translate, scripts/i18n compile"


def test_the_compiled_catalog_matches_its_source():
    with open(CATALOG / "messages.po", "rb") as handle:
        source = {_plain(m.id): _plain(m.string) for m in read_po(handle) if m.id and m.string}
    with open(CATALOG / "messages.mo", "rb") as handle:
        compiled = {_plain(m.id): _plain(m.string) for m in read_mo(handle) if m.id}
    assert compiled == source, "messages.mo is out of date: run scripts/i18n compile"


def test_the_catalog_is_packaged_with_the_templates_and_static_files():
    """A non-editable install gets only the files setup.cfg names: the .mo must be among them."""
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    patterns = config["options.package_data"]["mobilize"].split()
    package = ROOT / "mobilize"
    wanted = [CATALOG / "messages.mo", package / "templates" / "base.html", package / "static" / "live.js"]
    for path in wanted:
        relative = str(path.relative_to(package))
        assert any(fnmatch.fnmatch(relative, pattern) for pattern in patterns), (
            f"setup.cfg [options.package_data] mobilize does not include {relative}")
