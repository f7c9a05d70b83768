"""`mobilize drill`: the historical recruitment order end to end in a throwaway instance (see mobilize.drill)."""
from __future__ import annotations

import json
import sys

import click


def _text_report(report: dict) -> str:
    m = report["matching"]
    lines = [
        f"drill: {report['places']} places, {report['config']['volunteers']:,} volunteers, seed "
        f"{report['config']['seed']} ({report['real_seconds']} s real, {report['simulated_s'] / 60:.0f} simulated min)",
        f"  filled               {report['filled']} / {report['places']}  (order {report['order_state']})",
        f"  time to fill         {_minutes(report['time_to_fill_s'])}   (95%: {_minutes(report['time_to_95_s'])})",
        f"  SMS sent             {report['sms_sent']:,}  ({report['segments_sent']:,} segments)",
        f"  waves                {report['waves']}  (invited {report['invited']:,})",
        f"  declines             {report['declines']}",
        f"  drop-outs            {report['drop_outs']}   confirmation timeouts {report['confirm_timeouts']}",
        f"  no-shows             {report['no_shows']}",
        f"  backfills            {report['backfills']}",
        f"  opt-outs             {report['opt_outs']}",
        f"  standby left         {report['standby']}",
        f"  capacity violations  {report['capacity_violations']}",
        f"  distance / hindsight {m['online_ratio']}  (first come first served {m['fcfs_ratio']}, greedy "
        f"{m['greedy_ratio']})",
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
            f"    protected posts      {peace['protected_posts_staffed']} of {peace['protected_posts_total']} "
            "staffed",
            f"    gaps backfilled      {peace['gaps_backfilled']}  ({peace['backfill_invitations']} invitations)",
        ]
        lines += [f"      {post['name']}: {post['filled']}/{post['capacity']}"
                  f"{'' if post['staffed'] else '  NOT STAFFED'}" for post in peace["protected_posts"]]
    return "\n".join(lines)


def _minutes(seconds) -> str:
    return "not reached" if seconds is None else f"{seconds:,.0f} s ({seconds / 60:.1f} min)"


@click.command("drill")
@click.option("--volunteers", default=100_000, show_default=True, type=click.IntRange(1),
              help="Volunteers in the demo district.")
@click.option("--places", default=435, show_default=True, type=click.IntRange(1),
              help="Places of the order (registration and queue keeping at the 11 streets' testing sites).")
@click.option("--seed", default=2022, show_default=True, type=int)
@click.option("--time-scale", default=0.0, show_default=True, type=click.FloatRange(0),
              help="Simulated seconds per real second at most (e.g. 60); 0 runs as fast as possible.")
@click.option("--segments-per-second", default=100.0, show_default=True, type=click.FloatRange(0.01),
              help="The sender's cap, in segments per simulated second.")
@click.option("--hold-max-s", default=None, type=click.FloatRange(0),
              help="Longest hold-back of an accepted volunteer (simulated s); 0: place at once. "
                   "Default: the service's.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON object.")
@click.option("--quiet", is_flag=True, help="No progress on stderr.")
def drill_command(volunteers, places, seed, time_scale, segments_per_second, hold_max_s, as_json, quiet):
    """Run the district's historical recruitment order end to end in a throwaway instance."""
    from mobilize.drill import DrillConfig, run_drill

    progress = None if quiet else (lambda message: click.echo(message, err=True))
    report = run_drill(DrillConfig(volunteers=volunteers, places=places, seed=seed, time_scale=time_scale,
                                   segments_per_second=segments_per_second, hold_max_s=hold_max_s,
                                   progress=progress))
    if as_json:
        sys.stdout.write(json.dumps(report, ensure_ascii=False, default=str) + "\n")
    else:
        click.echo(_text_report(report))
    if report["capacity_violations"]:
        raise SystemExit(1)


COMMANDS = [drill_command]
