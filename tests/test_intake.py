"""Intake of zipped submissions: every hostile entry is refused with a reason naming it, nothing unpacked."""
import stat
import zipfile

import pytest

from autograder.grading.intake import MAX_MEMBER, safe_extract

NOTEBOOK = '{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}'


def make_zip(path, entries):
    with zipfile.ZipFile(path, "w") as z:
        for name, data, mode in entries:
            info = zipfile.ZipInfo(name)
            if mode is not None:
                info.external_attr = mode << 16
            z.writestr(info, data)
    return path


@pytest.mark.parametrize("name, data, mode, words", [
    ("/etc/evil.ipynb", NOTEBOOK, None, "an absolute path"),
    ("../other_student/x.ipynb", NOTEBOOK, None, "climbs out"),
    ("ok/../../x.ipynb", NOTEBOOK, None, "climbs out"),
    ("C:/windows/x.ipynb", NOTEBOOK, None, "an absolute path"),
    ("link.ipynb", "/etc/passwd", stat.S_IFLNK | 0o777, "a symbolic link"),
])
def test_unsafe_entries_are_refused_by_name(tmp_path, name, data, mode, words):
    archive = make_zip(tmp_path / "ann.zip", [("01_tensor.ipynb", NOTEBOOK, None), (name, data, mode)])
    dest = tmp_path / "out" / "ann"
    problem = safe_extract(archive, dest)
    assert problem is not None and repr(name) in problem and words in problem
    assert not dest.exists(), "nothing may be unpacked from a refused zip"
    assert not (tmp_path / "other_student").exists()


def test_duplicate_names_are_refused(tmp_path):
    archive = tmp_path / "ann.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("01_tensor.ipynb", NOTEBOOK)
        with pytest.warns(UserWarning):
            z.writestr("01_tensor.ipynb", "{}")
    problem = safe_extract(archive, tmp_path / "out")
    assert problem and "duplicate" in problem and "'01_tensor.ipynb'" in problem


def test_oversized_entry_is_refused(tmp_path):
    archive = make_zip(tmp_path / "ann.zip", [("big.bin", b"\0" * (MAX_MEMBER + 1), None)])
    problem = safe_extract(archive, tmp_path / "out")
    assert problem and "'big.bin'" in problem and "MB" in problem


def test_not_a_zip_is_refused(tmp_path):
    archive = tmp_path / "ann.zip"
    archive.write_bytes(b"PK\x03\x04 this is not really a zip")
    problem = safe_extract(archive, tmp_path / "out")
    assert problem and "not a valid zip" in problem


def test_a_clean_zip_unpacks(tmp_path):
    archive = make_zip(tmp_path / "ann.zip", [("ann/", "", None), ("ann/01_tensor.ipynb", NOTEBOOK, None)])
    assert safe_extract(archive, tmp_path / "out") is None
    assert (tmp_path / "out" / "ann" / "01_tensor.ipynb").read_text() == NOTEBOOK
