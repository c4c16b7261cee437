"""The documentation site (mkdocs.yml) builds in strict mode, and its hooks keep the README's
and the pages' links working on the site."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _hooks():
    spec = importlib.util.spec_from_file_location("site_hooks", ROOT / "docs/site/hooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _nav_pages(node) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [p for v in node.values() for p in _nav_pages(v)]
    return [p for v in node for p in _nav_pages(v)]


def test_every_top_level_page_is_in_the_nav() -> None:
    # Pages under docs/results/ and docs/listen/ are reached from results.md and analysis.md.
    nav = _nav_pages(yaml.safe_load((ROOT / "mkdocs.yml").read_text())["nav"])
    pages = {p.name for p in (ROOT / "docs").glob("*.md")}
    assert pages | {"index.md"} == set(nav)


def test_readme_links_into_docs_become_site_links() -> None:
    hooks = _hooks()
    text = "See [docs/method.md](docs/method.md#arguments) and [LICENSE](LICENSE); ![x](a.png)."
    out = hooks.readme_as_index(text)
    assert "[docs/method.md](method.md#arguments)" in out
    assert "`LICENSE`" in out and "](LICENSE)" not in out
    assert "![x](a.png)" in out  # images are left alone


def test_links_leaving_docs_become_repository_paths() -> None:
    hooks = _hooks()

    class Page:
        class file:  # noqa: N801 - mkdocs' attribute name
            src_uri = "method.md"

    md = "[q.yaml](../configs/q.yaml), [grid](../configs/x/q.yaml), [r](results/cpu.md)"
    out = hooks.on_page_markdown(md, Page, None, None)
    assert "`configs/q.yaml`" in out
    assert "grid (`configs/x/q.yaml`)" in out
    assert "[r](results/cpu.md)" in out


def test_sphinx_roles_lose_their_name() -> None:
    html = "see :class:<code>scrapl.JTFS</code> and :mod:<code>scrapl.warmup</code>"
    assert _hooks().on_page_content(html, None, None, None) == (
        "see <code>scrapl.JTFS</code> and <code>scrapl.warmup</code>"
    )


def test_site_builds_strict(tmp_path: Path) -> None:
    site = tmp_path / "site"
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    home = (site / "index.html").read_text()
    assert 'href="method/' in home  # the README's docs/ links point at the site's pages
    api = (site / "api" / "index.html").read_text()
    for name in ("SCRAPLLoss", "JTFSLoss", "Scattering1DSCRAPLLoss", "Scattering2DSCRAPLLoss"):
        assert re.search(rf'id="scrapl\.{name}"', api), name
    assert ":class:" not in api
