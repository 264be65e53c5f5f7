"""A site edition exported for hosting elsewhere (``portal kb export``): the built files, with their own search.

Where the portal serves an edition, its search box is the portal's search (``theme/…/served.js`` takes
Material's search component out of the way). A copy hosted on another web server has no portal behind it,
so the export replaces that one script with ``standalone.js``, which leaves Material's search in place: the
search plugin (``lang: ru``) and the edition's ``search/search_index.json`` answer there. Nothing else changes — the header,
«Помогла ли статья?» and «Исправлено в пакете …» find no portal and stay hidden.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from portal.config import Settings
from portal.errors import Invalid
from portal.i18n import message
from portal.knowledge import site

SCRIPTS = Path("assets/javascripts/portal")
SERVED_SCRIPT = SCRIPTS / "served.js"
STANDALONE_SCRIPT = SCRIPTS / "standalone.js"  # what served.js becomes in an exported copy


@dataclass
class Exported:
    edition: str
    target: Path
    pages: int
    files: int


def export_edition(*, settings: Settings, edition: str, target: Path) -> Exported:
    """Copy the built ``edition`` into ``target`` (a new or empty directory) as a self-contained static site."""
    if edition not in site.EDITIONS:
        raise Invalid.fields({"edition": message("errors_kb_content.unknown_edition", edition=edition,
                                                 editions=", ".join(site.EDITIONS))})
    root = site.edition_dir(settings, edition)
    if not (root / "index.html").exists():
        raise Invalid.fields({"edition": message("errors_kb_content.edition_not_built", edition=edition)})
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise Invalid.fields({"target": message("errors_kb_content.target_not_empty", target=target)})
    target.parent.mkdir(parents=True, exist_ok=True)
    # The edition is a symlink to its current build; the copy is of the build's files, taken as they are now.
    shutil.copytree(root.resolve(), target, dirs_exist_ok=True)
    shutil.copyfile(site.THEME_DIR / STANDALONE_SCRIPT, target / SERVED_SCRIPT)
    files = [p for p in target.rglob("*") if p.is_file()]
    return Exported(edition=edition, target=target, pages=sum(1 for p in files if p.name == "index.html"),
                    files=len(files))
