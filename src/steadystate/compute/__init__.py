"""compute layer (see DESIGN.md §3)."""
