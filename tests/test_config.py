"""Settings precedence: flag > environment > [tool.jetbox] > user config > machine.yaml >
built-in."""

from __future__ import annotations

from pathlib import Path

import pytest

from jetbox.core.errors import ConfigError
from jetbox.spec.config import Settings, resolve_settings, settings_table, user_config_path


def test_each_source_overrides_the_one_below(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        "[tool.jetbox]\nmodel = 'from-pyproject'\nmax-rounds = 7\nnum_ctx = 4096\n")
    machine = {"model": "from-machine", "max_rounds": 3, "num_ctx": 2048, "temperature": 0.5}
    env = {"OLLAMA_MODEL": "from-env", "JETBOX_MAX_ROUNDS": "11"}
    settings = resolve_settings(machine, tmp_path, env, {"max_rounds": 13, "model": None})
    assert settings.model == "from-env"            # env beats pyproject; a None flag is unset
    assert settings.max_rounds == 13               # flag beats env
    assert settings.num_ctx == 4096                # pyproject beats machine.yaml
    assert settings.temperature == 0.5             # machine.yaml beats the built-in default
    assert settings.timebox_s == Settings().timebox_s


def test_defaults_without_any_source(tmp_path: Path) -> None:
    settings = resolve_settings({}, tmp_path, {}, {})
    assert settings.model == "gpt-oss:20b" and settings.host == ""


def test_ollama_host_comes_from_the_environment(tmp_path: Path) -> None:
    settings = resolve_settings({}, tmp_path, {"OLLAMA_HOST": "http://10.0.0.2:11434"}, {})
    assert settings.host == "http://10.0.0.2:11434"


@pytest.mark.parametrize("machine, env, message", [
    ({"modle": "x"}, {}, "unknown setting `modle`"),
    ({"max_rounds": "many"}, {}, "`max_rounds` must be an int"),
    ({}, {"JETBOX_TIMEBOX_S": "soon"}, "$JETBOX_TIMEBOX_S"),
    ({"protocol": "xml"}, {}, "`protocol` must be one of"),
    ({"max_rounds": 0}, {}, "`max_rounds` must be positive"),
])
def test_bad_settings_are_clear_errors(tmp_path: Path, machine: dict, env: dict,
                                       message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("$", r"\$").replace("`", "`")):
        resolve_settings(machine, tmp_path, env, {})


def test_bad_pyproject_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.jetbox\n")
    with pytest.raises(ConfigError, match="pyproject.toml: invalid TOML"):
        resolve_settings({}, tmp_path, {}, {})


def test_docs_configuration_table_is_current() -> None:
    docs = Path(__file__).resolve().parent.parent / "docs" / "configuration.md"
    assert settings_table() in docs.read_text(encoding="utf-8")


@pytest.mark.parametrize("toml", ["tool = 5\n", "[tool]\njetbox = 5\n", "tool = [1, 2]\n",
                                  "[tool]\njetbox = 'x'\n", "[tool.jetbox]\nmax_rounds = inf\n"])
def test_a_pyproject_of_the_wrong_shape_is_a_config_error(tmp_path: Path, toml: str) -> None:
    (tmp_path / "pyproject.toml").write_text(toml)
    with pytest.raises(ConfigError, match="pyproject.toml"):
        resolve_settings({}, tmp_path, {}, {})


def test_tool_equals_5_stops_a_run_with_exit_2_not_a_traceback(tmp_path: Path) -> None:
    from tests.conftest import run_cli

    (tmp_path / "pyproject.toml").write_text("tool = 5\n")
    result = run_cli("run", "g", "-w", str(tmp_path), "--host", "http://127.0.0.1:9",
                     "--sandbox", "none")
    assert result.code == 2
    assert result.err.startswith("jetbox: ") and "`tool` must be a table" in result.err
    assert result.err.count("\n") == 1


def test_jetbox_own_variables_beat_the_ollama_ones(tmp_path: Path) -> None:
    env = {"OLLAMA_MODEL": "ollama-name", "JETBOX_MODEL": "jetbox-name",
           "OLLAMA_HOST": "10.0.0.2", "JETBOX_HOST": "10.0.0.3"}
    settings = resolve_settings({}, tmp_path, env, {})
    assert (settings.model, settings.host) == ("jetbox-name", "10.0.0.3")
    alone = resolve_settings({}, tmp_path, {"OLLAMA_MODEL": "m", "OLLAMA_HOST": "h"}, {})
    assert (alone.model, alone.host) == ("m", "h")  # still read, for compatibility


def test_the_user_config_file_sits_between_pyproject_and_machine_yaml(tmp_path: Path) -> None:
    config = tmp_path / "xdg" / "jetbox" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text("model = 'from-user'\nnum-ctx = 4096\ntemperature = 0.7\n")
    project = tmp_path / "project"
    project.mkdir()
    (project / "pyproject.toml").write_text("[tool.jetbox]\nnum_ctx = 2048\n")
    env = {"XDG_CONFIG_HOME": str(tmp_path / "xdg")}
    settings = resolve_settings({"model": "m", "temperature": 0.1}, project, env, {})
    assert settings.model == "from-user" and settings.temperature == 0.7  # beats machine.yaml
    assert settings.num_ctx == 2048  # [tool.jetbox] beats it
    config.write_text("modle = 'x'\n")
    with pytest.raises(ConfigError, match=r"config.toml: unknown setting `modle`"):
        resolve_settings({}, project, env, {})


def test_the_user_config_file_is_where_each_system_keeps_it() -> None:
    home = {"HOME": "/home/ada"}
    assert user_config_path(home, "linux") == Path("/home/ada/.config/jetbox/config.toml")
    assert user_config_path({**home, "XDG_CONFIG_HOME": "/cfg"}, "linux") == \
        Path("/cfg/jetbox/config.toml")
    assert user_config_path({"APPDATA": "C:/Users/ada/AppData/Roaming"}, "win32") == \
        Path("C:/Users/ada/AppData/Roaming") / "jetbox" / "config.toml"
    assert user_config_path({}, "linux") is None
