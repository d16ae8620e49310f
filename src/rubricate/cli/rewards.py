"""`rubricate export-reward` and `rubricate serve-reward`: the rubric's reward for RL trainers."""

from __future__ import annotations

import ipaddress
import os

import click

from ..rewards import TARGETS, RewardScorer, export_module_text, serve_reward
from ..rewards import DEFAULT_DEADLINE_S, DEFAULT_MAX_BODY, DEFAULT_MAX_CHARS
from ._app import app
from ._output import err_console


@app.command("export-reward")
@click.argument("rubric_ref", metavar="RUBRIC")
@click.option("--target", "-t", required=True, type=click.Choice(sorted(TARGETS)),
              help="The trainer whose reward function the module exposes.")
@click.option("--out", "-o", "out", required=True, type=click.Path(dir_okay=False),
              help="Python file to write.")
@click.option("--checks", "checks_files", multiple=True, type=click.Path(exists=True, dir_okay=False),
              help="Python file with @check functions the rubric uses (repeatable).")
@click.option("--embed/--no-embed", default=True, show_default=True,
              help="Embed the rubric and checks (verified by SHA-256) so the module runs anywhere rubricate is "
                   "installed; --no-embed writes a shim that loads them from their paths here.")
def export_reward_command(rubric_ref: str, target: str, out: str, checks_files: tuple[str, ...],
                          embed: bool) -> None:
    """Write a module that builds RUBRIC's (built-in name or file) reward function for TARGET."""
    text = export_module_text(rubric_ref, target, checks_files, embed=embed)
    directory = os.path.dirname(os.path.abspath(out))
    os.makedirs(directory, exist_ok=True)
    with open(out, "w", encoding="utf-8") as f:
        f.write(text)
    spec = TARGETS[target]
    err_console.print(f"wrote {out}: {spec.attribute} for {target} ({spec.usage})", markup=False,
                      soft_wrap=True)


@app.command("serve-reward")
@click.argument("rubric_ref", metavar="RUBRIC")
@click.option("--port", "-p", type=click.IntRange(0, 65535), default=5000, show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; anything but loopback needs --allow-remote.")
@click.option("--allow-remote", is_flag=True,
              help="Allow a non-loopback --host (the server has no authentication).")
@click.option("--max-body-mb", type=click.FloatRange(min=0.001), default=DEFAULT_MAX_BODY / (1 << 20),
              show_default=True, help="Largest request body accepted.")
@click.option("--deadline", "deadline_s", type=click.FloatRange(min=0.1), default=DEFAULT_DEADLINE_S,
              show_default=True, help="Seconds a request may take (reading and scoring).")
@click.option("--header-timeout", "header_timeout_s", type=click.FloatRange(min=0.1), default=10.0, show_default=True,
              help="Seconds a connection may take to send a request's head (slower clients are cut off).")
@click.option("--max-concurrent", type=click.IntRange(min=1), default=4, show_default=True,
              help="Requests scored at once; others wait up to --deadline, then get 503.")
@click.option("--max-chars", type=click.IntRange(min=1), default=DEFAULT_MAX_CHARS, show_default=True,
              help="Larger samples get no reward.")
@click.option("--none-reward", type=float, default=0.0, show_default=True,
              help="Reward sent for a sample that cannot be scored (JSON has no None for OpenRLHF).")
@click.option("--checks", "checks_files", multiple=True, type=click.Path(exists=True, dir_okay=False),
              help="Python file with @check functions the rubric uses (repeatable).")
def serve_reward_command(rubric_ref: str, port: int, host: str, allow_remote: bool, max_body_mb: float,
                         deadline_s: float, header_timeout_s: float, max_concurrent: int, max_chars: int,
                         none_reward: float, checks_files: tuple[str, ...]) -> None:
    """Serve RUBRIC's reward over HTTP for OpenRLHF (`--remote_rm_url http://HOST:PORT/get_reward`)."""
    if not allow_remote and not _loopback(host):
        raise click.BadParameter(f"{host} is not a loopback address; add --allow-remote to listen on it",
                                 param_hint="--host")
    scorer = RewardScorer(rubric_ref, deadline_s=deadline_s, max_chars=max_chars, checks_files=checks_files)
    try:
        server = serve_reward(scorer, host, port, max_body_bytes=int(max_body_mb * (1 << 20)), deadline_s=deadline_s,
                              none_reward=none_reward, header_timeout_s=header_timeout_s,
                              max_concurrent=max_concurrent)
    except ImportError as exc:
        raise click.UsageError(str(exc)) from None
    err_console.print(f"serving {scorer.rubric.id} {scorer.rubric.version} at {server.url} (Ctrl-C stops)",
                      markup=False, soft_wrap=True)
    try:
        server.serve_forever()  # Ctrl-C and SIGTERM stop it gracefully (in-flight requests finish)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
