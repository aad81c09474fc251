"""The explorer's widgets, one per module (the Textual layout: ``_switch.py`` style)."""
