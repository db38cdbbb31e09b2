"""The README's behaviour table and `tests/component/test_behaviour.py` list the same rules.

Names are sentences in one and identifiers in the other, so what is checked mechanically is that
every row has its test and the reverse (equal counts); the order is kept by hand, row for test.
"""

import re
from pathlib import Path

ROOT = Path(__file__).parents[2]


def test_every_row_of_the_behaviour_table_has_one_test() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme[
        readme.index("## How a redirect is decided") : readme.index("## How it behaves")
    ]
    rows = [line for line in section.splitlines() if line.startswith("| ")][1:]  # no header
    tests = re.findall(
        r"^(?:async )?def (test_\w+)",
        (ROOT / "tests" / "component" / "test_behaviour.py").read_text(),
        flags=re.MULTILINE,
    )
    assert len(rows) == len(tests)
