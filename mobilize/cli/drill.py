"""`mobilize drill`: the historical recruitment order end to end in a throwaway instance (see mobilize.drill)."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click


def _header(report: dict) -> list[str]:
    config = report["config"]
    if report.get("mode") == "live":
        return [
            (f"live drill: {report['places']} places, {config['volunteers']:,} volunteers, seed {config['seed']}, "
            f"time x{config['compress']:g} ({report['real_seconds']} s real in all, {report['elapsed_s']:.0f} s "
            "from launch)"),
            ("  times are REAL seconds on the live stack (people and the order's timers run "
            f"{config['compress']:g}x faster; wave interval {config['wave_interval_s']} s, confirmation timeout "
            f"{config['confirmation_timeout_s']} s, hold-back {config['hold_max_s']:g} s, sender cap "
            f"{config['segments_per_second']:g} segments/s)"),
        ]
    return [(f"drill: {report['places']} places, {config['volunteers']:,} volunteers, seed {config['seed']} "
            f"({report['real_seconds']} s real, {report['simulated_s'] / 60:.0f} simulated min)")]


def _live_lines(report: dict) -> list[str]:
    if report.get("mode") != "live":
        return []
    lat, check = report["reply_to_dispatch_s"], report["dispatch_sms"]
    p50 = "-" if lat["p50"] is None else f"{lat['p50']:.1f} s"
    p95 = "-" if lat["p95"] is None else f"{lat['p95']:.1f} s"
    return [
        f"  reply -> dispatch    p50 {p50}, p95 {p95} (n {lat['n']}; webhook stored -> gateway accepted)",
        (f"  dispatch SMS         {check['at_gateway']} at the gateway for {check['assignments']} assignments "
        f"(missing {check['missing']}, duplicated {check['duplicated']})"),
    ]


def _text_report(report: dict) -> str:
    m = report["matching"]
    lines = _header(report) + [
        f"  filled               {report['filled']} / {report['places']}  (order {report['order_state']})",
        (f"  time to fill         {_minutes(report['time_to_fill_s'])}   (95%: {_minutes(report['time_to_95_s'])})"
        f"{_definition(report)}"),
    ] + _taken(report) + [
        f"  SMS sent             {report['sms_sent']:,}  ({report['segments_sent']:,} segments)",
    ] + _deadline(report) + [
        f"  waves                {report['waves']}  (invited {report['invited']:,})",
        f"  declines             {report['declines']}",
        f"  drop-outs            {report['drop_outs']}   confirmation timeouts {report['confirm_timeouts']}",
        f"  no-shows             {report['no_shows']}",
        f"  backfills            {report['backfills']}",
        f"  opt-outs             {report['opt_outs']}",
        f"  standby left         {report['standby']}",
        f"  capacity violations  {report['capacity_violations']}",
        (f"  distance / hindsight {m['online_ratio']}  (first come first served {m['fcfs_ratio']}, greedy "
        f"{m['greedy_ratio']})"),
    ] + _live_lines(report) + [
        "  per street:",
    ]
    for street, row in report["per_street"].items():
        lines.append(f"    {street:<8} {row['filled']:>5} / {row['places']}")
    peace = report.get("peacetime")
    if peace:
        lines += [
            f"  peacetime roster beside the order (policy: {peace['policy']}):",
            f"    shifts overlapping   {peace['shifts_overlapping']}",
            f"    shifts released      {peace['shifts_released']}  ({peace['signups_released']} sign-ups)",
            (f"    protected posts      {peace['protected_posts_staffed']} of {peace['protected_posts_total']} "
            "staffed"),
            f"    gaps backfilled      {peace['gaps_backfilled']}  ({peace['backfill_invitations']} invitations)",
        ]
        lines += [f"      {post['name']}: {post['filled']}/{post['capacity']}"
                  f"{'' if post['staffed'] else '  NOT STAFFED'}" for post in peace["protected_posts"]]
    return "\n".join(lines)


def _deadline(report: dict) -> list[str]:
    """The deadline lines of the simulated drill (the live drill has none)."""
    if "needed_by_s" not in report:
        return []
    met = "met" if report["met_deadline"] else "MISSED"
    return [f"  needed by            {_minutes(report['needed_by_s'])}: {met} (95% told: "
            f"{_minutes(report['time_to_told_95_s'])}){'  urgent' if report.get('urgent') else ''}",
            f"  segments per place   {report['segments_per_place']}"]


def _definition(report: dict) -> str:
    return f"  ({report['fill_definition']})" if report.get("fill_definition") else ""


def _taken(report: dict) -> list[str]:
    """Places taken in the database (dispatch written), beside the fill a commander means, when reported."""
    if "time_to_place_all_s" not in report:
        return []
    return [(f"  places taken         {_minutes(report['time_to_place_all_s'])}   (95%: "
            f"{_minutes(report.get('time_to_place_95_s'))})")]


def _minutes(seconds) -> str:
    return "not reached" if seconds is None else f"{seconds:,.0f} s ({seconds / 60:.1f} min)"


@click.command("drill")
@click.option("--live", is_flag=True,
              help="On the live stack (Redis, simulator, web, RQ workers, scheduler) in real, compressed time.")
@click.option("--volunteers", default=None, type=click.IntRange(1),
              help="Volunteers in the demo district [100000; --live: 5000].")
@click.option("--places", default=435, show_default=True, type=click.IntRange(1),
              help="Places of the order (registration and queue keeping at the 11 streets' testing sites).")
@click.option("--seed", default=2022, show_default=True, type=int)
@click.option("--time-scale", default=0.0, show_default=True, type=click.FloatRange(0),
              help="Simulated seconds per real second at most (e.g. 60); 0 runs as fast as possible.")
@click.option("--segments-per-second", default=100.0, show_default=True, type=click.FloatRange(0.01),
              help="The sender's cap, in segments per simulated second (--live: per real second).")
@click.option("--hold-max-s", default=None, type=click.FloatRange(0),
              help="Longest hold-back of an accepted volunteer (simulated s; --live: real s); 0: place at "
                   "once. Default: the service's (--live: compressed).")
@click.option("--compress", default=20.0, show_default=True, type=click.FloatRange(1, 60),
              help="--live: simulated seconds per real second for people's answers and the order's timers.")
@click.option("--time-limit", default=900.0, show_default=True, type=click.FloatRange(10),
              help="--live: give up after this many real seconds from launch.")
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1),
              help="--live: RQ worker processes (as `mobilize up`).")
@click.option("--workdir", default=None, type=click.Path(file_okay=False, path_type=Path),
              help="--live: keep the instance (database, logs) in this folder instead of a temporary one.")
@click.option("--needed-by-s", default=None, type=click.FloatRange(0, min_open=True),
              help="The order's deadline, simulated seconds after launch [default: its start, 5400].")
@click.option("--urgent", is_flag=True, help="The order is urgent: everyone eligible invited at once, nearest first.")
@click.option("--no-confirmation", is_flag=True,
              help="The order does not require confirmation: a place counts once the dispatch is handed over.")
@click.option("--expected-answer-rate", default=None, type=click.FloatRange(0, 1, min_open=True),
              help="The commander's expected share of yeses (sizes the first wave) [default: 0.4].")
@click.option("--end-after-told-95-s", default=None, type=click.FloatRange(0),
              help="End this many simulated seconds after 95% of the places were told and the deadline passed "
                   "(short benchmark runs) [default: run the whole order].")
@click.option("--history-invitations", default=0, show_default=True, type=click.IntRange(0),
              help="Past orders' invitations, answered by the drill's people, for the pacing's prior "
                   "(0: the commander's expected answer rate is the prior).")
@click.option("--end-s", default=None, type=click.FloatRange(1),
              help="End this many simulated seconds after launch at the latest [default: 2 h after the start].")
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON object.")
@click.option("--quiet", is_flag=True, help="No progress on stderr.")
def drill_command(live, volunteers, places, seed, time_scale, segments_per_second, hold_max_s, compress, time_limit,
                  workers, workdir, needed_by_s, urgent, no_confirmation, expected_answer_rate, end_after_told_95_s,
                  history_invitations, end_s, as_json, quiet):
    """Run the district's historical recruitment order end to end in a throwaway instance."""
    progress = None if quiet else (lambda message: click.echo(message, err=True))
    deadline_options = (needed_by_s, urgent or None, no_confirmation or None, expected_answer_rate,
                        end_after_told_95_s, end_s, history_invitations or None)
    if live and any(option is not None for option in deadline_options):
        raise click.UsageError("--needed-by-s, --urgent, --no-confirmation, --expected-answer-rate, "
                               "--end-after-told-95-s, --end-s and --history-invitations are options of the simulated drill, not --live")
    if live:
        from mobilize.drill.live import run_live_drill
        from mobilize.drill.live_config import LiveDrillConfig
        from mobilize.supervisor import StackError

        try:
            report = run_live_drill(LiveDrillConfig(
                volunteers=volunteers or 5000, places=places, seed=seed, compress=compress,
                segments_per_second=segments_per_second, hold_max_s=hold_max_s, time_limit_s=time_limit,
                workers=workers, workdir=workdir, progress=progress))
        except StackError as error:
            raise click.ClickException(str(error)) from None
    else:
        from mobilize.drill import DrillConfig, run_drill

        optional = {"expected_answer_rate": expected_answer_rate} if expected_answer_rate is not None else {}
        report = run_drill(DrillConfig(volunteers=volunteers or 100_000, places=places, seed=seed,
                                       time_scale=time_scale, segments_per_second=segments_per_second,
                                       hold_max_s=hold_max_s, progress=progress, needed_by_s=needed_by_s,
                                       urgent=urgent, confirmation_required=not no_confirmation,
                                       end_after_told_95_s=end_after_told_95_s, end_s=end_s,
                                       history_invitations=history_invitations, **optional))
    if as_json:
        sys.stdout.write(json.dumps(report, ensure_ascii=False, default=str) + "\n")
    else:
        click.echo(_text_report(report))
    if report["capacity_violations"]:
        raise SystemExit(1)


COMMANDS = [drill_command]
