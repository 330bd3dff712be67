"""The package as pyproject.toml declares it: every package and its data, no setuptools warning, one version.

The live test builds a wheel carrying the release from a copy of the repository, installs it into a fresh venv
outside it and serves the release with ``calcinosis-kg serve`` from an empty folder, as an integrator would.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from calcinosis_kg.graph.release import release_info
from calcinosis_kg.ontology import load_ontology
from calcinosis_kg.paths import stage_release
from tests.support.live_server import free_port, running

REPO = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
SETUPTOOLS = PYPROJECT["tool"]["setuptools"]
NOT_SOURCES = shutil.ignore_patterns(
    ".git", ".venv", "build", "dist", "node_modules", "release", "*.egg-info", "__pycache__", ".*_cache", "results"
)


def test_the_package_version_is_the_release_version() -> None:
    """One version: pyproject's is the release's owl:versionInfo (ontology/calcinosis.ttl), raised together."""
    assert PYPROJECT["project"]["version"] == release_info(load_ontology()).version_info


def test_every_folder_with_modules_is_a_declared_package() -> None:
    """A package missing from ``packages`` is absent from a wheel (the editable install hides it)."""
    folders = {package: REPO / folder for package, folder in SETUPTOOLS["package-dir"].items()}
    found = set()
    for package, folder in folders.items():
        for init in folder.rglob("__init__.py"):
            parts = init.parent.relative_to(folder).parts
            found.add(".".join((package, *parts)))
    tests = {name for name in found if ".tests" in name}
    assert found - tests == set(SETUPTOOLS["packages"])


def _copy_sources(target: Path) -> Path:
    """The repository's sources (no build output, venv or git folder), as a fresh clone would have them."""
    return Path(shutil.copytree(REPO, target, ignore=NOT_SOURCES, symlinks=True))


def _dependencies_without_us(target: Path) -> Path:
    """A folder of links to every installed distribution of this interpreter but ``calcinosis_kg``: the fresh
    venv sees the dependencies without downloading them, and pip resolves the wheel's requirements against them."""
    target.mkdir()
    for site in {sysconfig.get_paths()["purelib"], *(p for p in sys.path if p.endswith("site-packages"))}:
        for entry in Path(site).iterdir():
            if entry.name.startswith(("calcinosis_kg", "__editable__", "_calcinosis")) or entry.suffix == ".pth":
                continue
            if not (target / entry.name).exists():
                (target / entry.name).symlink_to(entry)
    return target


@pytest.fixture(scope="module")
def wheel(build_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A wheel built from a copy of the repository with the run's release staged in it; pip's output."""
    work = tmp_path_factory.mktemp("wheel")
    sources = _copy_sources(work / "src")
    stage_release(build_dir, sources / "kg" / "release")
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--wheel-dir", str(work / "dist"), str(sources)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    (built,) = (work / "dist").glob("calcinosis_kg-*.whl")
    return built, done.stdout + done.stderr


@pytest.fixture(scope="module")
def installed(wheel: tuple[Path, str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv outside the repository with the wheel installed (``pip install WHEEL``); its bin folder."""
    work = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(work / "venv")], check=True, timeout=120)
    python = work / "venv" / "bin" / "python"
    site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    (Path(site) / "dependencies.pth").write_text(f"{_dependencies_without_us(work / 'deps')}\n", encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-index", str(wheel[0])],
        capture_output=True,
        text=True,
        cwd=work,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return work / "venv" / "bin"


def _outside_env(bin_dir: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("KG_", "PYTHON"))}
    return {**env, "PATH": f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"}


@pytest.mark.live
def test_building_the_wheel_prints_no_setuptools_warning(wheel: tuple[Path, str]) -> None:
    assert "would be ignored" not in wheel[1]
    assert [line for line in wheel[1].splitlines() if "warning" in line.lower()] == []


@pytest.mark.live
def test_the_installed_command_names_the_package_and_its_release(installed: Path, tmp_path: Path) -> None:
    done = subprocess.run(
        [installed / "calcinosis-kg", "--version"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=_outside_env(installed),
        timeout=120,
        check=True,
    )
    release = release_info(load_ontology())
    assert done.stdout.startswith(f"calcinosis-kg {PYPROJECT['project']['version']}: release {release.version_info}")
    assert release.version_iri in done.stdout
    assert str(installed.parent) in done.stdout  # the wheel's own release, not a repository's build/


@pytest.fixture(scope="module")
def served(installed: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``calcinosis-kg serve`` of the installed wheel, run from an empty folder outside the repository."""
    folder = tmp_path_factory.mktemp("anywhere")
    port = free_port()
    command = [installed / "calcinosis-kg", "serve", "--port", str(port)]
    env = _outside_env(installed)
    with running(command, port, folder / "serve.log", env=env, cwd=folder, startup_seconds=120) as server:
        yield server.url


@pytest.mark.live
def test_the_installed_wheel_serves_the_release_from_any_folder(served: str, build_dir: Path) -> None:
    triples = sum(1 for line in (build_dir / "calcinosis-kg.nt").open(encoding="utf-8") if line.strip())
    response = requests.get(
        f"{served}/sparql",
        params={"query": "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"},
        headers={"Accept": "application/sparql-results+json"},
        timeout=60,
    )
    assert response.status_code == 200, response.text
    assert int(response.json()["results"]["bindings"][0]["n"]["value"]) == triples
    page = requests.get(f"{served}/", headers={"Accept": "text/html"}, timeout=30)
    assert page.status_code == 200  # the templates and static files are in the wheel
    assert requests.get(f"{served}/assets/style.css", timeout=30).status_code == 200
