"""Pure-Python wheels and sdists built in the test, with zipfile alone (no network, no
setuptools), and projects that ship them in wheels/ as a user would."""
from __future__ import annotations

import base64
import hashlib
import io
import tarfile
import zipfile
from typing import Dict, Optional

FIXED_TIME = (2024, 1, 1, 0, 0, 0)

MAIN = '''import {package}


def version():
    return {package}.VERSION


def greet(name):
    return {package}.greet(name)
'''


def wheel(package: str, version: str, code: Optional[str] = None) -> Dict[str, bytes]:
    """{file name: bytes} of a py3-none-any wheel holding module ``package``, whose
    VERSION is ``version`` and whose greet(name) says hello."""
    code = code or "VERSION = %r\n\n\ndef greet(name):\n    return 'hello %%s from %s %%s' " \
                   "%% (name, VERSION)\n" % (version, package)
    info = "%s-%s.dist-info" % (package, version)
    files = {
        "%s/__init__.py" % package: code.encode(),
        info + "/METADATA": ("Metadata-Version: 2.1\nName: %s\nVersion: %s\n"
                             % (package, version)).encode(),
        info + "/WHEEL": b"Wheel-Version: 1.0\nGenerator: robotctl-tests\n"
                         b"Root-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = "".join("%s,%s,%d\n" % (path, _record_hash(data), len(data))
                     for path, data in files.items()) + info + "/RECORD,,\n"
    files[info + "/RECORD"] = record.encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path, data in files.items():   # fixed times: the same wheel is the same bytes
            archive.writestr(zipfile.ZipInfo(path, date_time=FIXED_TIME), data)
    return {"%s-%s-py3-none-any.whl" % (package, version): buffer.getvalue()}


def sdist(package: str, version: str) -> Dict[str, bytes]:
    """{file name: bytes} of a source distribution (.tar.gz) of ``package``."""
    buffer = io.BytesIO()
    data = ("Metadata-Version: 2.1\nName: %s\nVersion: %s\n" % (package, version)).encode()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        entry = tarfile.TarInfo("%s-%s/PKG-INFO" % (package, version))
        entry.size = len(data)
        archive.addfile(entry, io.BytesIO(data))
    return {"%s-%s.tar.gz" % (package, version): buffer.getvalue()}


def project_zip(requirements: Optional[str], distributions: Dict[str, bytes],
                package: str = "robopkg", main: Optional[str] = None) -> bytes:
    """A project zip: main.py using ``package``, requirements.txt (unless None) and the
    given distributions in wheels/."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("main.py", main if main is not None else MAIN.format(package=package))
        if requirements is not None:
            archive.writestr("requirements.txt", requirements)
        for name, data in distributions.items():
            archive.writestr("wheels/" + name, data)
    return buffer.getvalue()


def _record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
    return "sha256=" + digest.decode("ascii")
