"""The `mobilize` command line. Each command group lives in its own module of this package."""
from __future__ import annotations

import click

from config import ConfigError, Settings


class CliContext:
    """Settings and a lazily built Runtime for the commands (nothing connects until a command needs it)."""

    def __init__(self) -> None:
        self._runtime = None

    @property
    def runtime(self):
        if self._runtime is None:
            from mobilize.runtime import Runtime

            try:
                self._runtime = Runtime(Settings.from_env())
            except ConfigError as error:
                raise click.ClickException(str(error)) from None
        return self._runtime

    @property
    def migrated_runtime(self):
        """The runtime, after checking that the database schema is current (a clear error otherwise)."""
        from mobilize.migrate import SchemaNotReady, require_current_schema

        try:
            require_current_schema(self.runtime.settings.database_url)
        except SchemaNotReady as error:
            raise click.ClickException(str(error)) from None
        return self.runtime

    @property
    def settings(self) -> Settings:
        return self.runtime.settings

    def close(self) -> None:
        if self._runtime is not None:
            self._runtime.close()


pass_cli = click.make_pass_decorator(CliContext, ensure=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="mobilize")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """mobilize: emergency volunteer mobilization over SMS."""
    context = ctx.ensure_object(CliContext)
    ctx.call_on_close(context.close)
    from mobilize.logging import configure_logging

    try:
        settings = Settings.from_env()
    except ConfigError as error:
        raise click.ClickException(str(error)) from None
    configure_logging(settings.log_level, settings.log_format)


COMMAND_MODULES = ("db", "seed", "services", "users", "volunteers", "orders", "simulator", "drill")


def _register_commands() -> None:
    import importlib

    for name in COMMAND_MODULES:
        module = importlib.import_module(f"mobilize.cli.{name}")
        for command in module.COMMANDS:
            cli.add_command(command)


def build_cli() -> click.Group:
    """The `mobilize` group with every command registered (done once, on first use, not at import)."""
    if not cli.commands:
        _register_commands()
    return cli


def main() -> None:
    build_cli()(prog_name="mobilize")
