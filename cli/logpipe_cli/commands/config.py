"""``logpipe config show | set KEY VALUE | use PROFILE``."""

from __future__ import annotations

import click
from logpipe import load_settings
from logpipe._config import KNOWN_KEYS, SECRET_KEYS, read_config, save_profile, set_active_profile

from logpipe_cli.errors import fail, handle_errors
from logpipe_cli.exit_codes import ExitCode


def mask(value: str) -> str:
    """Enough of a secret to tell two apart, never enough to use: ``lp_Ab…(hidden)``."""
    return value[:5] + "…(hidden)" if len(value) > 12 else "…(hidden)"


@click.group("config")
def command() -> None:
    """Show and change settings (profiles in $XDG_CONFIG_HOME/logpipe/config.toml)."""


@command.command("show")
@click.option("--profile", default=None, help="Show this profile instead of the active one.")
@click.option("--show-secrets", is_flag=True, help="Print API keys and tokens in full.")
@handle_errors
def show(profile: str | None, show_secrets: bool) -> None:
    """The settings in effect, and where each comes from (flag, env, profile, default)."""
    settings = load_settings(profile=profile)
    click.echo(f"config file: {settings.config_file}")
    click.echo(f"profile: {settings.profile}  ({settings.sources.get('profile', 'default')})")
    for key in KNOWN_KEYS:
        value = settings.get(key)
        if value is None:
            continue
        shown = value if show_secrets or key not in SECRET_KEYS else mask(value)
        click.echo(f"{key} = {shown}  ({settings.sources.get(key, 'default')})")
    others = sorted(set(read_config(settings.config_file).profiles) - {settings.profile})
    if others:
        click.echo(f"other profiles: {', '.join(others)}")


@command.command("set")
@click.argument("key")
@click.argument("value")
@click.option("--profile", default=None, help="Profile to change (default: the active one).")
@handle_errors
def set_(key: str, value: str, profile: str | None) -> None:
    """Set KEY (endpoint, api_key, admin_token, tenant, auth, region) in a profile."""
    if key not in KNOWN_KEYS:
        fail(f"unknown key {key!r}; known: {', '.join(KNOWN_KEYS)}", ExitCode.USAGE)
    if key == "auth" and value not in ("token", "sigv4"):
        fail("auth must be 'token' or 'sigv4'", ExitCode.USAGE)
    if key == "endpoint" and not value.startswith(("http://", "https://")):
        fail("endpoint must be an http:// or https:// URL", ExitCode.USAGE)
    name = profile or _active_profile_name()
    save_profile(name, {key: value})
    click.echo(f"{key} set in profile {name}", err=True)


@command.command("use")
@click.argument("profile")
@handle_errors
def use(profile: str) -> None:
    """Make PROFILE the active one (creating it empty if new)."""
    if profile not in read_config().profiles:
        save_profile(profile, {})
    set_active_profile(profile)
    click.echo(f"now using profile {profile}", err=True)


def _active_profile_name() -> str:
    import os

    from logpipe._config import DEFAULT_PROFILE

    return os.environ.get("LOGPIPE_PROFILE") or read_config().active_profile or DEFAULT_PROFILE
