"""A plugin that raises KeyboardInterrupt while it is imported."""

raise KeyboardInterrupt("wbtest_interrupts gives up")
