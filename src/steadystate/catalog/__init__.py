"""catalog layer (see DESIGN.md §3)."""
