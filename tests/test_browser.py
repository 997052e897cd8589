"""The chat page in a real browser (headless Chromium through Selenium): what the HTTP tests
cannot see, the page as a reader uses it.

A Chinese question about a fact only an English article states: the default answerer, as a
first-time reader meets it, answers `答：141GB [1]`; the evidence panel marks the English
sentence, [1] scrolls to it, and the whole article opens on it. An abstention shows the closest
passages instead; it is asked without opening the controls, as a first-time reader would.
Screenshots go to $RAG_TEST_ARTIFACTS (default <repo>/test-artifacts/) to be looked at.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import DOC_EN_ORDERS, REPO, serve_page

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
# Every wait on the page: a deadline costs only when a test fails, and a loaded machine can be
# slow at anything (an answer, a scroll, a dropdown), so none is shorter than this.
WAIT_S = 90
ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--window-size=1400,1000",
    "--lang=zh-CN",
]

pytestmark = pytest.mark.skipif(
    not (CHROMIUM.exists() and CHROMEDRIVER.exists()),
    reason=f"needs {CHROMIUM} and {CHROMEDRIVER} (apt-get install chromium chromium-driver; "
    ".ci/run installs them)",
)


def artifacts() -> Path:
    folder = Path(os.environ.get("RAG_TEST_ARTIFACTS") or REPO / "test-artifacts")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def screenshot(driver: Any, name: str) -> Path:
    path = artifacts() / f"browser-{name}.png"
    driver.save_screenshot(str(path))
    print(f"\nscreenshot: {path}")
    return path


@contextmanager
def shot_on_failure(driver: Any, name: str) -> Iterator[None]:
    try:
        yield
    except BaseException:
        screenshot(driver, f"{name}-failure")
        raise


@pytest.fixture(scope="module")
def page(seed_index: Path) -> Iterator[str]:
    pytest.importorskip("gradio")
    with serve_page(seed_index) as url:
        yield url


@pytest.fixture(scope="module")
def driver() -> Iterator[Any]:
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    saved = os.environ.get("NO_PROXY")
    os.environ["NO_PROXY"] = "127.0.0.1,localhost"  # chromedriver and the page are on loopback
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in ARGS:
        options.add_argument(arg)
    browser = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    try:
        yield browser
    finally:
        browser.quit()
        if saved is None:
            os.environ.pop("NO_PROXY", None)
        else:
            os.environ["NO_PROXY"] = saved


def wait(driver: Any, condition: Callable[[Any], Any]) -> Any:
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, WAIT_S, poll_frequency=0.2).until(condition)


def find(driver: Any, css: str) -> list[Any]:
    from selenium.webdriver.common.by import By

    return list(driver.find_elements(By.CSS_SELECTOR, css))


def ask(driver: Any, question: str) -> None:
    box = wait(driver, lambda d: find(d, "#question textarea"))[0]
    box.click()
    box.send_keys(question)
    assert box.get_attribute("value") == question
    find(driver, "#ask")[0].click()


def open_controls(driver: Any) -> None:
    wait(driver, lambda d: [b for b in find(d, "button.label-wrap") if "Controls" in b.text])[
        0
    ].click()


def rect(driver: Any, css: str) -> dict[str, float]:
    return dict(
        driver.execute_script(
            "const r = document.querySelector(arguments[0]).getBoundingClientRect();"
            "return {top: r.top, bottom: r.bottom, height: window.innerHeight};",
            css,
        )
    )


def in_viewport(box: dict[str, float]) -> bool:
    return box["top"] >= 0 and box["bottom"] <= box["height"]


def watch_flash(driver: Any, element_id: str) -> None:
    """Record in `window.__flashed` whether the element ever gets the `flash` class. The page
    removes it after 1.6 s, and on a loaded machine WebDriver's next look can come later."""
    driver.execute_script(
        "const el = document.getElementById(arguments[0]); window.__flashed = false;"
        "new MutationObserver(() => { if (el.classList.contains('flash')) window.__flashed = true; })"
        ".observe(el, {attributes: true, attributeFilter: ['class']});",
        element_id,
    )


