"""The Label page's sections, one module each; `ui/pages/label.py` draws them top to bottom."""
