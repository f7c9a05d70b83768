"""Volunteer CSV import without a database: row checks, file-level checks, the phone fast path, geocoders."""
from __future__ import annotations

import io
import random

import pytest

from mobilize.domain.phones import PhoneError, normalise_phone
from mobilize.registry import csv_text
from mobilize.registry.csv_contract import ImportFileError, RowError
from mobilize.registry.csv_fields import RowRules, RowValidator, validate_row
from mobilize.registry.csv_header import parse_header
from mobilize.registry.csv_phones import fast_normalise_phone
from mobilize.registry.csv_rows import validate_csv
from mobilize.registry.geocoding import GeopyGeocoder, OfflineGeocoder, Place, distance_km, make_geocoder

RULES = RowRules.reference("CN")
HEADER = "name,phone,street,community,lat,lon,skills,teams,language"


def record(**values) -> dict:
    base = {"name": "张伟", "phone": "13805320001", "street": "八大关街道", "community": "太平角社区",
            "lat": "36.0531", "lon": "120.3512", "skills": "", "teams": "", "language": ""}
    base.update(values)
    return {key: value for key, value in base.items() if value is not ...}


def check(**values):
    return validate_row(7, record(**values), RULES)


def reasons(errors: list[RowError]) -> dict[str, str]:
    return {error.column: error.reason for error in errors}


# --- rows ---------------------------------------------------------------------------------------------------


def test_a_good_row_is_normalised():
    row, errors = check(phone="+86 138-0532-0001", street="八大关", skills="medical;急救；Medical",
                        teams="太平角队; 应急队；", language="EN")
    assert errors == []
    assert row.phone == "+8613805320001"
    assert row.street == "八大关街道"
    assert row.skills == ("medical", "first_aid")
    assert row.teams == ("太平角队", "应急队")
    assert row.language == "en"
    assert (row.lat, row.lon, row.approximate, row.needs_geocoding) == (36.0531, 120.3512, False, False)
    assert row.line == 7


def test_language_defaults_to_zh_and_street_accepts_both_forms():
    for street in ("八大关街道", "八大关", " 湛山 "):
        row, errors = check(street=street, language="")
        assert errors == [] and row.language == "zh" and row.street.endswith("街道")


@pytest.mark.parametrize("values, column, words", [
    ({"phone": "12345"}, "phone", "not a valid phone number"),
    ({"phone": "call me"}, "phone", "not a phone number"),
    ({"phone": " "}, "phone", "missing"),
    ({"name": ""}, "name", "missing"),
    ({"name": "名" * 61}, "name", "longer than 60"),
    ({"street": "长安街"}, "street", "unknown street '长安街'"),
    ({"street": ""}, "street", "missing"),
    ({"skills": "medical;潜水"}, "skills", "unknown skill '潜水'"),
    ({"lat": "91"}, "lat", "out of range -90..90"),
    ({"lon": "-181"}, "lon", "out of range -180..180"),
    ({"lat": "nan"}, "lat", "out of range"),
    ({"lat": "北纬36"}, "lat", "not a number"),
    ({"lon": ""}, "lon", "missing (lat is given)"),
    ({"lat": "", "lon": ""}, "lat", "give lat and lon"),
    ({"language": "fr"}, "language", "must be zh or en"),
    ({"teams": "队" * 81}, "teams", "longer than 80"),
])
def test_bad_values_are_named(values, column, words):
    row, errors = check(**values)
    assert row is None
    assert words in reasons(errors)[column]
    assert all(error.line == 7 for error in errors)


def test_swapped_coordinates_get_a_hint():
    row, errors = check(lat="120.35", lon="36.05")
    assert row is None and "swapped" in reasons(errors)["lat"]


def test_every_problem_of_a_row_is_reported():
    _row, errors = check(phone="1", street="nowhere", skills="juggling", language="de")
    assert set(reasons(errors)) == {"phone", "street", "skills", "language"}
    assert str(errors[0]).startswith("line 7: phone: ")


def test_a_short_row_names_the_missing_columns():
    row, errors = check(skills=None, teams=None, language=None)
    assert row is None
    assert errors == [RowError(7, "skills", "missing: the row has 6 fields but the header has 9 "
                                             "(no skills, teams, language)")]


def test_address_replaces_coordinates():
    row, errors = check(lat="", lon="", address="太平角一路5号")
    assert errors == [] and row.needs_geocoding and row.address == "太平角一路5号"
    _row, errors = check(lat="", lon="", address="")
    assert "give lat and lon, or an address" in reasons(errors)["lat"]


def test_absent_optional_columns_mean_keep_and_empty_ones_mean_clear():
    row, _ = check(community=..., skills=..., teams=..., language=...)
    assert (row.community, row.skills, row.teams, row.language) == (None, None, None, None)
    row, _ = check(community="", skills="", teams="", language="")
    assert (row.community, row.skills, row.teams, row.language) == ("", (), (), "zh")


