"""The README's table of config keys against the library's key table: every key documented, no key
that does not exist, and every allowed value of a key with a fixed set of values named in its row."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Dict, List

import pfedrl


def readme_rows(root: Path) -> Dict[str, str]:
    """{key: its row's text} from the README's "Config keys" table."""
    text = (root / "README.md").read_text()
    section = text[text.index("### Config keys"):]
    section = section[:section.index("\n### ", 1)]
    rows: Dict[str, str] = {}
    for line in section.splitlines():
        if not line.startswith("| `"):
            continue
        first, rest = line.split("|")[1], "|".join(line.split("|")[2:])
        for key in re.findall(r"`([^`]+)`", first):
            rows[key] = rest
    return rows


def allowed_values(allowed: str) -> List[str]:
    return [v.strip() for v in allowed[len("one of "):].split(",")] if allowed.startswith("one of ") else []


def test_readme_documents_every_config_key_and_no_other(root: Path) -> None:
    keys = pfedrl.config_keys()
    rows = readme_rows(root)
    assert sorted(set(keys) - set(rows)) == [], "keys missing from the README's table"
    assert sorted(set(rows) - set(keys)) == [], "README rows for keys that do not exist"


def test_readme_names_every_allowed_value(root: Path) -> None:
    rows = readme_rows(root)
    for key, info in pfedrl.config_keys().items():
        missing = [v for v in allowed_values(info["allowed"]) if f"`{v}`" not in rows[key]]
        assert missing == [], f"{key}: the README's row does not name {missing}"
