"""The Python half of `bash .ci/colab`, run by .venv-colab's Python (see .ci/colab).

    python .ci/colab.py check               genlab is installed as in Colab, the pins unchanged
    python .ci/colab.py execute CHAPTER...  execute each chapter as Colab would, one line each

`execute` runs every chapter as a student opening it in Colab does: a fresh kernel of this
environment (the kernelspec genlab-colab), started in an empty folder (Colab's /content) on an
empty genlab cache (a new Colab session has none). It checks that the chapter runs, not what it
prints: warnings and TensorFlow's log lines are fine, though it lists the warnings each chapter
shows. It names each model a chapter trained: outside the training chapter, that means genlab's
shipped weights did not load.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REQUIREMENTS = ROOT / ".ci" / "colab-requirements.txt"
WEIGHTS = ROOT / "lib" / "genlab" / "weights"
KERNEL = "genlab-colab"
TIMEOUT = 1800  # seconds a cell may take, as in .ci/execute
# Where nbclient's report of a failed cell starts in nbconvert's error output.
CELL_ERROR = "An error occurred while executing the following cell"
ANSI = re.compile(r"\x1b\[[0-9;]*m")
# A Python warning as a chapter's output shows it: "file:line: SomeWarning: message".
WARNING = re.compile(r"^\S*:\d+: (\w*Warning: .*)$", re.MULTILINE)


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins() -> dict[str, str]:
    """name -> version of every `name==version` line of the requirements."""
    found = {}
    for line in REQUIREMENTS.read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, _, version = line.partition("==")
            found[canonical(name)] = version
    return found


def check() -> list[str]:
    """What is wrong with this environment's genlab and libraries (nothing when it is as in
    Colab): genlab installed as a package, not editable, with all its weights; every library at
    its pinned version; nothing installed that the requirements do not pin."""
    problems = []
    try:
        genlab = metadata.distribution("genlab")
    except metadata.PackageNotFoundError:
        return ["genlab is not installed"]
    installed = Path(str(genlab.locate_file("genlab")))
    direct = json.loads(genlab.read_text("direct_url.json") or "{}")
    if direct.get("dir_info", {}).get("editable") or installed.is_relative_to(ROOT / "lib"):
        problems.append(f"genlab is installed editable ({direct.get('url')}), not as Colab "
                        "installs it")
    shipped = {p.name: p.stat().st_size for p in WEIGHTS.iterdir()
               if p.suffix == ".npz" or p.name == "manifest.json"}
    arrived = {p.name: p.stat().st_size for p in (installed / "weights").glob("*")}
    if missing := sorted(name for name, size in shipped.items() if arrived.get(name) != size):
        problems.append(f"genlab's weights did not arrive as package data: {missing} are missing "
                        f"or differ in {installed / 'weights'}")
    wanted = pins()
    have = {canonical(d.metadata["Name"]): d.version for d in metadata.distributions()}
    if moved := {name: (version, have.get(name)) for name, version in wanted.items()
                 if have.get(name) != version}:
        problems.append(f"not at Colab's version (pinned, installed): {moved}")
    if extra := sorted(set(have) - set(wanted) - {"genlab", "pip"}):
        problems.append(f"installed but not pinned in {REQUIREMENTS.name} (pin them at Colab's "
                        f"version): {extra}")
    if not problems:
        print(f"genlab {genlab.version} installed as a package (not editable) in "
              f"{installed.parent}, with its {len(shipped) - 1} weight files; "
              + ", ".join(f"{name} {have[name]}" for name in
                          ("tensorflow", "keras", "numpy", "pandas", "scikit-learn"))
              + f", Python {sys.version.split()[0]}")
    return problems


def trained_models(cache: Path) -> list[str]:
    """The models trained into a genlab cache: its entries with epochs (not fitted samplers or
    scores), as kind/dataset (options, epochs, training time)."""
    found = []
    for path in sorted(cache.glob("*/meta.json")):
        meta = json.loads(path.read_text())
        if "epochs" in meta:
            options = {k: v for k, v in (meta.get("options") or {}).items() if k != "num_classes"}
            if meta.get("loss"):
                options["loss"] = meta["loss"]
            settings = ", ".join(f"{k} {v}" for k, v in options.items())
            found.append(f"{meta['kind']}/{meta['dataset']} ({settings + ', ' if settings else ''}"
                         f"{meta['epochs']} epochs, {meta['seconds']:.0f} s)")
    return found


def duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.1f} min"


def warnings_shown(notebook: Path) -> list[str]:
    """The distinct Python warnings (category: message) an executed chapter shows."""
    found = []
    for cell in json.loads(notebook.read_text())["cells"]:
        for output in cell.get("outputs", []):
            if output.get("name") == "stderr":
                text = "".join(output["text"])
                found += [m.group(1)[:160] for m in WARNING.finditer(text)]
    return list(dict.fromkeys(found))


def execute(chapter: Path, work: Path) -> dict:
    """Execute a copy of ``chapter`` as in a new Colab session: its seconds, its error (None if it
    ran), the models it trained and the warnings it showed."""
    content, cache, out = work / "content", work / "cache", work / "out"
    for folder in (content, cache, out):
        folder.mkdir(parents=True)
    shutil.copy(chapter, content)
    # Nothing of the checkout on the kernel's path: genlab comes from the installed package.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {"GENLAB_CACHE": str(cache)}
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "nbconvert", "--to", "notebook", "--execute",
         f"--ExecutePreprocessor.kernel_name={KERNEL}", f"--ExecutePreprocessor.timeout={TIMEOUT}",
         "--output-dir", str(out), str(content / chapter.name)],
        capture_output=True, text=True, env=env, cwd=content)
    ran = {"seconds": time.perf_counter() - start, "error": None,
           "trained": trained_models(cache), "warnings": []}
    if result.returncode != 0:
        log = ANSI.sub("", result.stderr)  # the traceback's colours
        ran["error"] = log[log.index(CELL_ERROR):] if CELL_ERROR in log else "\n".join(
            log.splitlines()[-40:])
    else:
        ran["warnings"] = warnings_shown(out / chapter.name)
    return ran


def execute_all(chapters: list[Path]) -> int:
    failed = []
    width = max(len(c.stem) for c in chapters)
    total = time.perf_counter()
    for chapter in chapters:
        with tempfile.TemporaryDirectory(prefix="genlab-colab-") as work:
            ran = execute(chapter, Path(work))
        verdict = "ran" if ran["error"] is None else "FAILED"
        models = f"   trained: {'; '.join(ran['trained'])}" if ran["trained"] else ""
        print(f"  {chapter.stem:<{width}}  {verdict:<6}  {duration(ran['seconds']):>8}{models}",
              flush=True)
        for warning in ran["warnings"]:
            print(f"    shows {warning}")
        if ran["error"] is not None:
            failed.append(chapter.stem)
            print("    " + ran["error"].rstrip().replace("\n", "\n    "), flush=True)
    total = time.perf_counter() - total
    if failed:
        print(f"Failed in Colab's environment: {', '.join(failed)} ({len(failed)} of "
              f"{len(chapters)} chapter(s); {duration(total)})")
        return 1
    print(f"Every chapter ran in Colab's environment: {len(chapters)} chapter(s) in "
          f"{duration(total)}.")
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("check", help="genlab installed as in Colab, the libraries at their pins")
    run = commands.add_parser("execute", help="execute chapters as new Colab sessions would")
    run.add_argument("chapters", nargs="+", type=Path, help="chapters, e.g. book/02-training.ipynb")
    args = parser.parse_args()
    if args.command == "check":
        if problems := check():
            sys.exit("The Colab environment is not as pinned:\n- " + "\n- ".join(problems))
        return
    for chapter in args.chapters:
        if chapter.suffix != ".ipynb" or not chapter.is_file():
            parser.error(f"chapters: expected chapter files like book/02-training.ipynb, got "
                         f"{str(chapter)!r}, which is not an existing .ipynb file")
    sys.exit(execute_all([c.resolve() for c in args.chapters]))


if __name__ == "__main__":
    main()