def test_a_phone_twice_in_a_file_is_an_error_on_the_later_line():
    validator = RowValidator(RULES)
    first, errors = validator.validate(2, record(phone="13805320001"))
    assert first is not None and errors == []
    again, errors = validator.validate(9, record(phone="+86 138 0532 0001", name="李娜"))
    assert again is None
    assert errors == [RowError(9, "phone", "duplicate: +8613805320001 is already on line 2")]


def test_a_duplicate_of_a_rejected_row_is_still_a_duplicate():
    validator = RowValidator(RULES)
    assert validator.validate(2, record(street="nowhere"))[0] is None
    _row, errors = validator.validate(3, record())
    assert "already on line 2" in reasons(errors)["phone"]


# --- hidden characters -------------------------------------------------------------------------------------


@pytest.mark.parametrize("raw, name, shown", [
    ("\u202e伟张", "伟张", "U+202E RIGHT-TO-LEFT OVERRIDE"),
    ("张\u200b伟", "张伟", "U+200B ZERO WIDTH SPACE"),
    ("张\t伟", "张 伟", "U+0009"),
    ("\ufeff张伟\u2066", "张伟", "U+FEFF ZERO WIDTH NO-BREAK SPACE, U+2066 LEFT-TO-RIGHT ISOLATE"),
    ("a\u202ab\u202bc\u202cd\u202de", "abcde", "U+202A LEFT-TO-RIGHT EMBEDDING, U+202B RIGHT-TO-LEFT "
                                          "EMBEDDING, U+202C POP DIRECTIONAL FORMATTING, ..."),
])
def test_a_name_with_hidden_characters_is_cleaned_and_noted(raw, name, shown):
    row, errors = check(name=raw)
    assert errors == []
    assert row.name == name
    assert [str(note) for note in row.notes] == [
        f"line 7: name: had control or direction characters ({shown}); removed"]


@pytest.mark.parametrize("raw", ["\u202e", "\u200b\u200d\ufeff", "\u3164", " \t "])
def test_a_name_with_nothing_visible_left_is_an_error(raw):
    row, errors = check(name=raw)
    assert row is None
    assert reasons(errors)["name"] == "nothing visible left once control and direction characters are removed"


def test_a_name_of_combining_marks_alone_is_not_a_name():
    row, errors = check(name="\u0301\u0301")
    assert row is None and reasons(errors)["name"] == "no visible character"


def test_every_field_is_cleaned_and_each_change_noted():
    row, errors = check(community="太平角\u200b社区", teams="太平角队\u202e;应急队",
                        skills="medical\u200d", phone="138\u200b0532\u20600001")
    assert errors == []
    assert (row.community, row.teams, row.skills, row.phone) == ("太平角社区", ("太平角队", "应急队"),
                                                                ("medical",), "+8613805320001")
    assert [note.column for note in row.notes] == ["phone", "community", "skills", "teams"]


def test_legitimate_names_are_kept_as_they_are():
    for name in ("欧阳娜娜", "Nguyễn Văn An", "José", "李雷👨\u200d👩\u200d👧", "阿卜杜拉·买买提"):
        row, errors = check(name=name)
        assert errors == [] and row.name == name and row.notes == ()


def test_notes_of_a_file_come_in_line_order():
    data = (f"{HEADER}\n\u202e张伟,13805320001,八大关,,1,2,,,\n李娜,13805320002,八大关,,1,2,,,\n"
            f"王\u200b芳,13805320003,八大关,,1,2,,,\n\u202e,13805320004,八大关,,1,2,,,\n").encode()
    result = validate_bytes(data)
    assert [row.name for row in result.rows] == ["张伟", "李娜", "王芳"]
    assert [(note.line, note.column) for note in result.notes] == [(2, "name"), (4, "name")]
    assert result.errors == [RowError(5, "name", "nothing visible left once control and direction characters "
                                                 "are removed")]


# --- the phone fast path ------------------------------------------------------------------------------------


def _outcome(function, raw):
    try:
        return function(raw, "CN")
    except PhoneError:
        return PhoneError


def test_fast_phone_path_agrees_with_normalise_phone():
    rng = random.Random(7)
    samples = [f"1{rng.randrange(10 ** 10):010d}" for _ in range(3000)]
    samples += [f"{prefix}{rng.randrange(10 ** 7):07d}" for prefix in range(1000, 2000) for _ in range(2)]
    samples += ["13805320001", "17912345678", "17900532000", "11808532000", "12593000000", "10086123456",
                "14412345678", "19912345678", "16612345678", "00861380532", "１３８０５３２０００１",
                "138 0532 0001", "+8613805320001", "8613805320001", "053282860000"]
    for raw in samples:
        assert _outcome(fast_normalise_phone, raw) == _outcome(normalise_phone, raw), raw
    assert fast_normalise_phone("2015550123", "US") == normalise_phone("2015550123", "US") == "+12015550123"


