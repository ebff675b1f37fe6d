"""Figures the book draws more than once. Every helper takes ``ax=None`` and returns its Axes,
except ``walk_animation``, which returns the bytes of an animated GIF."""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns
from scipy import stats

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["use_book_style", "image_grid", "class_examples", "training_curves", "compare_rows",
           "distributions", "scoreboard", "class_shares", "correlation_matrix", "marginals",
           "codes_by_class", "decoded_plane", "prior_grid", "metric_lines", "along_path",
           "walk_animation", "dataset_comparison"]


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



def scoreboard(
    table: pd.DataFrame,
    columns: Sequence[str] = ("fid", "precision", "recall", "class_tv"),
    *,
    axes: Sequence[plt.Axes] | None = None,
) -> np.ndarray:
    """One horizontal bar panel per score column, rows in the table's order (see
    metrics.Evaluator.score), with the 95 % interval where the table has one; rows flagged as
    copying are grey."""
    from genlab.metrics import COPY_Z_THRESHOLD, LOWER_IS_BETTER  # metrics brings scikit-learn

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
    copying = (table["copying"].astype(bool).to_numpy() if "copying" in table.columns
               else np.zeros(len(table), dtype=bool))
    colours = [(0.7, 0.7, 0.7) if flagged else sns.color_palette()[0] for flagged in copying]
    for ax, column in zip(axes, columns):
        values = table[column].astype(float).to_numpy()
        error = None
        if {f"{column}_low", f"{column}_high"} <= set(table.columns):
            error = np.clip([values - table[f"{column}_low"].astype(float).to_numpy(),
                             table[f"{column}_high"].astype(float).to_numpy() - values], 0, None)
        ax.barh(names, values, xerr=error, color=colours, error_kw={"lw": 1, "capsize": 2})
        if column == "copy_z":  # two-sided: far below 0 copies, far above misses the data
            ax.set_title("copy_z (about 0 for new images)")
            ax.axvline(COPY_Z_THRESHOLD, color="black", linestyle="--", lw=1)
        else:
            better = "lower" if column in LOWER_IS_BETTER else "higher"
            ax.set_title(f"{column} ({better} is better)")
        if column in ("fid", "kid") and (values > 0).all():
            ax.set_xscale("log")
    if not axes[0].yaxis_inverted():  # the panels share it: the table's first row on top
        axes[0].invert_yaxis()
    return axes


def class_shares(
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


def correlation_matrix(codes: np.ndarray, *, ax: plt.Axes | None = None) -> plt.Axes:
    """Heatmap of the Pearson correlations between code dimensions (-1 blue, 0 white, +1 red)."""
    codes = np.asarray(codes, dtype=np.float64)
    if codes.ndim != 2 or codes.shape[0] < 2 or codes.shape[1] < 2:
        raise ValueError(f"codes: expected a 2-D array (n, code_size) with n >= 2 and code_size "
                         f">= 2, got shape {codes.shape}; pass the encoder's output for a batch")
    if ax is None:
        _, ax = plt.subplots(figsize=(5.5, 4.5))
    # A label on every 4th dimension or so: all 32 would overlap.
    step = max(1, codes.shape[1] // 8)
    sns.heatmap(np.corrcoef(codes, rowvar=False), vmin=-1, vmax=1, cmap="RdBu_r", square=True,
                ax=ax, cbar_kws={"label": "correlation"}, xticklabels=step, yticklabels=step)
    ax.set(xlabel="code dimension", ylabel="code dimension")
    return ax


def marginals(
    codes: np.ndarray,
    dims: Sequence[int],
    *,
    axes: Sequence[plt.Axes] | None = None,
) -> np.ndarray:
    """Histogram of each chosen code dimension, with the uniform density over its [min, max] that
    the uniform-box sampler assumes drawn as a dashed line."""
    codes = np.asarray(codes, dtype=np.float64)
    if codes.ndim != 2 or not all(0 <= d < codes.shape[1] for d in dims):
        raise ValueError(f"dims: expected column numbers of codes (shape {codes.shape}), got "
                         f"{list(dims)}; pick dimensions between 0 and code_size - 1")
    if axes is None:
        _, axes = plt.subplots(1, len(dims), figsize=(2.6 * len(dims), 2.4))
    axes = np.atleast_1d(axes)
    for ax, d in zip(axes, dims):
        values = codes[:, d]
        low, high = values.min(), values.max()
        ax.hist(values, bins=60, density=True, color=sns.color_palette()[0])
        ax.hlines(1 / (high - low), low, high, colors="black", linestyles="--",
                  label="uniform box")
        ax.set(title=f"dimension {d}", yticks=[])
    axes[0].legend(loc="upper left", fontsize="small")
    return axes


def codes_by_class(
    codes: np.ndarray,
    labels: np.ndarray,
    class_names: Sequence[str],
    *,
    ax: plt.Axes | None = None,
    dims: tuple[int, int] | None = None,
    max_points: int = 5000,
    seed: int = 0,
    legend: bool = True,
) -> plt.Axes:
    """Scatter of codes coloured by class: code dimensions ``dims`` if given, the codes themselves
    if they have 2 dimensions, else their first two principal components; at most
    ``max_points`` (a fixed-seed subsample)."""
    from sklearn.decomposition import PCA

    codes = np.asarray(codes, dtype=np.float64)
    labels = np.asarray(labels)
    if codes.ndim != 2 or codes.shape[1] < 2 or labels.shape != (len(codes),):
        raise ValueError(f"codes, labels: expected codes (n, code_size >= 2) and n labels, got "
                         f"shapes {codes.shape} and {labels.shape}; pass one label per code")
    if dims is not None:
        if len(dims) != 2 or not all(0 <= d < codes.shape[1] for d in dims):
            raise ValueError(f"dims: expected two column numbers of codes (shape {codes.shape}), "
                             f"got {dims!r}; pick dimensions between 0 and code_size - 1")
        points = codes[:, list(dims)]
        axis_names = tuple(f"code dimension {d}" for d in dims)
    elif codes.shape[1] == 2:
        points, axis_names = codes, ("code dimension 0", "code dimension 1")
    else:
        points = PCA(2, random_state=seed).fit_transform(codes)
        axis_names = ("principal component 1", "principal component 2")
    rows = np.sort(np.random.default_rng(seed).permutation(len(points))[:max_points])
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 4.5))
    palette = sns.color_palette("tab10", len(class_names))
    for k, name in enumerate(class_names):
        mine = rows[labels[rows] == k]
        ax.scatter(points[mine, 0], points[mine, 1], s=3, color=palette[k], label=name,
                   alpha=0.6, rasterized=True)
    ax.set(xlabel=axis_names[0], ylabel=axis_names[1])
    if legend:
        ax.legend(markerscale=4, fontsize="small", loc="center left", bbox_to_anchor=(1, 0.5))
    return ax


