"""Screens other than the main one: help, export, history."""
