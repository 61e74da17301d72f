"""Settings and profiles (docs/contract.md §4).

Resolution, first one set wins: an explicit argument (a CLI flag), then the environment
(``LOGPIPE_ENDPOINT``, ``LOGPIPE_API_KEY``, ``LOGPIPE_ADMIN_TOKEN``, ``LOGPIPE_PROFILE``, and the
extension ``LOGPIPE_TENANT``), then the active profile of ``$XDG_CONFIG_HOME/logpipe/config.toml``, then
the local stack's defaults (``http://127.0.0.1:8080``).

The file holds secrets, so it is written with mode 0600, atomically (temporary file + ``os.replace``) and
under an advisory lock, so ``logpipe serve`` and ``logpipe config set`` running at once lose nothing::

    active_profile = "local"

    [profiles.local]
    endpoint = "http://127.0.0.1:8080"
    admin_token = "lpadm_..."

Only strings are written; the stdlib reads TOML (``tomllib``) but does not write it, and a tiny writer
for string tables is safer than a dependency.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
import tomllib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ._exceptions import ConfigError

__all__ = [
    "DEFAULT_ENDPOINT",
    "DEFAULT_PROFILE",
    "KNOWN_KEYS",
    "SECRET_KEYS",
    "Settings",
    "config_path",
    "load_settings",
    "read_config",
    "save_profile",
    "set_active_profile",
]

DEFAULT_ENDPOINT = "http://127.0.0.1:8080"
# `logpipe serve` writes the "local" profile, so with no other choice made the CLI talks to it.
DEFAULT_PROFILE = "local"

# key -> environment variable; the order is the order `config show` prints.
_ENV: dict[str, str] = {
    "endpoint": "LOGPIPE_ENDPOINT",
    "api_key": "LOGPIPE_API_KEY",
    "admin_token": "LOGPIPE_ADMIN_TOKEN",
    "tenant": "LOGPIPE_TENANT",
    "auth": "LOGPIPE_AUTH",  # "token" (bearer admin token) or "sigv4" (AWS IAM)
    "region": "LOGPIPE_REGION",  # AWS region for SigV4; default: boto3's
}
KNOWN_KEYS: tuple[str, ...] = tuple(_ENV)
SECRET_KEYS: frozenset[str] = frozenset({"api_key", "admin_token"})

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")  # used with fullmatch: "$" would let "a\n" through


def config_path(environ: Mapping[str, str] | None = None) -> Path:
    """``$XDG_CONFIG_HOME/logpipe/config.toml`` (default ``~/.config``), or ``$LOGPIPE_CONFIG`` if set."""
    env = os.environ if environ is None else environ
    explicit = env.get("LOGPIPE_CONFIG")
    if explicit:
        return Path(explicit)
    base = env.get("XDG_CONFIG_HOME") or ""
    # XDG: a relative XDG_CONFIG_HOME is invalid and must be ignored.
    root = Path(base) if base and os.path.isabs(base) else Path.home() / ".config"
    return root / "logpipe" / "config.toml"


@dataclass(frozen=True)
class ConfigFile:
    active_profile: str | None = None
    profiles: dict[str, dict[str, str]] = field(default_factory=dict)


def read_config(path: Path | None = None) -> ConfigFile:
    """The config file's contents; an absent file is an empty config."""
    path = config_path() if path is None else path
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return ConfigFile()
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from exc
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from exc
    active = data.get("active_profile")
    profiles: dict[str, dict[str, str]] = {}
    tables = data.get("profiles", {})
    if not isinstance(tables, dict):
        raise ConfigError(f"{path}: 'profiles' must be a table")
    for name, table in tables.items():
        if not isinstance(table, dict):
            raise ConfigError(f"{path}: profiles.{name} must be a table")
        # Only strings are meaningful; anything else a person typed is kept out rather than crashing.
        profiles[str(name)] = {str(k): v for k, v in table.items() if isinstance(v, str)}
    return ConfigFile(active_profile=active if isinstance(active, str) else None, profiles=profiles)


def _toml_str(value: str) -> str:
    out = ['"']
    for ch in value:
        code = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\u{code:04X}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _toml_key(key: str) -> str:
    return key if _BARE_KEY.fullmatch(key) else _toml_str(key)