# --- files --------------------------------------------------------------------------------------------------


def validate_bytes(data: bytes):
    return validate_csv(io.BytesIO(data), RULES)


GOOD = f"{HEADER}\n张伟,13805320001,八大关街道,太平角社区,36.05,120.35,医护,太平角队,zh\n"


def test_a_bom_and_crlf_file_reads_with_line_numbers():
    data = ("\ufeff" + GOOD.replace("\n", "\r\n") + "\r\n" + "李娜,13805320002,湛山,,x,120.36,,,en\r\n").encode()
    result = validate_bytes(data)
    assert [row.name for row in result.rows] == ["张伟"]
    assert result.rows_read == 2 and result.rejected == 1
    assert result.errors == [RowError(4, "lat", "not a number: 'x'")]


def test_quoted_fields_across_lines_keep_the_starting_line():
    data = (f"{HEADER}\n\"王\n芳\",13805320003,八大关,,1,2,,,\n赵,123,八大关,,1,2,,,\n").encode()
    result = validate_bytes(data)
    assert result.rows[0].name == "王 芳"  # a name is one line: the line break became a space (and a note)
    assert result.errors[0].line == 4
    assert [str(note) for note in result.notes] == [
        "line 2: name: had control or direction characters (U+000A); removed"]


def test_multibyte_characters_split_across_read_chunks(monkeypatch):
    monkeypatch.setattr(csv_text, "READ_CHUNK", 5)
    result = validate_bytes(("\ufeff" + GOOD).encode())
    assert result.rows[0].name == "张伟" and result.rows[0].community == "太平角社区"


def test_gbk_is_refused_with_its_byte_offset_and_a_hint():
    data = GOOD.encode("gbk")
    with pytest.raises(ImportFileError) as caught:
        validate_bytes(data)
    message = str(caught.value)
    offset = len(HEADER) + 1
    assert f"byte offset {offset}" in message and "(line 2)" in message
    assert "GBK" in message and "UTF-8" in message


def test_invalid_utf8_at_the_very_end_is_refused():
    with pytest.raises(ImportFileError, match="not UTF-8.*0xE5"):
        validate_bytes(GOOD.encode() + "张".encode()[:1])


@pytest.mark.parametrize("data, words", [
    (b"", "empty"),
    (b"\xef\xbb\xbf\r\n\r\n", "empty"),
    (HEADER.encode() + b"\n", "no volunteers"),
    (b"name,phone\n", "missing required columns: street, lat, lon"),
    (b"name,phone,street,address,lat\n", "missing required column: lon"),
    (b"first,second\n1,2\n", "not a volunteer CSV"),
    (b"name;phone;street;lat;lon\n", "separated by semicolons"),
    (b"name,phone,street,lat,lon,phone\n", "more than once"),
    (b"PK\x03\x04\x14\x00\x06\x00", "Excel"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "Excel"),
    ("name,phone".encode("utf-16"), "UTF-16"),
    ("name,phone,street,lat,lon\n".encode("utf-16-le"), "UTF-16"),
    (GOOD.encode() + b"\x00\x01\x02junk", "NUL byte"),
    (bytes(range(256)) * 4, "not"),
])
def test_file_level_problems(data, words):
    with pytest.raises(ImportFileError, match=words):
        validate_bytes(data)


def test_nul_byte_offset_is_exact():
    data = GOOD.encode() + b"ab\x00"
    with pytest.raises(ImportFileError, match=f"byte offset {len(GOOD.encode()) + 2} \\(line 3\\)"):
        validate_bytes(data)


def test_extra_fields_and_blank_lines():
    data = (f"{HEADER}\n\n张伟,13805320001,八大关,,1,2,,,zh,oops\n李娜,13805320002,八大关,,1,2,,,zh,,\n").encode()
    result = validate_bytes(data)
    assert result.errors == [RowError(3, "row", "has 10 fields but the header has 9 (a comma inside a value "
                                                "must be quoted)")]
    assert [row.line for row in result.rows] == [4]


def test_address_column_and_unknown_columns():
    header = parse_header(["Name", " phone", "street", "address", "备注"])
    assert header.has_address and header.ignored == ("备注",)
    result = validate_csv(io.StringIO("name,phone,street,address,备注\n张伟,13805320001,八大关,太平角一路5号,x\n"),
                          RULES)
    assert result.rows[0].address == "太平角一路5号" and result.rows[0].needs_geocoding
    assert result.header.ignored == ("备注",)


