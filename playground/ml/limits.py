"""How long a prompt and a generation may be: each limit is defined here once.

The settings take their defaults from here (LLM_MAX_PROMPT_TOKENS, LLM_MAX_NEW_TOKENS),
the engine too (EngineConfig), and the web side refuses a longer prompt text before
anything reaches a model worker (playground.params, the page's prompt box)."""

MAX_PROMPT_CHARS = 20_000  # characters of prompt text a client may send
MAX_PROMPT_TOKENS = 1024  # tokens of prompt; longer prompts are refused before any compute
MAX_NEW_TOKENS = 512  # the hard cap on any request's max_new_tokens
