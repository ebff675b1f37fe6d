"""genlab: the lab library behind the book *Why Generative Models?*."""

import os

# TensorFlow reads these once, at its own import: set them before any submodule imports it,
# so that notebooks stay free of C++ log lines.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

__version__ = "0.1.0"


def seed(value: int) -> int:
    """The seed genlab uses for ``value``: ``value`` plus ``GENLAB_SEED_OFFSET`` (0 unless set).

    Every random draw of genlab (training, fitting, sampling, scoring) passes its seed through
    here, so setting the variable re-runs the book under other draws; the data split stays put.
    """
    offset = os.environ.get("GENLAB_SEED_OFFSET", "").strip() or "0"
    try:
        return int(value) + int(offset)
    except ValueError:
        raise ValueError(f"GENLAB_SEED_OFFSET: expected an integer, got {offset!r}; unset it, or "
                         "set it to e.g. 1 to re-run under other random draws") from None


def versions() -> dict[str, str]:
    """Versions of Python and of the libraries the book's numbers depend on."""
    import platform
    from importlib.metadata import PackageNotFoundError, version

    found = {"python": platform.python_version(), "genlab": __version__}
    for package in ("tensorflow", "tensorflow-cpu", "keras", "numpy", "scikit-learn",
                    "matplotlib", "seaborn", "pandas"):
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            pass
    return found
