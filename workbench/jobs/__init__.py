"""Background jobs: a queue in the workspace, runs in separate worker processes."""
