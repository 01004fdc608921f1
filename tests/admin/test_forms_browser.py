"""Forms in a real browser (Chromium against `relais demo`): a double click sends a form once."""

from __future__ import annotations

import pytest

from tests.admin.browser import chromium, sign_in

pytestmark = pytest.mark.browser

# Two clicks on the button before the first answer is in; the page's window counts the submits
# that go on to the server (the last listener a submit meets), and keeps the page where it is.
_TWO_CLICKS = """() => {
  let sent = 0;
  window.addEventListener('submit', event => {
    if (!event.defaultPrevented) sent += 1;
    event.preventDefault();
  });
  const button = document.querySelector("form[action$='/dashboard/notices'] button");
  button.click();
  button.click();
  return sent;
}"""


def test_a_double_click_on_save_sends_the_form_once(demo_server: str) -> None:
    """Sent twice, the second request finds nothing left to change, and a page such as the
    connections' says "Rien à enregistrer" although the change was saved."""
    with chromium() as browser:
        page = browser.new_page(locale="fr-FR", viewport={"width": 1280, "height": 900})
        sign_in(page, "Claire Durand", f"{demo_server}/admin/login")
        page.goto(f"{demo_server}/admin/dashboard")
        page.wait_for_load_state("load")  # the layout's deferred script has run
        assert page.evaluate(_TWO_CLICKS) == 1
