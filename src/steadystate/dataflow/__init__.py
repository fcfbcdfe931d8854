"""dataflow layer (see DESIGN.md §3)."""
