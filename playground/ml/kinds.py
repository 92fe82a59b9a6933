"""The kinds of model the code knows, as the strings stored in the registry
(playground.models.ModelKind), in fine-tune jobs (training.models.JobKind) and in
training datasets. Defined once, here, where the Django-free model code can read them."""

CAUSAL_LM = "causal_lm"  # a decoder that generates text (SmolLM2); also a fine-tune on {prompt, response} rows
ENCODER = "encoder"  # a BERT-style encoder (MiniLM): attention views and classifiers
CLASSIFIER = "classifier"  # a fine-tune of an encoder on {text, label} rows
