"""orchestrator layer (see DESIGN.md §3)."""
