"""Long-running processes: the worker, the periodic scheduler, and `up` (everything on embedded defaults)."""
import click

from mobilize.cli import CliContext, pass_cli


@click.command("worker")
@click.option("--queues", default="high,default,bulk", show_default=True, help="Comma-separated, by priority.")
@click.option("--burst", is_flag=True, help="Quit when the queues are empty.")
@click.option("--with-scheduler", is_flag=True,
              help="Also run RQ's scheduler for delayed jobs (not needed beside `mobilize scheduler`).")
@click.option("--fork", is_flag=True, help="Fork a work horse per job (isolation at a cost in throughput).")
@click.option("--name", default=None)
@pass_cli
def worker_command(context: CliContext, queues: str, burst: bool, with_scheduler: bool, fork: bool,
                   name: str | None) -> None:
    """Run an RQ worker (the app is built once per worker process); rides out Redis outages."""
    from mobilize.runtime import RedisUnavailable
    from workers.runner import run_worker

    names = tuple(part.strip() for part in queues.split(",") if part.strip())
    try:
        run_worker(context.runtime, names, burst=burst, with_scheduler=with_scheduler, fork=fork, name=name,
                   freeze_heap=True)
    except (RedisUnavailable, ValueError) as error:
        raise click.ClickException(str(error)) from None


@click.command("scheduler")
@click.option("--lease", "lease_s", default=15, show_default=True, type=click.IntRange(2, 600),
              help="Seconds a dead scheduler keeps the lead before another one takes over.")
@pass_cli
def scheduler_command(context: CliContext, lease_s: int) -> None:
    """Run the periodic sweeps and the delayed jobs (one scheduler leads at a time, others stand by).

    Runs any number of copies safely: the one holding the lease in Redis works, the others wait and take over
    within the lease if it dies. Rides out Redis outages (reconnects with a backoff)."""
    from mobilize.runtime import RedisUnavailable
    from workers.runner import run_cron

    try:
        run_cron(context.runtime, lease_s=lease_s)
    except RedisUnavailable as error:
        raise click.ClickException(str(error)) from None


@click.command("up")
@click.option("--port", default=5000, show_default=True, help="Web port.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--workers", "worker_count", default=2, show_default=True, help="RQ worker processes.")
@click.option("--web-workers", default=2, show_default=True, help="gunicorn worker processes.")
@click.option("--demo", is_flag=True, help="Seed the demo district and its logins first (idempotent).")
@click.option("--demo-volunteers", default=5000, show_default=True, type=click.IntRange(1, 200_000),
              help="With --demo: how many synthetic volunteers a new demo district gets.")
@pass_cli
def up_command(context: CliContext, port: int, host: str, worker_count: int, web_workers: int,
               demo: bool, demo_volunteers: int) -> None:
    """Run everything on the embedded defaults: Redis, migrations, web, workers, scheduler, SMS simulator.

    The terminal shows the addresses, the demo logins and warnings; the rest (migrations, the demo's details,
    each part starting) goes to the instance's logs/up.log, and each part's own log beside it."""
    from mobilize.logging import configure_logging
    from mobilize.supervisor import Stack, StackError

    settings = context.settings
    log_file = settings.instance_path / "logs" / "up.log"
    configure_logging(settings.log_level, settings.log_format, log_file=log_file)
    click.echo(f"starting mobilize (its log: {log_file})")
    if demo:
        _seed_demo(context, demo_volunteers)
    try:
        Stack(settings, host=host, port=port, worker_count=worker_count, web_workers=web_workers).run()
    except StackError as error:
        raise click.ClickException(str(error)) from None
    click.echo("mobilize stopped")


def _seed_demo(context: CliContext, volunteers: int) -> None:
    import structlog

    from mobilize.cli.seed import seed_demo_district

    district, roster = seed_demo_district(context, volunteers)
    structlog.get_logger(__name__).info("demo.seeded", district=str(district), roster=str(roster))
    click.echo(f"demo district: {district.streets} streets, {district.total_sites} sites, "
               f"{district.volunteers:,} volunteers ({'new' if district.created else 'as before'})")


COMMANDS = [worker_command, scheduler_command, up_command]
