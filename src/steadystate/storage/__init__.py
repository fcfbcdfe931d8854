"""storage layer (see DESIGN.md §3)."""
