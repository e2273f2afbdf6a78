"""One module per screen; :func:`make_screen` imports only the one asked for (see ``screen_list.SCREENS``)."""

from __future__ import annotations


def make_screen(mode: str):
    from workbench.tui.screen_list import by_mode

    return by_mode(mode).screen_class()()