def test_a_chinese_question_is_answered_from_the_english_article_and_shown(
    page: str, driver: Any
) -> None:
    driver.get(page)
    with shot_on_failure(driver, "zh"):
        ask(driver, "H200 芯片有多少 HBM3E 内存？")
        # The final answer (not the streamed preview): its citation is a link and the source is in.
        wait(driver, lambda d: find(d, '#chat a.cite[href="#src-1"]') and find(d, "#src-1 mark"))
        answer = find(driver, "#chat [data-testid=bot] .message-content")[-1].text
        assert answer.startswith("答：141GB"), answer
        assert {a.text for a in find(driver, '#chat a.cite[href="#src-1"]')} == {"[1]"}
        source = find(driver, "#evidence section.source#src-1")[0]
        assert DOC_EN_ORDERS in source.text
        assert "141GB of HBM3E memory" in find(driver, "#src-1 p.paragraph mark")[0].text
        outside = driver.execute_script(
            "return performance.getEntriesByType('resource').map(e => e.name)"
            ".filter(n => !/^https?:\\/\\/(127\\.0\\.0\\.1|localhost)[:/]/.test(n))"
        )
        assert outside == [], f"the page fetched from outside: {outside}"
        driver.execute_script("window.scrollTo(0, 0)")
        screenshot(driver, "zh-answer")

        # [1] brings the source into view: first scroll so the link is at the top and the
        # source starts above the window, then click.
        link = find(driver, '#chat a.cite[href="#src-1"]')[0]
        driver.execute_script(
            "window.scrollBy(0, arguments[0].getBoundingClientRect().top - 8)", link
        )
        assert not in_viewport(rect(driver, "#src-1")), "the source was in view before the click"
        watch_flash(driver, "src-1")
        link.click()
        wait(driver, lambda d: d.execute_script("return window.__flashed"))
        wait(driver, lambda d: in_viewport(rect(d, "#src-1")))
        screenshot(driver, "zh-source")
        assert driver.current_url.rstrip("/") == page.rstrip("/")  # handled, not a navigation

        # Opening the whole article scrolls its box to the marked sentence.
        find(driver, "#src-1 details > summary")[0].click()
        mark = wait(driver, lambda d: find(d, "#src-1 details[open] .article mark"))[0]
        assert "141GB of HBM3E memory" in mark.text

        def mark_visible(d: Any) -> bool:
            return bool(
                mark.is_displayed()
                and d.execute_script(
                    "const m = arguments[0].getBoundingClientRect();"
                    "const box = arguments[0].closest('.article').getBoundingClientRect();"
                    "return m.top >= box.top - 1 && m.bottom <= box.bottom + 1"
                    " && m.top >= 0 && m.bottom <= window.innerHeight;",
                    mark,
                )
            )

        wait(driver, mark_visible)
        screenshot(driver, "zh-article")


def test_an_abstention_shows_the_closest_passages(page: str, driver: Any) -> None:
    driver.get(page)
    with shot_on_failure(driver, "abstention"):
        ask(driver, "Who is the CEO of Alibaba?")  # the controls are never opened
        wait(driver, lambda d: "Closest passages" in find(d, "#evidence")[0].text)
        answer = find(driver, "#chat [data-testid=bot] .message-content")[-1].text
        assert "don't say" in answer, answer
        assert not find(driver, "#evidence section.source")
        assert find(driver, "#evidence section.considered")
        screenshot(driver, "abstention")


# Draws a button's emoji on a canvas in the button's own font and counts coloured pixels: an
# emoji font draws 👍 in colour, a missing glyph is a grey box (or nothing) in any font.
_COLOURED_PIXELS = """
const button = document.getElementById(arguments[0]);
const emoji = Array.from(button.textContent.trim())[0];
const canvas = document.createElement('canvas'); canvas.width = canvas.height = 64;
const ctx = canvas.getContext('2d');
ctx.font = '48px ' + getComputedStyle(button).fontFamily;
ctx.fillStyle = '#000'; ctx.textBaseline = 'top'; ctx.fillText(emoji, 4, 4);
const d = ctx.getImageData(0, 0, 64, 64).data; let coloured = 0;
for (let i = 0; i < d.length; i += 4) {
  const spread = Math.max(d[i], d[i + 1], d[i + 2]) - Math.min(d[i], d[i + 1], d[i + 2]);
  if (d[i + 3] > 128 && spread > 40) coloured++;
}
return coloured;
"""


