"""The package installs: a wheel built from the sources, installed without dependencies into a
folder, imports and runs from another working directory (no checkout on the path)."""

import email.parser
import os
import pathlib
import re
import shutil
import subprocess
import sys
import zipfile

import pytest
import tomllib

import c2f

ROOT = pathlib.Path(__file__).resolve().parents[1]
SOURCES = ("pyproject.toml", "README.md", "LICENSE", "requirements.txt", "requirements-dev.txt",
           "requirements-deploy.txt", "c2f", "data_prep")  # fmt: skip


def requirement_lines(name: str) -> set:
    lines = (ROOT / name).read_text().splitlines()
    return {re.sub(r"\s+", "", line) for line in lines if line.strip() and not line.startswith("#")}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> pathlib.Path:
    # Built from a copy holding only what the wheel may use, so that the checkout gets no
    # build/ folder and a file missing from the list above fails here.
    src = tmp_path_factory.mktemp("src")
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(ROOT / name, src / name)
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
                    "--no-build-isolation", "-w", str(out), str(src)], check=True)  # fmt: skip
    (path,) = out.glob("c2f-*.whl")
    return path


def test_dependencies_are_declared_once(wheel):
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert set(config["project"]["dynamic"]) == {"version", "dependencies", "optional-dependencies"}
    with zipfile.ZipFile(wheel) as z:
        name = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))
        meta = email.parser.Parser().parsestr(z.read(name).decode())
    declared: dict = {}
    for line in meta.get_all("Requires-Dist"):
        requirement, _, marker = line.partition(";")
        extra = re.search(r'extra == "(\w+)"', marker)
        declared.setdefault(extra.group(1) if extra else None, set()).add(
            re.sub(r"\s+", "", requirement)
        )
    assert declared[None] == requirement_lines("requirements.txt")
    assert declared["deploy"] == requirement_lines("requirements-deploy.txt")
    assert declared["dev"] == requirement_lines("requirements-dev.txt")
    assert meta["License-Expression"] == "Apache-2.0"
    assert meta["Version"] == c2f.__version__


def test_installed_wheel_runs_outside_the_checkout(wheel, tmp_path):
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target",
                    str(site), str(wheel)], check=True)  # fmt: skip
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**os.environ, "PYTHONPATH": str(site), "JAX_PLATFORMS": "cpu"}
    code = (
        "import pathlib, c2f\n"
        f"assert pathlib.Path(c2f.__file__).is_relative_to({str(site)!r}), c2f.__file__\n"
        "from c2f import Predictor\n"
        "from c2f.config import load_config, recipe_names\n"
        "assert load_config('paper').model.depths == (1, 2, 4, 64)\n"
        "assert 'demo' in recipe_names()\n"
        "import data_prep.synthetic.generate\n"
        "print('ok', Predictor.__name__)\n"
    )
    run = subprocess.run([sys.executable, "-c", code], cwd=elsewhere, env=env,
                         capture_output=True, text=True)  # fmt: skip
    assert run.returncode == 0 and "ok Predictor" in run.stdout, run.stderr
    # The console script (pip put it in the target's bin/) and python -m c2f.
    script = site / "bin" / "c2f"
    for command in ([str(script), "--help"], [sys.executable, "-m", "c2f", "--help"]):
        run = subprocess.run(command, cwd=elsewhere, env=env, capture_output=True, text=True)
        assert run.returncode == 0 and "predict" in run.stdout, run.stderr
    # A verb's module (jax, flax, the Predictor) imports from the wheel: c2f predict's help.
    run = subprocess.run([str(script), "predict", "--help"], cwd=elsewhere, env=env,
                         capture_output=True, text=True)  # fmt: skip
    assert run.returncode == 0 and "usage: c2f predict" in run.stdout, run.stderr
