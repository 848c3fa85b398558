"""The README and docs/ stand on their own: every file they name is in the repository, and they speak
to the people who use the gateway, not about how it was written."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
# Words of working notes that a user cannot act on (and paths outside the repository).
NOTE_WORDS = re.compile(
    r"shared/|\bseed \d|\bseeds?'|Rivya contract|team rule|(previous|this|that) (session|stop)\b",
    re.IGNORECASE,
)
REPO_PATH = re.compile(r"`((?:docs|tests|bench|src|scripts)/[^`\s]*)`")


@pytest.mark.parametrize("doc", DOCS, ids=lambda path: path.name)
def test_every_repository_path_a_doc_names_exists(doc: Path) -> None:
    missing = [path for path in REPO_PATH.findall(doc.read_text()) if not (REPO / path).exists()]
    assert missing == []


@pytest.mark.parametrize("doc", DOCS, ids=lambda path: path.name)
def test_a_doc_has_no_working_notes(doc: Path) -> None:
    found = [
        f"{number}: {line.strip()}"
        for number, line in enumerate(doc.read_text().splitlines(), start=1)
        if NOTE_WORDS.search(line)
    ]
    assert found == []


def test_the_license_file_is_the_apache_2_license_that_pyproject_declares() -> None:
    declared = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["license"]
    text = (REPO / "LICENSE").read_text()
    assert declared == {"text": "Apache-2.0"}
    assert text.split()[:4] == ["Apache", "License", "Version", "2.0,"]
    assert "TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION" in text
    assert "END OF TERMS AND CONDITIONS" in text
