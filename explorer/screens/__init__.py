"""Screens: the main one (the panes), help, export, history, tour."""
