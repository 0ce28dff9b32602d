"""HDF5 files as netCDF4, h5netcdf, PyTables and h5py's less common options
write them, read by ``ndbridge.cpp`` and compared with h5py.

netCDF-4 files track creation order and hang dimension scales on their
variables (``DIMENSION_LIST``, ``REFERENCE_LIST``, ``DIMENSION_LABELS``),
which ndbridge does not all read: those are left out and named, and every
other attribute (``units``...) reads as h5py reads it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest

from ndbridge import cpp
from ndbridge.listing import describe

netCDF4 = pytest.importorskip("netCDF4")
h5netcdf = pytest.importorskip("h5netcdf")
tables = pytest.importorskip("tables")


def h5py_listing(path: Path) -> list[str]:
    """Every object's path in the order h5py visits them (depth first, each
    group in its own iteration order)."""
    out = ["/"]

    def walk(group: h5py.Group) -> None:
        for name in group:  # the group's order: creation order if tracked
            child = group[name]
            out.append(child.name)
            if isinstance(child, h5py.Group):
                walk(child)

    with h5py.File(path, "r") as f:
        walk(f)
    return out


def h5py_attrs(path: Path, obj: str) -> dict[str, Any]:
    with h5py.File(path, "r") as f:
        return dict(f[obj].attrs.items())


def same_value(ours: Any, theirs: Any) -> bool:
    if isinstance(theirs, h5py.Empty):  # a null attribute: no elements, its type
        return isinstance(ours, np.ndarray) and ours.size == 0 and ours.dtype == theirs.dtype
    if isinstance(theirs, bytes) and isinstance(ours, (bytes, np.bytes_)):
        return bytes(ours) == theirs
    if isinstance(theirs, str):
        return str(ours) == theirs
    a, b = np.asarray(ours), np.asarray(theirs)
    if b.dtype == object:  # h5py's variable-length strings
        texts = [x.decode() if isinstance(x, bytes) else x for x in b.ravel()]
        b = np.array(texts).reshape(b.shape)
    return a.shape == b.shape and a.tolist() == b.tolist()


def write_netcdf(path: Path) -> None:
    with netCDF4.Dataset(path, "w") as nc:
        nc.title = "a test"
        nc.createDimension("time", 4)
        nc.createDimension("lat", 3)
        time = nc.createVariable("time", "f8", ("time",))
        time.units = "days since 2000-01-01"
        time[:] = np.arange(4.0)
        temp = nc.createVariable("temp", "f4", ("time", "lat"), zlib=True)
        temp.units = "K"
        temp.long_name = "temperature"
        temp.valid_range = np.array([150.0, 350.0], dtype="f4")
        temp[:] = np.arange(12, dtype="f4").reshape(4, 3)
        group = nc.createGroup("zeta")
        group.createVariable("b", "i4", ("lat",))[:] = [3, 2, 1]
        group.createVariable("a", "i2", ())[...] = 7
        label = nc.createVariable("label", str, ("lat",))
        label[:] = np.array(["x", "yy", "zzz"], dtype=object)


def test_netcdf4_file_reads_and_lists_as_h5py(tmp_path: Path) -> None:
    """A netCDF4-python file: listed in creation order as h5py lists it,
    every variable read as h5py reads it, every attribute h5py reads but the
    dimension-scale references read, and those named with the reason."""
    path = tmp_path / "data.nc"
    write_netcdf(path)
    listing = cpp.list_h5(path)
    assert [e["path"] for e in listing] == h5py_listing(path)
    assert [e["path"] for e in listing if e["kind"] == "dataset"][:2] == ["/time", "/lat"]
    for entry in listing:
        expected = h5py_attrs(path, entry["path"])
        ours = cpp.read_h5_attrs(path, entry["path"])
        assert list(entry["attributes"]) == list(expected), entry["path"]
        assert list(ours) == [n for n in expected if n not in entry["unreadable_attributes"]]
        for name, value in ours.items():
            assert same_value(value, expected[name]), (entry["path"], name)
        if entry["kind"] == "dataset":
            with h5py.File(path, "r") as f:
                theirs = f[entry["path"]][()]
            if theirs.dtype == object:
                theirs = np.array([x.decode() for x in theirs.ravel()]).reshape(theirs.shape)
            assert cpp.read_h5(path, entry["path"]).tolist() == theirs.tolist()
    temp = cpp.read_h5_attrs(path, "/temp")
    # netCDF's text attributes are fixed-length strings: bytes, as in h5py.
    assert temp["units"] == b"K" and temp["long_name"] == b"temperature"
    assert temp["valid_range"].tolist() == [150.0, 350.0]
    unreadable = {e["path"]: e["unreadable_attributes"] for e in listing}
    assert set(unreadable["/temp"]) == {"DIMENSION_LIST"}
    assert "variable-length sequence" in unreadable["/temp"]["DIMENSION_LIST"]
    assert "REFERENCE_LIST" in unreadable["/time"]
    # ndbridge ls shows every attribute, the unreadable ones with the reason.
    described = {e["name"]: e for e in describe(path)["entries"]}
    dims = described["/temp"]["attributes"]["DIMENSION_LIST"]
    assert dims["dtype"] is None and "variable-length sequence" in dims["preview"]
    assert described["/temp"]["attributes"]["units"]["preview"] == "b'K'"


def test_h5netcdf_dimension_labels_and_scales(tmp_path: Path) -> None:
    """h5netcdf writes dimension scales and DIMENSION_LABELS (ASCII strings,
    some empty) through h5py: the labels read, the references are named."""
    path = tmp_path / "labels.h5"
    with h5netcdf.File(path, "w") as f:
        f.dimensions = {"x": 3, "y": 2}
        v = f.create_variable("v", ("x", "y"), float)
        v[:] = np.ones((3, 2))
        v.attrs["units"] = "m"
    with h5py.File(path, "a") as f:
        f["v"].dims[0].label = "x"  # DIMENSION_LABELS: one label set, one empty
    attrs = cpp.read_h5_attrs(path, "/v")
    assert attrs["units"] == "m"
    assert attrs["DIMENSION_LABELS"].tolist() == ["x", ""]
    listing = {e["path"]: e for e in cpp.list_h5(path)}
    assert "DIMENSION_LIST" in listing["/v"]["unreadable_attributes"]


def test_pytables_file_reads_as_h5py(tmp_path: Path) -> None:
    """PyTables marks every node with ASCII string attributes (CLASS,
    VERSION, TITLE) and stores strings space- or NUL-padded."""
    path = tmp_path / "tables.h5"
    with tables.open_file(str(path), "w", title="root title") as f:
        f.create_array("/", "plain", np.arange(6, dtype="<i4").reshape(2, 3), title="an array")
        group = f.create_group("/", "g", "a group")
        f.create_carray(group, "c", obj=np.linspace(0, 1, 50), filters=tables.Filters(5, "zlib"))
        f.create_array(group, "words", np.array([b"ab", b"cde"]))
        f.root.plain.attrs.note = "ascii note"
    for entry in cpp.list_h5(path):
        expected = h5py_attrs(path, entry["path"])
        ours = cpp.read_h5_attrs(path, entry["path"])
        assert entry["unreadable_attributes"] == {}
        assert list(ours) == list(expected)
        for name, value in ours.items():
            assert same_value(value, expected[name]), (entry["path"], name)
    assert cpp.read_h5_attrs(path, "/plain")["TITLE"] == b"an array"
    with h5py.File(path, "r") as f:
        for name in ("/plain", "/g/c", "/g/words"):
            assert cpp.read_h5(path, name).tolist() == f[name][()].tolist()


def test_creation_order_as_h5py(tmp_path: Path) -> None:
    """Groups and attributes created with h5py's track_order=True list in
    creation order; others in name order, as h5py lists both."""
    path = tmp_path / "order.h5"
    names = ["zebra", "apple", "mango", "banana"]
    with h5py.File(path, "w", libver="earliest", track_order=True) as f:
        for i, name in enumerate(names):
            f[name] = np.arange(i + 1)
            f.attrs[name] = i
        ordered = f.create_group("ordered", track_order=True)
        plain = f.create_group("plain", track_order=False)
        for i, name in enumerate(names):
            ordered[name] = i
            ordered.attrs[name] = i
            plain[name] = i
            plain.attrs[name] = i
        # Enough links for dense storage (an index, not the object header).
        many = f.create_group("many", track_order=True)
        for i in range(40):
            many[f"k{39 - i:02d}"] = i
    listing = [e["path"] for e in cpp.list_h5(path)]
    assert listing == h5py_listing(path)
    assert listing[1:5] == [f"/{n}" for n in names]
    assert list(cpp.read_h5_attrs(path)) == names == list(h5py_attrs(path, "/"))
    assert list(cpp.read_h5_attrs(path, "/ordered")) == names
    assert list(cpp.read_h5_attrs(path, "/plain")) == sorted(names)
    assert [e["name"] for e in describe(path)["entries"]] == listing


def test_object_references_read_as_paths(tmp_path: Path) -> None:
    """Object reference attributes (and datasets) read as the path of the
    object they refer to, h5py's f[ref].name; a null reference as ""."""
    path = tmp_path / "refs.h5"
    with h5py.File(path, "w", libver="earliest") as f:
        f["data/x"] = np.arange(3)
        g = f.create_group("other")
        f.attrs["one"] = f["data/x"].ref
        refs = np.array([f["data/x"].ref, g.ref, h5py.Reference()], dtype=h5py.ref_dtype)
        f.attrs.create("many", refs, dtype=h5py.ref_dtype)
        f.create_dataset("refs", data=refs, dtype=h5py.ref_dtype)
        f.attrs["after"] = 5
    attrs = cpp.read_h5_attrs(path)
    assert attrs["one"] == "/data/x"
    assert attrs["many"].tolist() == ["/data/x", "/other", ""]
    assert attrs["after"] == 5
    assert cpp.read_h5(path, "refs").tolist() == ["/data/x", "/other", ""]
    with h5py.File(path, "r") as f:
        assert f[f.attrs["one"]].name == attrs["one"]


def test_one_unreadable_attribute_does_not_hide_the_others(tmp_path: Path) -> None:
    path = tmp_path / "mixed.h5"
    with h5py.File(path, "w", libver="earliest") as f:
        f["x"] = np.arange(3)
        f["x"].attrs["pair"] = np.zeros(2, dtype=[("a", "<i4"), ("b", "<f8")])
        f["x"].attrs["units"] = "m"
        f["x"].attrs.create("ragged", [np.arange(2), np.arange(3)], dtype=h5py.vlen_dtype("i4"))
        f["x"].attrs.create("empty", h5py.Empty("f4"))
    assert cpp.read_h5_attrs(path, "/x").keys() == {"units", "empty"}
    assert cpp.read_h5_attrs(path, "/x")["empty"].dtype == np.dtype("<f4")
    with cpp.H5File(path) as f:
        assert f.attrs("/x")["units"] == "m"
    [entry] = [e for e in cpp.list_h5(path) if e["path"] == "/x"]
    assert set(entry["unreadable_attributes"]) == {"pair", "ragged"}
    assert "compound" in entry["unreadable_attributes"]["pair"]
