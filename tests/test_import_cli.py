"""`mobilize volunteers import FILE` through click's CliRunner: messages, exit codes, nothing half-written."""
from __future__ import annotations

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from mobilize.cli.volunteers import volunteers_group
from mobilize.db import make_engine
from mobilize.models import Team, Volunteer

HEADER = "name,phone,street,community,lat,lon,skills,teams,language"
GOOD_ROWS = [
    "张伟,13805320001,八大关街道,太平角社区,36.0531,120.3512,医护,太平角志愿服务队,zh",
    "欧阳娜娜,13805320002,湛山,湛山一社区,36.0611,120.3660,,湛山志愿服务队,",
]


@pytest.fixture
def invoke(tmp_path):
    def invoke(database_url, *args):
        env = {"DATABASE_URL": database_url, "MOBILIZE_INSTANCE_PATH": str(tmp_path / "instance"),
               "GEOCODER": "offline", "DEFAULT_PHONE_REGION": "CN"}
        return CliRunner().invoke(volunteers_group, ["import", *map(str, args)], env=env,
                                  catch_exceptions=False)
    return invoke


def stored(database_url) -> dict[str, str]:
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            return dict(connection.execute(select(Volunteer.phone, Volunteer.name)).all())
    finally:
        engine.dispose()


def count_teams(database_url) -> int:
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            return connection.scalar(select(func.count()).select_from(Team))
    finally:
        engine.dispose()


def write(tmp_path, lines, encoding="utf-8", name="volunteers.csv"):
    path = tmp_path / name
    path.write_bytes(("\n".join(lines) + "\n").encode(encoding))
    return path


def test_a_bom_file_with_chinese_names_imports_and_reimports(database_url, tmp_path, invoke):
    path = write(tmp_path, [HEADER, *GOOD_ROWS], encoding="utf-8-sig")
    result = invoke(database_url, path)
    assert result.exit_code == 0, result.output
    assert "2 rows, 2 good, 0 rejected" in result.stdout
    assert "2 created, 0 updated, 0 unchanged" in result.stdout
    assert stored(database_url) == {"+8613805320001": "张伟", "+8613805320002": "欧阳娜娜"}
    result = invoke(database_url, path)
    assert result.exit_code == 0 and "0 created, 0 updated, 2 unchanged" in result.stdout
    assert len(stored(database_url)) == 2


def test_gbk_file_is_refused_with_a_hint_and_nothing_changes(sqlite_url, tmp_path, invoke):
    path = write(tmp_path, [HEADER, *GOOD_ROWS], encoding="gbk")
    result = invoke(sqlite_url, path)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "not UTF-8" in result.stderr and "GBK" in result.stderr and "byte offset" in result.stderr
    assert "nothing was imported" in result.stderr
    assert stored(sqlite_url) == {}


def test_missing_columns_are_named(sqlite_url, tmp_path, invoke):
    path = write(tmp_path, ["name,street,community", "张伟,八大关,太平角社区"])
    result = invoke(sqlite_url, path)
    assert result.exit_code == 2
    assert "missing required columns: phone, lat, lon" in result.stderr


