"""The SQLite workspace store: one file per workspace, schema changed only by migrations."""

from workbench.store.workspace import (  # noqa: F401
    Workspace, WorkspaceError, default_home, open_workspace, resolve_workspace_path,
)
