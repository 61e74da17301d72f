from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from logpipe import ConfigError, load_settings, save_profile
from logpipe._config import DEFAULT_ENDPOINT, config_path, read_config, set_active_profile


def test_save_profile_creates_private_file_and_merges(isolated_settings: Path) -> None:
    save_profile("local", {"endpoint": "http://127.0.0.1:9000", "admin_token": "lpadm_a"})
    save_profile("local", {"admin_token": "lpadm_b"})
    save_profile("prod", {"endpoint": "https://x.example"})
    path = isolated_settings / "logpipe" / "config.toml"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    config = read_config(path)
    assert config.profiles["local"] == {"endpoint": "http://127.0.0.1:9000", "admin_token": "lpadm_b"}
    assert config.profiles["prod"] == {"endpoint": "https://x.example"}
    leftovers = [p.name for p in path.parent.iterdir() if p.name.endswith(".tmp")]
    assert leftovers == []


@settings(max_examples=60, deadline=None)
@given(
    name=st.text(min_size=1, max_size=20).filter(lambda s: "\x00" not in s),
    value=st.text(max_size=40, alphabet=st.characters(blacklist_categories=["Cs"])),
)
def test_toml_writer_round_trips_any_string(
    tmp_path_factory: pytest.TempPathFactory, name: str, value: str
) -> None:
    path = tmp_path_factory.mktemp("cfg") / "config.toml"
    save_profile(name, {"api_key": value, "we ird key": value}, path=path)
    assert read_config(path).profiles[name] == {"api_key": value, "we ird key": value}


def test_resolution_order_flag_env_profile_default(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings().endpoint == DEFAULT_ENDPOINT
    save_profile("local", {"endpoint": "http://profile:1", "api_key": "k-profile", "tenant": "acme"})
    s = load_settings()
    assert (s.endpoint, s.api_key, s.tenant) == ("http://profile:1", "k-profile", "acme")
    assert s.sources["endpoint"] == "profile:local"
    monkeypatch.setenv("LOGPIPE_ENDPOINT", "http://env:2/")
    s = load_settings()
    assert s.endpoint == "http://env:2" and s.sources["endpoint"] == "env:LOGPIPE_ENDPOINT"
    s = load_settings(endpoint="http://flag:3")
    assert s.endpoint == "http://flag:3" and s.sources["endpoint"] == "flag"
    assert s.api_key == "k-profile"


def test_profile_selection(monkeypatch: pytest.MonkeyPatch) -> None:
    save_profile("local", {"endpoint": "http://local"})
    save_profile("prod", {"endpoint": "http://prod"})
    assert load_settings().endpoint == "http://local"
    set_active_profile("prod")
    assert load_settings().endpoint == "http://prod"
    monkeypatch.setenv("LOGPIPE_PROFILE", "local")
    assert load_settings().endpoint == "http://local"
    assert load_settings(profile="prod").endpoint == "http://prod"
    with pytest.raises(ConfigError, match="nope"):
        load_settings(profile="nope")


def test_bad_file_is_a_config_error() -> None:
    path = config_path()
    path.parent.mkdir(parents=True)
    path.write_text("this is = = not toml")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings()


def test_relative_xdg_is_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", "relative/dir")
    assert config_path() == Path.home() / ".config" / "logpipe" / "config.toml"
