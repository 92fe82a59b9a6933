"""Model code for LLM Academy: loading, provisioning and generation.

Nothing in this package imports Django, so it can be tested, benchmarked and run
on a GPU host by itself. Heavy imports (torch, transformers) happen inside the
functions that need them, so importing this package stays cheap.
"""
