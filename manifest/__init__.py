"""The Teams app package of Relais: manifest template, French strings, icons and their builder.

``relais manifest build --out relais.zip`` calls :func:`manifest.build.build_manifest`; the icons
are drawn by ``manifest/make_icons.py`` (kept to redraw them, needs Pillow).
"""

from manifest.build import build_manifest

__all__ = ["build_manifest"]
