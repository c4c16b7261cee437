"""SCRAPL."""
