"""Figures the book draws more than once. Every helper takes ``ax=None`` and returns its Axes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["use_book_style", "image_grid", "class_examples", "training_curves", "compare_rows",
           "distributions", "scoreboard", "class_balance"]


def use_book_style() -> None:
    """One look for every figure in the book."""
    sns.set_theme(context="notebook", style="whitegrid", palette="colorblind")
    plt.rcParams.update({"figure.dpi": 80, "savefig.dpi": 100, "axes.titlesize": "medium"})


def image_grid(
    images: np.ndarray,
    ncols: int = 10,
    *,
    ax: plt.Axes | None = None,
    title: str | None = None,
    row_labels: Sequence[str] | None = None,
    gap: int = 1,
) -> plt.Axes:
    """Tile a batch of images (n, H, W, C) in [0, 1] into one picture, row by row."""
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[-1] not in (1, 3):
        raise ValueError(
            f"images: expected a batch of shape (n, height, width, 1 or 3), got {images.shape}; "
            "add the channel axis with images[..., None]."
        )
    n, h, w, c = images.shape
    nrows = -(-n // ncols)
    # Light grey gutters: white would merge with the background of colour images, and the
    # reversed grey map draws 1 as black.
    gutter = 0.15 if c == 1 else 0.85
    canvas = np.full((nrows * (h + gap) - gap, ncols * (w + gap) - gap, c), gutter, np.float32)
    for i, image in enumerate(images):
        r, col = divmod(i, ncols)
        canvas[r * (h + gap): r * (h + gap) + h, col * (w + gap): col * (w + gap) + w] = image
    if ax is None:
        _, ax = plt.subplots(figsize=(ncols * 0.6 + 0.5, nrows * 0.6 + 0.3))
    ax.imshow(np.clip(canvas.squeeze(-1) if c == 1 else canvas, 0, 1),
              cmap="gray_r" if c == 1 else None, vmin=0, vmax=1, interpolation="nearest")
    ax.set_xticks([])
    ax.grid(False)
    if row_labels is not None:
        ax.set_yticks([r * (h + gap) + h / 2 for r in range(len(row_labels))], row_labels)
        ax.tick_params(axis="y", length=0)
    else:
        ax.set_yticks([])
    if title:
        ax.set_title(title)
    return ax


def class_examples(
    images: np.ndarray,
    labels: np.ndarray,
    class_names: Sequence[str],
    per_class: int = 10,
    *,
    ax: plt.Axes | None = None,
    title: str | None = None,
) -> plt.Axes:
    """The first ``per_class`` images of every class, one row per class."""
    rows = [images[labels == k][:per_class] for k in range(len(class_names))]
    return image_grid(np.concatenate(rows), per_class, ax=ax, title=title, row_labels=class_names)


def training_curves(
    histories: dict[str, dict[str, list[float]]],
    metric: str = "loss",
    *,
    ax: plt.Axes | None = None,
) -> plt.Axes:
    """Training (solid) and validation (dashed) curves of ``metric``, one colour per model."""
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.5))
    for (name, history), colour in zip(histories.items(), sns.color_palette()):
        if metric not in history:
            raise ValueError(
                f"metric: {metric!r} is not in the history of {name!r}; it has {sorted(history)}."
            )
        epochs = np.arange(1, len(history[metric]) + 1)
        ax.plot(epochs, history[metric], color=colour, label=f"{name} (train)")
        if f"val_{metric}" in history:
            ax.plot(epochs, history[f"val_{metric}"], color=colour, linestyle="--",
                    label=f"{name} (validation)")
    ax.set(xlabel="epoch", ylabel=metric)
    ax.legend()
    return ax


def compare_rows(
    rows: dict[str, np.ndarray],
    *,
    ax: plt.Axes | None = None,
    title: str | None = None,
) -> plt.Axes:
    """Batches of equally many images, one labelled row each (originals above their versions)."""
    lengths = {len(images) for images in rows.values()}
    if len(lengths) != 1:
        raise ValueError(
            f"rows: expected batches of one length, got lengths "
            f"{ {name: len(images) for name, images in rows.items()} }; slice them alike."
        )
    return image_grid(np.concatenate(list(rows.values())), lengths.pop(), ax=ax, title=title,
                      row_labels=list(rows))


def distributions(
    values: dict[str, np.ndarray],
    *,
    ax: plt.Axes | None = None,
    xlabel: str = "",
    log: bool = False,
) -> plt.Axes:
    """Overlaid histograms (as densities) of one quantity for several groups."""
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.5))
    for (name, v), colour in zip(values.items(), sns.color_palette()):
        sns.histplot(np.asarray(v), ax=ax, label=name, color=colour, stat="density",
                     element="step", log_scale=log, bins=60)
    ax.set(xlabel=xlabel)
    ax.legend()
    return ax


# Lower is better for these; every other score column is higher-is-better or a share.
_LOWER_IS_BETTER = {"fid", "kid", "class_tv", "copy_share", "copy_share_p5"}


def scoreboard(
    table: "pd.DataFrame",
    columns: Sequence[str] = ("fid", "precision", "recall", "class_tv"),
    *,
    axes: Sequence[plt.Axes] | None = None,
) -> np.ndarray:
    """One horizontal bar panel per score column, rows in the table's order (see metrics.score)."""
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise ValueError(
            f"columns: {missing} are not in the table, which has {list(table.columns)}; pass "
            "columns of an Evaluator.score table."
        )
    if axes is None:
        _, axes = plt.subplots(1, len(columns), figsize=(3.2 * len(columns), 0.35 * len(table) + 1),
                               sharey=True)
    axes = np.atleast_1d(axes)
    names = [str(n) for n in table.index]
    for ax, column in zip(axes, columns):
        values = table[column].astype(float).to_numpy()
        ax.barh(names, values, color=sns.color_palette()[0])
        ax.invert_yaxis()
        better = "lower" if column in _LOWER_IS_BETTER else "higher"
        ax.set_title(f"{column} ({better} is better)")
        if column in ("fid", "kid") and (values > 0).all():
            ax.set_xscale("log")
    return axes


def class_balance(
    histograms: dict[str, np.ndarray],
    class_names: Sequence[str],
    *,
    ax: plt.Axes | None = None,
) -> plt.Axes:
    """Side-by-side bars of the share of images in each class, one colour per source."""
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 3))
    width = 0.8 / len(histograms)
    positions = np.arange(len(class_names))
    for i, (name, shares) in enumerate(histograms.items()):
        shares = np.asarray(shares, dtype=float)
        if shares.shape != (len(class_names),):
            raise ValueError(
                f"histograms[{name!r}]: expected {len(class_names)} shares, one per class, got "
                f"shape {shares.shape}."
            )
        ax.bar(positions + (i - (len(histograms) - 1) / 2) * width, shares / shares.sum(),
               width, label=name)
    ax.set_xticks(positions, class_names)
    ax.set(ylabel="share of images")
    ax.legend()
    return ax
