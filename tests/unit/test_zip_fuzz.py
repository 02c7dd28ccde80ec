"""Fuzzing executor.zip_archive.extract_project with arbitrary bytes, generated archives
(hostile names, random contents and sizes, random file types and compression) and damaged
archives. The property: it returns a project name and everything it wrote lies inside
``dest``, or it raises ArchiveError and leaves nothing at ``dest``; never anything else.
"""
from __future__ import annotations

import io
import os
import shutil
import stat
import tempfile
import warnings
import zipfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings, strategies as st

from executor.zip_archive import ArchiveError, ArchiveLimits, extract_project

LIMITS = ArchiveLimits(max_total_size=64 * 1024, max_files=12)
FUZZ = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])

segments = st.sampled_from(["..", ".", "", "main.py", "lib", "a", "__MACOSX", ".DS_Store",
                            "C:", "x\\..\\y", "\0", "ü", " "]) | st.text(max_size=8)
names = st.one_of(
    st.lists(segments, min_size=1, max_size=4).map("/".join),
    st.builds(lambda n: "/" + n, st.text(max_size=10)),           # absolute
    st.builds(lambda n: "..\\" + n, st.text(max_size=10)),        # backslashes
    st.builds(lambda n: "top/" + n, st.sampled_from(["main.py", "../main.py", "x/", "/a"])),
    st.just("main.py"), st.just("proj/main.py"), st.text(max_size=20),
)
MODES = [0, 0o100644, 0o100755, 0o040755, 0o120777, 0o010644, 0o060644, 0o140644]
members = st.tuples(
    names,
    st.binary(max_size=256) | st.integers(0, 100 * 1024).map(lambda n: b"\0" * n),
    st.sampled_from([zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED]),
    st.sampled_from(MODES),
)


def build_zip(entries) -> bytes:
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")           # duplicate names are part of the fuzz
        with zipfile.ZipFile(buffer, "w") as archive:
            for name, data, method, mode in entries:
                info = zipfile.ZipInfo(name or "x")
                info.compress_type = method
                info.create_system = 3
                info.external_attr = mode << 16
                archive.writestr(info, data)
    return buffer.getvalue()


def check_extraction(data: bytes) -> None:
    box = Path(tempfile.mkdtemp(prefix="zipfuzz-"))
    try:
        outer = box / "outer"
        outer.mkdir()
        dest = outer / "dest"
        try:
            name = extract_project(data, dest, LIMITS)
        except ArchiveError as e:
            assert str(e), "an ArchiveError needs a message for the user"
            assert not dest.exists() and not os.path.lexists(str(dest))
            assert os.listdir(str(outer)) == [], os.listdir(str(outer))
        else:
            assert isinstance(name, str) and name
            assert os.listdir(str(outer)) == ["dest"], os.listdir(str(outer))
            assert (dest / "main.py").is_file()
            real_dest = os.path.realpath(str(dest))
            for directory, subdirs, files in os.walk(str(dest)):
                for entry in subdirs + files:
                    path = os.path.join(directory, entry)
                    mode = os.lstat(path).st_mode
                    assert stat.S_ISREG(mode) or stat.S_ISDIR(mode), path
                    assert os.path.realpath(path).startswith(real_dest + os.sep), path
        assert sorted(os.listdir(str(box))) == ["outer"]
    finally:
        shutil.rmtree(str(box), ignore_errors=True)


@settings(FUZZ, max_examples=300)
@given(st.binary(max_size=2048))
def test_arbitrary_bytes(data):
    check_extraction(data)


@settings(FUZZ, max_examples=300)
@given(st.lists(members, min_size=1, max_size=8))
def test_generated_archives(entries):
    check_extraction(build_zip(entries))


@settings(FUZZ, max_examples=300)
@given(st.lists(members, min_size=1, max_size=5), st.data())
def test_damaged_archives(entries, data):
    raw = bytearray(build_zip([("main.py", b"x = 1\n", zipfile.ZIP_DEFLATED, 0o100644)]
                              + entries))
    for _ in range(data.draw(st.integers(1, 8))):
        at = data.draw(st.integers(0, len(raw) - 1))
        raw[at] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(len(raw) // 2, len(raw)))
    check_extraction(bytes(raw[:cut]))


@settings(FUZZ, max_examples=100)
@given(st.lists(members, min_size=0, max_size=6))
def test_valid_project_with_random_extras(entries):
    check_extraction(build_zip([("main.py", b"x = 1\n", zipfile.ZIP_STORED, 0)] + entries))
