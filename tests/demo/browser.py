"""The demo page as a person uses it, through Selenium: add a user, then act in their chat
column (type, press buttons, upload photos, share a location) and wait for what shows up.

Reading goes through the DOM's textContent (a message scrolled out of its column still
counts); every wait is WebDriverWait on a condition, never a fixed pause.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar, cast

from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

from config.i18n import t

T = TypeVar("T")
TIMEOUT_SECONDS = 20.0

_BOT_TEXTS = "return [...arguments[0].querySelectorAll('.msg.bot')].map(m => m.textContent);"
_IMAGES_LOADED = """return [...arguments[0].querySelectorAll('img.photo')]
    .every(img => img.complete && img.naturalWidth > 0);"""


class DemoPage:
    def __init__(self, driver: webdriver.Chrome, url: str) -> None:
        self.driver = driver
        driver.get(url)
        self.until(
            lambda _: driver.find_element(By.TAG_NAME, "body").get_attribute("data-ready"),
            "the page to start",
        )

    def until(
        self,
        condition: Callable[[webdriver.Chrome], T | None],
        what: str,
        timeout: float = TIMEOUT_SECONDS,
    ) -> T:
        """The first truthy value of ``condition``, re-checked until ``timeout``."""
        # The page replaces a message's element when it changes: a reference taken a moment
        # ago may be stale, which only means "look again".
        wait = WebDriverWait(
            self.driver, timeout, ignored_exceptions=(StaleElementReferenceException,)
        )
        found = wait.until(condition, f"waiting for {what}")
        return cast(T, found)

    def add_user(self, name: str, language: str = "en") -> Column:
        driver = self.driver
        driver.find_element(By.ID, "new-name").send_keys(name)
        driver.find_element(By.CSS_SELECTOR, f'#new-language option[value="{language}"]').click()
        before = {column.get_attribute("data-user-id") for column in self.columns()}
        driver.find_element(By.ID, "add-user-button").click()
        element = self.until(
            lambda _: next(
                (c for c in self.columns() if c.get_attribute("data-user-id") not in before), None
            ),
            f"a chat column for {name}",
        )
        return Column(self, element, language)

    def open_person(self, user_id: int, language: str) -> Column:
        """Click someone in the people list: their chat opens as a column."""
        self.driver.find_element(By.CSS_SELECTOR, f'li.person[data-user-id="{user_id}"]').click()
        element = self.until(lambda _: self.column_of(user_id), f"the chat of {user_id}")
        return Column(self, element, language)

    def columns(self) -> list[WebElement]:
        return self.driver.find_elements(By.CSS_SELECTOR, "section.chat")

    def column_of(self, user_id: int) -> WebElement | None:
        found = self.driver.find_elements(
            By.CSS_SELECTOR, f'section.chat[data-user-id="{user_id}"]'
        )
        return found[0] if found else None

    def toasts(self) -> list[str]:
        return [
            toast.get_attribute("textContent") or ""
            for toast in self.driver.find_elements(By.CSS_SELECTOR, "#toasts .toast")
        ]

    def share_location(self, city: str) -> None:
        """In the open location picker: a preset city, then Send."""
        driver = self.driver
        self.until(
            lambda _: driver.find_element(By.ID, "location-dialog").is_displayed(),
            "the location picker",
        )
        driver.find_element(By.CSS_SELECTOR, f'.preset[data-city="{city}"]').click()
        driver.find_element(By.ID, "location-send").click()

    def console_errors(self) -> list[dict[str, Any]]:
        entries: list[dict[str, Any]] = self.driver.get_log("browser")  # type: ignore[no-untyped-call]
        return [entry for entry in entries if entry["level"] == "SEVERE"]

    def screenshot(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        assert self.driver.save_screenshot(str(path)), "the screenshot was not written"


class Column:
    """One user's chat column on the page."""

    def __init__(self, page: DemoPage, element: WebElement, language: str) -> None:
        self.page = page
        self.element = element
        self.language = language
        self.user_id = int(element.get_attribute("data-user-id") or 0)

    def text(self, key: str, **values: object) -> str:
        return t(self.language, key, **values)

    # -- reading ----------------------------------------------------------------------------

    def bot_texts(self) -> list[str]:
        texts: list[str] = self.page.driver.execute_script(_BOT_TEXTS, self.element)
        return texts

    def expect(self, key: str, **values: object) -> WebElement:
        """Wait for a bot message containing the catalog text; that message's element."""
        return self.expect_text(self.text(key, **values))

    def expect_text(self, text: str) -> WebElement:
        def shown(_: object) -> WebElement | None:
            for message in reversed(self.element.find_elements(By.CSS_SELECTOR, ".msg.bot")):
                if text in (message.get_attribute("textContent") or ""):
                    return message
            return None

        return self.page.until(shown, f"{text!r} in the chat of {self.user_id}")

    def message(self, message_id: str | None) -> WebElement:
        """The element showing a message now (an edit replaces the element)."""
        return self.element.find_element(By.CSS_SELECTOR, f'.msg[data-message-id="{message_id}"]')

    def buttons(self) -> list[WebElement]:
        return self.element.find_elements(By.CSS_SELECTOR, ".inline-btn, .reply-btn")

    def images_loaded(self, scope: WebElement | None = None) -> bool:
        return bool(self.page.driver.execute_script(_IMAGES_LOADED, scope or self.element))

    # -- acting -----------------------------------------------------------------------------

    def start(self) -> None:
        self.element.find_element(By.CSS_SELECTOR, ".start").click()

    def say(self, text: str) -> None:
        box = self.element.find_element(By.CSS_SELECTOR, ".compose-text")
        box.send_keys(text)
        self.element.find_element(By.CSS_SELECTOR, ".send").click()

    def press(self, label: str, within: WebElement | None = None) -> None:
        """Click the last button with this label (inline or on the reply keyboard)."""
        scope = within or self.element

        def button(_: object) -> WebElement | None:
            found = [
                b
                for b in scope.find_elements(By.CSS_SELECTOR, ".inline-btn, .reply-btn")
                if (b.get_attribute("textContent") or "").strip() == label
            ]
            return found[-1] if found else None

        self.page.until(button, f"a button {label!r} for {self.user_id}").click()

    def press_key(self, key: str, **values: object) -> None:
        self.press(self.text(key, **values))

    def upload_photo(self, path: Path) -> None:
        self.element.find_element(By.CSS_SELECTOR, ".photo-input").send_keys(str(path))
