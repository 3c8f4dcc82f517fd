"""The web layer: one blueprint per area."""
