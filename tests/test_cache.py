"""genlab.cache where the folder cannot be written: results are computed, reported once, not
kept."""

import json
import os
import re
import time
import warnings

import pytest

from genlab import cache

UNUSABLE = "cannot write into the cache folder .*GENLAB_CACHE at a writable folder"


def fetch(entry, value="computed", calls=None):
    """cache.fetch of a small JSON value; ``calls`` counts how often it was computed."""
    def compute():
        if calls is not None:
            calls.append(1)
        return value, {}

    return cache.fetch(entry, "k", "value.json", compute,
                       lambda v, f: f.write(json.dumps(v).encode()),
                       lambda path: json.loads(path.read_text()), redo="it is computed again")


def test_a_file_as_cache_folder_is_reported_once_and_nothing_is_kept(tmp_path, monkeypatch):
    folder = tmp_path / "cache-file"
    folder.write_text("not a folder")
    monkeypatch.setenv("GENLAB_CACHE", str(folder))
    not_a_folder = UNUSABLE.replace(".*GENLAB", ".*a file, not a folder.*GENLAB")
    with pytest.warns(UserWarning, match=not_a_folder):
        assert not cache.usable()
    calls = []
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # reported once: later calls stay quiet
        assert not cache.usable()
        assert fetch(cache.directory() / "entry", calls=calls)[0] == "computed"
        assert fetch(cache.directory() / "entry", calls=calls)[0] == "computed"
    assert len(calls) == 2 and folder.read_text() == "not a folder"


def test_a_read_only_folder_is_reported_and_results_are_still_returned(tmp_path, monkeypatch,
                                                                        read_only):
    folder = tmp_path / "read-only"
    folder.mkdir()
    monkeypatch.setenv("GENLAB_CACHE", str(folder))
    read_only(folder)
    with pytest.warns(UserWarning, match=UNUSABLE):
        value, meta = fetch(folder / "entry")
    assert value == "computed" and meta["key"] == "k"
    assert not cache.usable() and list(folder.iterdir()) == []


def test_a_writable_folder_is_usable_and_keeps_results(private_cache):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert cache.usable() and private_cache.is_dir()
        calls = []
        fetch(private_cache / "entry", calls=calls)
        assert fetch(private_cache / "entry", calls=calls)[0] == "computed" and len(calls) == 1
    assert sorted(p.name for p in (private_cache / "entry").iterdir()) == ["meta.json",
                                                                          "value.json"]


def test_a_corrupt_entry_in_a_read_only_cache_is_recomputed(private_cache, read_only):
    entry = private_cache / "entry"
    fetch(entry)
    (entry / "value.json").write_text('"altered"')
    read_only(private_cache)
    read_only(entry)
    calls = []
    with pytest.warns(UserWarning) as warned:
        assert fetch(entry, "again", calls)[0] == "again"
    assert calls == [1] and (entry / "value.json").read_text() == '"altered"'
    corrupt, unusable = (str(w.message) for w in warned)
    assert re.search("entry is corrupt.*could not be moved aside.*computed again.*writable folder",
                     corrupt)
    assert re.search(UNUSABLE, unusable)


def test_saving_removes_stale_temporaries_but_not_fresh_ones(private_cache):
    entry = private_cache / "entry"
    entry.mkdir(parents=True)
    stale, fresh = entry / ".tmp-old-value.json", entry / ".tmp-new-value.json"
    stale.write_text("left by a killed process")
    fresh.write_text("being written by another process")
    hours_ago = time.time() - 2 * cache.STALE_TEMPORARY_SECONDS
    os.utime(stale, (hours_ago, hours_ago))
    fetch(entry)
    assert not stale.exists() and fresh.exists()
    assert sorted(p.name for p in entry.iterdir()) == [".tmp-new-value.json", "meta.json",
                                                      "value.json"]


def test_the_code_digest_follows_the_source(tmp_path, monkeypatch):
    """Keys hold a digest of the code that computes an entry: an edit (or a pull) is a miss."""
    import importlib

    source = tmp_path / "edited_module.py"
    source.write_text("VALUE = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module("edited_module")
    before = cache.code_digest(module)
    assert before == cache.code_digest(module)
    source.write_text("VALUE = 2\n")
    assert cache.code_digest(module) != before


def test_array_digests_are_the_bytes_and_kept_only_for_arrays_no_one_can_change():
    import hashlib

    import numpy as np

    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    expected = hashlib.sha256(b"<f4(3, 4)" + x.tobytes() + b"None").hexdigest()
    assert cache.array_digest(x, None) == expected  # a known value: shipped weights' keys use it
    assert not cache.frozen(x) and not cache.frozen([1, 2]) and not cache.frozen(x[1:])
    x[0, 0] = 99  # writable: hashed again every time, so an in-place edit changes the digest
    assert cache.array_digest(x, None) != expected

    y = np.arange(12, dtype=np.float32).reshape(3, 4).copy()  # owns its memory
    y.flags.writeable = False
    view = y[1:]
    assert cache.frozen(y) and cache.frozen(view)
    assert cache.array_digest(y) == cache.array_digest(
        np.arange(12, dtype=np.float32).reshape(3, 4))
    assert cache.array_digest(view) == cache.array_digest(np.array(view))
    assert ("digest", id(y)) in cache._once
    # check_images keeps a frozen array's pixel range the same way.
    from genlab.data import check_images

    images = np.full((2, 2, 2, 1), 0.5, np.float32)
    images.flags.writeable = False
    assert check_images(images) is images and ("range", id(images)) in cache._once
    # A read-only view of a writable array can still change through it: not frozen.
    z = np.zeros(4)
    ro = z[:]
    ro.flags.writeable = False
    assert not cache.frozen(ro)
    before = cache.array_digest(ro)
    z[0] = 1
    assert cache.array_digest(ro) != before
    # A freed array's digest is forgotten, so a new array at its address is hashed afresh.
    key = ("digest", id(y))
    del y, view
    assert key not in cache._once
