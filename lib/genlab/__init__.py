"""genlab: the lab library behind the book *Why Generative Models?*."""

import os

# TensorFlow reads these once, at its own import: set them before any submodule imports it,
# so that notebooks stay free of C++ log lines.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

__version__ = "0.1.0"


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
