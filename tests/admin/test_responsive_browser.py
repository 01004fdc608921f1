"""Every list page on a phone (390 px) and on a laptop (1280 px), in Chromium: the page never
scrolls sideways (a wide table scrolls inside its own card), the search button is whole on the
screen, and a search field shows its whole placeholder."""

from __future__ import annotations

from typing import Any

import pytest

from tests.admin.browser import SCREENSHOTS, chromium, sign_in

pytestmark = pytest.mark.browser

LIST_PAGES = ("applications", "portfolio", "dossiers", "contacts", "team", "dashboard", "audit")
SEARCHES = ("portfolio", "dossiers", "contacts", "team")

# The search fields whose placeholder does not fit: its text, measured in the field's own font,
# against the room inside the field.
_CUT_PLACEHOLDERS = """() => [...document.querySelectorAll('input[placeholder]')].filter(input => {
  if (!input.placeholder || input.offsetParent === null) return false;
  const style = getComputedStyle(input);
  const context = document.createElement('canvas').getContext('2d');
  context.font = style.font;
  const room = input.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
  return context.measureText(input.placeholder).width > room + 1;
}).map(input => input.placeholder)"""


def _search_button(page: Any) -> Any:
    return page.locator("main form[role=search] button[type=submit]").first


@pytest.mark.parametrize("locale", ["fr-FR", "en-GB"])
def test_list_pages_fit_a_phone_and_search_fields_show_their_placeholder(
    demo_server: str, locale: str
) -> None:
    lang = locale[:2]
    with chromium() as browser:
        for width in (390, 1280):
            page = browser.new_page(locale=locale, viewport={"width": width, "height": 844})
            sign_in(page, "Claire Durand", f"{demo_server}/admin/login")
            if lang == "en":
                page.get_by_role("button", name="EN", exact=True).click()
            for name in LIST_PAGES:
                page.goto(f"{demo_server}/admin/{name}")
                page.screenshot(path=str(SCREENSHOTS / f"relais-{name}-{lang}-{width}.png"))
                scroll = page.evaluate("document.documentElement.scrollWidth")
                assert scroll <= width, (name, width, scroll)
                if name in SEARCHES:
                    button = _search_button(page)
                    box = button.bounding_box()
                    assert box is not None, name
                    assert box["x"] >= 0 and box["x"] + box["width"] <= width, (name, width, box)
                    # The button's label is whole: it does not overflow the button.
                    assert button.evaluate("b => b.scrollWidth <= b.clientWidth"), name
                if width == 1280:
                    assert page.evaluate(_CUT_PLACEHOLDERS) == [], name
            page.close()