def decoded_plane(
    decode: Callable[[np.ndarray], np.ndarray],
    low: Sequence[float],
    high: Sequence[float],
    steps: int = 15,
    *,
    ax: plt.Axes | None = None,
) -> plt.Axes:
    """Decode a steps x steps grid of 2-number codes spanning [low, high] and tile the images at
    their codes' positions, so the axes are in code units (compare with ``codes_by_class``)."""
    low, high = np.asarray(low, dtype=np.float64), np.asarray(high, dtype=np.float64)
    if low.shape != (2,) or high.shape != (2,) or not np.all(high > low):
        raise ValueError(f"low, high: expected two corners of a 2-D box with high > low, got "
                         f"{low.tolist()} and {high.tolist()}; pass codes.min(0), codes.max(0) "
                         "of 2-number codes")
    canvas = _decoded_tiles(decode, np.linspace(low[0], high[0], steps),
                            np.linspace(low[1], high[1], steps))
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 5))
    # Each tile is centred on its code: the picture extends half a step beyond the box.
    half = (high - low) / (steps - 1) / 2
    _show_canvas(ax, canvas, extent=(low[0] - half[0], high[0] + half[0],
                                     low[1] - half[1], high[1] + half[1]))
    ax.set(xlabel="code dimension 0", ylabel="code dimension 1")
    return ax


def prior_grid(
    decode: Callable[[np.ndarray], np.ndarray],
    steps: int = 15,
    *,
    ax: plt.Axes | None = None,
) -> plt.Axes:
    """Decode 2-number codes at the standard normal's quantiles (probabilities 0.05 to 0.95 in
    each dimension) and tile them evenly: a VAE's prior, each tile holding equal probability."""
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 2:
        raise ValueError(f"steps: expected an int >= 2 (tiles per side), got {steps!r}; "
                         "pass e.g. steps=15")
    levels = np.linspace(0.05, 0.95, steps)
    values = stats.norm.ppf(levels)
    canvas = _decoded_tiles(decode, values, values)
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 5))
    _show_canvas(ax, canvas, extent=(0, steps, 0, steps))
    # Ticks at every other tile's centre, labelled with the code value there.
    ticks = np.arange(0, steps, 2)
    ax.set_xticks(ticks + 0.5, [f"{values[i]:.1f}" for i in ticks])
    ax.set_yticks(ticks + 0.5, [f"{values[i]:.1f}" for i in ticks])
    ax.set(xlabel="code dimension 0 (prior quantiles)", ylabel="code dimension 1 (prior quantiles)")
    return ax


