"""Draw Relais' two Teams icons: ``color.png`` (192×192) and ``outline.png`` (32×32).

The generated PNGs are committed next to this script; run it again only to change the mark::

    python -m manifest.make_icons            # rewrites manifest/color.png and manifest/outline.png

The mark is a document with a bold arrow leaving it: Relais relays a dossier's documents to the
applications that automate them. Teams' rules (https://learn.microsoft.com/microsoftteams/platform/
concepts/build-and-test/apps-package#app-icons):

- colour icon: 192×192, full colour, the symbol inside the central 120×120 safe area on a solid
  background (Teams rounds the corners itself);
- outline icon: 32×32, white on a transparent background, nothing else.

Both are drawn at 8× and scaled down, so the edges are smooth. The outline icon is a white layer
whose alpha is the scaled mask, so every pixel stays pure white (only its opacity varies). Needs
Pillow (a test/dev dependency, not a runtime one: the build only copies the PNGs).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from PIL import Image, ImageDraw

HERE = Path(__file__).resolve().parent

NAVY = (23, 54, 93, 255)  # #17365D, also the manifest's accentColor
AMBER = (242, 169, 59, 255)  # #F2A93B
WHITE = (255, 255, 255, 255)
LINE = (176, 194, 214, 255)  # text lines on the page

SCALE = 8  # supersampling factor


def _page_polygon(
    x0: float, y0: float, x1: float, y1: float, fold: float
) -> list[tuple[float, float]]:
    """A sheet of paper with its top-right corner folded."""
    return [(x0, y0), (x1 - fold, y0), (x1, y0 + fold), (x1, y1), (x0, y1)]


def _arrow_polygon(
    x0: float, x1: float, cy: float, shaft: float, head_len: float, head_half: float
) -> list[tuple[float, float]]:
    """A right-pointing arrow from ``x0`` to its tip at ``x1``, centred on ``cy``."""
    neck = x1 - head_len
    return [
        (x0, cy - shaft / 2),
        (neck, cy - shaft / 2),
        (neck, cy - head_half),
        (x1, cy),
        (neck, cy + head_half),
        (neck, cy + shaft / 2),
        (x0, cy + shaft / 2),
    ]


def color_icon() -> Image.Image:
    """The 192×192 full-colour icon: white page, amber arrow, navy background."""
    size = 192 * SCALE
    s = float(SCALE)
    img = Image.new("RGBA", (size, size), NAVY)
    draw = ImageDraw.Draw(img)

    # The page, inside the 120×120 safe area (36..156).
    px0, py0, px1, py1, fold = 46 * s, 40 * s, 118 * s, 152 * s, 24 * s
    draw.polygon(_page_polygon(px0, py0, px1, py1, fold), fill=WHITE)
    # The folded corner, a shade darker.
    draw.polygon([(px1 - fold, py0), (px1 - fold, py0 + fold), (px1, py0 + fold)], fill=LINE)
    # Text lines.
    for i, width in enumerate((40, 52, 30, 52, 44)):
        y = (76 + i * 14) * s
        if 96 * s <= y <= 112 * s:
            continue  # leave room for the arrow
        draw.rounded_rectangle((58 * s, y, (58 + width) * s, y + 6 * s), radius=3 * s, fill=LINE)

    # The arrow leaving the page, with a navy outline so it reads where it overlaps the page.
    arrow = _arrow_polygon(74 * s, 156 * s, 104 * s, 18 * s, 34 * s, 28 * s)
    outline = _arrow_polygon(68 * s, 164 * s, 104 * s, 30 * s, 40 * s, 38 * s)
    draw.polygon(outline, fill=NAVY)
    draw.polygon(arrow, fill=AMBER)

    return img.resize((192, 192), Image.Resampling.BOX)


def outline_mask() -> Image.Image:
    """The 32×32 mark as an alpha mask (255 = white ink)."""
    size = 32 * SCALE
    s = float(SCALE)
    mask = Image.new("L", (size, size), 0)
    draw = ImageDraw.Draw(mask)

    # Page drawn as an outline (outer shape minus inner shape), with a solid dog-ear.
    # (right and bottom edges one sub-pixel in: Pillow fills shapes inclusively)
    x0, y0, x1, y1, fold = 4 * s, 2 * s, 21 * s - 1, 30 * s - 1, 7 * s
    stroke = 2 * s
    draw.polygon(_page_polygon(x0, y0, x1, y1, fold), fill=255)
    draw.polygon(_page_polygon(x0 + stroke, y0 + stroke, x1 - stroke, y1 - stroke, fold), fill=0)
    draw.polygon([(x1 - fold, y0), (x1 - fold, y0 + fold), (x1, y0 + fold)], fill=255)
    # A text line above the arrow.
    draw.rectangle((8 * s, 10 * s, 14 * s - 1, 12 * s - 1), fill=255)

    # The arrow: cut a gap around it, then draw it.
    cy = 20 * s
    draw.polygon(_arrow_polygon(8 * s, 32 * s, cy, 8 * s, 10 * s, 13 * s), fill=0)
    draw.polygon(_arrow_polygon(9 * s, 31 * s, cy, 4 * s - 1, 8 * s, 9 * s), fill=255)

    return mask.resize((32, 32), Image.Resampling.BOX)


def outline_icon() -> Image.Image:
    """The 32×32 outline icon: pure white, transparency from :func:`outline_mask`."""
    img = Image.new("RGBA", (32, 32), (255, 255, 255, 0))
    img.putalpha(outline_mask())
    return img


def write_icons(folder: Path = HERE) -> tuple[Path, Path]:
    """Write ``color.png`` and ``outline.png`` into ``folder``; return their paths."""
    color_path, outline_path = folder / "color.png", folder / "outline.png"
    color_icon().convert("RGB").save(color_path, optimize=True)
    outline_icon().save(outline_path, optimize=True)
    return color_path, outline_path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=HERE, help="folder to write the PNGs into")
    args = parser.parse_args(argv)
    for path in write_icons(args.out):
        print(path)


if __name__ == "__main__":
    main()
