"""pyproject.toml, requirements.lock and environment.yml describe the same installation."""

import re
import tomllib

import yaml

from study import config


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _pyproject_names() -> set[str]:
    project = tomllib.loads((config.ROOT / "pyproject.toml").read_text())["project"]
    requirements = project["dependencies"] + [d for deps in project["optional-dependencies"].values() for d in deps]
    return {_normal(re.split(r"[<>=!~\[ ;]", r)[0]) for r in requirements}


def _lock() -> dict[str, str]:
    pins = {}
    for line in (config.ROOT / "requirements.lock").read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split("==")
            pins[_normal(name)] = version.strip()
    return pins


def _environment_pins() -> dict[str, str]:
    environment = yaml.safe_load((config.ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in environment["dependencies"] if isinstance(d, dict))
    pins = {}
    for line in pip_section:
        if line.startswith("-"):
            continue
        name, version = line.split("==")
        pins[_normal(name)] = version
    return pins


def test_environment_yml_lists_the_pyproject_dependencies():
    assert set(_environment_pins()) == _pyproject_names()


def test_environment_yml_pins_the_locked_versions():
    lock = _lock()
    assert {name: lock.get(name) for name in _environment_pins()} == _environment_pins()


def test_every_dependency_is_locked():
    assert _pyproject_names() <= set(_lock())


def test_lock_has_no_machine_local_urls():
    text = (config.ROOT / "requirements.lock").read_text()
    assert "file://" not in text and " @ " not in text


def test_environment_yml_installs_python_311_and_the_project():
    environment = yaml.safe_load((config.ROOT / "environment.yml").read_text())
    assert "python=3.11" in environment["dependencies"]
    pip_section = next(d["pip"] for d in environment["dependencies"] if isinstance(d, dict))
    assert "-e ." in pip_section and "-c requirements.lock" in pip_section