@pytest.mark.parametrize("content, words", [
    (b"", "empty"),
    (b"\xef\xbb\xbf", "empty"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00", "binary data"),
    (b"PK\x03\x04\x14\x00\x06\x00\x08\x00", "Excel"),
    (b"{\"volunteers\": []}\n", "not a volunteer CSV"),
])
def test_files_that_are_not_volunteer_csv(sqlite_url, tmp_path, invoke, content, words):
    path = tmp_path / "junk.csv"
    path.write_bytes(content)
    result = invoke(sqlite_url, path)
    assert result.exit_code == 2
    assert words in result.stderr and result.stderr.startswith("error: ")
    assert stored(sqlite_url) == {}


def test_a_missing_file_is_a_file_error(sqlite_url, tmp_path, invoke):
    result = invoke(sqlite_url, tmp_path / "nope.csv")
    assert result.exit_code == 2 and "no such file" in result.stderr


def test_ten_thousand_bad_rows_are_reported_with_line_numbers_and_nothing_is_written(sqlite_url, tmp_path,
                                                                                     invoke):
    bad = [f"坏{number},1{number:04d},八大关,,36.05,120.35,,新队,zh" for number in range(10_000)]
    path = write(tmp_path, [HEADER, GOOD_ROWS[0], *bad, GOOD_ROWS[1]])
    result = invoke(sqlite_url, path, "--strict")
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[0] == "line 3: phone: not a valid phone number: '10000'"
    assert lines[49] == "line 52: phone: not a valid phone number: '10049'"
    assert lines[50] == "... and 9950 more"
    assert "10002 rows, 2 good, 10000 rejected" in result.stdout
    assert "nothing imported (--strict)" in result.stdout
    assert stored(sqlite_url) == {} and count_teams(sqlite_url) == 0
    assert "writing" not in result.stderr  # nothing was written, so no writing progress

    result = invoke(sqlite_url, path, "--no-progress")  # not strict: the two good rows go in
    assert result.exit_code == 1
    assert "2 created" in result.stdout
    assert set(stored(sqlite_url)) == {"+8613805320001", "+8613805320002"}


def test_progress_bars_on_stderr_for_large_files(sqlite_url, tmp_path, invoke):
    rows = [f"志愿者{number},1380532{number:04d},八大关,,36.05,120.35,,,zh" for number in range(1500)]
    path = write(tmp_path, [HEADER, *rows])
    result = invoke(sqlite_url, path)
    assert result.exit_code == 0, result.output
    assert "1500 created" in result.stdout
    assert "writing" in result.stderr and "checking" in result.stderr
    small = write(tmp_path, [HEADER, *GOOD_ROWS], name="small.csv")
    assert invoke(sqlite_url, small).stderr == ""


def test_dry_run_writes_nothing(sqlite_url, tmp_path, invoke):
    path = write(tmp_path, [HEADER, *GOOD_ROWS, "坏,123,八大关,,36.05,120.35,,,zh"])
    result = invoke(sqlite_url, path, "--dry-run")
    assert result.exit_code == 1
    assert "line 4: phone: not a valid phone number: '123'" in result.stdout
    assert "2 would be created" in result.stdout and "dry run: nothing written" in result.stdout
    assert stored(sqlite_url) == {}


def test_database_not_migrated_is_explained(tmp_path, invoke):
    path = write(tmp_path, [HEADER, *GOOD_ROWS])
    result = invoke(f"sqlite:///{tmp_path / 'empty.db'}", path)
    assert result.exit_code == 2 and "mobilize db upgrade" in result.stderr


def test_through_the_mobilize_command(sqlite_url, tmp_path):
    from mobilize.cli import build_cli

    cli = build_cli()
    path = write(tmp_path, [HEADER, *GOOD_ROWS])
    env = {"DATABASE_URL": sqlite_url, "MOBILIZE_INSTANCE_PATH": str(tmp_path / "instance"),
           "GEOCODER": "offline"}
    result = CliRunner().invoke(cli, ["volunteers", "import", str(path)], env=env)
    assert result.exit_code == 0, result.output
    assert "2 created" in result.stdout


def stored_teams(database_url) -> set[str]:
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            return set(connection.scalars(select(Team.name)))
    finally:
        engine.dispose()


def test_hidden_characters_are_removed_noted_and_a_blank_name_rejected(sqlite_url, tmp_path, invoke):
    path = write(tmp_path, [
        HEADER,
        "\u202e伟张,13805320001,八大关街道,太平角\u200b社区,36.0531,120.3512,,太平角队\u2066,zh",
        "\"李\t娜\",13805320002,湛山,,36.0611,120.3660,,,",
        "\u202e\u200b,13805320003,湛山,,36.0611,120.3660,,,",
    ])
    result = invoke(sqlite_url, path)
    assert result.exit_code == 1, result.output  # the blank name is a rejected row
    lines = result.stdout.splitlines()
    assert lines[0] == "line 4: name: nothing visible left once control and direction characters are removed"
    assert lines[1:5] == [
        "changed: line 2: name: had control or direction characters (U+202E RIGHT-TO-LEFT OVERRIDE); removed",
        "changed: line 2: community: had control or direction characters (U+200B ZERO WIDTH SPACE); removed",
        "changed: line 2: teams: had control or direction characters (U+2066 LEFT-TO-RIGHT ISOLATE); removed",
        "changed: line 3: name: had control or direction characters (U+0009); removed",
    ]
    assert "3 rows, 2 good, 1 rejected" in result.stdout
    assert "4 values in 2 rows had control or direction characters, removed" in result.stdout
    assert stored(sqlite_url) == {"+8613805320001": "伟张", "+8613805320002": "李 娜"}
    assert stored_teams(sqlite_url) == {"太平角队"}
