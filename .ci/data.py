"""Fetch the book's datasets into a folder laid out as the project's offline copy, then check their
arrays: `bash .ci/data [FOLDER]` (default: GENLAB_DATA, else ../shared/data beside the checkout).

For machines without the project's copy, such as GitHub's runners. MNIST is the mnist.npz Keras
downloads (keys x_train y_train x_test y_test), Fashion-MNIST the four IDX files of Zalando's
repository, under fashion-mnist/. Files already there are kept, so beside the project's copy this
only checks. CIFAR-10 is never fetched: the book runs its CIFAR-10 part only where the folder holds
it. The check loads each dataset with genlab and compares its arrays with what the book expects:
training and validation with the data digest in genlab's weights manifest (the shipped models were
trained on exactly those arrays), test with the digest of the project's copy.
"""

from __future__ import annotations

import argparse
import os
import shutil
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FASHION = "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/"
FILES = {
    "mnist.npz": "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz",
    **{f"fashion-mnist/{name}": FASHION + name
       for name in ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                    "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")},
}
# genlab.cache.array_digest(x_test, y_test) of each dataset loaded from the project's copy.
TEST_DIGESTS = {
    "mnist": "8612b134357d414d3a78f3a4a6f26875f6e0cd335e56170153f7f069edd72fdb",
    "fashion_mnist": "2376031658a3f08a45294a2eadbd27d63e704e0b94b5f24ef473fcfdf5dde626",
}


def default_folder() -> Path:
    return Path(os.environ.get("GENLAB_DATA") or ROOT.parent / "shared" / "data")


def fetch(folder: Path) -> list[str]:
    """Download the files that ``folder`` lacks; return their names."""
    fetched = []
    for name, url in FILES.items():
        target = folder / name
        if target.exists():
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + ".part")  # never a truncated file under its name
        try:
            with urllib.request.urlopen(url, timeout=300) as response, partial.open("wb") as out:
                shutil.copyfileobj(response, out)
        except OSError as error:
            partial.unlink(missing_ok=True)
            raise SystemExit(f"{url}: the download failed ({error}); check the connection and run "
                             f"again, or put {name} into {folder} by hand") from None
        partial.replace(target)
        fetched.append(name)
    return fetched


def check(folder: Path) -> dict[str, str]:
    """What is wrong with each dataset in ``folder`` (nothing for one the book expects)."""
    os.environ["GENLAB_DATA"] = str(folder)
    from genlab import book, cache, data, pretrained

    stems = book.shipped_models()
    trained_on: dict[str, set[str]] = {}
    for entry in pretrained.entries():
        dataset = stems[Path(entry["file"]).stem][0]
        trained_on.setdefault(dataset, set()).add(entry["settings"]["data"])
    problems = {}
    for name, test_digest in TEST_DIGESTS.items():
        loaded = data.load_dataset(name)
        if cache.array_digest(loaded.x_train, loaded.y_train, loaded.x_val,
                              loaded.y_val) not in trained_on[name]:
            problems[name] = ("its training or validation arrays are not those the shipped models "
                              "were trained on")
        elif cache.array_digest(loaded.x_test, loaded.y_test) != test_digest:
            problems[name] = "its test arrays are not those of the project's copy"
    return problems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", type=Path, default=default_folder(),
                        help="the data folder (default: GENLAB_DATA, else ../shared/data)")
    folder = parser.parse_args().folder.resolve()
    for name in fetch(folder):
        print(f"fetched {name}")
    problems = check(folder)
    for name, problem in problems.items():
        print(f"{folder}: {name}: {problem}; delete its files there and run this again")
    if problems:
        raise SystemExit(1)
    from genlab import data

    cifar = "present: the book runs" if data.is_available("cifar10") else "absent: the book skips"
    print(f"{folder}: MNIST and Fashion-MNIST as the book expects; CIFAR-10 {cifar} its part")


if __name__ == "__main__":
    main()
