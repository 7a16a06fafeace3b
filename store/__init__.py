"""Where conversations outlive a page or a process: the database behind Chainlit's data layer.

Layers: ``store`` sits between the composition layer (``chat``) and the sinks
(``ui``, ``web``); it may use the engine and ``chat``, never a sink.
"""
