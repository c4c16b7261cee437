"""mkdocs hooks of the documentation site (mkdocs.yml).

The README is the site's home page as it is on the repository's front page: it is added as
``index.md`` with its ``docs/`` links made relative to the site. A link of a page that leaves
``docs/`` (to a config, to the LICENSE) has no page on the site, so it becomes the file's
path in the repository, in code type, instead of a link that would break. The docstrings'
Sphinx roles (``:class:`x```), which the API pages show as they are, lose their role name.
"""

from __future__ import annotations

import posixpath
import re
from pathlib import Path

from mkdocs.structure.files import File

ROOT = Path(__file__).resolve().parents[2]
ROLE = re.compile(r":(?:class|mod|func|meth|attr|data|exc):(?=<code>)")
LINK = re.compile(r"(?<!!)\[([^\]]+)\]\(([^)\s#]+)(#[^)\s]*)?\)")


def on_files(files, config):
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    files.append(File.generated(config, "index.md", content=readme_as_index(readme)))
    return files


def readme_as_index(text: str) -> str:
    """The README with its ``docs/...`` links pointing at the site's pages."""
    return LINK.sub(lambda m: _relink(m, "README.md", "."), text)


def on_page_markdown(markdown, page, config, files):
    if page.file.src_uri == "index.md":
        return markdown
    return LINK.sub(lambda m: _relink(m, "docs/" + page.file.src_uri, "docs"), markdown)


def _relink(match: re.Match, page: str, docs: str) -> str:
    text, target, anchor = match.group(1), match.group(2), match.group(3) or ""
    if re.match(r"[a-z]+:", target):
        return match.group(0)
    repo_path = posixpath.normpath(posixpath.join(posixpath.dirname(page), target))
    if repo_path.startswith("docs/"):
        if docs == ".":
            return f"[{text}]({repo_path.removeprefix('docs/')}{anchor})"
        return match.group(0)
    if text.strip("`") in (repo_path, posixpath.basename(repo_path)):
        return f"`{repo_path}`"
    return f"{text} (`{repo_path}`)"


def on_page_content(html, page, config, files):
    return ROLE.sub("", html)
