"""The Chainlit side: rendering events into messages, and the settings panel.

``app.py`` holds only the handlers; they delegate here and to ``agents``.
"""