def _decoded_tiles(decode: Callable[[np.ndarray], np.ndarray], xs: np.ndarray,
                   ys: np.ndarray) -> np.ndarray:
    """One picture of the images decoded at every (x, y) of the grid, largest y on top."""
    grid = np.stack(np.meshgrid(xs, ys[::-1]), axis=-1).reshape(-1, 2).astype(np.float32)
    images = np.asarray(decode(grid))
    n, h, w, c = images.shape
    return (images.reshape(len(ys), len(xs), h, w, c).transpose(0, 2, 1, 3, 4)
            .reshape(len(ys) * h, len(xs) * w, c))


def _show_canvas(ax: plt.Axes, canvas: np.ndarray, extent: tuple) -> None:
    grey = canvas.shape[-1] == 1
    ax.imshow(canvas.squeeze(-1) if grey else canvas, cmap="gray_r" if grey else None,
              vmin=0, vmax=1, extent=extent, aspect="auto", interpolation="nearest")
    ax.grid(False)


def metric_lines(
    table: pd.DataFrame,
    x: str,
    columns: Sequence[str],
    *,
    hue: str | None = None,
    axes: Sequence[plt.Axes] | None = None,
    logx: bool = False,
) -> np.ndarray:
    """One panel per column of ``table``: the column against column ``x`` (points joined in order
    of x), one line per value of column ``hue`` if given."""
    missing = [c for c in [x, *columns, *([hue] if hue else [])] if c not in table.columns]
    if missing:
        raise ValueError(f"x, columns, hue: {missing} are not columns of the table, which has "
                         f"{list(table.columns)}; reset_index() first if they are index levels")
    if axes is None:
        # Constrained layout leaves room for the legend outside the last panel.
        _, axes = plt.subplots(1, len(columns), figsize=(3.6 * len(columns) + (2 if hue else 0), 3),
                               layout="constrained")
    axes = np.atleast_1d(axes)
    groups = [(None, table)] if hue is None else list(table.groupby(hue, sort=False))
    for ax, column in zip(axes, columns):
        for (name, part), colour in zip(groups, sns.color_palette()):
            part = part.sort_values(x)
            ax.plot(part[x], part[column], marker="o", color=colour, label=name)
        ax.set(xlabel=x, ylabel=column)
        if logx:
            ax.set_xscale("log", base=2)
    if hue is not None:
        axes[-1].legend(title=hue, fontsize="small", loc="upper left", bbox_to_anchor=(1.02, 1))
    return axes


def along_path(
    values: dict[str, np.ndarray],
    *,
    ax: plt.Axes | None = None,
    ylabel: str = "",
) -> plt.Axes:
    """Mean over pairs of a per-step quantity (pairs, steps), one line per method, A to B."""
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 3.5))
    for (name, v), colour in zip(values.items(), sns.color_palette(n_colors=max(len(values), 10))):
        v = np.asarray(v, dtype=float)
        if v.ndim != 2 or v.shape[1] < 2:
            raise ValueError(f"values[{name!r}]: expected an array (pairs, steps) with steps >= 2, "
                             f"got shape {v.shape}; pass one row per walk, one column per step")
        ax.plot(np.arange(v.shape[1]), v.mean(axis=0), marker="o", markersize=4, color=colour,
                label=name)
    steps = v.shape[1]
    ax.set_xticks(np.arange(steps), ["A", *map(str, range(1, steps - 1)), "B"])
    ax.set(xlabel="step", ylabel=ylabel)
    ax.legend(fontsize="small", loc="best")
    return ax


