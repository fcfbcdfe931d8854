"""pgwire layer (see DESIGN.md §3)."""
