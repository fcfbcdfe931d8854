"""The relational IR (``expr.ir``), scalar evaluation (``expr.eval``) and optimizer passes."""