def test_the_feedback_buttons_draw_their_emoji(page: str, driver: Any) -> None:
    """👍 and 👎 render as emoji, not as boxes: the install provides a colour emoji font."""
    driver.get(page)
    with shot_on_failure(driver, "feedback-emoji"):
        for button in ("feedback-up", "feedback-down"):
            wait(driver, lambda d, b=button: find(d, f"#{b}"))
            assert driver.execute_script(_COLOURED_PIXELS, button) > 100, button


def test_evidence_from_the_chinese_article_fits_one_screen(page: str, driver: Any) -> None:
    """The Chinese article has almost no paragraph breaks; its source panel shows the cited
    sentence with two either side, not the whole article."""
    driver.get(page)
    with shot_on_failure(driver, "zh-evidence"):
        ask(driver, "美国将从H200芯片出口中收取多少分成？")
        wait(driver, lambda d: find(d, "#src-1 mark"))
        assert "25%" in find(driver, "#src-1 p.paragraph mark")[0].text
        box = driver.execute_script(
            "const r = document.getElementById('src-1').getBoundingClientRect();"
            "return [r.height, window.innerHeight];"
        )
        assert 0 < box[0] <= box[1], box
        screenshot(driver, "zh-evidence")


def test_a_page_load_lists_articles_another_process_added(
    seed_index_copy: Path, tmp_path: Path, driver: Any
) -> None:
    """`rag ingest` in another process adds a French article while the page is served: the next
    load of the page offers it, and its language, in the Ask tab's filters."""
    import subprocess
    import sys

    from tests.conftest import write_article

    pytest.importorskip("gradio")
    with serve_page(seed_index_copy) as url:
        driver.get(url)  # the page as it was before
        wait(driver, lambda d: find(d, "#question textarea"))
        write_article(
            tmp_path / "new", "fr-tarifs.txt",
            "Le gouvernement chinois a limité les achats de puces H200 à 50 000 unités.",
            lang="fr", title="Quotas de puces",
        )  # fmt: skip
        done = subprocess.run(
            [sys.executable, "-m", "rag.apps.cli", "ingest", str(tmp_path / "new"), "--index",
             str(seed_index_copy), "--quiet"],
            cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True,
            text=True, timeout=600,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        driver.get(url)
        with shot_on_failure(driver, "filters-after-ingest"):
            open_controls(driver)
            offered_once(driver, "#lang-filter", "fr")
            # one load event refreshes both filters: the first had it, so the second has too
            assert "fr-tarifs: Quotas de puces" in offered(driver, "#articles-filter")


def offered(driver: Any, dropdown: str) -> list[str]:
    """The options a dropdown lists when a reader opens it (closed again afterwards)."""
    from selenium.webdriver.common.keys import Keys

    box = wait(driver, lambda d: find(d, f"{dropdown} input[role=combobox]"))[0]
    box.click()
    options = wait(driver, lambda d: find(d, "[role=option]"))
    texts = [o.text for o in options]
    box.send_keys(Keys.ESCAPE)
    wait(driver, lambda d: not find(d, "[role=option]"))
    return texts


def offered_once(driver: Any, dropdown: str, wanted: str) -> list[str]:
    """The options of `dropdown` once they include `wanted`. The page refreshes its filters
    in a load event after it is drawn, hiding them under a spinner meanwhile: a reader who
    opens one at once, as a slow machine's load event lets a test do, finds it busy or stale."""
    from selenium.common.exceptions import ElementClickInterceptedException
    from selenium.webdriver.support.ui import WebDriverWait

    def listed(d: Any) -> list[str] | None:
        texts = offered(d, dropdown)
        return texts if wanted in texts else None

    waiting = WebDriverWait(driver, WAIT_S, poll_frequency=0.5,
                            ignored_exceptions=[ElementClickInterceptedException])  # fmt: skip
    return list(waiting.until(listed))
