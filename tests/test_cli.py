"""The console script as a user runs it: real subprocesses, real files."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest
from sqlalchemy import select

from mobilize.migrate import head_revision
from mobilize.models import ApiToken, User


def run_cli(*args: str, env: dict, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, "-m", "mobilize", *args], env=env, capture_output=True, text=True,
                            timeout=120)
    if check and result.returncode != 0:
        raise AssertionError(f"mobilize {' '.join(args)} failed ({result.returncode}): {result.stderr}")
    return result


@pytest.fixture
def cli_env(tmp_path, database_url):
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "SMS_BACKEND")}
    env.update(DATABASE_URL=database_url, MOBILIZE_INSTANCE_PATH=str(tmp_path / "instance"))
    return env


def test_db_upgrade_is_idempotent(cli_env):
    head = head_revision()
    assert f"revision {head}" in run_cli("db", "upgrade", env=cli_env).stdout
    assert f"revision {head}" in run_cli("db", "upgrade", env=cli_env).stdout


def test_users_create_and_token(cli_env, runtime):
    run_cli("users", "create", "--username", "chen", "--password", "s3cret-pass", "--role", "officer",
            "--street", "八大关", env=cli_env)
    result = run_cli("users", "token", "--username", "chen", env=cli_env)
    token = result.stdout.strip()
    assert result.stdout == token + "\n" and token.startswith("mob_")  # alone on stdout
    with runtime.transaction() as session:
        user = session.scalar(select(User).where(User.username == "chen"))
        assert user.street.name == "八大关街道"
        stored = session.scalars(select(ApiToken.token_hash)).all()
    assert token not in stored and len(stored) == 1  # only the hash is kept


@pytest.mark.parametrize("args, message", [
    (["--username", "a", "--password", "long-enough", "--role", "admin"], "username must be"),
    (["--username", "bob", "--password", "short", "--role", "admin"], "at least 8"),
    (["--username", "bob", "--password", "long-enough", "--role", "officer"], "needs --street"),
    (["--username", "bob", "--password", "long-enough", "--role", "officer", "--street", "火星"], "unknown street"),
    (["--username", "bob", "--password", "long-enough", "--role", "admin", "--street", "八大关"], "only officers"),
    (["--username", "bob", "--password", "long-enough", "--role", "boss"], "Invalid value for '--role'"),
])
def test_users_create_rejects_bad_input_clearly(cli_env, args, message):
    result = run_cli("users", "create", *args, env=cli_env, check=False)
    assert result.returncode != 0
    assert message in result.stderr


def test_duplicate_user_and_unknown_user(cli_env):
    args = ["users", "create", "--username", "li", "--password", "long-enough", "--role", "viewer"]
    run_cli(*args, env=cli_env)
    assert "already exists" in run_cli(*args, env=cli_env, check=False).stderr
    assert "no user 'nobody'" in run_cli("users", "token", "--username", "nobody", env=cli_env, check=False).stderr


def test_commands_on_a_database_without_schema_say_what_to_run(tmp_path):
    env = dict(os.environ, DATABASE_URL=f"sqlite:///{tmp_path / 'empty.db'}",
               MOBILIZE_INSTANCE_PATH=str(tmp_path / "instance"))
    result = run_cli("users", "token", "--username", "x", env=env, check=False)
    assert result.returncode == 1 and "has no schema yet; run `mobilize db upgrade`" in result.stderr


def test_worker_without_redis_says_how_to_get_one(cli_env):
    result = run_cli("worker", "--burst", env=cli_env, check=False)
    assert result.returncode != 0 and "REDIS_URL" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_python_dash_m_and_console_script_agree(cli_env):
    assert "mobilize" in subprocess.run([os.path.join(os.path.dirname(sys.executable), "mobilize"), "--version"],
                                        capture_output=True, text=True, env=cli_env).stdout


def test_seed_demo_builds_the_district_and_prints_demo_logins(cli_env, runtime, tmp_path):
    first = run_cli("seed", "demo", "--volunteers", "400", env=cli_env)
    assert "demo logins" in first.stdout and "commander / " in first.stdout
    credentials = (tmp_path / "instance" / "demo-credentials.txt").read_text()
    assert credentials.count("\n") == 5 and oct((tmp_path / "instance" / "demo-credentials.txt").stat().st_mode)[-3:] == "600"
    second = run_cli("seed", "demo", "--volunteers", "400", env=cli_env)  # idempotent: nothing new
    assert "already" in second.stdout
    assert (tmp_path / "instance" / "demo-credentials.txt").read_text() == credentials
    from mobilize.models import Volunteer
    from sqlalchemy import func

    with runtime.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Volunteer)) == 400
        assert session.scalar(select(func.count()).select_from(User)) == 5


def test_seed_demo_refuses_real_sms_without_the_flag(cli_env):
    env = dict(cli_env, SMS_BACKEND="twilio", TWILIO_ACCOUNT_SID="AC" + "1" * 32, TWILIO_AUTH_TOKEN="x",
               TWILIO_FROM="+8610690000")
    result = run_cli("seed", "demo", env=env, check=False)
    assert result.returncode == 1 and "--allow-real-sms" in result.stderr
