"""Write tests/vectors/qr-byte-m.json: QR codes made by the `qrcode` package (byte mode, level
M, border 0), the reference that tests/js/qr.test.mjs holds app/qr.mjs to, module by module.

Run with the package on the path (it is not a dependency of the project):
    pip install --target /tmp/qrlib qrcode
    PYTHONPATH=/tmp/qrlib .venv/bin/python tools/gen_qr_vectors.py
"""

from __future__ import annotations

import json
from pathlib import Path

import qrcode  # type: ignore[import-untyped,import-not-found,unused-ignore]
from qrcode.constants import ERROR_CORRECT_M  # type: ignore[import-untyped,import-not-found,unused-ignore]

OUT = Path(__file__).resolve().parent.parent / "tests" / "vectors" / "qr-byte-m.json"
SAMPLE_TOKEN = "grUiQ4EKY5g2h7UdI0MD8eTIEuNvQcN9W10d3A0a7Y8"  # noqa: S105 - not a secret
TEXTS = [
    "hello",
    "https://terapia.example.fi/enroll/" + SAMPLE_TOKEN,
    "http://127.0.0.1:8080/enroll/" + SAMPLE_TOKEN,
    "https://a-rather-long-practice-name.example.fi/secure-msg/enroll/" + SAMPLE_TOKEN,
    "Äiti ja isä – ÅÄÖ åäö",  # UTF-8 bytes
    "x" * 150,
    "y" * 213,  # the most version 10 holds at level M
]


def rows(text: str, *, version: int | None, mask: int | None) -> tuple[int, int, list[str]]:
    q = qrcode.QRCode(version=version, error_correction=ERROR_CORRECT_M, mask_pattern=mask,
                      border=0)
    q.add_data(text.encode("utf-8"), optimize=0)
    q.make(fit=version is None)
    matrix = q.get_matrix()
    return q.version, q.mask_pattern if mask is not None else -1, [
        "".join("1" if c else "0" for c in row) for row in matrix]


def main() -> None:
    vectors = []
    for text in TEXTS:
        version, _, _ = rows(text, version=None, mask=0)
        # every mask for the short text and a typical link; two for the others
        for mask in range(8) if text == "hello" or "terapia" in text else (0, 5):
            _, _, matrix = rows(text, version=version, mask=mask)
            vectors.append({"text": text, "version": version, "mask": mask, "rows": matrix})
    OUT.write_text(json.dumps({"source": "qrcode " + qrcode_version(), "vectors": vectors},
                              ensure_ascii=False, indent=0) + "\n", encoding="utf-8")
    print(f"wrote {len(vectors)} vectors to {OUT}")


def qrcode_version() -> str:
    from importlib.metadata import version

    return version("qrcode")


if __name__ == "__main__":
    main()