def _dump(config: ConfigFile) -> str:
    lines = ["# logpipe settings (written by logpipe; strings only)"]
    if config.active_profile is not None:
        lines.append(f"active_profile = {_toml_str(config.active_profile)}")
    for name in sorted(config.profiles):
        lines.append("")
        lines.append(f"[profiles.{_toml_key(name)}]")
        for key in sorted(config.profiles[name]):
            lines.append(f"{_toml_key(key)} = {_toml_str(config.profiles[name][key])}")
    return "\n".join(lines) + "\n"


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An advisory lock beside the file, so concurrent read-modify-write cycles do not lose updates."""
    try:
        import fcntl
    except ImportError:  # not POSIX: atomic replace still keeps the file whole
        yield
        return
    lock_path = path.with_name(path.name + ".lock")
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _write_atomic(path: Path, text: str) -> None:
    # mkstemp creates the file 0600 from the start, so a secret is never readable by others, not even
    # for an instant; os.replace makes readers see the old file or the new one, never half of one.
    fd, tmp = tempfile.mkstemp(prefix=".config.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _update(path: Path | None, change: Callable[[ConfigFile], ConfigFile]) -> None:
    path = config_path() if path is None else path
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        with _locked(path):
            current = read_config(path)
            _write_atomic(path, _dump(change(current)))
    except OSError as exc:
        raise ConfigError(f"cannot write {path}: {exc.strerror or exc}") from exc


def _merge(name: str, values: Mapping[str, str]) -> Callable[[ConfigFile], ConfigFile]:
    def change(config: ConfigFile) -> ConfigFile:
        profiles = {k: dict(v) for k, v in config.profiles.items()}
        profiles.setdefault(name, {}).update(values)
        return ConfigFile(active_profile=config.active_profile, profiles=profiles)

    return change


def save_profile(name: str, values: dict[str, str], *, path: Path | None = None) -> None:
    """Merge ``values`` into profile ``name`` (other profiles and keys are kept)."""
    if not name:
        raise ConfigError("profile name must not be empty")
    for key, value in values.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise ConfigError("profile keys and values must be strings")
    _update(path, _merge(name, dict(values)))


def set_active_profile(name: str, *, path: Path | None = None) -> None:
    """Make ``name`` the profile used when neither ``--profile`` nor ``LOGPIPE_PROFILE`` is given."""
    if not name:
        raise ConfigError("profile name must not be empty")
    _update(path, lambda config: ConfigFile(active_profile=name, profiles=config.profiles))


@dataclass(frozen=True)
class Settings:
    """Resolved settings; ``sources`` says where each came from (flag, env:NAME, profile:NAME, default)."""

    endpoint: str
    api_key: str | None = None
    admin_token: str | None = None
    tenant: str | None = None
    auth: str | None = None
    region: str | None = None
    profile: str = DEFAULT_PROFILE
    config_file: Path | None = None
    sources: dict[str, str] = field(default_factory=dict)

    def get(self, key: str) -> str | None:
        value = getattr(self, key, None)
        return value if isinstance(value, str) else None


def load_settings(
    *,
    endpoint: str | None = None,
    api_key: str | None = None,
    admin_token: str | None = None,
    tenant: str | None = None,
    profile: str | None = None,
    auth: str | None = None,
    region: str | None = None,
    environ: Mapping[str, str] | None = None,
    path: Path | None = None,
) -> Settings:
    """Resolve every setting: flag → env → profile → defaults."""
    env = os.environ if environ is None else environ
    path = config_path(env) if path is None else path
    config = read_config(path)

    if profile:
        profile_name, profile_source = profile, "flag"
    elif env.get("LOGPIPE_PROFILE"):
        profile_name, profile_source = env["LOGPIPE_PROFILE"], "env:LOGPIPE_PROFILE"
    elif config.active_profile:
        profile_name, profile_source = config.active_profile, f"file:{path}"
    else:
        profile_name, profile_source = DEFAULT_PROFILE, "default"
    if profile_source != "default" and profile_name not in config.profiles:
        # Naming a profile that does not exist is a mistake worth stopping on (a typo would otherwise
        # silently send to the default endpoint). The default profile may be absent.
        known = ", ".join(sorted(config.profiles)) or "none yet"
        raise ConfigError(f"profile {profile_name!r} not found in {path} (profiles: {known})")
    stored = config.profiles.get(profile_name, {})

    flags = {
        "endpoint": endpoint,
        "api_key": api_key,
        "admin_token": admin_token,
        "tenant": tenant,
        "auth": auth,
        "region": region,
    }
    values: dict[str, str | None] = {}
    sources: dict[str, str] = {"profile": profile_source}
    for key, env_name in _ENV.items():
        if flags[key]:
            values[key], sources[key] = flags[key], "flag"
        elif env.get(env_name):
            values[key], sources[key] = env[env_name], f"env:{env_name}"
        elif stored.get(key):
            values[key], sources[key] = stored[key], f"profile:{profile_name}"
        else:
            values[key] = None
    resolved_endpoint = values["endpoint"]
    if not resolved_endpoint:
        resolved_endpoint, sources["endpoint"] = DEFAULT_ENDPOINT, "default"
    if values["auth"] not in (None, "token", "sigv4"):
        raise ConfigError(f"auth must be 'token' or 'sigv4', not {values['auth']!r}")
    return Settings(
        endpoint=resolved_endpoint.rstrip("/"),
        api_key=values["api_key"],
        admin_token=values["admin_token"],
        tenant=values["tenant"],
        auth=values["auth"],
        region=values["region"],
        profile=profile_name,
        config_file=path,
        sources=sources,
    )