def test_a_chinese_header_reads_as_the_contract_columns():
    """A sheet typed in a Chinese office names its columns in Chinese; they mean the contract's columns."""
    header = parse_header(["\ufeff姓名", "手机号码", "街道", "社区", "纬度", "经度", "技能", "所属队伍", "语言", "备注"])
    assert header.columns[:9] == ("name", "phone", "street", "community", "lat", "lon", "skills", "teams",
                                  "language")
    assert header.ignored == ("备注",)
    text = "姓名,手机,街道,住址\n张伟,13805320001,八大关,太平角一路5号\n"
    result = validate_csv(io.StringIO(text), RULES)
    assert result.rows[0].name == "张伟" and result.rows[0].address == "太平角一路5号"
    with pytest.raises(ImportFileError, match="column name appears more than once"):
        parse_header(["姓名", "name", "phone", "street", "lat", "lon"])


def test_text_stream_with_nul_is_refused():
    with pytest.raises(ImportFileError, match="NUL"):
        validate_csv(io.StringIO(GOOD + "a\0b\n"), RULES)


# --- geocoders (no network: a stub geopy geocoder) ----------------------------------------------------------

STREET = Place("八大关街道", 36.0525, 120.3520)


def test_offline_geocoder_uses_the_community_centre_else_the_street_centre():
    geocoder = OfflineGeocoder()
    located = geocoder.locate("太平角一路5号", STREET, Place("太平角社区", 36.05, 120.36))
    assert (located.lat, located.lon, located.approximate) == (36.05, 120.36, True)
    assert located.source == "community"
    located = geocoder.locate("太平角一路5号", STREET, Place("新社区"))
    assert (located.lat, located.lon, located.approximate) == (36.0525, 120.3520, True)
    assert located.source == "street"


def _stub_geopy(answers):
    from geopy.exc import GeocoderUnavailable
    from geopy.geocoders.base import Geocoder as GeopyBase
    from geopy.location import Location as GeopyLocation
    from geopy.point import Point

    class Stub(GeopyBase):
        calls: list

        def __init__(self):
            super().__init__(user_agent="mobilize-tests")
            self.calls = []

        def geocode(self, query, exactly_one=True, **kwargs):
            self.calls.append((query, kwargs))
            answer = answers(query)
            if answer == "down":
                raise GeocoderUnavailable("no network in tests")
            if answer is None:
                return None
            return GeopyLocation(query, Point(*answer), {})

    return Stub()


def test_online_geocoder_answer_is_exact_and_cached():
    stub = _stub_geopy(lambda query: (36.0541, 120.3498))
    geocoder = GeopyGeocoder(stub, min_delay_seconds=0, error_wait_seconds=0,
                             query_kwargs={"country_codes": "cn"})
    for _ in range(2):
        located = geocoder.locate("太平角一路5号", STREET)
        assert (located.lat, located.lon, located.approximate, located.source) == (36.0541, 120.3498, False,
                                                                                   "geocoder")
    assert stub.calls == [("太平角一路5号", {"country_codes": "cn"})]


def test_online_geocoder_falls_back_when_it_finds_nothing_or_too_far():
    stub = _stub_geopy(lambda query: None if "nothing" in query else (39.9, 116.4))  # Beijing: too far
    geocoder = GeopyGeocoder(stub, min_delay_seconds=0, error_wait_seconds=0)
    for address in ("nothing here", "南京路1号"):
        located = geocoder.locate(address, STREET)
        assert located.approximate and located.source == "street"
    assert distance_km(36.0525, 120.3520, 39.9, 116.4) > 500


def test_online_geocoder_stops_asking_after_repeated_failures():
    stub = _stub_geopy(lambda query: "down")
    geocoder = GeopyGeocoder(stub, min_delay_seconds=0, max_retries=0, error_wait_seconds=0,
                             max_consecutive_failures=3)
    for number in range(10):
        located = geocoder.locate(f"路{number}号", STREET)
        assert located.approximate
    assert len(stub.calls) == 3 and geocoder.disabled


def test_make_geocoder_follows_settings(tmp_path):
    from tests.conftest import make_settings

    assert isinstance(make_geocoder(make_settings(tmp_path, "sqlite://")), OfflineGeocoder)
    online = make_geocoder(make_settings(tmp_path, "sqlite://", geocoder="nominatim",
                                         geocoder_user_agent="ua-test"))
    assert isinstance(online, GeopyGeocoder)
    assert type(online.geocoder).__name__ == "Nominatim"
    assert online.geocoder.headers["User-Agent"] == "ua-test"
    assert online.query_kwargs == {"country_codes": "cn"}
    with pytest.raises(ValueError, match="GEOCODER"):
        make_geocoder(make_settings(tmp_path, "sqlite://", geocoder="google"))
