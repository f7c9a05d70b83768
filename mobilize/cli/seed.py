import secrets

import click

from mobilize.cli import CliContext, pass_cli

# (username, role, street): the demo's people; passwords are random and printed, never stored in the repo.
DEMO_USERS = (
    ("admin", "admin", None),
    ("commander", "commander", None),
    ("officer-badaguan", "officer", "八大关街道"),
    ("officer-zhanshan", "officer", "湛山街道"),
    ("viewer", "viewer", None),
)


@click.group("seed")
def seed_group() -> None:
    """Demo data."""


@seed_group.command("demo")
@click.option("--volunteers", default=5000, show_default=True, help="How many synthetic volunteers.")
@click.option("--seed", "random_seed", default=2022, show_default=True, help="Random seed (deterministic data).")
@click.option("--allow-real-sms", is_flag=True, help="Seed even though SMS_BACKEND=twilio (real phones!).")
@pass_cli
def demo_command(context: CliContext, volunteers: int, random_seed: int, allow_real_sms: bool) -> None:
    """Build the demo district (idempotent) and demo logins; upgrades the database first."""
    summary, roster = seed_demo_district(context, volunteers, random_seed, allow_real_sms)
    click.echo(f"demo district: {summary}")
    click.echo(f"peacetime roster: {roster}")
    path = demo_credentials(context)
    if path.exists():
        click.echo(f"demo logins (also in {path}):")
        for line in path.read_text().splitlines():
            click.echo(f"  {line}")


def seed_demo_district(context: CliContext, volunteers: int = 5000, random_seed: int = 2022,
                       allow_real_sms: bool = False):
    """Migrate, then build the demo district, its roster and its logins (idempotent): (district, roster)
    summaries. New logins are appended to the instance's demo-credentials.txt (readable by its owner only)."""
    from mobilize.migrate import upgrade
    from mobilize.peacetime.demo import seed_roster
    from mobilize.registry.demo import seed_demo

    if context.settings.sms_backend == "twilio" and not allow_real_sms:
        raise click.ClickException("the demo's synthetic phone numbers may belong to real people: with "
                                   "SMS_BACKEND=twilio, seed only with --allow-real-sms")
    upgrade(context.settings.database_url)
    with context.runtime.transaction() as session:
        summary = seed_demo(session, volunteers=volunteers, seed=random_seed)
        roster = seed_roster(session)
        logins = _demo_users(session)
    path = demo_credentials(context)
    if logins:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a") as handle:
            path.chmod(0o600)
            handle.writelines(f"{line}\n" for line in logins)
    return summary, roster


def demo_credentials(context: CliContext):
    return context.settings.instance_path / "demo-credentials.txt"


def _demo_users(session) -> list[str]:
    from mobilize.accounts import create_user, find_user

    lines = []
    for username, role, street in DEMO_USERS:
        if find_user(session, username) is not None:
            continue
        password = secrets.token_urlsafe(9)
        create_user(session, username, password, role, street)
        lines.append(f"{username} / {password}  ({role}{', ' + street if street else ''})")
    return lines


COMMANDS = [seed_group]
