"""adapter layer (see DESIGN.md §3)."""
