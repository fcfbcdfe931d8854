"""sql layer (see DESIGN.md §3)."""