def walk_animation(
    walks: dict[str, np.ndarray],
    *,
    scale: int = 2,
    ncols: int | None = None,
    frame_ms: int = 250,
    pause_ms: int = 1000,
    levels: int = 16,
) -> bytes:
    """Animated GIF of walks played side by side, one labelled panel each, from A to B (looping).

    ``walks`` maps a label to frames (steps, H, W, C) in [0, 1]; every walk has the same steps.
    Pixels are enlarged ``scale`` times and rounded to ``levels`` grey levels (or colours), which
    keeps the file small. The bytes depend only on the inputs; show them with
    ``IPython.display.Image(data=gif, format="gif")``.
    """
    from PIL import Image, ImageDraw, ImageFont

    if not isinstance(walks, dict) or not walks:
        raise ValueError("walks: expected a non-empty dict {label: frames (steps, H, W, C)}, got "
                         f"{type(walks).__name__}; pass e.g. {{'linear': frames}}")
    shapes = {name: np.shape(f) for name, f in walks.items()}
    first = next(iter(shapes.values()))
    if len(first) != 4 or first[0] < 2 or first[-1] not in (1, 3) or len(set(shapes.values())) != 1:
        raise ValueError(f"walks: expected frames of one shape (steps >= 2, H, W, 1 or 3) for "
                         f"every walk, got shapes {shapes}; decode every walk with the same steps")
    ncols = len(walks) if ncols is None else ncols
    for name, value in (("scale", scale), ("ncols", ncols), ("frame_ms", frame_ms),
                        ("pause_ms", pause_ms)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name}: expected a positive int, got {value!r}")
    if (isinstance(levels, bool) or not isinstance(levels, (int, np.integer))
            or not 2 <= levels <= 256):
        raise ValueError(f"levels: expected an int in [2, 256], got {levels!r}; use e.g. 16")
    steps, h, w, c = first
    nrows = -(-len(walks) // ncols)
    font = ImageFont.load_default(size=11)
    label_h = 16
    panel_w = max(w * scale, *(int(font.getlength(name)) + 4 for name in walks)) + 6
    panel_h = label_h + h * scale + 6
    bar_h = 5
    size = (ncols * panel_w, nrows * panel_h + bar_h + 2)

    background = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(background)
    for i, name in enumerate(walks):
        r, col = divmod(i, ncols)
        draw.text((col * panel_w + panel_w / 2, r * panel_h + 2), name, fill="black", font=font,
                  anchor="ma")
    # Ink is dark, as in the book's figures (grey images are drawn with gray_r); rounding to a
    # few levels is what keeps the file small.
    shades = [np.clip(np.asarray(f, np.float32), 0.0, 1.0) for f in walks.values()]
    tiles = [np.round((1.0 - x if c == 1 else x) * (levels - 1)) / (levels - 1) for x in shades]
    pictures = []
    for t in range(steps):
        canvas = background.copy()
        for i, frames in enumerate(tiles):
            r, col = divmod(i, ncols)
            pixels = (frames[t] * 255).round().astype(np.uint8)
            tile = Image.fromarray(pixels.squeeze(-1) if c == 1 else pixels)
            tile = tile.resize((w * scale, h * scale), Image.Resampling.NEAREST)
            canvas.paste(tile, (col * panel_w + (panel_w - w * scale) // 2, r * panel_h + label_h))
        progress = ImageDraw.Draw(canvas)
        top = size[1] - bar_h - 1
        progress.rectangle((0, top, size[0] - 1, top + bar_h), fill=(225, 225, 225))
        progress.rectangle((0, top, round((size[0] - 1) * t / (steps - 1)), top + bar_h),
                           fill=(80, 80, 80))
        pictures.append(canvas.convert("L") if c == 1 else
                        canvas.quantize(256, method=Image.Quantize.MEDIANCUT,
                                        dither=Image.Dither.NONE))
    # A pause on A and on B, so that the eye catches both ends before the loop restarts.
    durations = [pause_ms if t in (0, steps - 1) else frame_ms for t in range(steps)]
    buffer = io.BytesIO()
    pictures[0].save(buffer, format="GIF", save_all=True, append_images=pictures[1:],
                     duration=durations, loop=0)
    return buffer.getvalue()


def dataset_comparison(
    table: pd.DataFrame,
    measure: str = "FID ÷ floor",
    *,
    ax: plt.Axes | None = None,
) -> plt.Axes:
    """Bars of every row of a ``pipeline.side_by_side`` table whose measure ends with ``measure``,
    one colour per dataset (its ratio columns left out); FID ratios on a log scale from 1."""
    names = table.index.get_level_values("measure") if "measure" in (table.index.names or []) \
        else None
    rows = table[names.str.endswith(measure)] if names is not None else table.iloc[:0]
    if rows.empty:
        raise ValueError(f"measure: no row of the table ends with {measure!r}; pass a "
                         "pipeline.side_by_side table and a measure it has, e.g. 'FID ÷ floor'.")
    datasets = [c for c in rows.columns if " ÷ " not in c]
    labels = [f"{model}: {what.removesuffix(measure).rstrip(': ') or measure}"
              for model, what in rows.index]
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 0.5 * len(rows) * len(datasets) / 2 + 1.2))
    height = 0.8 / len(datasets)
    positions = np.arange(len(rows))
    for i, (name, colour) in enumerate(zip(datasets, sns.color_palette())):
        ax.barh(positions + (i - (len(datasets) - 1) / 2) * height, rows[name].astype(float),
                height, color=colour, label=name)
    ax.set_yticks(positions, labels)
    ax.invert_yaxis()
    if "FID" in measure:
        ax.set_xscale("log")
        ax.axvline(1.0, color="black", linewidth=1, linestyle="--")
    ax.set(xlabel=measure)
    ax.legend()
    return ax
