"""Volunteer CSV import into the database, on SQLite and on PostgreSQL."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from sqlalchemy import func, select, update

from mobilize.models import Community, Street, Team, Volunteer, volunteer_skills, volunteer_teams
from mobilize.registry.geocoding import GeopyGeocoder
from mobilize.registry.importer import ImportFileError, RowError, import_volunteers

HEADER = "name,phone,street,community,lat,lon,skills,teams,language"
ROWS = [
    "张伟,13805320001,八大关街道,太平角社区,36.0531,120.3512,medical;急救,太平角志愿服务队;应急救援队,zh",
    "李娜,+86 138 0532 0002,湛山,湛山一社区,36.0611,120.3660,,湛山志愿服务队,",
    "John Smith,138-0532-0003,八大关,,36.0520,120.3530,english,应急救援队,en",
]


def write_csv(tmp_path, lines, name="volunteers.csv", header=HEADER):
    path = tmp_path / name
    path.write_text("\n".join([header, *lines]) + "\n", encoding="utf-8")
    return path


def volunteers(runtime) -> dict[str, Volunteer]:
    with runtime.sessions() as session:
        rows = session.scalars(select(Volunteer)).all()
        result = {}
        for volunteer in rows:
            volunteer.skill_codes = sorted(skill.code for skill in volunteer.skills)
            volunteer.team_names = sorted(team.name for team in volunteer.teams)
            volunteer.community_name = volunteer.community.name if volunteer.community else None
            volunteer.street_name = volunteer.street.name
            result[volunteer.phone] = volunteer
        return result


def count(runtime, table) -> int:
    with runtime.sessions() as session:
        return session.scalar(select(func.count()).select_from(table))


def run(runtime, path, **options):
    return import_volunteers(runtime.sessions, path, default_region="CN", **options)


def test_import_creates_volunteers_communities_and_teams(runtime, tmp_path):
    report = run(runtime, write_csv(tmp_path, ROWS))
    assert (report.rows, report.created, report.updated, report.unchanged, report.rejected) == (3, 3, 0, 0, 0)
    assert report.committed and report.errors == []
    assert (report.new_communities, report.new_teams) == (2, 3)
    stored = volunteers(runtime)
    assert set(stored) == {"+8613805320001", "+8613805320002", "+8613805320003"}
    zhang = stored["+8613805320001"]
    assert (zhang.name, zhang.street_name, zhang.community_name) == ("张伟", "八大关街道", "太平角社区")
    assert (zhang.lat, zhang.lon, zhang.location_approximate) == (36.0531, 120.3512, False)
    assert zhang.language == "zh"
    assert zhang.skill_codes == ["first_aid", "medical"]
    assert zhang.team_names == sorted(["太平角志愿服务队", "应急救援队"])
    assert zhang.opted_out_at is None and not zhang.provisional and not zhang.phone_invalid
    assert stored["+8613805320002"].language == "zh"
    assert stored["+8613805320003"].language == "en" and stored["+8613805320003"].community_name is None
    assert count(runtime, Team) == 3 and count(runtime, Community) == 2


def test_reimport_updates_and_never_duplicates(runtime, tmp_path):
    path = write_csv(tmp_path, ROWS)
    run(runtime, path)
    again = run(runtime, path)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 3)
    assert count(runtime, Volunteer) == 3

    changed = write_csv(tmp_path, [
        "张伟伟,+8613805320001,湛山街道,湛山二社区,36.0600,120.3700,驾驶,新队,en",  # everything changes
        ROWS[1],
        "John Smith,13805320003,八大关,,36.0520,120.3530,english;medical,应急救援队,en",  # one more skill
        "王芳,13805320004,八大关,,36.0500,120.3500,,,",
    ], name="changed.csv")
    report = run(runtime, changed)
    assert (report.created, report.updated, report.unchanged) == (1, 2, 1)
    stored = volunteers(runtime)
    assert len(stored) == 4
    zhang = stored["+8613805320001"]
    assert (zhang.name, zhang.street_name, zhang.community_name, zhang.language) == ("张伟伟", "湛山街道", "湛山二社区",
                                                                                      "en")
    assert (zhang.lat, zhang.lon) == (36.06, 120.37)
    assert zhang.skill_codes == ["driving"] and zhang.team_names == ["新队"]
    assert stored["+8613805320003"].skill_codes == ["english", "medical"]
    assert count(runtime, volunteer_skills) == 3 and count(runtime, volunteer_teams) == 3


def test_absent_optional_columns_keep_what_is_stored(runtime, tmp_path):
    run(runtime, write_csv(tmp_path, ROWS))
    report = run(runtime, write_csv(tmp_path, ["张伟,13805320001,八大关,36.0531,120.3512"], name="few.csv",
                                    header="name,phone,street,lat,lon"))
    assert report.unchanged == 1
    zhang = volunteers(runtime)["+8613805320001"]
    assert zhang.skill_codes == ["first_aid", "medical"] and zhang.community_name == "太平角社区"


def test_opt_out_is_never_changed_by_an_import(runtime, tmp_path):
    path = write_csv(tmp_path, ROWS)
    run(runtime, path)
    opted_out = datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    with runtime.transaction() as session:
        session.execute(update(Volunteer).where(Volunteer.phone == "+8613805320001")
                        .values(opted_out_at=opted_out))
    report = run(runtime, write_csv(tmp_path, [ROWS[0].replace("张伟", "张大伟")], name="renamed.csv"))
    assert report.updated == 1
    zhang = volunteers(runtime)["+8613805320001"]
    assert zhang.name == "张大伟" and zhang.opted_out_at == opted_out
    assert volunteers(runtime)["+8613805320002"].opted_out_at is None


def test_a_number_that_texted_stop_before_it_was_registered_is_imported_opted_out(rt, tmp_path):
    from tests.factories import text

    assert text(rt, "+8613805320002", "STOP") == "opt_out_unknown_sender"
    report = run(rt, write_csv(tmp_path, ROWS))
    assert (report.created, report.opted_out) == (3, 1)
    stored = volunteers(rt)
    assert stored["+8613805320002"].opted_out_at is not None
    assert stored["+8613805320001"].opted_out_at is None and stored["+8613805320003"].opted_out_at is None


def test_strict_mode_writes_nothing_when_a_row_is_bad(runtime, tmp_path):
    path = write_csv(tmp_path, ROWS + ["坏行,12345,八大关,新社区,36.05,120.35,,新队,zh"])
    report = run(runtime, path, strict=True)
    assert (report.created, report.rejected, report.committed) == (0, 1, False)
    assert report.errors == [RowError(5, "phone", "not a valid phone number: '12345'")]
    assert count(runtime, Volunteer) == 0 and count(runtime, Team) == 0 and count(runtime, Community) == 0

    report = run(runtime, path)  # without --strict the good rows go in, the bad one is reported
    assert (report.created, report.rejected, report.committed) == (3, 1, True)
    assert count(runtime, Volunteer) == 3 and count(runtime, Team) == 3


def test_duplicate_phone_in_the_file_rejects_the_later_line(runtime, tmp_path):
    path = write_csv(tmp_path, ROWS + ["张伟二,+86-138-0532-0001,湛山,,36.06,120.36,,,"])
    report = run(runtime, path)
    assert report.created == 3 and report.rejected == 1
    assert report.errors == [RowError(5, "phone", "duplicate: +8613805320001 is already on line 2")]
    assert volunteers(runtime)["+8613805320001"].name == "张伟"


def test_address_is_geocoded_offline_and_marked_approximate(runtime, tmp_path):
    with runtime.transaction() as session:
        badaguan = session.scalar(select(Street).where(Street.short_name == "八大关"))
        session.add(Community(street_id=badaguan.id, name="太平角社区", lat=36.0501, lon=120.3601))
        street_centre = (badaguan.lat, badaguan.lon)
    path = write_csv(tmp_path, [
        "张伟,13805320001,八大关,太平角社区,,,,,zh,太平角一路5号",
        "李娜,13805320002,八大关,新社区,,,,,zh,正阳关路3号",
        "王芳,13805320003,八大关,,36.0531,120.3512,,,zh,",
    ], header=HEADER + ",address")
    report = run(runtime, path)
    assert (report.created, report.geocoded, report.approximate, report.new_communities) == (3, 2, 2, 1)
    stored = volunteers(runtime)
    assert (stored["+8613805320001"].lat, stored["+8613805320001"].lon) == (36.0501, 120.3601)
    assert (stored["+8613805320002"].lat, stored["+8613805320002"].lon) == street_centre
    assert stored["+8613805320001"].location_approximate and stored["+8613805320002"].location_approximate
    assert not stored["+8613805320003"].location_approximate
    again = run(runtime, path)
    assert again.unchanged == 3


def test_online_geocoder_result_is_exact(runtime, tmp_path):
    from geopy.geocoders.base import Geocoder as GeopyBase
    from geopy.location import Location
    from geopy.point import Point

    class Stub(GeopyBase):
        def geocode(self, query, exactly_one=True, **kwargs):
            return Location(query, Point(36.0541, 120.3498), {})

    path = write_csv(tmp_path, ["张伟,13805320001,八大关,,,,,,zh,太平角一路5号"], header=HEADER + ",address")
    report = run(runtime, path, geocoder=GeopyGeocoder(Stub(), min_delay_seconds=0))
    assert (report.geocoded, report.approximate) == (1, 0)
    zhang = volunteers(runtime)["+8613805320001"]
    assert (zhang.lat, zhang.lon, zhang.location_approximate) == (36.0541, 120.3498, False)


def test_dry_run_reports_without_writing(runtime, tmp_path):
    report = run(runtime, write_csv(tmp_path, ROWS), dry_run=True)
    assert (report.created, report.committed, report.dry_run, report.new_teams) == (3, False, True, 3)
    assert count(runtime, Volunteer) == 0 and count(runtime, Team) == 0


def test_a_file_error_changes_nothing(runtime, tmp_path):
    path = tmp_path / "gbk.csv"
    path.write_bytes(("\n".join([HEADER, *ROWS]) + "\n").encode("gbk"))
    with pytest.raises(ImportFileError, match="GBK"):
        run(runtime, path)
    assert count(runtime, Volunteer) == 0 and count(runtime, Team) == 0


def test_import_inside_the_callers_session(runtime, tmp_path):
    path = write_csv(tmp_path, ROWS)
    with runtime.sessions() as session:
        report = import_volunteers(session, path)
        assert report.created == 3
        session.rollback()  # the caller owns the transaction
    assert count(runtime, Volunteer) == 0
    with runtime.transaction() as session:
        import_volunteers(session, path, dry_run=True)
        assert session.scalar(select(func.count()).select_from(Volunteer)) == 0
        import_volunteers(session, path)
    assert count(runtime, Volunteer) == 3


def test_batches_and_progress(runtime, tmp_path):
    lines = [f"志愿者{number},1380532{number:04d},八大关,社区{number % 3},36.05,120.35,medical,队{number % 4},zh"
             for number in range(1, 26)]
    path = write_csv(tmp_path, lines)
    seen = []
    report = run(runtime, path, batch_size=7, progress=lambda *event: seen.append(event))
    assert report.created == 25
    assert count(runtime, volunteer_teams) == 25 and count(runtime, volunteer_skills) == 25
    assert seen[0][0] == "read" and seen[0][1] == seen[0][2] == path.stat().st_size
    writes = [entry for entry in seen if entry[0] == "write"]
    assert writes == [("write", done, 25) for done in (7, 14, 21, 25)]
    lines[3] = lines[3].replace("medical", "driving")
    report = run(runtime, write_csv(tmp_path, lines, name="again.csv"), batch_size=7)
    assert (report.updated, report.unchanged) == (1, 24)
