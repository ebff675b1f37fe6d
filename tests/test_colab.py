"""The Colab check (.ci/colab), statically: its environment is Colab's, pinned exactly, in one file
with the Python version, and it installs genlab as the chapters do in Colab. Running it takes
the whole book's time: `bash .ci/colab`."""

import re
import shlex
import subprocess
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
REQUIREMENTS = ROOT / ".ci" / "colab-requirements.txt"
SCRIPT = ROOT / ".ci" / "colab"
# What lib/pyproject.toml declares, as installed (.ci/setup reinstalls genlab when it changes).
GENLAB = metadata.metadata("genlab")


def pins() -> dict[str, Version]:
    """name -> version of the requirements, each line of which must pin exactly."""
    found = {}
    for line in REQUIREMENTS.read_text().splitlines():
        line = line.split("#")[0].strip()
        if not line:
            continue
        requirement = Requirement(line)
        specs = list(requirement.specifier)
        assert len(specs) == 1 and specs[0].operator == "==" and "*" not in specs[0].version, \
            f"{REQUIREMENTS.name}: {line!r} is not pinned exactly (name==version)"
        assert not requirement.marker and not requirement.url, f"{line!r}: a plain pin, please"
        name = canonicalize_name(requirement.name)
        assert name not in found, f"{REQUIREMENTS.name}: {name} is pinned twice"
        found[name] = Version(specs[0].version)
    return found


def python_version() -> str:
    [version] = re.findall(r"^# python: *(\S+) *$", REQUIREMENTS.read_text(), re.MULTILINE)
    return version


def pip_installs() -> list[tuple[list[str], list[str]]]:
    """(options, targets) of every `pip install` in the script (continuation lines joined)."""
    found = []
    text = re.sub(r"\\\n", " ", SCRIPT.read_text())
    for line in text.splitlines():
        if "pip install" not in line.split("#")[0]:
            continue
        words = shlex.split(line, comments=True)
        for i in range(len(words) - 1):
            if words[i:i + 2] == ["pip", "install"]:
                options, targets, rest = [], [], iter(words[i + 2:])
                for word in rest:
                    if word in ("-c", "-r", "--constraint", "--requirement"):
                        options.append(f"{word} {next(rest)}")
                    elif word.startswith("-"):
                        options.append(word)
                    else:
                        targets.append(word)
                found.append((options, targets))
    return found


def test_requirements_pin_every_line_exactly_and_name_colabs_python():
    assert pins(), f"{REQUIREMENTS.name} pins nothing"
    version = python_version()
    assert re.fullmatch(r"3\.\d+", version), f"'# python: {version}': expected e.g. 3.12"
    assert Version(version) in SpecifierSet(GENLAB["Requires-Python"]), \
        f"genlab does not support Colab's Python {version}"


def test_requirements_use_the_full_tensorflow_wheel_as_colab_does():
    assert "tensorflow" in pins(), "Colab has the full TensorFlow wheel: pin `tensorflow`"
    assert not {"tensorflow-cpu", "tf-nightly", "tensorflow-intel"} & set(pins())


def test_requirements_hold_every_dependency_of_genlab_at_a_version_it_accepts():
    """pip then has nothing to add or upgrade when it installs genlab into Colab's libraries."""
    problems = {}
    for line in metadata.requires("genlab"):
        requirement = Requirement(line)
        pinned = pins().get(canonicalize_name(requirement.name))
        if pinned is None or pinned not in requirement.specifier:
            problems[requirement.name] = (str(requirement.specifier), str(pinned))
    assert not problems, f"genlab's dependency vs the Colab pin: {problems}"
    executing = {"ipykernel", "nbconvert", "nbclient"}
    assert executing <= set(pins()), f"executing notebooks needs {executing - set(pins())}"


def test_script_reads_the_python_version_from_the_requirements_and_is_valid_bash():
    text = SCRIPT.read_text()
    assert "REQUIREMENTS=.ci/colab-requirements.txt" in text
    assert re.search(r"sed -n '[^']*# python:[^']*' \"\$REQUIREMENTS\"", text), \
        "the Python version must come from the requirements' '# python:' line"
    assert re.search(r"^VENV=\.venv-colab$", text, re.MULTILINE)
    check = subprocess.run(["bash", "-n", str(SCRIPT)], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr


def test_script_installs_the_pins_then_genlab_from_lib_not_editable_with_dependencies():
    installs = pip_installs()
    assert (["-q", "--disable-pip-version-check", "-r $REQUIREMENTS"], []) in installs, installs
    genlab = [(options, targets) for options, targets in installs
              if any(Path(t).name == "lib" for t in targets)]
    assert len(genlab) == 1, f"expected one pip install of lib/, got {installs}"
    [(options, targets)] = genlab
    assert targets == ["$clone/lib"], targets
    assert not {"-e", "--editable", "--no-deps", "--force-reinstall"} & set(options), options
    assert "-c $REQUIREMENTS" in options, "Colab's versions must hold when genlab installs"
    assert not any(t for _, ts in installs for t in ts if t.startswith(("-e", "git+"))), installs
    # $clone/lib is what git holds under lib/, the tree a clone in Colab builds from.
    assert re.search(r"git ls-files [^\n]*-- lib\b", SCRIPT.read_text())


def test_script_executes_every_chapter_by_default_with_its_environments_kernel():
    text = SCRIPT.read_text()
    assert '[ $# -gt 0 ] || set -- book/*.ipynb' in text
    assert re.search(r'"\$VENV/bin/python" .*-m ipykernel install --sys-prefix --name "\$KERNEL"',
                     text)
    [kernel] = re.findall(r"^KERNEL=(\S+)", text, re.MULTILINE)
    assert f'KERNEL = "{kernel}"' in (ROOT / ".ci" / "colab.py").read_text()
    assert ".ci/colab.py execute \"$@\"" in text
    assert "source .ci/data-folder" in text, "the datasets come from where .ci/setup reads them"


def test_the_colab_environment_is_not_committed():
    assert ".venv-colab/" in (ROOT / ".gitignore").read_text().splitlines()
