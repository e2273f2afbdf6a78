"""The key footer: Textual's Footer, rebuilt only when the keys it shows change.

Textual's Footer rebuilds all its key widgets every time the screen says its bindings may have changed:
on each focus move, each screen switch (several times) and each modal opened or closed. Each rebuild mounts
and styles a widget per key, which made a screen switch cost tens of milliseconds per rebuild. This footer
compares what it would show (key, action, description, enabled, tooltip of each shown binding) with what it
shows and rebuilds only when that differs, so moving the focus inside a screen or coming back to a screen
whose keys did not change costs nothing.
"""

from __future__ import annotations

from textual.screen import Screen
from textual.widgets import Footer


def shown_keys(screen: Screen) -> tuple:
    """What the footer shows for ``screen`` now: each shown binding's key, action, text and state."""
    return tuple((binding.key, binding.action, binding.description, enabled, tooltip)
                 for _, binding, enabled, tooltip in screen.active_bindings.values() if binding.show)


class KeyBar(Footer):
    """A :class:`~textual.widgets.Footer` that rebuilds only when the shown keys changed."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._wanted: tuple | None = None  # the keys of the last rebuild asked for
        self.rebuilds = 0  # how often the keys were rebuilt (a test bounds it)

    def bindings_changed(self, screen: Screen) -> None:
        if not (screen.app.app_focus and self.is_attached and screen is self.screen):
            super().bindings_changed(screen)  # not rebuilt now: asked again when focus comes back
            return
        wanted = shown_keys(screen)
        if wanted == self._wanted:
            return  # the same keys: nothing to rebuild
        self._wanted = wanted
        self.rebuilds += 1
        super().bindings_changed(screen)
